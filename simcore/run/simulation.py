"""``Simulation``: build the engine's arrays once, run them chunk by chunk, collect the results.

    sim = Simulation(network, chip, stimuli=[PoissonInput("input", 20.0)])
    res = sim.run(1.0)                   # seconds of simulated time (or run_ps)
    res.spikes_t_ps, res.ledger.total_j, res.counts

Chunks bound memory: each chunk's input spikes are generated when the chunk starts and the
recorder's buffers are drained into the trace (if any) whenever they fill.
"""

from __future__ import annotations

import logging
import math
import os
import time

import numpy as np

from aersim.hardware.energy import paced_duration_ps, price
from aersim.hardware.mapping import fan_in_out, map_network
from aersim.models import memory
from aersim.models.memory import build_bytes, require_bytes
from aersim.simcore.engine import asynchronous as engine_async
from aersim.simcore.engine import timestep as engine_timestep
from aersim.simcore.engine.build import (
    KIND_ALIF,
    KIND_CUBA,
    KIND_IF,
    KIND_LIF,
    META_INJECTED,
    TIMESTEP_ONLY,
    build_chip,
    build_neurons,
    build_synapses,
    chip_link_table,
    delay_steps,
    engine_bytes,
    grow_noc,
    input_slots,
    widest,
)
from aersim.simcore.engine.hardware_model import LinkStats
from aersim.simcore.engine.neuron_kernels import time_to_threshold_s
from aersim.simcore.engine.queue import grow, heap_push, make_key, new_heap
from aersim.simcore.engine.state import (
    ModeTables,
    Stimulus,
    drive_segments,
    new_counters,
    new_neuron_state,
    new_recorder,
    new_scratch,
    no_inputs,
)
from aersim.simcore.engine.synapse_tables import delivery_runs
from aersim.simcore.errors import ConfigError, StimulusError
from aersim.simcore.run.compile_notice import compile_notice
from aersim.simcore.run.compile_notice import waited as compile_notice_waited
from aersim.simcore.run.config import PS_PER_S, RunConfig
from aersim.simcore.run.progress import progress_bar
from aersim.simcore.run.results import Results
from aersim.simcore.run.stimulus import GradedInput, PoissonDrive, is_input_stimulus

log = logging.getLogger(__name__)

#: A build projected to need this many bytes or more announces its projection first.
ANNOUNCE_BUILD_BYTES = 1 << 30


def _checked_arguments(network, chip, config, stimuli):
    """Validate ``Simulation``'s arguments; a chip given by name is loaded, a missing time step
    is the network's import profile's."""
    from aersim.hardware import ChipSpec, load_chip
    from aersim.models import Network
    if not isinstance(network, Network):
        raise ConfigError(f"network must be an aersim.models.Network (load one with "
                          f"aersim.load_network), got {type(network).__name__}")
    if isinstance(chip, (str, os.PathLike)):
        chip = load_chip(chip)
    if not isinstance(chip, ChipSpec):
        raise ConfigError(f"chip must be a ChipSpec, a preset name or a chip .yaml path, got "
                          f"{type(chip).__name__}")
    if config is None:
        config = RunConfig()
    if not isinstance(config, RunConfig):
        raise ConfigError(f"config must be a RunConfig, got {type(config).__name__}")
    config = config.for_network(network)
    if not isinstance(stimuli, (list, tuple)):
        stimuli = [stimuli]
    for stim in stimuli:
        if not hasattr(stim, "population"):
            raise StimulusError(f"stimuli must be stimulus objects (PoissonInput, PoissonDrive, "
                                f"SpikeTrains, EventReplay), got {stim!r}")
    return network, chip, config, list(stimuli)


