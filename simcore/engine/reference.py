"""The reference engine: the fast engine's semantics written plainly with SimPy.

It is slow and meant to be read. The tests run small scenarios through both engines and require
the same spikes, the same message times, the same operation counts and the same step durations;
a new component can be prototyped here before it is ported to the Numba kernels. It shares only the
build step (``simcore.engine.build``: neuron parameters and the grouping of every neuron's synapses
into messages and segments), the stimuli and the random number generator with the fast engine; the
event loop, the routing, the servers and the neuron updates are written again.

Processes
---------
``core``
    One per core: a single server with a queue of jobs. A job is an update pass (``timestep``
    mode), a spike to send, or a message to serve. Sending a spike takes ``spike_out`` and then
    ``message_out`` per destination core, and launches a ``route`` per message as its
    ``message_out`` completes; serving a message takes ``message_in + synaptic_op * synapses``.
    Every latency of a core (these and ``neuron_update``) is its own type's on a chip with
    mixed tiles (``core_types``).
``route``
    One per message: the source tile's router (``router`` latency), then one hop at a time along
    the XY route (x first; on a torus the shorter way round, a tie going east or south), then the
    message joins its destination core's queue. Between chips of a system: hop by hop to the
    source chip's port tile, then each chip-to-chip link of ``SystemSpec.chip_path`` (its
    latency, its serialisation, the entered chip's router), then hop by hop from the
    destination chip's port tile.
``receiver``
    ``core.receive: concurrent`` (``timestep`` mode) only, one per core: the core's receive
    timeline beside its update pass. It serves the messages sent to its core in order of
    departure (time, sending core, the sender's order), each once it has arrived; a spike's
    messages leave in ``core.send_order``.
``delay line``
    One per served message (``async``): each segment reaches its core's soma ``delay`` after the
    service ended.
``soma``
    One per core (``async``): integrates its neurons exactly between inputs, tests thresholds,
    fires, and predicts when a neuron driven above threshold by its bias crosses it (a *check*).
``input``, ``drive``
    One per input stimulus (``async``: replays its spikes as spike jobs of the input neurons' cores)
    and one per ``PoissonDrive`` (``async``: draws its events from the drive's random stream).
``controller``
    ``timestep`` mode only: computes each step's function (every neuron's update, in id order,
    from the step's delay-ring slot), gives each core its update pass, waits until every core is
    idle and no message is in flight, then holds the barrier.

Order of simultaneous events
----------------------------
SimPy runs the events of one instant in the order they were scheduled. The fast engine orders
them by what they are: ``(time, kind, tiebreak, seq)`` with kinds deliver < check < spike <
message (``simcore.engine.queue``, ``simcore.engine.asynchronous``). Here that order is made
explicit so that the two engines agree by construction, not by luck:

1. *Phases.* Plain events (timeouts: an arrival, a delivery, a check coming due, an input spike,
   the end of a service) only *post* work to a soma or a core. Somas and cores act on their
   posts in two phases at the end of the instant, scheduled with SimPy priorities that sort
   after ``NORMAL``: every soma at ``PHASE_SOMA`` (all deliveries and drive events of the
   instant, then the threshold tests, then the checks), then every core at ``PHASE_CORE`` (it
   picks its next job). SimPy's queue is ordered by ``(time, priority, id)``, so a phase event
   runs only after every more urgent event of the same instant, including those scheduled while
   the instant is being processed. A soma's checks thus see the batch's effect (a touched
   neuron's pending check is stale), and a core picks only once every spike and message of the
   instant has been posted to it.
2. *Keys.* A core's jobs wait in a ``PriorityStore`` keyed by ``(request time, kind, tiebreak,
   seq)`` with the fast engine's kinds and tiebreaks (a spike: its neuron; a message: its index).
   The core always takes the smallest key, so it serves in the fast engine's event order. A soma
   applies an instant's deliveries in order of segment index (within a segment, in synapse
   order) and then its drive events in order of drive, so every membrane sees the same
   floating-point sums in the same order.

Floating point follows the fast engine expression by expression: ``v_inf + (v - v_inf) *
exp(-h / tau)`` with ``h = (t - t0) * 1e-12`` and then ``+ gain * weight`` (a float32 weight
widened to float64); in ``timestep`` mode ``v_inf + (v - v_inf) * decay + gain * x`` with the
step's input summed in spike order. The per-neuron ``decay`` is computed with ``numpy.exp`` over
the array, as the fast engine does, because NumPy's vectorised ``exp`` may differ from the C
library's in the last bit; every other ``exp`` and ``log`` is ``math``'s, like the Numba
kernels'. LIF (and LI) and input neurons only: other models raise ``NotImplementedError``.

End of a run
------------
Work that starts before the end ``t_end`` finishes: a spike fired or a message that arrived before
``t_end`` is sent or served in full (and counted, and logged) even if the core gets to it later.
Nothing that would happen at or after ``t_end`` does: no arrival, delivery, check, input or drive
event. This is the fast engine's rule that the events before ``t_end`` are processed.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass

import numpy as np
import simpy
from simpy.core import NORMAL

from aersim.hardware.energy import (
    CHIP_LINK,
    HOP_EAST,
    HOP_NORTH,
    HOP_SOUTH,
    HOP_WEST,
    MESSAGE_IN,
    MESSAGE_OUT,
    N_OPS,
    NEURON_UPDATE,
    ROUTER,
    SPIKE_OUT,
    STIM_IN,
    SYNAPTIC_OP,
)
from aersim.hardware.mapping import map_network
from aersim.simcore.engine.build import (
    KIND_INPUT,
    KIND_LIF,
    MODEL_KINDS,
    barrier_for_cores,
    build_neurons,
    build_synapses,
)
from aersim.simcore.engine.rng import exponential, poisson, uniform_index
from aersim.simcore.engine.state import drive_segments
from aersim.simcore.errors import ConfigError, SimulationError
from aersim.simcore.run.stimulus import GradedInput, PoissonDrive, is_input_stimulus

#: Phases of an instant (SimPy priorities; larger runs later within one instant).
PHASE_SOMA = NORMAL + 1
PHASE_CORE = NORMAL + 2
#: Job kinds of a core's queue: the fast engine's kind priorities, plus the update pass first.
JOB_PASS, JOB_SPIKE, JOB_MESSAGE = 0, 2, 3
#: Default chunk lengths of ``Simulation.run``: Poisson inputs are drawn chunk by chunk.
STEPS_PER_CHUNK = 1000
ASYNC_CHUNK_PS = 10**11


@dataclass(eq=False)
class ReferenceResults:
    """What a reference run produced. Times in picoseconds.

    Attributes
    ----------
    mode : str
    spikes_t_ps : ndarray, int64, (n_spikes,)
        Spike times, sorted by (time, neuron); in ``timestep`` mode ``k * dt`` for step ``k``.
    spikes_neuron : ndarray, int32, (n_spikes,)
        Global neuron ids.
    messages : ndarray, int64, (n_messages, 4)
        Message index, arrival, service start, service end, sorted by (arrival, message index);
        in ``timestep`` mode in absolute hardware time (each step starts when the last one ended).
    counts : ndarray, int64, (n_cores, N_OPS)
        Operation counts, columns ``hardware.energy.OP_KINDS``.
    step_duration_ps : ndarray, int64, (n_steps,)
        Hardware duration of every step (empty in ``async`` mode).
    v : ndarray, float64, (n_neurons,)
        Membrane potential of every neuron after its last update (in ``async`` mode not relaxed
        to the end of the run), as the fast engine leaves ``Simulation.v``.
    """

    mode: str
    spikes_t_ps: np.ndarray
    spikes_neuron: np.ndarray
    messages: np.ndarray
    counts: np.ndarray
    step_duration_ps: np.ndarray
    v: np.ndarray
    #: Packets, bits and busy time of every directed chip-to-chip link of a system (int64
    #: ``(n_links, 3)``), or None on one chip.
    chip_links: np.ndarray | None = None


def run_reference(network, chip, mapping=None, config=None, stimuli=(),
                  duration_ps: int = 0) -> ReferenceResults:
    """Run ``network`` on ``chip`` from time 0 for ``duration_ps`` with the reference engine.

    Parameters
    ----------
    network : models.Network
    chip : hardware.ChipSpec
    mapping : hardware.Mapping, optional
        Default: ``map_network(network, chip)``, as ``Simulation`` does.
    config : simcore.RunConfig, optional
        Mode, ``dt_ps``, seed and chunk length are used; messages are always recorded.
    stimuli : sequence
        ``SpikeTrains``, ``PoissonInput`` and ``PoissonDrive`` objects.
    duration_ps : int
        Simulated time, picoseconds (a whole number of steps in ``timestep`` mode).

    Returns
    -------
    ReferenceResults

    Raises
    ------
    ConfigError
        A duration, delay or integrator that the mode cannot run, or a chip whose message
        service and synaptic delay can both be zero (the reference needs time to advance from a
        message to its deliveries).
    """
    from aersim.simcore.run.config import RunConfig

    config = (config or RunConfig()).for_network(network)
    mode = config.mode or chip.execution_mode
    mapping = mapping if mapping is not None else map_network(network, chip)
    duration_ps = int(duration_ps)
    if duration_ps <= 0:
        raise ConfigError(f"run duration must be positive, got {duration_ps} ps")
    world = _World(network, chip, mapping, config, mode, list(stimuli), duration_ps)
    return world.run()


def _key_order(t, a) -> np.ndarray:
    return np.lexsort((a, t)) if len(t) else np.zeros(0, dtype=np.int64)


class _AtPhase(simpy.events.Event):
    """An event that fires at the current instant once every more urgent event has run."""

    def __init__(self, env, phase):
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, phase)


class _World:
    """The chip, its processes and what they record."""

    def __init__(self, network, chip, mapping, config, mode, stimuli, duration_ps):
        self.network, self.chip, self.config, self.mode = network, chip, config, mode
        self.stimuli = stimuli
        self.t_end = duration_ps
        nt = build_neurons(network, mapping)
        syn = build_synapses(network, mapping)
        # Every segment's synapses, in segment order, with their input slots: the copied
        # layout of the tables, whichever layout the build chose.
        self.target, self.weight, self.seg_lo = [], [], [0]
        for g in range(syn.seg_delay.shape[0]):
            lo, hi, slot0 = int(syn.seg_lo[g]), int(syn.seg_hi[g]), int(syn.seg_slot0[g])
            self.target += [slot0 + int(x) for x in syn.target[lo:hi]]
            self.weight += [float(w) for w in syn.weight[lo:hi]]    # float32 widened exactly
            self.seg_lo.append(len(self.target))
        self._check(nt, syn)
        # Python scalars and lists: the processes touch them one element at a time.
        self.n = network.n_neurons
        self.n_cores = chip.n_cores
        self.core_of = [int(c) for c in nt.core]
        self.is_input = [bool(k == KIND_INPUT) for k in nt.kind]
        self.v_inf = nt.v_inf.tolist()
        self.v_th = nt.v_th.tolist()
        self.v_reset = nt.v_reset.tolist()
        self.gain = nt.gain.tolist()
        self.tau_s = nt.tau_s.tolist()
        self.t_ref_ps = [int(x) for x in nt.t_ref_ps]
        self.subtract = nt.subtract.tolist()
        self.v = nt.v_init.tolist()
        self.nt = nt
        self.seg_delay_ps = [int(x) for x in syn.delay_ps[syn.seg_delay]]
        self.msg_ptr = [int(x) for x in syn.msg_ptr]
        self.msg_core = [int(x) for x in syn.msg_core]
        self.msg_seg_lo = [int(x) for x in syn.msg_seg_lo]
        noc = chip.noc
        # Every core works at its own type's latencies (mixed tiles; one type: all alike).
        specs, types = chip.core_specs(), chip.core_type_of()
        core_lat = [specs[int(k)].latency_ps for k in types]
        self.lat_syn = [int(lat["synaptic_op"]) for lat in core_lat]
        self.lat_update = [int(lat["neuron_update"]) for lat in core_lat]
        self.lat_spike_out = [int(lat["spike_out"]) for lat in core_lat]
        self.lat_msg_out = [int(lat["message_out"]) for lat in core_lat]
        self.lat_msg_in = [int(lat["message_in"]) for lat in core_lat]
        self.lat_router = int(noc.router_latency_ps)
        self.lat_ew = int(noc.hop_latency_ps["east_west"])
        self.lat_ns = int(noc.hop_latency_ps["north_south"])
        self.lat_barrier = int(chip.barrier_latency_ps)
        # Chip-local tiles: in a system of chips every chip numbers its tiles from 0.
        per_chip = chip.member.n_cores if getattr(chip, "member", None) is not None \
            else self.n_cores
        self.chip_of = [c // per_chip for c in range(self.n_cores)]
        if getattr(chip, "n_chips", 1) > 1:
            self.lat_barrier = int(barrier_for_cores(chip, nt.core)[0])
            self.link_stats = np.zeros((chip.n_links, 3), dtype=np.int64)
        tile = [(c % per_chip) // chip.cores_per_tile for c in range(self.n_cores)]
        self.core_x = [t % chip.width for t in tile]
        self.core_y = [t // chip.width for t in tile]
        self.torus = chip.topology == "torus"
        # Recorders.
        self.counts = np.zeros((self.n_cores, N_OPS), dtype=np.int64)
        self.spike_log = []
        self.message_log = []
        self.step_durations = []
        # Random streams: the same spawn of the run's seed as Simulation.
        seqs = np.random.SeedSequence(config.seed).spawn(len(stimuli) + 1)
        self.stim_rngs = [np.random.default_rng(s) for s in seqs[:-1]]
        # The drives' segments, as in Simulation: one stream per (drive, core) in timestep
        # mode, per drive in async mode.
        drives = [(i, s) for i, s in enumerate(stimuli) if isinstance(s, PoissonDrive)]
        seg = drive_segments(
            [(network.offset(s.population), network.population(s.population).size, s.rate_hz,
              s.weight) for _, s in drives], nt.core, [seqs[i] for i, _ in drives],
            per_core=mode == "timestep")
        self.drive_rng = seg.rng.copy()
        self.drive_seg = list(zip(seg.off.tolist(), seg.n.tolist(), seg.rate_hz.tolist(),
                                  seg.w.tolist(), strict=True))
        self.drive_idx = seg.idx.tolist()
        graded = [s for s in stimuli if isinstance(s, GradedInput)]
        if graded:
            raise ConfigError(f"the reference engine carries binary spikes only; "
                              f"{type(graded[0]).__name__} on {graded[0].population!r} sends "
                              "graded values: run it with the fast engine (Simulation)")
        # Input stimuli as running streams, each with its own generator, opened in order.
        self.inputs = [(s.open(network.population(s.population), self.stim_rngs[i]),
                        network.offset(s.population))
                       for i, s in enumerate(stimuli) if is_input_stimulus(s)]
        self.env = simpy.Environment(initial_time=0)
        self.cores = [_Core(self, c) for c in range(self.n_cores)]
        # core.receive: concurrent (timestep mode): every core receives on a timeline of its own.
        self.concurrent = mode == "timestep" and chip.core.receive == "concurrent"
        self.receivers = [_Receiver(self, c) for c in range(self.n_cores)] \
            if self.concurrent else []
        self.send_rank = self._send_ranks(chip) if self.concurrent else None
        self.in_flight = 0          # timestep: update passes and messages not finished yet
        self.quiet = None

    def _check(self, nt, syn) -> None:
        other = np.setdiff1d(np.unique(nt.kind), [KIND_INPUT, KIND_LIF])
        if other.size:
            pop = next(p.name for p in self.network.populations.values()
                       if MODEL_KINDS.get(p.kind) in other.tolist())
            raise NotImplementedError(
                f"population {pop!r}: the reference engine runs LIF (and LI) and input neurons "
                f"only; {self.network.population(pop).kind!r} is not written yet")
        if self.mode == "async" and np.any(nt.euler):
            raise ConfigError("forward-Euler integration needs a time step; run a population "
                              "with integrator='euler' in mode 'timestep'")
        if self.mode == "timestep":
            dt = int(self.config.dt_ps)
            if self.t_end % dt:
                raise ConfigError(f"run duration {self.t_end} ps is not a whole number of "
                                  f"steps of dt = {dt} ps")
            d = syn.delay_ps[syn.seg_delay]
            if d.size and np.any(d % dt):
                raise ConfigError(f"a synaptic delay is not a whole number of steps of "
                                  f"dt = {dt} ps; run in mode 'async'")
            # A zero-delay synapse is applied within the step, so it must point to a neuron
            # updated later in the pass (a higher id).
            for s in range(nt.kind.shape[0]):
                for g in range(syn.msg_seg_lo[syn.msg_ptr[s]], syn.msg_seg_lo[syn.msg_ptr[s + 1]]):
                    if d[g] == 0 and min(self.target[self.seg_lo[g]:self.seg_lo[g + 1]]) <= s:
                        raise ConfigError(f"neuron {s} has a zero-delay synapse to a neuron "
                                          "that is not after it; give it a delay of at least "
                                          "one step")
        else:
            if any(s.latency_ps["message_in"] == 0 and s.latency_ps["synaptic_op"] == 0
                   for s in self.chip.core_specs()) and (
                    syn.seg_delay.size and int(syn.delay_ps[syn.seg_delay].min()) == 0):
                raise ConfigError("chip serves messages in no time and the network has a zero "
                                  "delay: "
                                  "a message and its deliveries would share one instant, "
                                  "which the reference engine does not order")

    # -- running ----------------------------------------------------------------------------

    def _check_concurrent(self) -> None:
        if self.mode == "timestep" and self.chip.core.receive == "concurrent" and (
                self.chip.noc.congestion != "none"
                or any("neuron_idle" in t.priced for t in self.chip.core_specs())):
            raise ConfigError("the reference engine models core.receive: concurrent with "
                              "noc.congestion: none and without neuron_idle prices only")

    def _send_ranks(self, chip) -> list:
        """Rank of every core in a spike's send order (``core.send_order``): its number, or
        with tiles numbered column by column."""
        if chip.core.send_order == "row_major":
            return list(range(self.n_cores))
        cpt = chip.cores_per_tile
        return [(self.core_x[c] * chip.height + self.core_y[c]) * cpt + c % cpt
                for c in range(self.n_cores)]

    def run(self) -> ReferenceResults:
        env = self.env
        self._check_concurrent()
        for core in self.cores:
            env.process(core.serve())
        for receiver in self.receivers:
            env.process(receiver.serve())
        if self.mode == "timestep":
            self._init_timestep()
            env.process(self._controller())
        else:
            self.somas = [_Soma(self, c) for c in range(self.n_cores)]
            for soma in self.somas:
                env.process(soma.run())
            self._init_async()
            for stream, offset in self.inputs:
                env.process(self._input_source(stream, offset))
            for d in range(len(self.drive_seg)):
                env.process(self._drive(d))
        # No ``until``: every process stops posting at t_end by itself and the cores finish the
        # work accepted before it (see the module doc), after which nothing is left to run.
        env.run()
        t = np.array([s[0] for s in self.spike_log], dtype=np.int64)
        nrn = np.array([s[1] for s in self.spike_log], dtype=np.int32)
        order = _key_order(t, nrn)
        msgs = np.array(self.message_log, dtype=np.int64).reshape(-1, 4)
        morder = _key_order(msgs[:, 1], msgs[:, 0])
        return ReferenceResults(self.mode, t[order], nrn[order], msgs[morder], self.counts,
                                np.array(self.step_durations, dtype=np.int64),
                                np.array(self.v, dtype=np.float64),
                                getattr(self, "link_stats", None))

    def _input_spikes_by_chunk(self):
        """Yield ``(t0, t1, [(t_ps, neuron), ...])`` per chunk, drawn as ``Simulation`` does."""
        dt = int(self.config.dt_ps)
        chunk = self.config.chunk_ps or (STEPS_PER_CHUNK * dt if self.mode == "timestep"
                                         else ASYNC_CHUNK_PS)
        t0 = 0
        while t0 < self.t_end:
            t1 = min(t0 + int(chunk), self.t_end)
            spikes = []
            for stream, offset in self.inputs:
                t, local = stream.spikes(t0, t1)
                spikes.extend(zip((int(x) for x in t), (int(x) + offset for x in local),
                                  strict=True))
            yield t0, t1, spikes
            t0 = t1

    # -- the core's work --------------------------------------------------------------------

    def send(self, core, neuron):
        """Generator: the core sends ``neuron``'s spike, one message per destination core."""
        env = self.env
        self.counts[core, SPIKE_OUT] += 1
        yield env.timeout(self.lat_spike_out[core])
        messages = range(self.msg_ptr[neuron], self.msg_ptr[neuron + 1])
        if self.concurrent:
            messages = sorted(messages, key=lambda m: self.send_rank[self.msg_core[m]])
        for m in messages:
            yield env.timeout(self.lat_msg_out[core])
            self.counts[core, MESSAGE_OUT] += 1
            self.in_flight += 1
            if self.concurrent:
                # Received in order of departure: (time, sending core, order on that core).
                self.receivers[self.msg_core[m]].depart(m, core)
            env.process(self._route(m, core))

    def serve_message(self, m, t_arrive):
        """Generator: the destination core decodes message ``m`` and its synapses."""
        env = self.env
        dest = self.msg_core[m]
        n_syn = self.seg_lo[self.msg_seg_lo[m + 1]] - self.seg_lo[self.msg_seg_lo[m]]
        start = env.now
        yield env.timeout(self.lat_msg_in[dest] + n_syn * self.lat_syn[dest])
        self.message_log.append((m, t_arrive, start, env.now))
        self.counts[dest, MESSAGE_IN] += 1
        self.counts[dest, SYNAPTIC_OP] += n_syn
        if self.mode == "async":
            env.process(self._delay_line(m))
        self.done_one()

    def done_one(self) -> None:
        """An update pass or a message finished; the step is over when none is left."""
        self.in_flight -= 1
        if self.in_flight == 0 and self.quiet is not None and not self.quiet.triggered:
            self.quiet.succeed()

    def _hops(self, src, x, y, x1, y1):
        """Generator: XY hops on one chip from tile (x, y) to (x1, y1), counted on ``src``."""
        step, n_hops = _direction(x, x1, self.chip.width, self.torus)
        for _ in range(n_hops):
            self.counts[src, HOP_EAST if step > 0 else HOP_WEST] += 1
            yield self.env.timeout(self.lat_ew)
        step, n_hops = _direction(y, y1, self.chip.height, self.torus)
        for _ in range(n_hops):
            self.counts[src, HOP_SOUTH if step > 0 else HOP_NORTH] += 1
            yield self.env.timeout(self.lat_ns)

    def _route(self, m, src):
        """Process: message ``m`` crosses the network-on-chip from core ``src``; between chips
        of a system: to the source chip's port tile, over each chip-to-chip link (latency, then
        serialisation, then the entered chip's router), then from the destination chip's port
        tile."""
        env = self.env
        dest = self.msg_core[m]
        self.counts[src, ROUTER] += 1
        yield env.timeout(self.lat_router)
        a, b = self.chip_of[src], self.chip_of[dest]
        if a == b:
            yield from self._hops(src, self.core_x[src], self.core_y[src], self.core_x[dest],
                                  self.core_y[dest])
        else:
            chip = self.chip
            px, py = chip.port_tile % chip.width, chip.port_tile // chip.width
            yield from self._hops(src, self.core_x[src], self.core_y[src], px, py)
            bits = chip.noc.packet_bits
            for d in chip.chip_path(a, b):
                link = chip.directed_link(d)[2]
                yield env.timeout(link.latency_ps)
                yield env.timeout(link.serialisation_ps(bits))
                self.link_stats[d] += (1, link.wire_bits(bits), link.serialisation_ps(bits))
                self.counts[src, CHIP_LINK] += 1
                self.counts[src, ROUTER] += 1
                yield env.timeout(self.lat_router)
            yield from self._hops(src, px, py, self.core_x[dest], self.core_y[dest])
        if self.mode == "async" and env.now >= self.t_end:
            return      # arrives after the run (timestep time is hardware time: no end)
        if self.concurrent:
            self.receivers[dest].arrive(m)
        else:
            self.cores[dest].submit(JOB_MESSAGE, m, m)

    # -- timestep mode ----------------------------------------------------------------------

    def _init_timestep(self) -> None:
        nt, dt = self.nt, int(self.config.dt_ps)
        dt_s = dt * 1e-12
        self.decay = np.where(nt.euler, 1.0 - dt_s / nt.tau_s, np.exp(-dt_s / nt.tau_s)).tolist()
        self.ref_steps = np.round(nt.t_ref_ps / dt).astype(np.int64).tolist()
        self.ref_count = [0] * self.n
        self.seg_delay_steps = [d // dt for d in self.seg_delay_ps]
        self.n_slots = max(self.seg_delay_steps, default=0) + 1
        self.ring = [[0.0] * self.n for _ in range(self.n_slots)]
        # Update ranks: the pass of a core updates its neurons with dynamics in id order; an
        # input neuron's spike leaves after the updates of the neurons before it.
        self.rank = [0] * self.n
        self.n_updatable = [0] * self.n_cores
        for j in range(self.n):
            c = self.core_of[j]
            if not self.is_input[j]:
                self.n_updatable[c] += 1
            self.rank[j] = self.n_updatable[c]
        self.drive_lam = [rate_hz * dt * 1e-12 for _, _, rate_hz, _ in self.drive_seg]

    def _controller(self):
        """Process: the steps, one after the other, each ended by the barrier."""
        env, dt = self.env, int(self.config.dt_ps)
        chunks = self._input_spikes_by_chunk()
        flags = {}
        k_chunk_end = 0
        for k in range(self.t_end // dt):
            if k * dt >= k_chunk_end:
                unused_t0, t1, spikes = next(chunks)
                k_chunk_end = t1
                flags = {}
                for t, j in spikes:     # an input neuron spikes at most once per step
                    flags.setdefault(t // dt, set()).add(j)
            spiking = self._functional_step(k, flags.get(k, ()))
            t0 = env.now
            per_core = [[] for _ in range(self.n_cores)]
            for j in spiking:
                per_core[self.core_of[j]].append(j)
            self.quiet = env.event()
            self.in_flight = self.n_cores
            for c in range(self.n_cores):
                self.cores[c].submit(JOB_PASS, 0, per_core[c])
            yield self.quiet
            self.step_durations.append(env.now - t0 + self.lat_barrier)
            yield env.timeout(self.lat_barrier)

    def _functional_step(self, k, input_flags):
        """What the network computes in step ``k``; returns the spiking neurons in id order."""
        dt = int(self.config.dt_ps)
        row = self.ring[k % self.n_slots]
        for d, (off, n_seg, _, weight) in enumerate(self.drive_seg):
            lam = self.drive_lam[d]
            if lam <= 0.0 or n_seg == 0:
                continue
            for _ in range(poisson(self.drive_rng, d, lam * n_seg)):
                j = self.drive_idx[off + uniform_index(self.drive_rng, d, n_seg)]
                row[j] += weight
                self.counts[self.core_of[j], STIM_IN] += 1
        spiking = []
        v = self.v
        for j in range(self.n):
            x = row[j]
            row[j] = 0.0
            if self.is_input[j]:
                if j not in input_flags:
                    continue
            else:
                if self.ref_count[j] > 0:
                    self.ref_count[j] -= 1
                    continue
                vj = self.v_inf[j] + (v[j] - self.v_inf[j]) * self.decay[j] + self.gain[j] * x
                if not vj > self.v_th[j]:
                    v[j] = vj
                    continue
                v[j] = vj - self.v_th[j] if self.subtract[j] else self.v_reset[j]
                self.ref_count[j] = self.ref_steps[j]
            spiking.append(j)
            self.spike_log.append((k * dt, j))
            # Fanned out at once: over a zero delay a later neuron gets it in this very step.
            for m in range(self.msg_ptr[j], self.msg_ptr[j + 1]):
                for g in range(self.msg_seg_lo[m], self.msg_seg_lo[m + 1]):
                    target_row = self.ring[(k + self.seg_delay_steps[g]) % self.n_slots]
                    for q in range(self.seg_lo[g], self.seg_lo[g + 1]):
                        target_row[self.target[q]] += self.weight[q]
        return spiking

    def update_pass(self, core, spiking):
        """Generator: the core updates its neurons in id order, sending each spike at once."""
        env = self.env
        done = 0
        for s in spiking:
            if self.rank[s] > done:
                # Neurons that do not spike cost only their update time.
                yield env.timeout((self.rank[s] - done) * self.lat_update[core])
                done = self.rank[s]
            yield from self.send(core, s)
        n_upd = self.n_updatable[core]
        if n_upd > done:
            yield env.timeout((n_upd - done) * self.lat_update[core])
        self.counts[core, NEURON_UPDATE] += n_upd
        self.done_one()

    # -- async mode -------------------------------------------------------------------------

    def _init_async(self) -> None:
        n = self.n
        self.t_last = [0] * n
        self.ref_until = [-1] * n
        self.version = [0] * n
        # Neurons whose bias holds them above a finite threshold fire without input.
        self.self_driven = [not self.is_input[j] and math.isfinite(self.v_th[j])
                            and self.v_inf[j] > self.v_th[j] for j in range(n)]
        for j in range(n):
            if self.self_driven[j]:
                self.version[j] += 1
                self._post_check_at(j, math.ceil(self._time_to_threshold_s(j) * 1e12))

    def _post_check_at(self, j, t_cross) -> None:
        if t_cross >= self.t_end:
            return
        if t_cross < self.env.now:
            raise SimulationError(f"neuron {j}: a threshold crossing predicted at {t_cross} ps, "
                              f"before the current time {self.env.now} ps")
        soma, version = self.somas[self.core_of[j]], self.version[j]
        ev = self.env.timeout(t_cross - self.env.now)
        ev.callbacks.append(lambda unused: soma.post_check(j, version))

    def relaxed(self, j, t):
        """Membrane value of neuron ``j`` brought exactly from its last update to ``t``."""
        ref_until = self.ref_until[j]
        if t <= ref_until:
            return self.v[j]        # refractory: held at the reset value
        t0 = self.t_last[j] if self.t_last[j] > ref_until else ref_until
        if t == t0:
            return self.v[j]
        h_s = (t - t0) * 1e-12
        return self.v_inf[j] + (self.v[j] - self.v_inf[j]) * math.exp(-h_s / self.tau_s[j])

    def fire(self, j, t) -> None:
        """Neuron ``j`` spikes at ``t``: record, reset, refractory, hand the spike to its core."""
        self.spike_log.append((t, j))
        self.v[j] = self.v[j] - self.v_th[j] if self.subtract[j] else self.v_reset[j]
        self.ref_until[j] = t + self.t_ref_ps[j]
        self.cores[self.core_of[j]].submit(JOB_SPIKE, j, j)

    def _time_to_threshold_s(self, j) -> float:
        """Seconds until self-driven neuron ``j`` relaxing from ``v`` exceeds its threshold."""
        vi, th, v = self.v_inf[j], self.v_th[j], self.v[j]
        if v > th:
            return 0.0      # already above (a reset by subtraction can leave it there)
        return self.tau_s[j] * math.log((vi - v) / (vi - th))

    def schedule_check(self, j, t) -> None:
        """Predict when a neuron driven above threshold by its bias crosses it next, or, for a
        neuron a subtractive reset left above threshold, when it may fire again."""
        self.version[j] += 1
        if not (self.self_driven[j] or self.v[j] > self.v_th[j]):
            return
        t0 = t if t > self.ref_until[j] else self.ref_until[j]
        # Rounded up to the ps grid: the neuron is at (or just past) threshold then.
        self._post_check_at(j, t0 + math.ceil(self._time_to_threshold_s(j) * 1e12))

    def _delay_line(self, m):
        """Process: the segments of served message ``m`` reach their soma after their delays."""
        env = self.env
        end = env.now
        soma = self.somas[self.msg_core[m]]
        segs = sorted(range(self.msg_seg_lo[m], self.msg_seg_lo[m + 1]),
                      key=lambda g: self.seg_delay_ps[g])
        for g in segs:
            t = end + self.seg_delay_ps[g]
            if t >= self.t_end:
                return
            yield env.timeout(t - env.now)
            soma.post_delivery(g)

    def _input_source(self, stream, offset):
        """Process: replay an input stream, chunk by chunk, as spikes of its neurons."""
        env = self.env
        t0 = 0
        chunk = self.config.chunk_ps or ASYNC_CHUNK_PS
        while t0 < self.t_end:
            t1 = min(t0 + int(chunk), self.t_end)
            if env.now < t0:
                yield env.timeout(t0 - env.now)
            t, local = stream.spikes(t0, t1)
            t, local = np.asarray(t, dtype=np.int64), np.asarray(local, dtype=np.int64)
            order = np.lexsort((local, t))
            for ts, j in zip(t[order].tolist(), (local[order] + offset).tolist(), strict=True):
                if ts > env.now:
                    yield env.timeout(ts - env.now)
                self.spike_log.append((ts, j))
                self.cores[self.core_of[j]].submit(JOB_SPIKE, j, j)
            t0 = t1

    def _drive(self, d):
        """Process: the events of Poisson drive segment ``d`` (``state.drive_segments``: the
        whole drive in async mode), each a jump of one neuron's membrane."""
        env = self.env
        off, n_seg, rate_hz, weight = self.drive_seg[d]
        if rate_hz <= 0:
            return
        total_hz = rate_hz * n_seg
        t_next = int(round(exponential(self.drive_rng, d) / total_hz * 1e12))
        while t_next < self.t_end:
            yield env.timeout(t_next - env.now)
            j = self.drive_idx[off + int(uniform_index(self.drive_rng, d, n_seg))]
            self.counts[self.core_of[j], STIM_IN] += 1
            self.somas[self.core_of[j]].post_drive(d, j, float(weight))
            t_next = t_next + int(round(exponential(self.drive_rng, d) / total_hz * 1e12))


def _direction(a, b, size, torus):
    """``(step, hops)`` along one dimension from coordinate ``a`` to ``b`` (step +1 or -1)."""
    if not torus:
        return (1 if b >= a else -1), abs(b - a)
    forward, backward = (b - a) % size, (a - b) % size
    return (1, forward) if forward <= backward else (-1, backward)


class _Core:
    """A core as a single server: one job at a time, the smallest key first."""

    def __init__(self, world, c):
        self.world, self.c, self.env = world, c, world.env
        self.jobs = simpy.PriorityStore(self.env)
        self.wake = self.env.event()
        self._seq = itertools.count()

    def submit(self, kind, tiebreak, payload) -> None:
        """Queue a job requested now, keyed as the fast engine's event would be."""
        key = (self.env.now, kind, tiebreak, next(self._seq))
        self.jobs.put(simpy.PriorityItem(key, (kind, payload)))
        if not self.wake.triggered:
            self.wake.succeed()

    def serve(self):
        """Process: the core's server loop."""
        env, world = self.env, self.world
        while True:
            if not self.jobs.items:
                self.wake = env.event()
                yield self.wake
            # Every job of this instant is queued by the core phase; then take the smallest.
            yield _AtPhase(env, PHASE_CORE)
            item = yield self.jobs.get()
            t_request = item.priority[0]
            kind, payload = item.item
            if kind == JOB_PASS:
                yield from world.update_pass(self.c, payload)
            elif kind == JOB_SPIKE:
                yield from world.send(self.c, payload)
            else:
                yield from world.serve_message(payload, t_request)


class _Receiver:
    """The receive timeline of a core (``core.receive: concurrent``, timestep mode): it serves
    the messages sent to the core one at a time in order of departure (time, sending core, the
    sender's order), each once it has arrived, beside the core's update pass."""

    def __init__(self, world, c):
        self.world, self.c, self.env = world, c, world.env
        self.departed = []          # heap of (departure, sending core, seq, message)
        self.arrived = {}           # message -> arrival time
        self.wake = self.env.event()
        self._seq = itertools.count()

    def _post(self) -> None:
        if not self.wake.triggered:
            self.wake.succeed()

    def depart(self, m, src) -> None:
        heapq.heappush(self.departed, (self.env.now, src, next(self._seq), m))
        self._post()

    def arrive(self, m) -> None:
        self.arrived[m] = self.env.now
        self._post()

    def serve(self):
        """Process: take the earliest departed message (every departure of an instant is in
        by the core phase), wait for it to arrive, serve it."""
        env, world = self.env, self.world
        while True:
            if not self.departed:
                self.wake = env.event()
                yield self.wake
            yield _AtPhase(env, PHASE_CORE)
            unused_t, unused_src, unused_seq, m = heapq.heappop(self.departed)
            while m not in self.arrived:
                self.wake = env.event()
                yield self.wake
            yield from world.serve_message(m, self.arrived.pop(m))


class _Soma:
    """The neurons of one core (``async``): exact integration, thresholds and checks."""

    def __init__(self, world, c):
        self.world, self.c, self.env = world, c, world.env
        self.deliveries = []
        self.drive_events = []
        self.checks = []
        self.wake = self.env.event()

    def _post(self) -> None:
        if not self.wake.triggered:
            self.wake.succeed()

    def post_delivery(self, g) -> None:
        self.deliveries.append(g)
        self._post()

    def post_drive(self, d, j, w) -> None:
        self.drive_events.append((d, j, w))
        self._post()

    def post_check(self, j, version) -> None:
        self.checks.append((j, version))
        self._post()

    def run(self):
        """Process: wait for posts, then handle the instant in the soma phase."""
        while True:
            yield self.wake
            yield _AtPhase(self.env, PHASE_SOMA)
            self.wake = self.env.event()
            self._instant(self.env.now)

    def _instant(self, t) -> None:
        w = self.world
        deliveries, self.deliveries = sorted(self.deliveries), []
        drive_events, self.drive_events = self.drive_events, []
        checks, self.checks = sorted(self.checks), []
        # The batch: every input of the instant, each neuron relaxed to t before its first one.
        touched = {}
        for g in deliveries:
            for q in range(w.seg_lo[g], w.seg_lo[g + 1]):
                j = w.target[q]
                if t < w.ref_until[j] or w.is_input[j]:
                    continue    # refractory: the input is lost
                w.v[j] = w.relaxed(j, t) + w.gain[j] * w.weight[q]
                w.t_last[j] = t
                touched[j] = None
        for _, j, weight in sorted(drive_events, key=lambda e: e[0]):
            if t >= w.ref_until[j]:
                w.v[j] = w.relaxed(j, t) + w.gain[j] * weight
                w.t_last[j] = t
                touched[j] = None
        # Then the threshold tests, so that simultaneous inputs never race.
        for j in touched:
            w.counts[self.c, NEURON_UPDATE] += 1
            if w.v[j] > w.v_th[j]:
                w.fire(j, t)
            if w.self_driven[j] or w.v[j] > w.v_th[j]:
                w.schedule_check(j, t)
        # Checks still valid after the batch: the bias has brought the neuron to threshold.
        for j, version in checks:
            if version != w.version[j]:
                continue
            w.v[j] = w.relaxed(j, t)
            w.t_last[j] = t
            w.counts[self.c, NEURON_UPDATE] += 1
            w.fire(j, t)
            w.schedule_check(j, t)
