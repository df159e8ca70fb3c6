"""The fast engine in ``timestep`` mode: barrier-synchronised algorithmic steps of ``dt``.

Function (what the network computes) follows the discrete-time semantics exactly:

1. Step ``k`` covers ``[k dt, (k+1) dt)``. Its input for neuron ``j`` is what was scheduled into
   slot ``k`` of ``j``'s delay ring plus this step's Poisson drive.
2. Every neuron, in id order (populations in network order): if refractory, count down and
   discard the input (``v`` holds); otherwise advance one step with ``gain * input``
   (``neuron_kernels.step_neuron``: for LIF ``v = v_inf + (v - v_inf) * decay + gain * input``,
   with ``decay`` the exact ``exp(-dt/tau)`` or Euler's ``1 - dt/tau``) and spike if
   ``v > v_th``. Input neurons spike when the stimulus says so, with payload 1 or, for a graded
   input, the stimulus's value (synapses add ``weight * payload``).
3. A spike of step ``k`` is stamped ``k * dt`` and lands in the target's slot ``k + d`` for a
   delay of ``d`` steps, at once: with ``d = 0`` a later population receives it in the same
   step (layer-synchronous feed-forward, as NIRTorch runs a graph); the build step checks that
   zero-delay synapses only point forward.

Hardware (how long the step takes) is a discrete-event simulation of that step on the event queue:
each core runs an update pass over its neurons (``neuron_update`` each, or ``neuron_idle`` for an
idle neuron on chips that price it), sending each spike as soon as its neuron is updated
(``hardware_model.send_spikes``); messages then queue at their destination cores
(``hardware_model.serve_messages``), which start serving after their own update pass
(``core.receive: serial``) or beside it (``concurrent``: ``simcore.engine.concurrent``). The step
ends when the last core is done, plus the barrier (the chip's entry for the tiles in use).
"""

import numpy as np
from numba import njit

from aersim.hardware.energy import NEURON_IDLE, NEURON_UPDATE, STIM_IN
from aersim.models.neurons.alif import alif_step
from aersim.models.neurons.egru import egru_unit_step
from aersim.models.neurons.loihi_cuba import loihi_cuba_step, loihi_dendrite_input
from aersim.models.neurons.registry import FIRST_TABLE_CODE, model_step_function
from aersim.models.neurons.sigma_delta import sigma_delta_step
from aersim.simcore.engine.build import (
    CORE_IDLE,
    CORE_UPDATE,
    KIND_ALIF,
    KIND_EGRU,
    KIND_INPUT,
    KIND_LOIHI,
    KIND_SIGMA_DELTA,
    LAT_BARRIER,
    NOC_ON,
    TIMING_CONCURRENT,
    TIMING_IDLE,
)
from aersim.simcore.engine.concurrent import concurrent_timeline
from aersim.simcore.engine.hardware_model import (
    KIND_NOC,
    noc_arbitrate,
    noc_reset_times,
    send_spike_noc,
    send_spikes,
    serve_messages,
)
from aersim.simcore.engine.inner import inner
from aersim.simcore.engine.neuron_kernels import after_spike, spike_count, step_neuron
from aersim.simcore.engine.prefetch import prefetch
from aersim.simcore.engine.queue import KIND_SHIFT, heap_free, heap_pop, heap_size, take_in_order
from aersim.simcore.engine.rng import poisson, uniform_index
from aersim.simcore.engine.synapse_tables import RUN_DELAY, RUN_HI, RUN_LO, RUN_SLOT0

#: One step of any model of the model table (``models.neurons.registry``), by its code.
model_step = model_step_function()

STATUS_DONE = 0
STATUS_RECORDER_FULL = 1
STATUS_HEAP_FULL = 2


