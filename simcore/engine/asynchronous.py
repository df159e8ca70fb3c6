"""The fast engine in ``async`` mode: exact event-driven integration on hardware time.

Events, in order of ``(time, kind, tiebreak, seq)`` (see ``simcore.engine.queue``):

=====  ==============  ========================================================================
kind   name            what happens
=====  ==============  ========================================================================
0      deliver         segment ``g`` of a message reaches its targets (time = the destination
                       core finished the message + the segment's synaptic delay); tiebreak ``g``
0      drive           (not queued) the next event of a Poisson drive, merged in time order
1      check           a neuron whose bias drives it above threshold reaches it; tiebreak neuron
2      spike           a neuron's spike is handed to its core's output (``send_spikes``);
                       tiebreak neuron
3      message         a message arrives at its destination core (``serve_messages``), which
                       schedules one deliver per segment; tiebreak message index
4      noc             (contention on) a router arbitrates its outputs
                       (``hardware_model.noc_arbitrate``); tiebreak tile
=====  ==============  ========================================================================

All deliveries and drive events of one instant form a batch: every input of the batch is
applied (each target relaxed exactly to that instant first), and only then is each touched
neuron tested against its threshold, so simultaneous inputs never race (NEST #368). A neuron is
refractory on ``[t_spike, t_spike + t_ref)``: it holds its reset value and inputs arriving then
are discarded. Cores are single servers: a spike waits for its core to be free, and so does a
message. Input-population spikes enter as spike events, one pending at a time.
"""

import math

import numpy as np
from numba import njit

from aersim.hardware.energy import NEURON_UPDATE, STIM_IN
from aersim.simcore.engine.build import (
    KIND_ALIF,
    KIND_CUBA,
    KIND_INPUT,
    NOC_MULTICAST,
    NOC_ON,
    NOC_PORTS,
)
from aersim.simcore.engine.hardware_model import (
    KIND_NOC,
    noc_arbitrate,
    noc_free_slots,
    send_spike_noc,
    send_spikes,
    serve_messages,
)
from aersim.simcore.engine.inner import inner
from aersim.simcore.engine.neuron_kernels import relax_neuron, threshold_of, time_to_threshold_s
from aersim.simcore.engine.queue import (
    heap_free,
    heap_pop,
    heap_push,
    heap_size,
    heap_top_time,
    make_key,
)
from aersim.simcore.engine.rng import exponential, uniform_index

KIND_DELIVER = 0
KIND_CHECK = 1
KIND_SPIKE = 2
KIND_MESSAGE = 3
_KEY_CHECK0 = np.int64(KIND_CHECK) << 58

STATUS_DONE = 0
STATUS_RECORDER_FULL = 1
STATUS_HEAP_FULL = 2
STATUS_NOC_FULL = 3
NEVER = np.iinfo(np.int64).max


@njit(cache=True, inline="always")
def _advanced(kind, v, i, t_last, ref_until, t, v_inf, drift, v_leak, r, i_inf, tau_m, tau_s):
    """State ``(v, i)`` of a neuron brought from ``t_last`` to ``t`` (all scalars).

    Refractory neurons hold their value until ``ref_until``; then they relax exactly. Scalars
    only: a helper that takes arrays (or a named tuple of arrays) costs reference counting on
    every call, which measured 30x slower than the arithmetic in this loop.
    """
    if t <= ref_until:
        return v, i
    t0 = t_last if t_last > ref_until else ref_until
    if t == t0:
        return v, i
    return relax_neuron(kind, v, i, (t - t0) * 1e-12, v_inf, drift, v_leak, r, i_inf, tau_m,
                        tau_s)


@njit(cache=True, inline="always")
def _with_input(kind, v, i, x):
    """State after an input ``x`` (gained weight): CuBa neurons take it into their current."""
    if kind == KIND_CUBA:
        return v, i + x
    return v + x, i


