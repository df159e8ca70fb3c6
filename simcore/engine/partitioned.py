"""Timestep kernels of one rank of a partitioned run (``simcore.run.parallel`` drives them).

A rank updates its own neurons (:func:`update_steps`: :func:`begin_step` for the Poisson
drive, input spikes and idle marking, then ``timestep.update_range``, then probe samples),
writing their spikes to an exchange buffer; once every rank's spikes are gathered,
:func:`deliver_step` puts every spike, in global neuron order, onto the synapses of the cores
this rank owns, and :func:`close_step` runs the step's hardware timeline from the step's global
spike list: every rank has every spike and a step's timeline starts from idle cores and an
empty network, so the ranks share the steps out (step ``k`` on rank ``k % N``) and each runs the
whole timeline of its steps, from the gathered rows, after the batches of a chunk
(:func:`close_steps`: the timeline decides nothing the ranks need before the chunk's end, and
there a rank's share of the chunk's steps balances even where a batch has fewer steps than
there are ranks); where the message log must come out whole, in one-process order, every rank
runs every step's as it delivers it. With a smallest synaptic delay of ``D >= 1`` steps a rank
updates up to ``D`` steps before exchanging (no spike of those steps reaches a neuron earlier);
with zero-delay synapses it exchanges after every zero-delay level of every step.

Bit identity with one process: a neuron's input row receives the same terms in the same order
(spikes in global id order, each spike's messages, segments and synapses in table order; the
drive's events in stream order), the Poisson drive has one stream per (drive, core), which only
the core's owner draws (the one-process events, since a stream does not depend on who draws
it), and a step's timeline is the one-process timeline of the same spike list. Exchange rows
are float64 ``(step, id, payload, update end ps)``: exact for integers below 2**53.
"""

import numpy as np
from numba import njit

from aersim.simcore.engine.build import TIMING_IDLE
from aersim.simcore.engine.queue import heap_free
from aersim.simcore.engine.timestep import (
    add_synapses,
    draw_drive,
    mark_idle,
    prefetch_synapses,
    step_timeline,
    update_range,
)


@njit(cache=True)
def begin_step(neurons, chip, state, counters, stim, own, own_core, n_idle_own, k, dt_ps,
               own_lo, own_hi):
    """Start step ``k``: the drive of the owned cores (their segments' streams, see
    ``timestep.draw_drive``), this step's input payloads of owned neurons, and, on chips that
    price idle neurons, the marking of the neurons ``own_lo .. own_hi-1`` (every owned one);
    ``n_idle_own`` gets the idle counts of the owned cores (0 elsewhere) for the ranks' sum."""
    ring, in_payload, counts = state.ring, state.in_payload, counters.ops
    in_step, in_neuron, in_value, in_pos = stim.in_time, stim.in_neuron, stim.in_value, \
        stim.in_pos
    row = ring[k % ring.shape[0]]
    draw_drive(neurons, stim, row, counts, dt_ps, own_core)
    while in_pos[0] < in_step.shape[0] and in_step[in_pos[0]] == k:
        j = in_neuron[in_pos[0]]
        if own[j]:
            in_payload[j] = in_value[in_pos[0]]
        in_pos[0] += 1
    if chip.timing[TIMING_IDLE] != 0:
        mark_idle(neurons, chip, row, state.v, state.cur, state.ref_count, own_lo, own_hi)
        for c in range(n_idle_own.shape[0]):
            n_idle_own[c] = chip.n_idle[c] if own_core[c] else 0