@njit(cache=True, inline="always")
def draw_drive(neurons, stim, row, counts, dt_ps, own_core):
    """Add one step's Poisson drive to ``row`` (the step's input row of the ring, float64
    ``(n_neurons,)``) and count each event (``STIM_IN``) on its core in ``counts``.

    Each segment (one drive's neurons on one core, ``Stimulus.drive_*``) is a Poisson process
    of intensity ``lambda = rate x dt`` per unit length on the line ``[0, n)``, drawn from the
    segment's own stream as its number of events, Poisson(``lambda n``) (``rng.poisson``),
    each at a uniform position ``x``, the segment's neuron ``int(x)``: every neuron of the
    segment gets an independent Poisson(lambda) count. (Drawing the gaps between events
    instead costs a logarithm per event, which made the drive the largest part of a Brunel
    step.) ``own_core`` (bool ``(n_cores,)``): draw only segments on these cores (a rank of a
    partitioned run); None (one process) draws all of them and compiles the test away.
    """
    drive_off, drive_n, drive_idx = stim.drive_off, stim.drive_n, stim.drive_idx
    drive_w, drive_rng = stim.drive_w, stim.drive_rng
    for d in range(drive_off.shape[0]):
        lam = stim.drive_rate_hz[d] * dt_ps * 1e-12
        if lam <= 0.0 or drive_n[d] == 0:
            continue
        off = drive_off[d]
        c = neurons.core[drive_idx[off]]
        if own_core is not None and not own_core[c]:
            continue
        w = drive_w[d]
        n_seg = drive_n[d]
        n_ev = poisson(drive_rng, d, lam * n_seg)
        for _ in range(n_ev):
            k = uniform_index(drive_rng, d, n_seg)
            # Unsigned indices (here and in add_synapses): Numba wraps a negative signed index
            # around, code per access that an unsigned one does not need.
            row[np.uint64(drive_idx[np.uint64(off + k)])] += w
        counts[c, STIM_IN] += n_ev


@njit(cache=True)
def run_steps_kernel(neurons, syn, chip, mode, state, heap, counters, scratch, stim, rec,
                     k0, k1, dt_ps, step_dur, concurrent, models):
    """Advance steps ``k0 .. k1-1`` of ``dt_ps``. Returns ``(status, next_step)``.

    The records are those of ``simcore.engine.state``: ``mode`` holds the per-step factors
    (``decay``; ALIF's ``zeta``, ``rho``, ``jump`` from
    ``models.neurons.alif.ALIFParams.step_coefficients``; delays in steps), ``state`` the
    neurons and their delay ring, ``stim`` the drives and this chunk's input spikes (times in
    steps, payloads 1.0 for plain spikes). Every ``rec.probe_period_ps`` the state of the probed
    neurons after the step is sampled (stamped with the step's time, like its spikes).

    Stops early when the recorder could overflow in the next step (``STATUS_RECORDER_FULL``, at
    a step boundary), or when step ``next_step``'s messages do not fit the event queue
    (``STATUS_HEAP_FULL``: the step's function is done, its ``scratch.pending[0]`` spikes are
    in ``scratch.spiked`` and need ``scratch.pending[1]`` queue entries; the wrapper grows the
    queue, runs :func:`finish_step_kernel` and continues from ``next_step + 1``). With network
    contention on, every step returns that way and the wrapper runs
    :func:`finish_step_noc_kernel`: the contention model is compiled only for runs that use
    it. ``step_dur[k - k0]`` receives the hardware duration of step ``k``;
    ``counters.hw_clock[0]`` is the hardware time at which the next step starts (the message
    log is written in that absolute hardware time). ``models`` is :func:`model_flags` of
    ``neurons``.
    """
    v, cur, ref_count = state.v, state.cur, state.ref_count
    ring, in_payload = state.ring, state.in_payload
    counts, spiked, pending = counters.ops, scratch.spiked, scratch.pending
    in_step, in_neuron, in_value, in_pos = stim.in_time, stim.in_neuron, stim.in_value, \
        stim.in_pos
    rec_t, rec_meta = rec.spike_t, rec.spike_meta
    mlog, probe_ids, probe_meta = rec.mlog, rec.probe_ids, rec.probe_meta
    probe_every = rec.probe_period_ps // dt_ps
    n = v.shape[0]
    n_slots = ring.shape[0]
    own_all = np.zeros(0, dtype=np.bool_)
    no_payloads = np.zeros(0, dtype=np.float64)
    for k in range(k0, k1):
        if rec_meta[0] + n > rec_t.shape[0] or (
                mlog.shape[0] > 0 and rec.mlog_meta[0] + syn.msg_core.shape[0] > mlog.shape[0]) \
                or (probe_ids.shape[0] > 0 and probe_meta[0] >= rec.probe_t.shape[0]):
            return STATUS_RECORDER_FULL, k
        slot = k % n_slots
        row = ring[slot]
        draw_drive(neurons, stim, row, counts, dt_ps, None)
        # Input spikes of this step: ``in_payload[j]`` is what input neuron ``j`` sends (1.0
        # for a plain spike, the value of a graded one; 0.0 sends nothing).
        while in_pos[0] < in_step.shape[0] and in_step[in_pos[0]] == k:
            in_payload[in_neuron[in_pos[0]]] = in_value[in_pos[0]]
            in_pos[0] += 1
        if chip.timing[TIMING_IDLE] != 0:
            mark_idle(neurons, chip, row, v, cur, ref_count, 0, neurons.kind.shape[0])
        # Neuron updates, in id order; each spike is recorded and fanned out at once.
        t_step = k * dt_ps
        n_sp = update_range(neurons, syn, mode, state, rec, k, dt_ps, 0, n, own_all, spiked,
                            no_payloads, models[0], models[1], models[2], models[3], models[4])
        msg_need = np.int64(0)
        for i in range(n_sp):
            msg_need += chip.push_need[spiked[i]]
        if probe_ids.shape[0] > 0 and (k + 1) % probe_every == 0:
            row_p = probe_meta[0]
            rec.probe_t[row_p] = t_step
            for i in range(probe_ids.shape[0]):
                rec.probe_v[row_p, i] = v[probe_ids[i]]
                rec.probe_c[row_p, i] = cur[probe_ids[i]]
            probe_meta[0] = row_p + 1
        if heap_free(heap) < msg_need or chip.noc.cfg[NOC_ON] != 0:
            # The step's messages do not fit the queue: the wrapper grows it and finishes this
            # step's timeline with ``finish_step_kernel``.
            pending[0] = n_sp
            pending[1] = msg_need
            return STATUS_HEAP_FULL, k
        step_dur[k - k0] = step_timeline(neurons, syn, chip, heap, counters, scratch, rec, n_sp,
                                         concurrent)
    return STATUS_DONE, k1


