"""What a run changes, bundled by job: the records the engine kernels take besides the tables.

The build step's tables (:class:`~aersim.simcore.engine.build.NeuronTables`,
``SynapseTables``, ``ChipTables``) say what the chip and the network are; these records hold
what evolves while a run goes and what it produces:

- :class:`ModeTables` — fixed for a run, derived from the tables and the mode (per-step decay
  factors and delays in steps for ``timestep``; which neurons fire on their own for ``async``);
- :class:`NeuronState` — the neurons' state and their pending input;
- :class:`Counters` — operation counts per core and the hardware clock;
- :class:`Scratch` — per-step work space the kernels reuse;
- :class:`Stimulus` — the Poisson drives and this chunk's input spikes;
- :class:`Recorder` — buffers of spikes, messages and probe samples that the wrapper drains.

Every field is an array (or a scalar of a fixed type), so Numba compiles each kernel once per
combination of dtypes, and a kernel's signature stays a dozen names instead of forty arrays.
Fields a mode does not use are empty arrays of the right dtype. Times are int64 picoseconds.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from aersim.hardware.energy import N_OPS
from aersim.simcore.engine.rng import seed_states


class ModeTables(NamedTuple):
    """Per-run constants of one mode; shapes ``(n_neurons,)`` unless noted."""

    run_ptr: np.ndarray          # int64 (n_neurons + 1,), timestep: each neuron's first run
    runs: np.ndarray             # int32 (int64 for large tables) (n_runs, 4), timestep: the
    #                              delivery runs, [first synapse, end, delay in steps, first
    #                              slot] (synapse_tables.delivery_runs; on a rank of a
    #                              partitioned run, of its own cores' synapses only)
    decay: np.ndarray            # float64, timestep: membrane factor of one step
    ref_steps: np.ndarray        # int64, timestep: refractory period in steps
    zeta: np.ndarray             # float64, timestep: ALIF per-step factors
    rho: np.ndarray              # (models.neurons.alif.ALIFParams.step_coefficients)
    jump: np.ndarray
    self_driven: np.ndarray      # bool, async: can reach threshold with no input


class NeuronState(NamedTuple):
    """The neurons' state; shapes ``(n_neurons,)`` unless noted.

    ``cur`` is the second state variable (CuBa ``i``, ALIF ``a``, sigma-delta ``sigma``, Loihi
    ``u``); ``aux1``/``aux2`` hold the rest (ALIF's or a late reset's previous spike,
    sigma-delta's residue and accumulated error).
    """

    v: np.ndarray            # float64
    cur: np.ndarray          # float64
    aux1: np.ndarray         # float64
    aux2: np.ndarray         # float64
    ref_count: np.ndarray    # int64, timestep: refractory steps left
    ring: np.ndarray         # float64 (n_slots, n_input_slots), timestep: input of future steps
    in_payload: np.ndarray   # float64, timestep: what an input neuron sends this step
    t_last: np.ndarray       # int64, async: time the state was last brought to (ps)
    ref_until: np.ndarray    # int64, async: end of the refractory period (ps), -1 if none
    version: np.ndarray      # int64, async: stamp of the latest threshold prediction


class Counters(NamedTuple):
    """What a run counts (priced after the run: count, then price)."""

    ops: np.ndarray          # int64 (n_cores, N_OPS), operations per core and kind
    hw_clock: np.ndarray     # int64 (1,), timestep: hardware time the next step starts (ps)


class Scratch(NamedTuple):
    """Work space a kernel reuses between steps or batches."""

    core_free: np.ndarray    # int64 (n_cores,), when each core is free (ps)
    spiked: np.ndarray       # int32 (n_neurons,), timestep: this step's spiking neurons
    pending: np.ndarray      # int64 (2,), timestep: spikes and queue entries of a held step
    touched: np.ndarray      # bool (n_neurons,), async: neurons touched by this batch
    touched_list: np.ndarray  # int32 (n_neurons,), async: the same, in order of touch
    one: np.ndarray          # int64 (4,), async: the one spike (neuron, ready time) or message
    #                          (index, arrival time) handed to the helpers that take batches
    send_extra: np.ndarray   # int64 (n_cores,), async: time a core spent sending (always 0
    #                          between spikes: the event engine serialises them by core_free)


class Stimulus(NamedTuple):
    """The Poisson drives, one *segment* per (drive, core) (``drive_*``, shape ``(n_seg,)``,
    :func:`drive_segments`), and one chunk's input spikes (``in_*``, sorted by time then
    neuron)."""

    drive_off: np.ndarray    # int64, the segment's first entry in drive_idx
    drive_n: np.ndarray      # int64, its number of neurons
    drive_idx: np.ndarray    # int64 (all segments' neurons,), each segment's neurons in id order
    drive_rate_hz: np.ndarray  # float64, rate per neuron
    drive_w: np.ndarray      # float64, weight of one drive event
    drive_rng: np.ndarray    # uint64 (n_seg,), each segment's generator state
    drive_next: np.ndarray   # int64, async: time of each segment's next event (ps)
    drive_buf_j: np.ndarray  # int64 (n_seg, batch), async: neurons of drawn drive events
    drive_buf_t: np.ndarray  # int64 (n_seg, batch), async: time of the event after each
    # (batch 0 in timestep mode, which draws a step at a time)
    drive_pos: np.ndarray    # int64, async: next unused drawn event (batch: none left)
    drive_tree: np.ndarray   # int64 (2 P,), async: winner tree of the segments' next events
    drive_tie: np.ndarray    # bool (2 P,), async: another segment of the subtree ties its winner
    in_time: np.ndarray      # int64, step index (timestep) or time in ps (async)
    in_neuron: np.ndarray    # int32, global neuron id
    in_value: np.ndarray     # float64, payload (1.0 for a plain spike)
    in_pos: np.ndarray       # int64 (1,), next input spike to consume


class Recorder(NamedTuple):
    """Buffers the kernels fill and the wrapper drains: spikes, messages, probe samples."""

    spike_t: np.ndarray      # int64 (capacity,), spike time (ps)
    spike_n: np.ndarray      # int32 (capacity,), spiking neuron
    spike_meta: np.ndarray   # int64 (1,), rows used
    mlog: np.ndarray         # int64 (m, 4), message log (hardware_model.serve_messages)
    mlog_meta: np.ndarray    # int64 (1,), rows used
    probe_ids: np.ndarray    # int64 (k,), probed neurons
    probe_period_ps: int     # sampling period (ps); a whole number of steps in timestep mode
    probe_next: np.ndarray   # int64 (1,), async: time of the next sample (ps)
    probe_t: np.ndarray      # int64 (rows,), sample times (ps)
    probe_v: np.ndarray      # float64 (rows, k)
    probe_c: np.ndarray      # float64 (rows, k), second state variable
    probe_meta: np.ndarray   # int64 (1,), rows used


class DriveSegments(NamedTuple):
    """The Poisson drives cut into segments, shapes ``(n_seg,)`` but ``idx``: see
    :func:`drive_segments`."""

    off: np.ndarray          # int64, the segment's first entry in idx
    n: np.ndarray            # int64, its number of neurons
    idx: np.ndarray          # int64 (all segments' neurons,), each segment's neurons in id order
    rate_hz: np.ndarray      # float64, rate per neuron
    w: np.ndarray            # float64, weight of one event
    rng: np.ndarray          # uint64, generator state


def drive_segments(drives, core: np.ndarray, seqs, per_core: bool = True) -> DriveSegments:
    """Cut each Poisson drive into one segment per core, each with its own random stream.

    ``drives``: ``(lo, n, rate_hz, weight)`` per drive, the population's first neuron and size;
    ``core``: int (n_neurons,), each neuron's core; ``seqs``: one ``numpy.random.SeedSequence``
    per drive (the run's spawn for the stimulus). A segment is the drive's neurons on one core,
    in id order (``idx[off:off + n]``; consecutive ids under the sequential mappings, every
    ``n_cores``-th under a round-robin one); its stream is seeded from the drive's sequence
    with the key ``(core, 0)``, so a segment draws the same events whichever process owns its
    core, and a rank of a partitioned run draws only its own cores' segments. Segments are
    ordered by drive, then core; each neuron is in one segment, so the order in which the
    segments of one step are drawn does not change any neuron's input.

    ``per_core=False`` keeps each drive whole, one segment seeded from the drive's sequence
    itself. The event-driven engine takes that: it merges the segments' next events one event
    at a time, which costs more than drawing one stream per drive (docs/performance.md), and
    it does not run over ranks.
    """
    out = {f: [] for f in ("n", "rate_hz", "w", "rng")}
    idx = []
    for (lo, n, rate_hz, weight), seq in zip(drives, seqs, strict=True):
        ids = np.arange(lo, lo + n, dtype=np.int64)
        if not per_core:
            groups = [(None, ids)] if n else []
        else:
            c = np.asarray(core[lo:lo + n], dtype=np.int64)
            order = np.argsort(c, kind="stable")
            cores, starts = np.unique(c[order], return_index=True)
            groups = list(zip(cores.tolist(), np.split(ids[order], starts[1:]), strict=True))
        for cc, members in groups:
            key = seq if cc is None else \
                np.random.SeedSequence(seq.entropy, spawn_key=tuple(seq.spawn_key) + (cc, 0))
            idx.append(members)
            out["n"].append(members.size)
            out["rate_hz"].append(float(rate_hz))
            out["w"].append(float(weight))
            out["rng"].append(seed_states(key, 1)[0])
    n_seg = np.array(out["n"], dtype=np.int64)
    return DriveSegments(off=np.cumsum(n_seg) - n_seg, n=n_seg,
                         idx=np.concatenate(idx) if idx else np.zeros(0, np.int64),
                         rate_hz=np.array(out["rate_hz"], dtype=np.float64),
                         w=np.array(out["w"], dtype=np.float64),
                         rng=np.array(out["rng"], dtype=np.uint64))


def _none(dtype, *shape) -> np.ndarray:
    return np.zeros(shape or (0,), dtype=dtype)


def new_counters(n_cores: int) -> Counters:
    """Zero counts and a hardware clock at 0."""
    return Counters(ops=np.zeros((n_cores, N_OPS), dtype=np.int64),
                    hw_clock=np.zeros(1, dtype=np.int64))


def new_scratch(n_neurons: int, n_cores: int, mode: str) -> Scratch:
    """Work space for ``mode`` (``"timestep"`` or ``"async"``)."""
    step = mode == "timestep"
    return Scratch(core_free=np.zeros(n_cores, dtype=np.int64),
                   spiked=np.zeros(n_neurons if step else 0, dtype=np.int32),
                   pending=np.zeros(2, dtype=np.int64),
                   touched=np.zeros(0 if step else n_neurons, dtype=np.bool_),
                   touched_list=np.zeros(0 if step else n_neurons, dtype=np.int32),
                   one=np.zeros(0 if step else 4, dtype=np.int64),
                   send_extra=np.zeros(0 if step else n_cores, dtype=np.int64))


def new_neuron_state(v_init: np.ndarray, i_init: np.ndarray, mode: str,
                     ring_shape: tuple[int, int] = (0, 0)) -> NeuronState:
    """Neurons at their initial state ``v_init``/``i_init`` (float64, ``(n,)``), with an empty
    delay ring of ``ring_shape`` (timestep) or async clocks at 0."""
    n = v_init.shape[0]
    step = mode == "timestep"
    return NeuronState(
        v=v_init.astype(np.float64, copy=True), cur=i_init.astype(np.float64, copy=True),
        aux1=np.zeros(n), aux2=np.zeros(n),
        ref_count=np.zeros(n if step else 0, dtype=np.int64),
        ring=np.zeros(ring_shape if step else (0, 0), dtype=np.float64),
        in_payload=np.zeros(n if step else 0, dtype=np.float64),
        t_last=np.zeros(0 if step else n, dtype=np.int64),
        ref_until=np.full(0 if step else n, -1, dtype=np.int64),
        version=np.zeros(0 if step else n, dtype=np.int64))


def new_recorder(capacity: int, message_rows: int, probe_ids: np.ndarray,
                 probe_period_ps: int) -> Recorder:
    """Empty buffers: ``capacity`` spikes, ``message_rows`` logged messages (0: messages are
    not logged), and probe rows for ``probe_ids`` (about 32 MB of samples per drain)."""
    k = probe_ids.size
    rows = max(16, (1 << 22) // max(k, 1)) if k else 0
    return Recorder(
        spike_t=np.empty(capacity, dtype=np.int64), spike_n=np.empty(capacity, dtype=np.int32),
        spike_meta=np.zeros(1, dtype=np.int64),
        mlog=np.zeros((message_rows, 4), dtype=np.int64), mlog_meta=np.zeros(1, dtype=np.int64),
        probe_ids=probe_ids.astype(np.int64), probe_period_ps=int(probe_period_ps),
        probe_next=np.zeros(1, dtype=np.int64),
        probe_t=np.zeros(rows, dtype=np.int64), probe_v=np.zeros((rows, k)),
        probe_c=np.zeros((rows, k)), probe_meta=np.zeros(1, dtype=np.int64))


def no_inputs(stim: Stimulus) -> Stimulus:
    """``stim`` with no input spikes (its drives kept)."""
    return stim._replace(in_time=_none(np.int64), in_neuron=_none(np.int32),
                         in_value=_none(np.float64), in_pos=np.zeros(1, dtype=np.int64))