@njit(cache=True, inline="always")
def _schedule_check(neurons, v, cur, ref_until, version, heap, j, t):
    """Predict when a neuron next exceeds threshold on its own and queue a check event.

    Called after every change of a neuron that can cross without input (bias, drift, or a
    decaying synaptic current); the version stamp makes older predictions stale.
    """
    u = np.uint64(j)  # the index of neuron arrays (see run_async_kernel)
    version[u] += 1
    t0 = t if t > ref_until[u] else ref_until[u]
    h_s = time_to_threshold_s(neurons.kind[u], v[u], cur[u], neurons.v_th[u], neurons.v_inf[u],
                              neurons.drift[u], neurons.v_leak[u], neurons.r[u],
                              neurons.i_inf[u], neurons.tau_s[u], neurons.tau_syn_s[u],
                              neurons.beta[u])
    if h_s == math.inf:
        return
    # Round up to the ps grid, so that the neuron is at (or just past) threshold then.
    t_cross = t0 + np.int64(math.ceil(h_s * 1e12))
    heap_push(heap, t_cross, _KEY_CHECK0 | j, j, version[u])


@njit(cache=True, inline="always")
def _fire(neurons, v, cur, ref_until, version, heap, rec_t, rec_n, rec_meta, j, t):
    """Neuron ``j`` spikes at ``t``: record, reset, start refractoriness, queue the spike.

    Adaptive neurons reset by subtracting ``v_th`` (code 0) or their whole threshold
    ``v_th + beta a`` (code 1), or to ``v_reset`` (code 2), and their adaptation steps by 1.
    """
    u = np.uint64(j)
    rec_t[rec_meta[0]] = t
    rec_n[rec_meta[0]] = j
    rec_meta[0] += 1
    if neurons.kind[u] == KIND_ALIF:
        code = neurons.reset_code[u]
        if code == 0:
            v[u] -= neurons.v_th[u]
        elif code == 1:
            v[u] -= neurons.v_th[u] + neurons.beta[u] * cur[u]
        else:
            v[u] = neurons.v_reset[u]
        cur[u] += 1.0
    else:
        v[u] = v[u] - neurons.v_th[u] if neurons.subtract[u] else neurons.v_reset[u]
    ref_until[u] = t + neurons.t_ref_ps[u]
    heap_push(heap, t, make_key(KIND_SPIKE, j), j, 0)


#: Drive events generated at a time per drive (``Stimulus.drive_buf_j``/``drive_buf_t`` columns).
DRIVE_BATCH = 256


def contention_flag(chip):
    """The ``contention`` argument of :func:`run_async_kernel` for ``chip`` (``ChipTables``):
    True when the network-on-chip models contention, else None. Numba prunes the kernel's
    ``is None`` tests at compile time, so runs without contention never compile its model."""
    return True if chip.noc.cfg[NOC_ON] != 0 else None


def tree_leaves(n_seg: int) -> int:
    """Leaves of the winner tree over ``n_seg`` drive segments: a power of two, at least 1."""
    p = 1
    while p < n_seg:
        p *= 2
    return p


@njit(cache=True, inline="always")
def _tree_node(stim, i):
    """Recompute node ``i`` of the winner tree from its two children: the earlier next event
    wins, the lower segment on a tie (then ``drive_tie`` is set)."""
    tree, tie, nxt = stim.drive_tree, stim.drive_tie, stim.drive_next
    a = tree[2 * i]
    b = tree[2 * i + 1]
    ta = nxt[a] if a >= 0 else NEVER
    tb = nxt[b] if b >= 0 else NEVER
    if tb < ta:
        tree[i] = b
        tie[i] = tie[2 * i + 1]
    else:
        tree[i] = a
        tie[i] = tie[2 * i] or (ta == tb and b >= 0 and ta != NEVER)