def model_flags(neurons):
    """``(alif, sigma_delta, egru, loihi, table)``: True for each of these neuron models that
    some neuron of ``neurons`` (``NeuronTables``) uses, else None. Passed to the step kernels,
    they compile only the update branches of the models a network has (each combination is
    one compiled signature; the models of most networks are LIF and input only)."""
    kinds = np.unique(neurons.kind)
    return tuple(True if present else None for present in (
        KIND_ALIF in kinds, KIND_SIGMA_DELTA in kinds, KIND_EGRU in kinds, KIND_LOIHI in kinds,
        bool((kinds >= FIRST_TABLE_CODE).any())))


def receive_flag(chip):
    """The ``concurrent`` argument of the step kernels for ``chip`` (``ChipTables``): None for
    serial receive, True for receive concurrent with the update pass."""
    return True if chip.timing[TIMING_CONCURRENT] != 0 else None


@inner
def update_range(neurons, syn, mode, state, rec, k, dt_ps, lo, hi, own, spiked,
                 payloads, alif, sigma_delta, egru, loihi, table):
    """Update neurons ``lo .. hi-1`` for step ``k``, in id order; returns how many spiked.

    Each spike's neuron is appended to ``spiked`` (from 0) and, when ``payloads`` is not
    empty, its payload to ``payloads``. With ``own`` empty (one process) every neuron of the
    range is updated and each spike is recorded and fanned out into the delay ring at once, so
    that zero-delay synapses reach later neurons in this step; otherwise only neurons with
    ``own[j]`` are updated and spikes are neither recorded nor fanned out (a partitioned run,
    ``simcore.engine.partitioned``, records and delivers them after its ranks have exchanged
    them).

    ``alif, sigma_delta, egru, loihi, table`` are :func:`model_flags` of the network: None for
    a model no neuron uses, so that Numba prunes its branch at compile time (a neuron of such
    a model would be skipped; the flags say which models are present).
    """
    v, cur, aux1, aux2, ref_count = state.v, state.cur, state.aux1, state.aux2, state.ref_count
    ring, in_payload = state.ring, state.in_payload
    decay, ref_steps, run_ptr, runs = mode.decay, mode.ref_steps, mode.run_ptr, mode.runs
    zeta, rho, jump = mode.zeta, mode.rho, mode.jump
    rec_t, rec_n, rec_meta = rec.spike_t, rec.spike_n, rec.spike_meta
    target, weight = syn.target, syn.weight
    row = ring[k % ring.shape[0]]
    fan_out = own.shape[0] == 0
    keep_payload = payloads.shape[0] > 0
    dt_s = dt_ps * 1e-12
    t_step = k * dt_ps
    # Typed int64 from the start (a literal 0 would compile callees twice).
    n_sp = np.int64(0)
    for j in range(lo, hi):
        if not fan_out and not own[j]:
            continue
        s0 = neurons.slot0[j]
        x = row[s0]
        row[s0] = 0.0
        payload = 1.0
        if neurons.kind[j] == KIND_INPUT:
            payload = in_payload[j]
            if payload == 0.0:
                continue
            in_payload[j] = 0.0
        else:
            kj = neurons.kind[j]
            if kj == KIND_ALIF:
                if alif is None:
                    continue
                vj, aj, fired, ref_left = alif_step(
                    v[j], cur[j], aux1[j] != 0.0, ref_count[j],
                    neurons.gain[j] * x + neurons.bias[j], decay[j], zeta[j], rho[j],
                    jump[j], neurons.v_leak[j], neurons.v_th[j], neurons.beta[j],
                    neurons.v_reset[j], neurons.reset_code[j], neurons.late_reset[j],
                    ref_steps[j])
                v[j], cur[j], ref_count[j] = vj, aj, ref_left
                aux1[j] = 1.0 if fired else 0.0
                if not fired:
                    continue
            elif kj == KIND_SIGMA_DELTA:
                if sigma_delta is None:
                    continue
                sg, act, res, err, sent = sigma_delta_step(
                    cur[j], v[j], aux1[j], aux2[j], neurons.gain[j] * x, neurons.bias[j],
                    neurons.v_th[j], neurons.relu[j], neurons.cum_error[j])
                cur[j], v[j], aux1[j], aux2[j] = sg, act, res, err
                if sent == 0.0:
                    continue
                payload = sent
            elif kj == KIND_EGRU:
                if egru is None:
                    continue
                # Channels: u, r, the input part of z, the recurrent part of z.
                x_r, x_zi, x_zr = row[s0 + 1], row[s0 + 2], row[s0 + 3]
                row[s0 + 1] = 0.0
                row[s0 + 2] = 0.0
                row[s0 + 3] = 0.0
                gb = neurons.gate_bias
                c_new, y, fired = egru_unit_step(
                    v[j], x + gb[j, 0], x_r + gb[j, 1], x_zi + gb[j, 2], 0.0, 0.0, x_zr,
                    gb[j, 3], gb[j, 4], gb[j, 5], neurons.v_th[j], not neurons.subtract[j],
                    neurons.zoneout[j])
                v[j] = c_new
                if not fired:
                    continue
                payload = y
            elif kj == KIND_LOIHI:
                if loihi is None:
                    continue
                # The ring holds the integer dendritic sum exactly (integer weights times
                # integer payloads, summed in float64 well below 2**53).
                a = loihi_dendrite_input(np.int64(x), neurons.weight_exp[j])
                u_new, v_new, fired, value, hold = loihi_cuba_step(
                    np.int64(cur[j]), np.int64(v[j]), a, np.int64(neurons.d_u[j]),
                    np.int64(neurons.d_v[j]), np.int64(neurons.bias[j]),
                    np.int64(neurons.v_th[j]), ref_count[j], ref_steps[j])
                cur[j], v[j], ref_count[j] = u_new, v_new, hold
                if not fired:
                    continue
                if neurons.graded[j]:
                    payload = value
            elif kj >= FIRST_TABLE_CODE:
                if table is None:
                    continue
                # A model of the model table: its parameter columns and state, one call.
                mp = neurons.mp
                v[j], cur[j], aux1[j], aux2[j], payload = model_step(
                    kj, mp[j, 0], mp[j, 1], mp[j, 2], mp[j, 3], mp[j, 4], mp[j, 5],
                    mp[j, 6], mp[j, 7], v[j], cur[j], aux1[j], aux2[j],
                    neurons.gain[j] * x, dt_s)
                if payload == 0.0:
                    continue
            else:
                if ref_count[j] > 0:
                    ref_count[j] -= 1
                    continue
                vj, ij = step_neuron(kj, v[j], cur[j], neurons.gain[j] * x, decay[j], dt_s,
                                     neurons.v_inf[j], neurons.drift[j], neurons.v_leak[j],
                                     neurons.r[j], neurons.i_inf[j], neurons.tau_s[j],
                                     neurons.tau_syn_s[j], neurons.euler[j],
                                     neurons.cuba_order[j])
                cur[j] = ij
                late = neurons.late_reset[j]
                th = neurons.v_th[j]
                if late and aux1[j] != 0.0:
                    # The reset of last step's spike, after this step's update (snnTorch).
                    vj = after_spike(vj, aux1[j] * th, neurons.v_reset[j],
                                     neurons.subtract[j], neurons.no_reset[j])
                    aux1[j] = 0.0
                count = spike_count(vj, th, neurons.threshold_ge[j],
                                    neurons.spike_count[j], neurons.max_count[j])
                if count == 0.0:
                    v[j] = max(vj, neurons.v_min[j])
                    continue
                if late:
                    v[j] = vj
                    aux1[j] = count
                else:
                    v[j] = max(after_spike(vj, count * th, neurons.v_reset[j],
                                           neurons.subtract[j], neurons.no_reset[j]),
                               neurons.v_min[j])
                ref_count[j] = ref_steps[j]
                payload = count
        spiked[n_sp] = j
        if keep_payload:
            payloads[n_sp] = payload
        n_sp += 1
        if fan_out:
            rec_t[rec_meta[0]] = t_step
            rec_n[rec_meta[0]] = j
            rec_meta[0] += 1
            add_synapses(runs, target, weight, ring, k, run_ptr[j], run_ptr[j + 1], payload)
    return n_sp


