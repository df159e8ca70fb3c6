"""The ``aersim`` command.

Exit codes: 0 success, 2 bad input (the message says what and how to fix it), 1 internal error.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from importlib import metadata
from pathlib import Path

from simcore import cli_sweep
from simcore.cli_results import COMMANDS as RESULT_COMMANDS
from simcore.cli_results import add_parsers as add_result_parsers

EXAMPLES = """\
examples:
  aersim run                              the demo: 500 inputs -> 3 LIF layers on loihi_like
  aersim run brunel --mode async          Brunel balanced network, event-driven
  aersim run ff --chip minimal --duration 0.2 --out ff.h5
  aersim info loihi_like                  describe a chip preset (or a chip .yaml, a trace .h5)
  aersim chips                            list the bundled chip presets
  aersim report aersim-out/trace.h5       tables: energy, latency, traffic, utilisation
  aersim plot aersim-out/trace.h5 --out plots
  aersim sweep examples/sweep_cores.yaml  design-space sweep on a local Dask cluster
"""


def _version() -> str:
    try:
        return metadata.version("aersim")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aersim",
        description="Simulate spiking networks on neuromorphic many-core chips: spikes, latency, "
                    "energy by core and operation, network-on-chip traffic.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"aersim {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a network on a chip and write a trace",
                         description="Run a network on a chip, print a summary, write a trace.",
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("network", nargs="?", default="demo",
                     help="built-in network (demo, brunel, ff, random) or a network file "
                          "(default: demo)")
    run.add_argument("--chip", help="chip preset or chip .yaml (default: the network's)")
    run.add_argument("--mode", choices=("timestep", "async"),
                     help="execution mode (default: the chip's)")
    run.add_argument("--duration", type=float, help="simulated seconds (default: the network's)")
    run.add_argument("--dt", type=float, default=0.1, help="time step in ms (default 0.1)")
    run.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    run.add_argument("--strategy", default="sequential", help="mapping strategy")
    run.add_argument("--out", default="aersim-out/trace.h5",
                     help="trace file to write (default aersim-out/trace.h5; '' for none)")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")

    info = sub.add_parser("info", help="describe a chip, a network, a trace or this install")
    info.add_argument("target", nargs="?", help="chip preset or .yaml, built-in network, trace .h5")

    chips = sub.add_parser("chips", help="list chip presets, or print one")
    chips.add_argument("name", nargs="?", help="preset to print")
    add_result_parsers(sub)
    cli_sweep.add_parser(sub)
    return parser


def _cmd_run(args) -> int:
    from hardware import load_chip
    from simcore.catalog import BUILTIN_RUNS, builtin_run
    from simcore.errors import ConfigError
    from simcore.simulation import RunConfig, Simulation
    from traces import TraceWriter

    if args.network in BUILTIN_RUNS:
        entry = builtin_run(args.network)
        network, stimuli = entry.build(args.seed)
        chip_name, duration = entry.chip, entry.duration_s
    else:
        raise ConfigError(f"unknown network {args.network!r}: built-ins are "
                          f"{', '.join(BUILTIN_RUNS)}")
    chip = load_chip(args.chip or chip_name)
    duration = args.duration if args.duration is not None else duration
    if args.dt <= 0:
        raise ConfigError(f"--dt must be a positive number of ms, got {args.dt}")
    config = RunConfig(mode=args.mode, dt_ps=int(round(args.dt * 1e9)), seed=args.seed)
    sim = Simulation(network, chip, config=config, stimuli=stimuli, strategy=args.strategy)
    trace = None
    if args.out:
        out = Path(args.out)
        if args.out == "aersim-out/trace.h5":
            out.parent.mkdir(exist_ok=True)
        trace = TraceWriter(out, metadata=_run_metadata(args, network, chip, sim))
        trace.write_array("run/core_of", sim.mapping.core_of)
    try:
        res = sim.run(duration, trace=trace, progress=not (args.no_progress or args.json))
    except BaseException:
        if trace is not None:
            trace.close(complete=False)
        raise
    if trace is not None:
        from hardware.energy import OP_KINDS
        trace.set_metadata(t_start_ps=res.t_start_ps, t_stop_ps=res.t_stop_ps,
                           hardware_time_ps=res.hardware_time_ps)
        trace.write_counters(res.counts, OP_KINDS)
        e = res.ledger
        trace.write_energy(e.by_core_op_j, OP_KINDS, static_j=e.static_j, barrier_j=e.barrier_j,
                           duration_ps=e.duration_ps)
        trace.close()
    if args.json:
        print(json.dumps(_result_dict(res, network, chip, args), indent=2))
    else:
        print(f"network {args.network}: {network.n_neurons} neurons, {network.n_synapses} "
              f"synapses on {chip.name} ({sim.mapping.cores_used} of {chip.n_cores} cores)")
        print(res.summary())
        if trace is not None:
            print(f"trace written to {args.out}")
    return 0


def _run_metadata(args, network, chip, sim) -> dict:
    import numba
    import numpy

    return {
        "command": " ".join(["aersim"] + sys.argv[1:]), "network": args.network,
        "network_summary": network.summary(), "network_metadata": network.metadata,
        "chip": chip.name, "chip_path": chip.path, "mode": sim.mode,
        "chip_width": chip.width, "chip_height": chip.height,
        "cores_per_tile": chip.cores_per_tile, "n_cores": chip.n_cores,
        "populations": [{"name": p.name, "size": p.size, "kind": p.kind, "offset":
                         network.offset(p.name)} for p in network.populations.values()],
        "dt_ps": sim.config.dt_ps, "seed": args.seed, "mapping": sim.mapping.strategy,
        "versions": {"aersim": _version(), "numpy": numpy.__version__,
                     "numba": numba.__version__, "python": platform.python_version()},
    }


def _result_dict(res, network, chip, args) -> dict:
    return {
        "network": args.network, "chip": chip.name, "mode": res.mode,
        "neurons": network.n_neurons, "synapses": network.n_synapses,
        "simulated_s": (res.t_stop_ps - res.t_start_ps) / 1e12, "wall_s": res.wall_s,
        "spikes": res.n_spikes, "operations": res.op_totals(),
        "hardware_time_s": res.hardware_time_ps / 1e12,
        "energy_j": {"total": res.ledger.total_j, "dynamic": res.ledger.dynamic_j,
                     "static": res.ledger.static_j, "barrier": res.ledger.barrier_j,
                     "by_operation": res.ledger.by_op_j()},
        "trace": args.out or None,
    }


def _cmd_info(args) -> int:
    from hardware import load_chip, preset_names
    from simcore.catalog import BUILTIN_RUNS

    target = args.target
    if target is None:
        print(f"aersim {_version()} (Python {platform.python_version()})")
        print("chip presets:", ", ".join(preset_names()))
        print("built-in networks:", ", ".join(BUILTIN_RUNS))
        return 0
    if target in BUILTIN_RUNS:
        net, _ = BUILTIN_RUNS[target].build(0)
        print(BUILTIN_RUNS[target].description)
        print(net.summary())
        return 0
    if target.endswith((".h5", ".hdf5")):
        from traces import read_trace
        tr = read_trace(target)
        print(f"trace {target}: format {tr.version}, "
              f"{'complete' if tr.complete else 'INCOMPLETE'}, {tr.spikes_t_ps.size} spikes")
        for key in ("network", "chip", "mode", "seed", "command"):
            if key in tr.metadata:
                print(f"  {key}: {tr.metadata[key]}")
        if tr.energy:
            print(f"  energy: {tr.energy['total_j'] * 1e6:.4g} uJ")
        return 0
    print(load_chip(target).summary())
    return 0


def _cmd_chips(args) -> int:
    from hardware import load_chip, preset_names

    if args.name:
        print(load_chip(args.name).summary())
        return 0
    for name in preset_names():
        chip = load_chip(name)
        print(f"{name:18s} {chip.n_cores:5d} cores  {chip.execution_mode:8s} {chip.description}")
    return 0


def _cmd_sweep(args) -> int:
    return cli_sweep.run_sweep_command(args)


COMMANDS = {"run": _cmd_run, "info": _cmd_info, "chips": _cmd_chips, "sweep": _cmd_sweep,
            "sweep-plot": _cmd_sweep, **RESULT_COMMANDS}


def main(argv=None) -> int:
    from hardware.errors import HardwareError
    from models.errors import ModelError
    from simcore.errors import SimulationError
    from traces.errors import TraceError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["run"] + list(argv if argv is not None else sys.argv[1:]))
    try:
        return COMMANDS[args.command](args)
    except (ModelError, HardwareError, SimulationError, TraceError) as exc:
        print(f"aersim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("aersim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into a command that stopped reading (``aersim report T | head``).
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
