"""``Results``: what a run produced — spikes, counts, the energy ledger, timing — and views of
it per population, as tables, and as a trace."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aersim.hardware.energy import OP_KINDS, EnergyLedger
from aersim.simcore.engine.hardware_model import LinkStats
from aersim.simcore.errors import ConfigError
from aersim.simcore.run.config import PS_PER_S
from aersim.traces.output.units import si


@dataclass(eq=False)
class Results:
    """What a run produced.

    Raw arrays keep the engine's units (times in integer picoseconds, global neuron ids, energies
    in joules); the methods give them per population in seconds and hertz.
    """

    mode: str
    t_start_ps: int
    t_stop_ps: int
    spikes_t_ps: np.ndarray
    spikes_neuron: np.ndarray
    counts: np.ndarray
    ledger: EnergyLedger
    hardware_time_ps: int
    step_duration_ps: np.ndarray
    wall_s: float
    messages: np.ndarray | None = None
    probes: dict | None = None
    info: dict = field(default_factory=dict)
    #: Per-link counters of the network-on-chip (``hardware_model.LinkStats``) when the chip
    #: models contention, else None.
    links: LinkStats | None = None
    #: ``{population: (first global id, size)}`` of the network that ran.
    populations: dict = field(default_factory=dict)
    #: Populations whose spikes are held in ``spikes_t_ps``/``spikes_neuron`` (all of them
    #: unless the run streamed the rest to a trace, see ``Simulation.run(keep_spikes=...)``).
    kept: frozenset | None = None
    #: Spikes of the whole network (also those not kept in memory).
    spike_total: int | None = None
    #: Traffic of every directed chip-to-chip link of a system of chips
    #: (``hardware.system.CHIP_LINK_DTYPE``), else None.
    chip_links: np.ndarray | None = None

    def __repr__(self):
        sim_s = (self.t_stop_ps - self.t_start_ps) / PS_PER_S
        return (f"Results(mode={self.mode!r}, simulated={si(sim_s, 's')}, "
                f"spikes={self.n_spikes}, energy={si(self.ledger.total_j, 'J')}, "
                f"hardware_time={si(self.hardware_time_ps / PS_PER_S, 's')})")

    @property
    def n_spikes(self) -> int:
        """Spikes of the whole network in this run."""
        if self.spike_total is not None:
            return int(self.spike_total)
        return int(self.spikes_t_ps.shape[0])

    @property
    def duration_s(self) -> float:
        """Simulated seconds of this run."""
        return (self.t_stop_ps - self.t_start_ps) / PS_PER_S

    def _population(self, name: str) -> tuple[int, int]:
        if name not in self.populations:
            raise ConfigError(f"no population {name!r} in this run; it has "
                              f"{sorted(self.populations)}")
        if self.kept is not None and name not in self.kept:
            raise ConfigError(f"the spikes of population {name!r} went to the trace and were not "
                              "kept in memory; read them with aersim.read_trace(path), or run "
                              "with keep_spikes='all'")
        return self.populations[name]

    def _selection(self, name: str) -> tuple[int, np.ndarray]:
        """First global id of population ``name`` and the mask of its kept spikes."""
        lo, size = self._population(name)
        return lo, (self.spikes_neuron >= lo) & (self.spikes_neuron < lo + size)

    def spikes(self, population: str) -> np.ndarray:
        """Spikes of one population, in time order.

        Returns
        -------
        ndarray, structured, (n_spikes,)
            Fields ``t_s`` (float64, seconds from the start of the simulation) and ``neuron``
            (int64, index inside the population).
        """
        lo, sel = self._selection(population)
        out = np.empty(int(sel.sum()), dtype=[("t_s", np.float64), ("neuron", np.int64)])
        out["t_s"] = self.spikes_t_ps[sel] / PS_PER_S
        out["neuron"] = self.spikes_neuron[sel].astype(np.int64) - lo
        return out

    def spike_counts(self, population: str) -> np.ndarray:
        """Spikes per neuron of one population: int64 (size,)."""
        lo, sel = self._selection(population)
        return np.bincount(self.spikes_neuron[sel].astype(np.int64) - lo,
                           minlength=self.populations[population][1])

    def rates_hz(self, population: str | None = None):
        """Firing rates: per neuron of ``population`` (float64 (size,), Hz), or, with no name,
        the mean rate of every population (``{name: Hz}``)."""
        if population is not None:
            return self.spike_counts(population) / self.duration_s
        return {name: float(self.spike_counts(name).sum() / max(size, 1) / self.duration_s)
                for name, (_, size) in self.populations.items()
                if self.kept is None or name in self.kept}

    def op_totals(self) -> dict[str, int]:
        """Operation counts summed over cores."""
        return {k: int(v) for k, v in zip(OP_KINDS, self.counts.sum(axis=0), strict=True)}

    def energy_table(self) -> np.ndarray:
        """Dynamic energy and operation counts by core and operation kind, as a table.

        Returns
        -------
        ndarray, structured, (n_rows,)
            One row per (core, operation) that was counted or priced: ``core`` (int32),
            ``operation`` (str), ``count`` (int64), ``energy_j`` (float64, joules).
        """
        e = self.ledger.by_core_op_j
        cores, ops = np.nonzero((self.counts != 0) | (e != 0))
        out = np.empty(cores.size, dtype=[("core", np.int32), ("operation", "U24"),
                                          ("count", np.int64), ("energy_j", np.float64)])
        out["core"] = cores
        out["operation"] = np.asarray(OP_KINDS)[ops]
        out["count"] = self.counts[cores, ops]
        out["energy_j"] = e[cores, ops]
        return out

    def energy_frame(self):
        """:meth:`energy_table` as a pandas DataFrame (pandas must be installed)."""
        try:
            import pandas as pd
        except ImportError:
            raise ConfigError("energy_frame needs pandas (pip install pandas); "
                              "energy_table() gives the same rows as a NumPy array") from None
        return pd.DataFrame(self.energy_table())

    def to_trace(self, path) -> None:
        """Write these results (spikes, counters, energy, step durations, links) to a new trace
        file at ``path``; ``aersim report`` and ``read_trace`` read it."""
        from aersim.traces import TraceWriter

        trace = TraceWriter(path, metadata={
            "mode": self.mode, "populations": [
                {"name": n, "offset": int(lo), "size": int(size)}
                for n, (lo, size) in self.populations.items()],
            "dt_ps": int(self.info.get("dt_ps", 0))})
        try:
            trace.append_spikes(self.spikes_t_ps, self.spikes_neuron)
            if self.step_duration_ps.size:
                trace.append_step_durations(self.step_duration_ps)
            self.write_totals(trace)
        except BaseException:
            trace.close(complete=False)
            raise
        trace.close()

    def write_totals(self, trace) -> None:
        """Write the run's time span, counters, energy ledger and link counters into ``trace``
        (spikes and step durations are streamed into it while the run goes)."""
        trace.set_metadata(t_start_ps=self.t_start_ps, t_stop_ps=self.t_stop_ps,
                           hardware_time_ps=self.hardware_time_ps)
        trace.write_counters(self.counts, OP_KINDS)
        e = self.ledger
        trace.write_energy(e.by_core_op_j, OP_KINDS, static_j=e.static_j,
                           barrier_j=e.barrier_j, duration_ps=e.duration_ps)
        if self.links is not None:
            trace.write_links(self.links, duration_ps=self.hardware_time_ps)
        if self.chip_links is not None:
            trace.write_chip_links(self.chip_links, duration_ps=self.hardware_time_ps)

    def summary(self) -> str:
        """A short human-readable report (SI prefixes throughout)."""
        ops = self.op_totals()
        sim_s = self.duration_s
        if self.mode == "timestep" and self.info.get("dt_ps"):
            dt_s = self.info["dt_ps"] / PS_PER_S
            n = int(round(sim_s / dt_s))
            when = f"{n} steps of {si(dt_s, 's')} = {si(sim_s, 's')} simulated"
        else:
            when = f"{si(sim_s, 's')} simulated"
        lines = [
            f"mode {self.mode}: {when} in {self.wall_s:.2f} s wall",
            f"spikes: {self.n_spikes}   synaptic ops: {ops['synaptic_op']}   "
            f"messages: {ops['message_out']}   hops: "
            f"{ops['hop_east'] + ops['hop_west'] + ops['hop_north'] + ops['hop_south']}",
            f"hardware time: {si(self.hardware_time_ps / PS_PER_S, 's')}",
        ]
        if self.step_duration_ps.size:
            d = self.step_duration_ps / PS_PER_S
            lines.append(f"step duration: mean {si(d.mean(), 's')}, max {si(d.max(), 's')} over "
                         f"{d.size} steps")
        e = self.ledger
        lines.append(f"energy: total {si(e.total_j, 'J')} = dynamic {si(e.dynamic_j, 'J')}"
                     f" + static {si(e.static_j, 'J')} + barrier {si(e.barrier_j, 'J')}")
        if self.chip_links is not None:
            cl = self.chip_links
            lines.append(f"chip-to-chip: {int(cl['packets'].sum())} packets, "
                         f"{int(cl['bits'].sum())} bits, {si(float(cl['energy_j'].sum()), 'J')} "
                         f"on {int(np.count_nonzero(cl['packets']))} of {cl.size} links")
        top = sorted(e.by_op_j().items(), key=lambda kv: -kv[1])[:4]
        lines.append("  largest: " + ", ".join(f"{k} {si(v, 'J')}" for k, v in top if v))
        return "\n".join(lines)