@njit(cache=True, inline="always")
def add_synapses(runs, target, weight, ring, k, r_lo, r_hi, payload):
    """Add ``weight * payload`` of the synapses of delivery runs ``r_lo .. r_hi-1`` (a spike
    of step ``k``: ``synapse_tables.delivery_runs``) to the delay ring's rows of their delays.
    Arrays, not the tables: see the note above ``hardware_model.spike_cost``."""
    n_slots = ring.shape[0]
    k0 = k % n_slots
    for x in range(r_lo, r_hi):
        # The ring has a row more than the longest delay: one subtraction, no division.
        r = k0 + runs[x, RUN_DELAY]
        target_row = ring[r - n_slots if r >= n_slots else r]
        slot0 = runs[x, RUN_SLOT0]
        for q in range(np.uint64(runs[x, RUN_LO]), np.uint64(runs[x, RUN_HI])):
            target_row[np.uint64(slot0 + target[q])] += weight[q] * payload


#: Synapses whose cache lines a delivery asks for ahead of time (``prefetch_synapses``):
#: eight 64-byte lines of int32 targets and of float32 weights.
PREFETCH_SYNAPSES = 128


@njit(cache=True, inline="always")
def prefetch_synapses(runs, target, weight, r_lo, r_hi):
    """Ask for the head of the synapses of delivery runs ``r_lo .. r_hi-1`` (a later spike's,
    for :func:`add_synapses`): the first ``PREFETCH_SYNAPSES`` from its first run on, after
    which the hardware prefetcher follows the stream (``simcore.engine.prefetch``)."""
    if r_lo < r_hi:
        q0 = runs[r_lo, RUN_LO]
        q1 = min(q0 + PREFETCH_SYNAPSES, target.shape[0])
        for q in range(q0, q1, 16):
            prefetch(target, q)
            prefetch(weight, q)