@inner
def drive_tree_update(stim, d):
    """Segment ``d``'s next event (``stim.drive_next[d]``) changed: replay its path to the
    root, ``log2`` of the number of segments comparisons. The root (``drive_tree[1]``) is
    the segment with the earliest next event, ``drive_tie[1]`` whether another one ties it."""
    i = (stim.drive_tree.shape[0] // 2 + d) // 2
    while i >= 1:
        _tree_node(stim, i)
        i //= 2


@njit(cache=True)
def build_drive_tree(stim):
    """Fill the winner tree over the segments' next events (``stim.drive_next``)."""
    p = stim.drive_tree.shape[0] // 2
    n_seg = stim.drive_next.shape[0]
    for d in range(p):
        stim.drive_tree[p + d] = d if d < n_seg else -1
        stim.drive_tie[p + d] = False
    for i in range(p - 1, 0, -1):
        _tree_node(stim, i)


@inner
def refill_drive(stim, d, t):
    """Draw the next ``DRIVE_BATCH`` events of drive ``d``, the first of which is at ``t``.

    Column ``i`` of ``stim.drive_buf_j[d]`` is event ``i``'s neuron and of
    ``stim.drive_buf_t[d]`` the time of the event after it (ps). The draws are those the event
    loop made one event at a time (a uniform for the neuron, then an exponential gap at the
    drive's total rate), in the same order from the same stream, so the events are identical;
    drawing them in a tight loop lets the logarithms overlap instead of waiting on the queue.
    """
    off = stim.drive_off[d]
    n_pop = stim.drive_n[d]
    idx = stim.drive_idx
    total_hz = stim.drive_rate_hz[d] * n_pop
    rng = stim.drive_rng
    buf_j = stim.drive_buf_j
    buf_t = stim.drive_buf_t
    for i in range(buf_j.shape[1]):
        buf_j[d, i] = idx[off + uniform_index(rng, d, n_pop)]
        gap_s = exponential(rng, d) / total_hz
        t = t + np.int64(round(gap_s * 1e12))
        buf_t[d, i] = t
    stim.drive_pos[d] = 0


# Numba's reference counting is off in the event loop (``_nrt=False``): every array the loop
# binds to a name (an inlined helper's argument, ``e = h.e`` in a queue operation) costs an
# atomic increment and decrement that Numba's pruning cannot remove across the loop's branches:
# about 6 % of a Brunel run (docs/performance.md). So the kernel allocates nothing (that needs
# reference counting): its work space comes in ``scratch``.
@njit(cache=True, _nrt=False)
def run_async_kernel(neurons, syn, chip, mode, state, heap, deliveries, counters, scratch, stim,
                     rec, t_end, max_push, contention):
    """Process every event before ``t_end`` (ps). Returns ``(status, t_now)``.

    The records are those of ``simcore.engine.state``. Stops early between batches when the
    recorder or the heap could overflow (``STATUS_RECORDER_FULL`` / ``STATUS_HEAP_FULL``) or
    the network has no room for the packets of one more event (``STATUS_NOC_FULL``); the
    wrapper drains or grows and calls again. Drive segment ``d`` (one drive's neurons on one
    core) covers neurons ``drive_idx[drive_off[d]:drive_off[d] + drive_n[d]]`` at
    ``drive_rate_hz[d]`` each; its next event is at ``drive_next[d]`` (the earliest segment is
    the root of ``stim.drive_tree``, :func:`drive_tree_update`); its events are drawn
    ``DRIVE_BATCH`` at a time (:func:`refill_drive`), ``stim.drive_pos[d]`` is the next
    unused one. The chunk's input spikes (``stim.in_*``,
    times in ps) are sorted by (time, neuron); the next pending one is always in the heap
    (pushed by the wrapper for the first). ``max_push`` bounds the queue entries one event may
    push. ``contention`` is :func:`contention_flag` of ``chip``.

    Deliveries have their own queue (``deliveries``), everything else is on ``heap``: a message
    then waits among the few events in flight rather than among the thousands of pending
    deliveries. The order is the one queue's: at equal times a delivery (kind 0) comes first,
    and each queue keeps the push order of its own ties.
    """
    v, cur, t_last, ref_until, version = state.v, state.cur, state.t_last, state.ref_until, \
        state.version
    self_driven = mode.self_driven
    counts, core_free = counters.ops, scratch.core_free
    touched, touched_list = scratch.touched, scratch.touched_list
    drive_off, drive_w, drive_next = stim.drive_off, stim.drive_w, stim.drive_next
    drive_buf_j, drive_buf_t, drive_pos = stim.drive_buf_j, stim.drive_buf_t, stim.drive_pos
    drive_tree, drive_tie = stim.drive_tree, stim.drive_tie
    in_t, in_neuron, in_pos = stim.in_time, stim.in_neuron, stim.in_pos
    rec_t, rec_n, rec_meta = rec.spike_t, rec.spike_n, rec.spike_meta
    mlog, mlog_meta = rec.mlog, rec.mlog_meta
    probe_ids, probe_next, probe_meta = rec.probe_ids, rec.probe_next, rec.probe_meta
    probe_t, probe_v, probe_c = rec.probe_t, rec.probe_v, rec.probe_c
    n = v.shape[0]
    n_drives = drive_off.shape[0]
    # Local names for the per-neuron columns used in the hot loops. The loops index them with
    # an unsigned copy ``u`` of the neuron index ``j`` (and synapses, counts and drives with
    # unsigned rows too): Numba wraps a negative signed index around (a shift, a mask and an
    # add per access, each array's length kept on the stack), an unsigned one needs no such
    # code; together a sixth less time on Brunel (docs/performance.md).
    kind, gain, v_inf, drift, v_leak = neurons.kind, neurons.gain, neurons.v_inf, \
        neurons.drift, neurons.v_leak
    r, i_inf, tau_m, tau_s = neurons.r, neurons.i_inf, neurons.tau_s, neurons.tau_syn_s
    noc = chip.noc
    # Packet slots one event may take: a spike's packets, or the copies of one arbitration.
    noc_need = noc.cfg[NOC_PORTS] + 1
    if contention is not None:
        if noc.cfg[NOC_MULTICAST] == 0:
            for j in range(n):
                if syn.msg_ptr[j + 1] - syn.msg_ptr[j] + noc.cfg[NOC_PORTS] > noc_need:
                    noc_need = syn.msg_ptr[j + 1] - syn.msg_ptr[j] + noc.cfg[NOC_PORTS]
    # One spike or message at a time through the helpers that take batches
    # (hardware_model.send_spikes, serve_messages): views of scratch.one.
    one_spike, one_ready = scratch.one[0:1], scratch.one[1:2]
    one_msg, one_t = scratch.one[2:3], scratch.one[3:4]
    send_extra = scratch.send_extra
    t_now = 0
    while True:
        if rec_meta[0] + n > rec_t.shape[0] or (
                mlog.shape[0] > 0 and mlog_meta[0] + 1 > mlog.shape[0]) or (
                probe_ids.shape[0] > 0 and probe_meta[0] >= probe_t.shape[0]):
            return STATUS_RECORDER_FULL, t_now
        if heap_free(heap) < max_push or heap_free(deliveries) < max_push:
            return STATUS_HEAP_FULL, t_now
        if contention is not None:
            if noc_free_slots(noc) < noc_need:
                return STATUS_NOC_FULL, t_now
        # Earliest drive event.
        t_drive = drive_next[drive_tree[1]] if n_drives > 0 else NEVER
        t_main = heap_top_time(heap) if heap_size(heap) > 0 else NEVER
        t_deliver = heap_top_time(deliveries) if heap_size(deliveries) > 0 else NEVER
        t_heap = t_main if t_main < t_deliver else t_deliver
        t = t_drive if t_drive < t_heap else t_heap
        if probe_ids.shape[0] > 0 and probe_next[0] <= t and probe_next[0] < t_end:
            # Sample before the events at the sample time: the exact state, not advanced.
            ts = probe_next[0]
            row_p = probe_meta[0]
            probe_t[row_p] = ts
            for i in range(probe_ids.shape[0]):
                j = probe_ids[i]
                vj, ij = _advanced(kind[j], v[j], cur[j], t_last[j], ref_until[j], ts, v_inf[j],
                                   drift[j], v_leak[j], r[j], i_inf[j], tau_m[j], tau_s[j])
                probe_v[row_p, i] = vj
                probe_c[row_p, i] = ij
            probe_meta[0] = row_p + 1
            probe_next[0] = ts + rec.probe_period_ps
            continue
        if t >= t_end:
            return STATUS_DONE, t_end
        t_now = t
        if t_drive < t_heap:
            # Drive events alone at their instants (no other drive event, queued event or probe
            # sample at the same time) one after another: each is the batch below reduced to
            # one input, without its bookkeeping. The run ends before an event that is not
            # alone, and after any push (a spike or a threshold check), which the loop's
            # checks and the queue must see first.
            t_probe = probe_next[0] if probe_ids.shape[0] > 0 else NEVER
            n_alone = 0
            while True:
                d = np.uint64(drive_tree[1])   # unsigned, as u below
                tied = drive_tie[1]
                t = drive_next[d]
                if tied or t >= t_heap or t >= t_end or t >= t_probe:
                    break
                if drive_pos[d] == drive_buf_j.shape[1]:
                    refill_drive(stim, d, t)
                p = np.uint64(drive_pos[d])
                if drive_buf_t[d, p] == t:
                    break
                j = drive_buf_j[d, p]
                u = np.uint64(j)
                drive_next[d] = drive_buf_t[d, p]
                drive_pos[d] = p + 1
                drive_tree_update(stim, d)
                n_alone += 1
                t_now = t
                c_j = np.uint64(neurons.core[u])
                counts[c_j, STIM_IN] += 1
                if t < ref_until[u]:
                    continue
                kj = kind[u]
                vj, ij = _advanced(kj, v[u], cur[u], t_last[u], ref_until[u], t, v_inf[u],
                                   drift[u], v_leak[u], r[u], i_inf[u], tau_m[u], tau_s[u])
                vj, ij = _with_input(kj, vj, ij, gain[u] * drive_w[d])
                v[u], cur[u] = vj, ij
                t_last[u] = t
                counts[c_j, NEURON_UPDATE] += 1
                if vj > threshold_of(kj, neurons.v_th[u], ij, neurons.beta[u]):
                    _fire(neurons, v, cur, ref_until, version, heap, rec_t, rec_n, rec_meta, j,
                          t)
                    if self_driven[u] or v[u] > threshold_of(kj, neurons.v_th[u], cur[u],
                                                             neurons.beta[u]):
                        _schedule_check(neurons, v, cur, ref_until, version, heap, j, t)
                    break
                if self_driven[u]:
                    # Below threshold (unchanged since the test above): only a neuron that
                    # can cross on its own needs a check.
                    _schedule_check(neurons, v, cur, ref_until, version, heap, j, t)
                    break
            if n_alone > 0:
                continue
            t = t_now
        if t_drive <= t_heap or t_deliver == t:
            # A batch: every deliver and drive event at time t, then the threshold tests. One
            # pass takes them all: neither kind queues anything, and each drive's loop runs
            # until its next event is later than t.
            n_touched = 0
            while heap_size(deliveries) > 0 and heap_top_time(deliveries) == t:
                unused_t, unused_key, g, unused_b = heap_pop(deliveries)
                slot0 = syn.seg_slot0[g]
                for q in range(np.uint64(syn.seg_lo[g]), np.uint64(syn.seg_hi[g])):
                    j = slot0 + syn.target[q]
                    u = np.uint64(j)
                    if t < ref_until[u] or kind[u] == KIND_INPUT:
                        continue
                    kj = kind[u]
                    vj, ij = _advanced(kj, v[u], cur[u], t_last[u], ref_until[u], t,
                                       v_inf[u], drift[u], v_leak[u], r[u], i_inf[u],
                                       tau_m[u], tau_s[u])
                    v[u], cur[u] = _with_input(kj, vj, ij, gain[u] * syn.weight[q])
                    t_last[u] = t
                    if not touched[u]:
                        touched[u] = True
                        touched_list[n_touched] = j
                        n_touched += 1
            while n_drives > 0 and drive_next[drive_tree[1]] == t:
                d = np.uint64(drive_tree[1])
                while drive_next[d] == t:
                    if drive_pos[d] == drive_buf_j.shape[1]:
                        refill_drive(stim, d, t)
                    p = np.uint64(drive_pos[d])
                    j = drive_buf_j[d, p]
                    u = np.uint64(j)
                    drive_next[d] = drive_buf_t[d, p]
                    drive_pos[d] = p + 1
                    counts[np.uint64(neurons.core[u]), STIM_IN] += 1
                    if t >= ref_until[u]:
                        kj = kind[u]
                        vj, ij = _advanced(kj, v[u], cur[u], t_last[u], ref_until[u], t,
                                           v_inf[u], drift[u], v_leak[u], r[u], i_inf[u],
                                           tau_m[u], tau_s[u])
                        v[u], cur[u] = _with_input(kj, vj, ij, gain[u] * drive_w[d])
                        t_last[u] = t
                        if not touched[u]:
                            touched[u] = True
                            touched_list[n_touched] = j
                            n_touched += 1
                drive_tree_update(stim, d)
            for i in range(n_touched):
                j = touched_list[i]
                u = np.uint64(j)
                touched[u] = False
                counts[np.uint64(neurons.core[u]), NEURON_UPDATE] += 1
                if v[u] > threshold_of(kind[u], neurons.v_th[u], cur[u], neurons.beta[u]):
                    _fire(neurons, v, cur, ref_until, version, heap, rec_t, rec_n, rec_meta, j,
                          t)
                    if self_driven[u] or v[u] > threshold_of(kind[u], neurons.v_th[u], cur[u],
                                                             neurons.beta[u]):
                        # Bias-driven neurons, and neurons a subtractive reset left above
                        # threshold (they fire again when their refractory period ends).
                        _schedule_check(neurons, v, cur, ref_until, version, heap, j, t)
                elif self_driven[u]:
                    # Below threshold, unchanged since the test: only a neuron that can cross
                    # on its own needs a check.
                    _schedule_check(neurons, v, cur, ref_until, version, heap, j, t)
            continue
        t, key, a, b = heap_pop(heap)
        ev_kind = key >> 58
        if ev_kind == KIND_CHECK:
            j = a
            u = np.uint64(j)
            if b == version[u]:
                v[u], cur[u] = _advanced(kind[u], v[u], cur[u], t_last[u], ref_until[u], t,
                                         v_inf[u], drift[u], v_leak[u], r[u], i_inf[u],
                                         tau_m[u], tau_s[u])
                t_last[u] = t
                counts[np.uint64(neurons.core[u]), NEURON_UPDATE] += 1
                _fire(neurons, v, cur, ref_until, version, heap, rec_t, rec_n, rec_meta, j, t)
                _schedule_check(neurons, v, cur, ref_until, version, heap, j, t)
        elif ev_kind == KIND_SPIKE:
            j = a
            c = neurons.core[j]
            t_ready = t if t > core_free[c] else core_free[c]
            if contention is None:
                one_spike[0] = j
                one_ready[0] = t_ready
                send_spikes(syn, chip, counts, heap, neurons.core, one_spike, one_ready, 1,
                            send_extra, False)
                core_free[c] = t_ready + send_extra[c]
                send_extra[c] = 0
            else:
                core_free[c] = send_spike_noc(syn, chip, counts, heap, noc, j, c, t_ready)
            if b == 1:
                # An input spike: record it and queue the next one of the stream.
                rec_t[rec_meta[0]] = t
                rec_n[rec_meta[0]] = j
                rec_meta[0] += 1
                in_pos[0] += 1
                if in_pos[0] < in_t.shape[0]:
                    p = in_pos[0]
                    heap_push(heap, in_t[p], make_key(KIND_SPIKE, in_neuron[p]), in_neuron[p], 1)
        elif ev_kind == KIND_NOC:
            if contention is not None:
                noc_arbitrate(noc, heap, a, t, syn.msg_ptr, syn.msg_core)
        else:
            one_msg[0] = a
            one_t[0] = t
            end = serve_messages(syn, chip, counts, core_free, one_msg, one_t, 1, mlog,
                                 mlog_meta)
            for g in range(syn.msg_seg_lo[a], syn.msg_seg_lo[a + 1]):
                heap_push(deliveries, end + syn.delay_ps[syn.seg_delay[g]],
                          make_key(KIND_DELIVER, g), g, 0)