class Simulation:
    """A network mapped onto a chip, with its stimuli, ready to run.

    Parameters
    ----------
    network : models.Network
    chip : hardware.ChipSpec, str or Path
        A chip, or a preset name / chip ``.yaml`` to load.
    mapping : hardware.Mapping, optional
        Default: ``map_network(network, chip, strategy)``.
    config : RunConfig, optional
    stimuli : sequence
        ``PoissonDrive``, ``PoissonInput`` and ``SpikeTrains`` objects.
    strategy : str, optional
        Mapping strategy when ``mapping`` is not given (default: the chip's,
        ``hardware.mapping.default_strategy``).
    comm : mpi4py communicator, optional
        Run partitioned over its ranks (``timestep`` mode; every rank constructs the same
        ``Simulation`` and calls ``run`` alike; results are bit-identical to one process and
        the same on every rank; see ``simcore.run.parallel``). None or one rank: one process.
    probes : dict, optional
        ``{population: None or local indices}``: neurons whose state (``v`` and the second
        state variable: CuBa current, ALIF adaptation, …) is sampled every
        ``config.probe_period_ps``. ``Results.probes`` holds ``t_ps`` (n_samples,),
        ``neuron`` (global ids, (k,)), ``v`` and ``state2`` ((n_samples, k) float64). In
        ``async`` mode a sample at ``t`` is the exact state just before the events at ``t``.
    announce : callable, optional
        Called with one line (``str``) before a build projected to need
        :data:`ANNOUNCE_BUILD_BYTES` or more: the projected peak and the memory available
        (``aersim run`` prints it; the line is also logged at INFO level).
    """

    def __init__(self, network, chip, mapping=None, config: RunConfig | None = None,
                 stimuli=(), strategy: str | None = None, probes: dict | None = None,
                 comm=None, announce=None):
        network, chip, config, stimuli = _checked_arguments(network, chip, config, stimuli)
        self.network, self.chip = network, chip
        self.config = config
        self.mode = self.config.mode or chip.execution_mode
        t0 = time.perf_counter()
        self.mapping = mapping if mapping is not None else map_network(network, chip, strategy)
        fan_out = getattr(self.mapping, "fan_out_per_core", None)
        if fan_out is None:
            fan_out = fan_in_out(network, self.mapping.core_of, chip.n_cores)[1]
        need = build_bytes(network.n_synapses, int(fan_out.sum()))
        what = (f"building the engine's tables for {network.n_synapses / 1e6:.1f} M synapses "
                f"in {int(fan_out.sum()) / 1e6:.1f} M messages")
        require_bytes(need, what, "simulate a smaller network, or split it over machines")
        if need >= ANNOUNCE_BUILD_BYTES:
            have = memory.available_bytes()
            line = f"{what}: about {need / memory.GIB:.1f} GiB at its peak" + \
                (f" ({have / memory.GIB:.1f} GiB available)" if have is not None else "")
            log.info(line)
            if announce is not None:
                announce(line)
        self.neurons = build_neurons(network, self.mapping)
        self.syn = build_synapses(network, self.mapping, config.synapses)
        self.contention = bool(getattr(chip.noc, "contention", False))
        self.chip_tables = build_chip(chip, self.neurons, self.syn, network)
        self.stimuli = stimuli
        self.probe_ids = self._probe_ids(probes or {})
        self._check()
        self._init_state()
        self.parallel = None
        if comm is not None and comm.Get_size() > 1:
            from aersim.simcore.run.parallel import RankRun
            self.parallel = RankRun(self, comm)
        self.build_s = time.perf_counter() - t0
        #: A child compiling the engine kernel (``simcore.run.compile_ahead``), joined before
        #: the kernel's first call.
        self.ahead = None
        self.t_ps = 0
        self.hardware_time_ps = 0
        self.n_steps_done = 0

    # -- set-up ---------------------------------------------------------------------------------

    def _check(self) -> None:
        net, cfg = self.network, self.config
        if self.mode == "async":
            for pop in net.populations.values():
                if pop.kind in TIMESTEP_ONLY:
                    raise ConfigError(
                        f"population {pop.name!r} uses {pop.kind} neurons, whose dynamics are "
                        "defined per time step; run it in mode='timestep'")
        nt = self.neurons
        if self.mode == "async" and (np.any(nt.no_reset)
                                     or np.any(nt.late_reset & (nt.kind != KIND_ALIF))):
            bad = np.flatnonzero(nt.no_reset | (nt.late_reset & (nt.kind != KIND_ALIF)))[0]
            pop = next(p.name for p in net.populations.values()
                       if net.offset(p.name) <= bad < net.offset(p.name) + p.size)
            raise ConfigError(f"population {pop!r} resets in the step after a spike (or never), "
                              "as a time-stepped framework does; run it in mode='timestep', or "
                              "load the network with the 'exact' profile for async mode")
        if self.mode == "async" and np.any(self.neurons.euler):
            pop = next(p.name for p in net.populations.values()
                       if getattr(p.params, "integrator", "") == "euler")
            raise ConfigError(f"population {pop!r} integrates with forward Euler, which needs "
                              "a time step; use mode='timestep' or integrator='exact'")
        if self.mode == "timestep":
            for proj in net.projections:
                d = proj.to_csr_arrays()[3]
                if d.size == 0:
                    continue
                bad = d % cfg.dt_ps != 0
                if np.any(bad):
                    val = int(np.atleast_1d(d)[np.flatnonzero(np.atleast_1d(bad))[0]])
                    raise ConfigError(
                        f"projection {proj.name!r}: delay {val / 1e9:g} ms is not a whole "
                        f"number of steps of dt = {cfg.dt_ps / 1e9:g} ms; choose a dt "
                        "that divides every delay, or run in async mode")
                if np.any(d == 0) and list(net.populations).index(proj.post) <= \
                        list(net.populations).index(proj.pre):
                    raise ConfigError(
                        f"projection {proj.name!r} has zero-delay synapses from {proj.pre!r} "
                        f"back to {proj.post!r}, which is not later in the network; a "
                        "zero-delay synapse must point to a later population (give recurrent "
                        "and backward synapses a delay of at least one step)")
        for stim in self.stimuli:
            pop = net.population(stim.population) if stim.population in net.populations \
                else None
            if pop is None:
                raise StimulusError(f"{type(stim).__name__} targets population "
                                    f"{stim.population!r}, which the network does not have; "
                                    f"it has {sorted(net.populations)}")
            if isinstance(stim, PoissonDrive) and pop.kind == "input":
                raise StimulusError(f"PoissonDrive targets input population {pop.name!r}; use "
                                    "PoissonInput for the spikes of an input population")
            if is_input_stimulus(stim) and pop.kind != "input":
                raise StimulusError(f"{type(stim).__name__} targets {pop.name!r}, a {pop.kind} "
                                    "population; input spikes go to an input population "
                                    "(PoissonDrive acts on neurons directly)")
            if isinstance(stim, GradedInput):
                self._check_graded(stim)

    def _check_graded(self, stim) -> None:
        """A graded input runs in timestep mode, on whole steps, alone on its population."""
        if self.mode != "timestep":
            raise StimulusError(f"GradedInput on {stim.population!r} needs mode='timestep': "
                                "the async engine sends plain (payload 1) input spikes")
        dt = self.config.dt_ps
        if stim.dt_ps % dt or stim.t0_ps % dt:
            raise StimulusError(f"GradedInput on {stim.population!r}: dt_ps={stim.dt_ps} and "
                                f"t0_ps={stim.t0_ps} must be whole numbers of the run's "
                                f"dt = {dt} ps")
        n_on = sum(1 for s in self.stimuli
                   if is_input_stimulus(s) and s.population == stim.population)
        if n_on > 1:
            raise StimulusError(f"GradedInput on {stim.population!r} shares its population with "
                                "another input stimulus; give each graded input its own input "
                                "population")

    def _probe_ids(self, probes: dict) -> np.ndarray:
        """Global ids of the probed neurons, validated."""
        ids = []
        for name, local in probes.items():
            pop = self.network.population(name)
            idx = np.arange(pop.size) if local is None else np.asarray(local, dtype=np.int64)
            if idx.size and (idx.min() < 0 or idx.max() >= pop.size):
                raise ConfigError(f"probe of population {name!r}: index outside 0.."
                                  f"{pop.size - 1}")
            ids.append(self.network.offset(name) + idx)
        return np.concatenate(ids).astype(np.int64) if ids else np.zeros(0, np.int64)

    def _init_state(self) -> None:
        """The engine's records (``simcore.engine.state``) at time 0."""
        n = self.network.n_neurons
        nt = self.neurons
        cfg = self.config
        period = cfg.probe_period_ps or (cfg.dt_ps if self.mode == "timestep" else 100_000_000)
        if self.mode == "timestep" and period % cfg.dt_ps:
            raise ConfigError(f"probe_period_ps {period} is not a whole number of steps of "
                              f"dt = {cfg.dt_ps} ps")
        n_msg = int(self.syn.msg_core.shape[0])
        self.rec = new_recorder(max(cfg.recorder_capacity, 2 * n + 16),
                                max(1 << 16, 2 * n_msg) if cfg.record_messages else 0,
                                self.probe_ids, period)
        self.heap = new_heap(4096)
        # Async mode queues deliveries apart (asynchronous.run_async_kernel).
        self.deliveries = new_heap(4096 if self.mode == "async" else 16)
        self.counters = new_counters(self.chip.n_cores)
        self.scratch = new_scratch(n, self.chip.n_cores, self.mode)
        seqs = np.random.SeedSequence(cfg.seed).spawn(len(self.stimuli) + 1)
        self._stim_rngs = [np.random.default_rng(s) for s in seqs[:-1]]
        drives = [(i, s) for i, s in enumerate(self.stimuli) if isinstance(s, PoissonDrive)]
        # One random stream per (drive, core) in timestep mode, per drive in async mode: see
        # state.drive_segments.
        seg = drive_segments(
            [(self.network.offset(s.population), self.network.population(s.population).size,
              s.rate_hz, s.weight) for _, s in drives],
            self.neurons.core, [seqs[i] for i, _ in drives], per_core=self.mode == "timestep")
        n_seg = seg.off.size
        batch = engine_async.DRIVE_BATCH if self.mode == "async" else 0
        self.stim = no_inputs(Stimulus(
            drive_off=seg.off, drive_n=seg.n, drive_idx=seg.idx, drive_rate_hz=seg.rate_hz,
            drive_w=seg.w, drive_rng=seg.rng, drive_next=np.zeros(n_seg, dtype=np.int64),
            drive_buf_j=np.zeros((n_seg, batch), dtype=np.int64),
            drive_buf_t=np.zeros((n_seg, batch), dtype=np.int64),
            drive_pos=np.full(n_seg, batch, dtype=np.int64),
            drive_tree=np.zeros(2 * engine_async.tree_leaves(n_seg), dtype=np.int64),
            drive_tie=np.zeros(2 * engine_async.tree_leaves(n_seg), dtype=np.bool_),
            in_time=None, in_neuron=None, in_value=None, in_pos=None))
        self._input_streams = [
            (s.open(self.network.population(s.population), self._stim_rngs[i]),
             self.network.offset(s.population))
            for i, s in enumerate(self.stimuli) if is_input_stimulus(s)]
        counts_msgs = np.diff(self.syn.msg_ptr)
        # Entries one async event may push: a batch can fire every touched neuron (a spike and
        # a threshold check each); a message pushes one delivery per segment; a spike one
        # message per destination core.
        self.max_push = int(max(counts_msgs.max(initial=0), widest(self.syn.msg_seg_lo),
                                2 * n)) + 2
        if self.chip.noc.contention:
            # A router arbitration pushes up to three entries per output it grants.
            self.max_push += 3 * (4 + self.chip.cores_per_tile)
        empty_f, empty_i = np.zeros(0), np.zeros(0, dtype=np.int64)
        if self.mode == "timestep":
            dt = self.config.dt_ps
            dt_s = dt * 1e-12
            zeta, rho, jump = (np.zeros(n) for _ in range(3))
            for pop in self.network.populations.values():
                if pop.kind == "alif":
                    sl = slice(self.network.offset(pop.name),
                               self.network.offset(pop.name) + pop.size)
                    coef = pop.params.step_coefficients(pop.size, dt_s)
                    zeta[sl], rho[sl], jump[sl] = coef["zeta"], coef["rho"], coef["jump"]
            seg_delay_steps = delay_steps(self.syn, dt)
            run_ptr, runs = delivery_runs(self.syn, seg_delay_steps, self.syn.msg_ptr[:-1],
                                          self.syn.msg_ptr[1:])
            self.mode_tables = ModeTables(
                run_ptr=run_ptr, runs=runs,
                decay=np.where(nt.euler, 1.0 - dt_s / nt.tau_s, np.exp(-dt_s / nt.tau_s)),
                ref_steps=np.where(nt.hold_steps >= 0, nt.hold_steps,
                                   np.round(nt.t_ref_ps / dt)).astype(np.int64),
                zeta=zeta, rho=rho, jump=jump, self_driven=np.zeros(0, dtype=np.bool_))
            n_slots = int(seg_delay_steps.max(initial=0)) + 1
            self.state = new_neuron_state(nt.v_init, nt.i_init, self.mode,
                                          (n_slots, input_slots(self.network)[1]))
        else:
            # Neurons that can reach threshold with no input: a bias above threshold (LIF), a
            # positive drift (IF), or a synaptic current still rising the membrane (CuBa).
            finite = np.isfinite(nt.v_th)
            self.mode_tables = ModeTables(
                run_ptr=empty_i, runs=np.zeros((0, 4), np.int32), decay=empty_f,
                ref_steps=empty_i,
                zeta=empty_f, rho=empty_f, jump=empty_f,
                self_driven=finite & (((nt.kind == KIND_LIF) & (nt.v_inf > nt.v_th))
                                      | ((nt.kind == KIND_IF) & (nt.drift > 0))
                                      | (nt.kind == KIND_CUBA) | (nt.kind == KIND_ALIF)))
            self.state = new_neuron_state(nt.v_init, nt.i_init, self.mode)
            for d in range(self.stim.drive_off.size):
                self.stim.drive_next[d] = self._drive_gap_ps(d) \
                    if self.stim.drive_rate_hz[d] > 0 else np.iinfo(np.int64).max
            engine_async.build_drive_tree(self.stim)
            self._seed_self_driven()

    @property
    def v(self) -> np.ndarray:
        """Membrane potentials now, ``(n_neurons,)`` float64 (a view of the engine state)."""
        return self.state.v

    @property
    def cur(self) -> np.ndarray:
        """Second state variable now (CuBa current, ALIF adaptation, ...), ``(n_neurons,)``."""
        return self.state.cur

    def _drive_gap_ps(self, d: int) -> int:
        # The first gap of a drive is drawn in Python from the drive's own stream state; the
        # kernel continues the same stream (same generator, same state array).
        from aersim.simcore.engine.rng import exponential
        stim = self.stim
        return int(round(exponential(stim.drive_rng, d) / (stim.drive_rate_hz[d]
                                                           * stim.drive_n[d]) * 1e12))

    def _seed_self_driven(self) -> None:
        """Queue the first threshold crossing of every neuron that can fire on its own."""
        nt = self.neurons
        st = self.state
        for j in np.flatnonzero(self.mode_tables.self_driven):
            h_s = time_to_threshold_s(nt.kind[j], st.v[j], st.cur[j], nt.v_th[j], nt.v_inf[j],
                                      nt.drift[j], nt.v_leak[j], nt.r[j], nt.i_inf[j],
                                      nt.tau_s[j], nt.tau_syn_s[j], nt.beta[j])
            st.version[j] += 1
            if np.isfinite(h_s):
                if self.heap.e.shape[0] == int(self.heap.meta[0]):
                    self.heap = grow(self.heap)
                heap_push(self.heap, np.int64(np.ceil(h_s * 1e12)),
                          make_key(engine_async.KIND_CHECK, j), np.int64(j), st.version[j])

    # -- running --------------------------------------------------------------------------------

    def _input_spikes(self, t0: int, t1: int):
        """All input-population spikes in ``[t0, t1)``, sorted by (time, global neuron), with
        their payloads (1.0, or a graded input's values)."""
        ts, ns, vs = [], [], []
        for stream, offset in self._input_streams:
            t, local, *value = stream.spikes(t0, t1)
            ts.append(np.asarray(t, dtype=np.int64))
            ns.append(np.asarray(local, dtype=np.int64) + offset)
            vs.append(np.asarray(value[0], dtype=np.float64) if value
                      else np.ones(ts[-1].size, dtype=np.float64))
        if not ts:
            return np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float64)
        t = np.concatenate(ts)
        nrn = np.concatenate(ns)
        order = np.lexsort((nrn, t))
        return t[order], nrn[order].astype(np.int32), np.concatenate(vs)[order]

    def run(self, duration_s: float | None = None, *, duration_ps: int | None = None,
            trace=None, progress: bool = False, keep_spikes: str | None = None) -> Results:
        """Run for ``duration_s`` seconds (or ``duration_ps``) from where the last run stopped.

        Parameters
        ----------
        trace : traces.TraceWriter, optional
            Receives spikes (and step durations) as they are produced.
        progress : bool
            Show a progress bar of simulated time.
        keep_spikes : str, optional
            Which spikes ``Results`` holds in memory: ``"all"``, ``"io"`` (the input and output
            populations only) or ``"none"``. Default: ``"all"`` without a trace, ``"io"`` with
            one (the trace streams every spike, so a run of any length holds bounded memory
            beyond its inputs and outputs).
        """
        if keep_spikes is None:
            keep_spikes = "all" if trace is None else "io"
        if keep_spikes not in ("all", "io", "none"):
            raise ConfigError(f"keep_spikes must be 'all', 'io' or 'none', got {keep_spikes!r}")
        kept = self._kept_populations(keep_spikes)
        if (duration_s is None) == (duration_ps is None):
            raise ConfigError("give exactly one of duration_s and duration_ps")
        if duration_ps is None:
            if isinstance(duration_s, bool) or not isinstance(duration_s, (int, float)) \
                    or not math.isfinite(duration_s) or not 0 < duration_s < 9.2e6:
                raise ConfigError(f"run duration must be a finite number of seconds in "
                                  f"(0, 9.2e6), got {duration_s!r}")
            total = int(round(duration_s * PS_PER_S))
        else:
            total = int(duration_ps)
        if total <= 0:
            raise ConfigError(f"run duration must be positive, got {total} ps")
        dt = self.config.dt_ps
        if self.mode == "timestep" and (total % dt or self.t_ps % dt):
            raise ConfigError(f"run duration {total / 1e9:g} ms is not a whole number of steps "
                              f"of dt = {dt / 1e9:g} ms")
        chunk = self.config.chunk_ps or (1000 * dt if self.mode == "timestep" else 10**11)
        t_start, t_end = self.t_ps, self.t_ps + total
        spikes_t, spikes_n, step_durs = [], [], []
        self._spike_total = 0
        self._keep_mask = self._mask_of(kept)
        self._messages = []
        self._probe_chunks = []
        counts_before = self.counters.ops.copy()
        links_before = self.chip_tables.noc.link_stats.copy()
        chip_links_before = self.chip_tables.link_stats.copy()
        packets_before = int(self.chip_tables.noc.meta[META_INJECTED])
        hw_before = self.hardware_time_ps
        steps_before = self.n_steps_done
        bar = progress_bar(progress, total=total / PS_PER_S, unit="s sim", unit_scale=False,
                           bar_format="{l_bar}{bar}| {n:.3f}/{total:.3f} s simulated "
                                      "[{elapsed}<{remaining}]")
        wall0 = time.perf_counter()
        with compile_notice(progress, bar):
            while self.t_ps < t_end:
                t1 = min(self.t_ps + chunk, t_end)
                in_t, in_n, in_v = self._input_spikes(self.t_ps, t1)
                if self.mode == "timestep":
                    durs = self._run_steps(in_t, in_n, in_v, t1, spikes_t, spikes_n, trace)
                    step_durs.append(durs)
                    self.hardware_time_ps += int(durs.sum())
                    if trace is not None:
                        trace.append_step_durations(durs)
                else:
                    self._run_async(in_t, in_n, t1, spikes_t, spikes_n, trace)
                    self.hardware_time_ps += t1 - self.t_ps
                if bar is not None:
                    bar.update((t1 - self.t_ps) / PS_PER_S)
                self.t_ps = t1
        if self.parallel is not None:
            # Every rank's state of every neuron, as after a one-process run (each rank
            # updated only its own).
            self.parallel.share_state(self)
        if bar is not None:
            bar.close()
        wall = time.perf_counter() - wall0
        counts = self.counters.ops - counts_before
        hw = self.hardware_time_ps - hw_before
        n_barriers = self.n_steps_done - steps_before
        durations = np.concatenate(step_durs) if step_durs else np.zeros(0, np.int64)
        paced = paced_duration_ps(durations, dt) if self.mode == "timestep" else None
        chip_links = self.chip_tables.link_stats - chip_links_before
        ledger = price(counts, self.chip, hw, n_barriers, cores_used=self.mapping.core_of,
                       paced_ps=paced, mode=self.mode,
                       link_packets=chip_links[:, 0] if chip_links.size else None)
        return Results(
            mode=self.mode, t_start_ps=t_start, t_stop_ps=t_end,
            spikes_t_ps=np.concatenate(spikes_t) if spikes_t else np.zeros(0, np.int64),
            spikes_neuron=np.concatenate(spikes_n) if spikes_n else np.zeros(0, np.int32),
            counts=counts, ledger=ledger, hardware_time_ps=hw,
            step_duration_ps=durations,
            wall_s=wall,
            messages=np.concatenate(self._messages) if self.config.record_messages else None,
            probes=self._probe_results(),
            info={"build_s": self.build_s, "engine_bytes": engine_bytes(self.syn, self.neurons),
                  "n_synapses": int(self.syn.target.shape[0]), "dt_ps": dt,
                  "cores_used": self.mapping.cores_used,
                  "noc_packets": int(self.chip_tables.noc.meta[META_INJECTED]) - packets_before},
            links=LinkStats.from_state(self.chip_tables.noc, self.chip.n_tiles, links_before)
            if self.chip.noc.contention else None,
            populations={name: (self.network.offset(name), pop.size)
                         for name, pop in self.network.populations.items()},
            kept=kept, spike_total=self._spike_total,
            chip_links=chip_link_table(self.chip, chip_links, ledger.by_link_j)
            if chip_links.size else None)

    def _kept_populations(self, keep: str) -> frozenset | None:
        """The populations whose spikes a run keeps in memory (None: all)."""
        if keep == "all":
            return None
        if keep == "none":
            return frozenset()
        return frozenset(self.network.inputs) | frozenset(self.network.outputs)

    def _mask_of(self, kept) -> np.ndarray | None:
        """Per-neuron bool mask of the kept populations (None: keep every spike)."""
        if kept is None:
            return None
        mask = np.zeros(self.network.n_neurons, dtype=np.bool_)
        for name in kept:
            lo = self.network.offset(name)
            mask[lo:lo + self.network.population(name).size] = True
        return mask

    def _drain(self, spikes_t, spikes_n, trace) -> None:
        rec = self.rec
        k = int(rec.spike_meta[0])
        t = rec.spike_t[:k].copy()
        nrn = rec.spike_n[:k].copy()
        rec.spike_meta[0] = 0
        if self.mode == "async" and k:
            # Spikes of one instant are recorded as they are found; order them by neuron.
            order = np.lexsort((nrn, t))
            t, nrn = t[order], nrn[order]
        if trace is not None:
            trace.append_spikes(t, nrn)
        self._spike_total += k
        if self._keep_mask is not None:
            sel = self._keep_mask[nrn]
            t, nrn = t[sel], nrn[sel]
        spikes_t.append(t)
        spikes_n.append(nrn)
        if rec.mlog.shape[0]:
            self._messages.append(rec.mlog[:int(rec.mlog_meta[0])].copy())
            rec.mlog_meta[0] = 0
        if self.probe_ids.size:
            m = int(rec.probe_meta[0])
            chunk = (rec.probe_t[:m].copy(), rec.probe_v[:m].copy(), rec.probe_c[:m].copy())
            rec.probe_meta[0] = 0
            self._probe_chunks.append(chunk)
            if trace is not None and m:
                trace.append_probes(self.probe_ids, *chunk)

    def _probe_results(self) -> dict | None:
        if not self.probe_ids.size:
            return None
        t, v, c = (np.concatenate([ch[i] for ch in self._probe_chunks]) for i in range(3))
        return {"t_ps": t, "neuron": self.probe_ids.copy(), "v": v, "state2": c}

    def _join_ahead(self, kernel, args) -> None:
        """Before the engine kernel's first call: wait for the child compiling it, if any
        (then the call loads it from Numba's cache)."""
        if self.ahead is not None:
            ahead, self.ahead = self.ahead, None
            compile_notice_waited(ahead.join(kernel, args))

    def finish_held_step(self, durs, i: int, concurrent) -> None:
        """Run the timeline of a step whose kernel held it (its spikes in ``scratch.spiked``),
        into ``durs[i]`` (ps): grow the queue to the room it asked for, then the contention
        model's or the zero-load kernel (``concurrent``: ``timestep.receive_flag``)."""
        while self.heap.e.shape[0] - int(self.heap.meta[0]) < self.scratch.pending[1]:
            self.heap = grow(self.heap)
        tables = (self.neurons, self.syn, self.chip_tables, self.heap, self.counters,
                  self.scratch, self.rec, durs, i)
        if self.contention:
            engine_timestep.finish_step_noc_kernel(*tables)
        else:
            engine_timestep.finish_step_kernel(*tables, concurrent)

    def _run_steps(self, in_t, in_n, in_v, t1, spikes_t, spikes_n, trace) -> np.ndarray:
        dt = self.config.dt_ps
        k0, k1 = self.t_ps // dt, t1 // dt
        in_step = in_t // dt
        if in_step.size:
            # A neuron spikes at most once per step.
            order = np.lexsort((in_n, in_step))
            in_step, in_n, in_v = in_step[order], in_n[order], in_v[order]
            keep = np.ones(in_step.size, dtype=bool)
            keep[1:] = (in_step[1:] != in_step[:-1]) | (in_n[1:] != in_n[:-1])
            in_step, in_n, in_v = in_step[keep], in_n[keep], in_v[keep]
        stim = self.stim._replace(in_time=in_step, in_neuron=in_n, in_value=in_v,
                                  in_pos=np.zeros(1, dtype=np.int64))
        durs = np.zeros(k1 - k0, dtype=np.int64)
        if self.parallel is not None:
            return self.parallel.run_steps(self, stim, k0, k1, durs, spikes_t, spikes_n, trace)
        concurrent = engine_timestep.receive_flag(self.chip_tables)
        k = k0
        while True:
            args = (self.neurons, self.syn, self.chip_tables, self.mode_tables, self.state,
                    self.heap, self.counters, self.scratch, stim, self.rec, k, k1, dt,
                    durs[k - k0:], concurrent, engine_timestep.model_flags(self.neurons))
            self._join_ahead(engine_timestep.run_steps_kernel, args)
            status, k_next = engine_timestep.run_steps_kernel(*args)
            self.n_steps_done += int(k_next - k)
            k = int(k_next)
            if status == engine_timestep.STATUS_HEAP_FULL:
                self.finish_held_step(durs, k - k0, concurrent)
                self.n_steps_done += 1
                k += 1
                continue
            elif status == engine_timestep.STATUS_RECORDER_FULL or status == \
                    engine_timestep.STATUS_DONE:
                self._drain(spikes_t, spikes_n, trace)
            if status == engine_timestep.STATUS_DONE:
                return durs

    def _run_async(self, in_t, in_n, t1, spikes_t, spikes_n, trace) -> None:
        if in_t.size:
            heap_push(self.heap, in_t[0], make_key(engine_async.KIND_SPIKE, int(in_n[0])),
                      np.int64(in_n[0]), np.int64(1))
        stim = self.stim._replace(in_time=in_t, in_neuron=in_n,
                                  in_value=np.ones(in_t.size), in_pos=np.zeros(1, dtype=np.int64))
        while True:
            args = (self.neurons, self.syn, self.chip_tables, self.mode_tables, self.state,
                    self.heap, self.deliveries, self.counters, self.scratch, stim, self.rec, t1,
                    self.max_push, engine_async.contention_flag(self.chip_tables))
            self._join_ahead(engine_async.run_async_kernel, args)
            status, _ = engine_async.run_async_kernel(*args)
            if status == engine_async.STATUS_HEAP_FULL:
                if self.heap.e.shape[0] - int(self.heap.meta[0]) < self.max_push:
                    self.heap = grow(self.heap)
                if self.deliveries.e.shape[0] - int(self.deliveries.meta[0]) < self.max_push:
                    self.deliveries = grow(self.deliveries)
            elif status == engine_async.STATUS_NOC_FULL:
                self.chip_tables = self.chip_tables._replace(noc=grow_noc(self.chip_tables.noc))
            else:
                self._drain(spikes_t, spikes_n, trace)
            if status == engine_async.STATUS_DONE:
                return