@njit(cache=True, inline="always")
def mark_idle(neurons, chip, row, v, cur, ref_count, lo, hi):
    """Before a step's updates: count each core's idle neurons into ``chip.n_idle`` and write
    when each neuron's update ends within its core's pass into ``chip.upd_end`` (ps), for the
    neurons ``lo .. hi-1``: all of them in one process; a rank of a partitioned run marks its
    own (whole cores), the other cores' counts staying 0.

    A neuron is idle when its update cannot change it: a model without bias at rest (``v`` and
    the second state 0), not refractory, with no input this step. Its core only reads its
    state (``neuron_idle``), as SANA-FE prices a neuron it does not update.
    """
    core_lat = chip.core_lat
    chip.n_idle[:] = 0
    pass_t = np.zeros(chip.n_idle.shape[0], dtype=np.int64)
    for j in range(lo, hi):
        c = neurons.core[j]
        if neurons.kind[j] != KIND_INPUT:
            if chip.may_idle[j] and v[j] == 0.0 and cur[j] == 0.0 and ref_count[j] == 0 \
                    and row[neurons.slot0[j]] == 0.0:
                chip.n_idle[c] += 1
                pass_t[c] += core_lat[c, CORE_IDLE]
            else:
                pass_t[c] += core_lat[c, CORE_UPDATE]
        chip.upd_end[j] = pass_t[c]


