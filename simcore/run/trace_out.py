"""Writing one run into its HDF5 trace: the run description first, results after the run."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import numpy as np


def run_metadata(run, sim, extra: dict) -> dict:
    """The run description stored in the trace: network, chip, mapping, seed, versions."""
    from importlib import metadata

    import numba

    network, chip, spec = run.network, run.chip, run.spec
    name = spec.network if isinstance(spec.network, (str, Path)) else "network"
    meta = {
        "command": " ".join(["aersim"] + sys.argv[1:]), "network": str(name),
        "network_summary": network.summary(), "network_metadata": network.metadata,
        "input": str(spec.recording) if spec.recording is not None else None,
        "chip": chip.name, "chip_path": chip.path, "mode": sim.mode,
        "chip_width": chip.width, "chip_height": chip.height,
        "cores_per_tile": chip.cores_per_tile, "n_cores": chip.n_cores,
        "populations": [{"name": p.name, "size": p.size, "kind": p.kind,
                         "offset": network.offset(p.name)} for p in network.populations.values()],
        "dt_ps": sim.config.dt_ps, "seed": int(spec.seed), "mapping": sim.mapping.strategy,
        "stimuli": [repr(s)[:200] for s in sim.stimuli], "notes": list(run.notes),
        "versions": {"aersim": metadata.version("aersim"), "numpy": np.__version__,
                     "numba": numba.__version__, "python": platform.python_version()},
    }
    if getattr(chip, "n_chips", 1) > 1:
        # The chips' meshes stacked north to south: tile t of chip k is row k * height + y.
        meta.update(n_chips=chip.n_chips, chip_labels=list(chip.chip_labels),
                    member_chip=chip.member.name, chip_height=chip.height * chip.n_chips)
    meta.update(extra)
    return meta


def write_results(trace, res, sim, latency) -> None:
    """Totals, latency and the message log of a finished run (``Results.write_totals`` and
    what only the run knows: its latency analysis and its message sources)."""
    res.write_totals(trace)
    if latency is not None:
        trace.write_latency(latency.t_in_ps, latency.latency_ps, latency.algorithmic_ps)
    if res.messages is not None:
        write_messages(trace, res.messages, sim)


def write_messages(trace, log, sim) -> None:
    """Message log rows (message, arrival, start, end) with their source, destination, hops."""
    from aersim.simcore.engine.message_tables import message_hops

    for lo in range(0, log.shape[0], 1 << 20):
        m = log[lo:lo + (1 << 20)]
        src = sim.mapping.core_of[np.searchsorted(sim.syn.msg_ptr, m[:, 0], side="right") - 1]
        dst = sim.syn.msg_core[m[:, 0]]
        trace.append_messages(m[:, 0], src, dst, m[:, 1], m[:, 2], m[:, 3],
                              hops=message_hops(sim.chip, sim.chip_tables, m[:, 0], src, dst))