@njit(cache=True, nogil=True)
def update_steps(neurons, syn, chip, mode, state, counters, stim, rec, own, own_core, idle,
                 kb, ke, lo, hi, begin, end, dt_ps, ids, pays, out, models, own_lo, own_hi):
    """Update the owned neurons with ids in ``[lo, hi)`` for steps ``kb .. ke-1``
    (``timestep.update_range``); ``begin``: start each step first (:func:`begin_step`, idle
    counts of step ``s`` into ``idle[s - kb]``; every owned neuron has an id in ``[own_lo,
    own_hi)``); ``end``: take each step's probe samples after
    its updates. ``ids`` (int32) and ``pays`` (float64) are work space of the rank's neuron
    count. The spikes are written to ``out`` (float64 ``(m, 4)``: step, id, payload, update
    end in the core's pass in ps), in (step, id) order, for the exchange (they are recorded
    when delivered, :func:`deliver_step`). Returns their number.
    ``models`` is ``timestep.model_flags`` of ``neurons``.
    """
    n_out = 0
    for s in range(kb, ke):
        if begin:
            begin_step(neurons, chip, state, counters, stim, own, own_core, idle[s - kb], s,
                       dt_ps, own_lo, own_hi)
        n_s = update_range(neurons, syn, mode, state, rec, s, dt_ps, lo, hi, own, ids, pays,
                           models[0], models[1], models[2], models[3], models[4])
        for i in range(n_s):
            out[n_out, 0] = s
            out[n_out, 1] = ids[i]
            out[n_out, 2] = pays[i]
            out[n_out, 3] = chip.upd_end[ids[i]]
            n_out += 1
        if end:
            sample_probes(state, rec, s, dt_ps)
    return n_out