@njit(cache=True, inline="always")
def _update_passes(neurons, chip, counts, pass_ps):
    """Length of every core's update pass (``pass_ps``, ps, at the core's own latencies) and
    its neuron-update counts."""
    core_lat = chip.core_lat
    idle = chip.timing[TIMING_IDLE] != 0
    for c in range(pass_ps.shape[0]):
        n_idle = chip.n_idle[c] if idle else 0
        pass_ps[c] = (chip.n_updatable[c] - n_idle) * core_lat[c, CORE_UPDATE] \
            + n_idle * core_lat[c, CORE_IDLE]
        counts[c, NEURON_UPDATE] += chip.n_updatable[c] - n_idle
        if n_idle > 0:
            counts[c, NEURON_IDLE] += n_idle


@njit(cache=True, inline="always")
def _update_end(upd_end, upd_rank, idle, s, t_update):
    """When neuron ``s``'s update ends within its core's pass (ps): ``chip.upd_end`` on chips
    that price idle neurons (``idle``), else its rank in the pass (``neurons.upd_rank``) times
    ``neuron_update`` of its core (``t_update``). Arrays, not the tables: see the note above
    ``hardware_model.spike_cost``."""
    if idle:
        return upd_end[s]
    return upd_rank[s] * t_update


@njit(cache=True, inline="always")
def _close_step(chip, core_free, rec, log0, hw_clock):
    """Step duration (last core done + barrier); shift the step's message log to absolute
    hardware time and advance the clock."""
    busy = 0
    for c in range(core_free.shape[0]):
        if core_free[c] > busy:
            busy = core_free[c]
    mlog = rec.mlog
    for r_log in range(log0, rec.mlog_meta[0]):
        mlog[r_log, 1] += hw_clock[0]
        mlog[r_log, 2] += hw_clock[0]
        mlog[r_log, 3] += hw_clock[0]
    duration = busy + chip.latency_ps[LAT_BARRIER]
    hw_clock[0] += duration
    return duration


