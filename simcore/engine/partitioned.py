"""Timestep kernels of one rank of a partitioned run (``simcore.run.parallel`` drives them).

A step on a rank is: :func:`begin_step` (Poisson drive, input spikes, idle marking), then per
zero-delay level :func:`update_level` (its own neurons of the level, in id order, spikes into
an exchange buffer) and, once the level's spikes of every rank are gathered,
:func:`deliver_level` (every gathered spike, in global neuron order, onto the synapses of the
cores this rank owns), and finally :func:`close_step` (probes, then the step's hardware timeline
from the step's global spike list, identical on every rank).

Bit identity with one process: a neuron's input row receives the same terms in the same order
(spikes in global id order, each spike's messages, segments and synapses in table order; the
drive's events in stream order), every rank draws the whole Poisson stream (so its generator
state stays that of one process), and the timeline is the one-process timeline of the same
spike list. Exchange rows are float64 ``(id, payload, update end ps)``: exact for ids and
times below 2**53.
"""

import numpy as np
from numba import njit

from aersim.hardware.energy import STIM_IN
from aersim.simcore.engine.build import TIMING_IDLE
from aersim.simcore.engine.queue import heap_free
from aersim.simcore.engine.rng import exponential
from aersim.simcore.engine.timestep import mark_idle, step_timeline, update_range


@njit(cache=True)
def begin_step(neurons, chip, state, counters, stim, own, own_core, n_idle_own, k, dt_ps):
    """Start step ``k``: the drive (the whole stream, applied to owned neurons, every event
    counted so that counts are the same on every rank), this step's input payloads of owned
    neurons, and, on chips that price idle neurons, their marking; ``n_idle_own`` gets the
    idle counts of the owned cores (0 elsewhere) for the ranks' sum."""
    ring, in_payload, counts = state.ring, state.in_payload, counters.ops
    drive_lo, drive_n, drive_w, drive_rng = stim.drive_lo, stim.drive_n, stim.drive_w, \
        stim.drive_rng
    in_step, in_neuron, in_value, in_pos = stim.in_time, stim.in_neuron, stim.in_value, \
        stim.in_pos
    row = ring[k % ring.shape[0]]
    for d in range(drive_lo.shape[0]):
        lam = stim.drive_rate_hz[d] * dt_ps * 1e-12
        if lam <= 0.0:
            continue
        x = exponential(drive_rng, d) / lam
        while x < drive_n[d]:
            j = drive_lo[d] + np.int64(x)
            if own[j]:
                row[j] += drive_w[d]
            counts[neurons.core[j], STIM_IN] += 1
            x += exponential(drive_rng, d) / lam
    while in_pos[0] < in_step.shape[0] and in_step[in_pos[0]] == k:
        j = in_neuron[in_pos[0]]
        if own[j]:
            in_payload[j] = in_value[in_pos[0]]
        in_pos[0] += 1
    if chip.timing[TIMING_IDLE] != 0:
        mark_idle(neurons, chip, row, state.v, state.cur, state.ref_count)
        for c in range(n_idle_own.shape[0]):
            n_idle_own[c] = chip.n_idle[c] if own_core[c] else 0


@njit(cache=True)
def update_level(neurons, syn, chip, mode, state, rec, own, lo, hi, k, dt_ps, ids, sent, out):
    """Update the owned neurons with ids in ``[lo, hi)`` for step ``k``
    (``timestep.update_range``; ``ids`` int32 and ``sent`` float64 are work space of the
    rank's neuron count). Their spikes are recorded and written to ``out`` (float64
    ``(n, 3)``: id, payload, update end in the core's pass, ps). Returns the number of spikes.
    """
    n_out = update_range(neurons, syn, mode, state, rec, k, dt_ps, lo, hi, own, ids, sent)
    for i in range(n_out):
        out[i, 0] = ids[i]
        out[i, 1] = sent[i]
        out[i, 2] = chip.upd_end[ids[i]]
    return n_out


@njit(cache=True)
def deliver_level(syn, chip, mode, state, scratch, own_core, k, spikes, n_spikes, n_sp):
    """Deliver the level's gathered ``spikes[:n_spikes]`` (rows as in :func:`update_level`,
    in id order) to the owned cores, and append their ids to the step's ``scratch.spiked``
    from ``n_sp``. Returns the new length of ``scratch.spiked``."""
    ring, seg_delay_steps, spiked = state.ring, mode.seg_delay_steps, scratch.spiked
    upd_end = chip.upd_end
    n_slots = ring.shape[0]
    idle = chip.timing[TIMING_IDLE] != 0
    for i in range(n_spikes):
        j = np.int64(spikes[i, 0])
        payload = spikes[i, 1]
        if idle:
            upd_end[j] = np.int64(spikes[i, 2])
        spiked[n_sp] = j
        n_sp += 1
        for m in range(syn.msg_ptr[j], syn.msg_ptr[j + 1]):
            if not own_core[syn.msg_core[m]]:
                continue
            for g in range(syn.msg_seg_lo[m], syn.msg_seg_lo[m + 1]):
                target_row = ring[(k + seg_delay_steps[g]) % n_slots]
                for q in range(syn.seg_lo[g], syn.seg_lo[g + 1]):
                    target_row[syn.target[q]] += syn.weight[q] * payload
    return n_sp


@njit(cache=True)
def close_step(neurons, syn, chip, state, heap, counters, scratch, rec, n_sp, k, dt_ps,
               step_dur, i, contention):
    """End step ``k``: probe samples (owned columns are meaningful), then the step's timeline
    into ``step_dur[i]``. Returns 1 when the caller must finish the step
    (``timestep.finish_step_kernel`` or, with network contention, ``finish_step_noc_kernel``)
    after growing the queue to ``scratch.pending[1]`` free entries, else 0."""
    probe_ids, probe_meta = rec.probe_ids, rec.probe_meta
    if probe_ids.shape[0] > 0 and (k + 1) % (rec.probe_period_ps // dt_ps) == 0:
        row_p = probe_meta[0]
        rec.probe_t[row_p] = k * dt_ps
        for p in range(probe_ids.shape[0]):
            rec.probe_v[row_p, p] = state.v[probe_ids[p]]
            rec.probe_c[row_p, p] = state.cur[probe_ids[p]]
        probe_meta[0] = row_p + 1
    need = 0
    for s in range(n_sp):
        need += chip.push_need[scratch.spiked[s]]
    if contention or heap_free(heap) < need:
        scratch.pending[0] = n_sp
        scratch.pending[1] = need
        return 1
    step_dur[i] = step_timeline(neurons, syn, chip, heap, counters, scratch, rec, n_sp)
    return 0