@njit(cache=True)
def sample_probes(state, rec, k, dt_ps):
    """After step ``k``'s updates: append the probed neurons' state when a sample is due
    (owned columns are meaningful; the ranks' columns are merged when drained)."""
    probe_ids, probe_meta = rec.probe_ids, rec.probe_meta
    if probe_ids.shape[0] > 0 and (k + 1) % (rec.probe_period_ps // dt_ps) == 0:
        row_p = probe_meta[0]
        rec.probe_t[row_p] = k * dt_ps
        for p in range(probe_ids.shape[0]):
            rec.probe_v[row_p, p] = state.v[probe_ids[p]]
            rec.probe_c[row_p, p] = state.cur[probe_ids[p]]
        probe_meta[0] = row_p + 1


@njit(cache=True)
def owned_messages(msg_ptr, msg_core, core_lo, core_hi):
    """Each neuron's messages to the cores ``core_lo .. core_hi - 1``: ``(first, end)``, two
    int64 ``(n_neurons,)`` arrays of indices into the message tables. A neuron's messages are
    sorted by destination core, so they are one range."""
    n = msg_ptr.shape[0] - 1
    first = np.empty(n, dtype=np.int64)
    end = np.empty(n, dtype=np.int64)
    for j in range(n):
        m = msg_ptr[j]
        m1 = msg_ptr[j + 1]
        while m < m1 and msg_core[m] < core_lo:
            m += 1
        first[j] = m
        while m < m1 and msg_core[m] < core_hi:
            m += 1
        end[j] = m
    return first, end


@njit(cache=True, nogil=True)
def pack_rows(send, out, n_out, idle_own, n_idle, cap):
    """Fill a rank's ``send`` buffer of a batch's exchange (float64, flat): its row count
    ``n_out``, then with idle pricing (``n_idle`` steps, else 0) the idle counts
    ``idle_own[:n_idle]`` (step by core), then its first ``min(n_out, cap)`` rows of ``out``
    (as in :func:`update_steps`), 4 numbers each."""
    send[0] = n_out
    head = 1
    for s in range(n_idle):
        for c in range(idle_own.shape[1]):
            send[head] = idle_own[s, c]
            head += 1
    for p in range(min(n_out, cap)):
        for c in range(4):
            send[head + 4 * p + c] = out[p, c]


@njit(cache=True, nogil=True)
def merge_rank_rows(recv, head, cap, more, more_at, idle_sum, n_idle):
    """Every rank's exchanged rows (as in :func:`update_steps`) in one ``(n, 4)`` array, in
    (step, id) order: the order one process records and delivers them in.

    ``recv[r]`` is rank ``r``'s buffer of :func:`pack_rows`: it sent ``recv[r, 0]`` rows, the
    first ``min(recv[r, 0], cap)`` in ``recv[r, head:]``, the rest in ``more[more_at[r]:
    more_at[r + 1]]``; each rank's rows are in (step, id) order already, so one merge of the
    ranks' lists orders them. With idle pricing (``n_idle`` steps, else 0) the ranks' idle
    counts are summed into ``idle_sum[:n_idle]`` (step by core). (Plain loops, no helper per
    row: an inlined helper taking the arrays cost 130 ns a row.)"""
    size = recv.shape[0]
    n_cores = idle_sum.shape[1]
    for s in range(n_idle):
        for c in range(n_cores):
            total = 0
            for r in range(size):
                total += np.int64(recv[r, 1 + s * n_cores + c])
            idle_sum[s, c] = total
    bound = np.zeros(size + 1, dtype=np.int64)
    for r in range(size):
        bound[r + 1] = bound[r] + np.int64(recv[r, 0])
    n = bound[size]
    ranks = np.empty((n, 4), dtype=np.float64)
    for r in range(size):
        for p in range(bound[r + 1] - bound[r]):
            for c in range(4):
                ranks[bound[r] + p, c] = recv[r, head + 4 * p + c] if p < cap else \
                    more[more_at[r] + p - cap, c]
    rows = np.empty((n, 4), dtype=np.float64)
    pos = bound[:size].copy()
    for i in range(n):
        best = -1
        for r in range(size):
            p = pos[r]
            if p == bound[r + 1]:
                continue
            if best < 0:
                best = r
                continue
            b = pos[best]
            if ranks[p, 0] < ranks[b, 0] or (ranks[p, 0] == ranks[b, 0]
                                             and ranks[p, 1] < ranks[b, 1]):
                best = r
        b = pos[best]
        for c in range(4):
            rows[i, c] = ranks[b, c]
        pos[best] = b + 1
    return rows


@njit(cache=True, nogil=True)
def deliver_step(syn, chip, mode, state, scratch, rec, rows, r0, r1, n_sp, dt_ps):
    """Deliver the gathered spikes ``rows[r0:r1]`` (one step's, rows as in
    :func:`update_steps`, in id order) to the owned cores, record them (every rank records
    every spike, in the one-process order), and append their ids to the step's
    ``scratch.spiked`` from ``n_sp``. Returns the new length of ``scratch.spiked``.
    ``mode.run_ptr``, ``mode.runs`` are a rank's own: the delivery runs of each neuron's
    synapses on the owned cores (``synapse_tables.delivery_runs`` of its
    :func:`owned_messages`)."""
    ring, spiked, run_ptr, runs = state.ring, scratch.spiked, mode.run_ptr, mode.runs
    rec_t, rec_n, rec_meta = rec.spike_t, rec.spike_n, rec.spike_meta
    target, weight = syn.target, syn.weight
    upd_end = chip.upd_end
    idle = chip.timing[TIMING_IDLE] != 0
    for i in range(r0, r1):
        if i + 2 < r1:
            # The synapses of a spike two ahead, so that they arrive while this one is added.
            ahead = np.int64(rows[i + 2, 1])
            prefetch_synapses(runs, target, weight, run_ptr[ahead], run_ptr[ahead + 1])
        k = np.int64(rows[i, 0])
        j = np.int64(rows[i, 1])
        payload = rows[i, 2]
        if idle:
            upd_end[j] = np.int64(rows[i, 3])
        spiked[n_sp] = j
        n_sp += 1
        rec_t[rec_meta[0]] = k * dt_ps
        rec_n[rec_meta[0]] = j
        rec_meta[0] += 1
        add_synapses(runs, target, weight, ring, k, run_ptr[j], run_ptr[j + 1], payload)
    return n_sp


@njit(cache=True, nogil=True)
def deliver_close_steps(neurons, syn, chip, mode, state, heap, counters, scratch, rec, rows,
                        r0, kb, ke, idle_sum, durs, i0, contention, concurrent, close, done,
                        dt_ps):
    """Steps ``kb .. ke-1`` of a batch after its exchange: deliver each step's gathered spikes
    (:func:`deliver_step`; ``rows`` in step order, step ``kb``'s from row ``r0`` on) and, with
    ``close``, run its timeline (:func:`close_step`, duration into ``durs[i0 + s - kb]``), in
    one call, so that a batch costs one dispatch from Python instead of two per step. (Without
    ``close`` the timelines run later, from the same rows: :func:`close_steps`.)

    Returns early so that the caller can act between steps: ``done[0]`` is set to the first
    step not finished and ``done[1]`` to the row after its spikes if it was delivered, else
    to its first row; the return value says why: 0 all steps done; 1 step ``done[0]`` was
    delivered and its timeline is held (the queue must grow, or network contention runs it:
    see :func:`close_step`); 2 the message log could overflow in step ``done[0]`` (not yet
    delivered): drain it first.
    """
    mlog, mlog_meta = rec.mlog, rec.mlog_meta
    n_msg = syn.msg_core.shape[0]
    n_rows = rows.shape[0]
    r1 = r0
    for s in range(kb, ke):
        done[0] = s
        done[1] = r0
        if mlog.shape[0] > 0 and mlog_meta[0] + n_msg > mlog.shape[0]:
            return 2
        while r1 < n_rows and rows[r1, 0] == s:
            r1 += 1
        n_sp = deliver_step(syn, chip, mode, state, scratch, rec, rows, r0, r1, 0,
                            dt_ps)
        r0 = r1
        done[1] = r0
        i = s - kb
        if close and close_step(neurons, syn, chip, heap, counters, scratch, rec, n_sp,
                                idle_sum[i], durs, i0 + i, contention, concurrent):
            return 1
    done[0] = ke
    return 0


@njit(cache=True, nogil=True)
def close_steps(neurons, syn, chip, heap, counters, scratch, rec, rows, kb, ke, idle_sum, durs,
                i0, contention, concurrent, every, at, done):
    """The timelines of the steps ``s`` in ``done[0] .. ke-1`` with ``s % every == at``, from
    their gathered spikes ``rows`` (as in :func:`update_steps`, in step order from step ``kb``
    on; delivered already; step ``done[0]``'s from row ``done[1]`` on) and the ranks' summed
    idle counts ``idle_sum[s - kb]``, durations into ``durs[i0 + s - kb]``
    (:func:`close_step`). Each step's spikes go to ``scratch.spiked`` and, on chips that price
    idle neurons, their update ends to ``chip.upd_end`` (the rank's later updates have
    overwritten its own neurons' since).

    Returns 0 when done; 1 when step ``done[0]``'s timeline is held (see :func:`close_step`):
    ``done[1]`` is then the row after its spikes, and the caller finishes it and calls again
    from ``done[0] + 1`` (so that no call scans the rows before its first step again).
    """
    spiked, upd_end = scratch.spiked, chip.upd_end
    idle = chip.timing[TIMING_IDLE] != 0
    n_rows = rows.shape[0]
    r0 = done[1]
    for s in range(done[0], ke):
        r1 = r0
        while r1 < n_rows and rows[r1, 0] == s:
            r1 += 1
        if s % every == at:
            for q in range(r0, r1):
                j = np.int64(rows[q, 1])
                spiked[q - r0] = j
                if idle:
                    upd_end[j] = np.int64(rows[q, 3])
            if close_step(neurons, syn, chip, heap, counters, scratch, rec, r1 - r0,
                          idle_sum[s - kb], durs, i0 + s - kb, contention, concurrent):
                done[0] = s
                done[1] = r1
                return 1
        r0 = r1
    done[0] = ke
    return 0


@njit(cache=True, nogil=True)
def close_step(neurons, syn, chip, heap, counters, scratch, rec, n_sp, idle, step_dur, i,
               contention, concurrent):
    """The timeline of a step whose global spikes are ``scratch.spiked[:n_sp]``, with the
    ranks' summed idle counts ``idle`` (per core, on chips that price idle neurons), into
    ``step_dur[i]`` (``concurrent``: ``timestep.receive_flag``). Returns 1 when the
    queue must grow to ``scratch.pending[1]`` free entries first (then call again) or, with
    network contention, when the caller runs ``timestep.finish_step_noc_kernel``; else 0."""
    if chip.timing[TIMING_IDLE] != 0:
        chip.n_idle[:] = idle
    need = 0
    for s in range(n_sp):
        need += chip.push_need[scratch.spiked[s]]
    if contention or heap_free(heap) < need:
        scratch.pending[0] = n_sp
        scratch.pending[1] = need
        return 1
    step_dur[i] = step_timeline(neurons, syn, chip, heap, counters, scratch, rec, n_sp,
                                concurrent)
    return 0