@inner
def step_timeline(neurons, syn, chip, heap, counters, scratch, rec, n_sp, concurrent):
    """The zero-load hardware timeline of one step whose spikes are ``scratch.spiked[:n_sp]``.

    Returns the step's duration (ps) and advances ``counters.hw_clock[0]`` by it. The
    contention model has its own function (:func:`step_timeline_noc`), so that runs without it
    never compile it. ``concurrent`` is None on chips that receive after their update pass
    (``core.receive: serial``) and True on those that receive beside it: Numba prunes the
    ``is None`` test at compile time, so serial chips never compile the concurrent timeline
    (:func:`receive_flag`).
    """
    counts, core_free, spiked = counters.ops, scratch.core_free, scratch.spiked
    mlog, mlog_meta = rec.mlog, rec.mlog_meta
    t_update = chip.core_lat[:, CORE_UPDATE]
    pass_ps = np.empty(core_free.shape[0], dtype=np.int64)
    _update_passes(neurons, chip, counts, pass_ps)
    if concurrent is not None:
        log0 = mlog_meta[0]
        if chip.timing[TIMING_IDLE] == 0:
            for i in range(n_sp):
                s = spiked[i]
                chip.upd_end[s] = neurons.upd_rank[s] * t_update[neurons.core[s]]
        concurrent_timeline(neurons, syn, chip, counts, core_free, spiked, n_sp, chip.upd_end,
                            pass_ps, mlog, mlog_meta)
        return _close_step(chip, core_free, rec, log0, counters.hw_clock)
    idle = chip.timing[TIMING_IDLE] != 0
    upd_end = chip.upd_end
    upd_rank = neurons.upd_rank
    # A spike leaves once its neuron's update is done; earlier spikes of the same core have
    # already used core time (core_free holds that extra time during the sending pass).
    ready = np.empty(n_sp, dtype=np.int64)
    for i in range(n_sp):
        s = spiked[i]
        ready[i] = _update_end(upd_end, upd_rank, idle, s, t_update[neurons.core[s]])
    core_free[:] = 0
    send_spikes(syn, chip, counts, heap, neurons.core, spiked, ready, n_sp, core_free, True)
    for c in range(core_free.shape[0]):
        core_free[c] += pass_ps[c]
    log0 = mlog_meta[0]
    # Every message of the step is known before any is served: one sort puts them in the
    # queue's order, cheaper than a push and a pop on the heap each.
    t_arrive, msg = take_in_order(heap)
    serve_messages(syn, chip, counts, core_free, msg, t_arrive, msg.shape[0], mlog, mlog_meta)
    return _close_step(chip, core_free, rec, log0, counters.hw_clock)


@inner
def step_timeline_noc(neurons, syn, chip, heap, counters, scratch, rec, n_sp):
    """As :func:`step_timeline`, with packets contending for links and buffers."""
    counts, core_free, spiked = counters.ops, scratch.core_free, scratch.spiked
    t_update = chip.core_lat[:, CORE_UPDATE]
    core_free[:] = 0
    noc = chip.noc
    noc_reset_times(noc)
    idle = chip.timing[TIMING_IDLE] != 0
    upd_end = chip.upd_end
    upd_rank = neurons.upd_rank
    for i in range(n_sp):
        s = spiked[i]
        c = neurons.core[s]
        u = _update_end(upd_end, upd_rank, idle, s, t_update[c])
        core_free[c] = send_spike_noc(syn, chip, counts, heap, noc, s, c, u + core_free[c]) - u
    pass_ps = np.empty(core_free.shape[0], dtype=np.int64)
    _update_passes(neurons, chip, counts, pass_ps)
    for c in range(core_free.shape[0]):
        core_free[c] += pass_ps[c]
    log0 = rec.mlog_meta[0]
    one_msg = np.zeros(1, dtype=np.int64)
    one_t = np.zeros(1, dtype=np.int64)
    while heap_size(heap) > 0:
        t_arrive, key, m, unused = heap_pop(heap)
        if (key >> KIND_SHIFT) == KIND_NOC:
            noc_arbitrate(noc, heap, m, t_arrive, syn.msg_ptr, syn.msg_core)
            continue
        one_msg[0] = m
        one_t[0] = t_arrive
        serve_messages(syn, chip, counts, core_free, one_msg, one_t, 1, rec.mlog, rec.mlog_meta)
    return _close_step(chip, core_free, rec, log0, counters.hw_clock)


@njit(cache=True)
def finish_step_kernel(neurons, syn, chip, heap, counters, scratch, rec, step_dur, i,
                       concurrent):
    """Run a held step's zero-load timeline after the wrapper grew the queue (its spikes are
    ``scratch.spiked[:scratch.pending[0]]``); its duration goes to ``step_dur[i]``."""
    step_dur[i] = step_timeline(neurons, syn, chip, heap, counters, scratch, rec,
                                scratch.pending[0], concurrent)


@njit(cache=True)
def finish_step_noc_kernel(neurons, syn, chip, heap, counters, scratch, rec, step_dur, i):
    """As :func:`finish_step_kernel`, with network contention."""
    step_dur[i] = step_timeline_noc(neurons, syn, chip, heap, counters, scratch, rec,
                                    scratch.pending[0])
