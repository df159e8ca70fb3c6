"""One run over several processes (MPI ranks), bit-identical to the same run in one process.

``mpiexec -n N aersim run ...`` (or ``aersim run ... --ranks N``, which launches it) starts N
copies of the run; each builds the same network, chip and mapping, and the cores holding neurons
are split into N contiguous blocks (``simcore.engine.partition``). In ``timestep`` mode ranks
update their own neurons for a batch of steps (up to the smallest synaptic delay; one step per
zero-delay level when the network has zero-delay synapses), gather the batch's spikes on every
rank (one ``Allgather`` of (step, id, payload, update end) rows, 32 bytes a spike, carrying the
per-core idle counts on chips that price idle neurons), and deliver all of them, in global
order, to the synapses on their own cores. The hardware timeline is split by step: every rank
has every spike, and step ``k``'s whole timeline (its duration, the counts of its spikes and
messages, its traffic on the links) runs on rank ``k % N``, from the kept rows of the
exchanges, after the chunk's batches; the ranks' durations, counts and link counters are
summed once per chunk. When the message log is kept (it comes out in one-process order),
every rank runs every step's timeline as it delivers the step.

The exchange brings every spike to every rank, merged in the one-process order (step, then
neuron id), so each rank records all of them as it delivers them; probe samples are gathered
from their neurons' owners when the recorder is drained. Rank 0 alone writes the trace (the
HDF5 library of the ``h5py`` wheels is serial, and one writer keeps the file exactly the
one-process file). See docs/parallel.md.
"""

from __future__ import annotations

import numpy as np

from aersim.hardware.energy import STIM_IN
from aersim.simcore.engine import partitioned
from aersim.simcore.engine import timestep as engine_timestep
from aersim.simcore.engine.build import (
    LINK_MAX_QUEUE_FLITS,
    META_DELIVERED,
    META_INJECTED,
    TIMING_IDLE,
    delay_steps,
)
from aersim.simcore.engine.partition import partition
from aersim.simcore.engine.synapse_tables import delivery_runs
from aersim.simcore.errors import ConfigError
from aersim.simcore.run.mpi import load_mpi


def open_on_rank0(comm, open_trace):
    """``open_trace()`` on rank 0 only (None elsewhere); when it fails there, every rank
    raises, so that no rank waits for the others in the run."""
    if comm is None:
        return open_trace()
    trace, error = None, None
    if comm.Get_rank() == 0:
        try:
            trace = open_trace()
        except Exception as exc:  # every rank must learn of it before raising
            error = exc
    failed = comm.bcast(error is not None, root=0)
    if error is not None:
        raise error
    if failed:
        raise ConfigError("rank 0 could not create the trace (its error is printed there)")
    return trace


class RankRun:
    """This rank's share of a partitioned ``timestep`` run of ``sim`` over ``comm``."""

    #: Most steps a rank runs between two exchanges, and most bytes of spikes it buffers.
    MAX_BATCH = 64
    MAX_BUFFER_BYTES = 64 << 20
    #: Most bytes of gathered spikes a rank keeps for the timelines it runs later.
    MAX_PENDING_BYTES = 64 << 20

    def __init__(self, sim, comm):
        # A communicator between threads (simcore.run.threads) brings its own constants.
        self.MPI, self.comm = getattr(comm, "MPI", None) or load_mpi(), comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        if sim.mode != "timestep":
            raise ConfigError("async mode over several MPI ranks or threads is not supported "
                              "yet: run it in one process and thread (no --ranks or "
                              "--threads), or use --mode timestep")
        self.part = partition(sim.network, sim.neurons.core, sim.syn, sim.chip.n_cores,
                              self.size)
        self.own = self.part.neuron_rank == self.rank
        self.own_core = self.part.core_rank == self.rank
        # The owned cores are one block of core numbers (cores between them hold no neurons,
        # so no message goes to them).
        owned = np.flatnonzero(self.own_core)
        self.core_lo, self.core_hi = int(owned[0]), int(owned[-1]) + 1
        delays = delay_steps(sim.syn, sim.config.dt_ps)
        # A rank delivers only to its own cores (its update loop never fans out): its mode
        # tables keep the delivery runs of each neuron's synapses there, in place of all.
        run_ptr, runs = delivery_runs(sim.syn, delays, *partitioned.owned_messages(
            sim.syn.msg_ptr, sim.syn.msg_core, self.core_lo, self.core_hi))
        sim.mode_tables = sim.mode_tables._replace(run_ptr=run_ptr, runs=runs)
        # Lookahead: no spike reaches a neuron sooner than the smallest delay, so ranks run
        # that many steps between exchanges (zero-delay synapses: one zero-delay level).
        self.lookahead = int(delays.min()) if delays.size else self.MAX_BATCH
        n_own = max(int(self.own.sum()), 1)
        # Batch sizes and exchange widths must agree on every rank: they follow the largest
        # rank's neuron count.
        n_most = int(np.bincount(self.part.neuron_rank, minlength=self.size).max())
        self.max_batch = max(1, min(self.lookahead, self.MAX_BATCH,
                                    self.MAX_BUFFER_BYTES // (32 * n_most)))
        self.levels = self.part.levels if self.lookahead == 0 else \
            np.array([0, sim.network.n_neurons], dtype=np.int64)
        # The ids a rank's update loop walks: its own when they are one block (the usual
        # sequential mappings), so that a rank's step does not grow with the whole network's
        # size; else all of them, each checked against ``own``.
        ids = np.flatnonzero(self.own)
        contiguous = ids.size > 0 and ids[-1] - ids[0] + 1 == ids.size
        self.id_lo, self.id_hi = (int(ids[0]), int(ids[-1]) + 1) if contiguous else \
            (0, sim.network.n_neurons)
        self.out = np.zeros((n_own * self.max_batch, 4), dtype=np.float64)
        self.ids = np.zeros(n_own, dtype=np.int32)
        self.pays = np.zeros(n_own, dtype=np.float64)
        # Rows each rank sends in the one Allgather of a batch (grows when one has more).
        self.max_rows = n_most * self.max_batch
        self.cap = min(64, self.max_rows)
        self.send = np.empty(0, dtype=np.float64)
        self.recv = np.empty(0, dtype=np.float64)
        # No rank sent more than ``cap`` rows (the usual batch): nothing beyond the Allgather.
        self.no_more = np.empty((0, 4), dtype=np.float64)
        self.no_more_at = np.zeros(self.size + 1, dtype=np.int64)
        self.done = np.zeros(2, dtype=np.int64)
        self.idle = bool(sim.chip_tables.timing[TIMING_IDLE])
        self.idle_own = np.zeros((self.max_batch, sim.chip.n_cores), dtype=np.int64)
        self.idle_sum = np.zeros_like(self.idle_own)
        # The timeline splits by step (step k's on rank k % N, run from the gathered spikes
        # after the chunk's batches) unless the message log is kept (it stays the one-process
        # log, in that order, on every rank, each step's as it is delivered).
        self.split = not sim.rec.mlog.shape[0]
        self.pending: list = []     # (rows, first step, end step, idle sums, index in durs)
        self.pending_bytes = 0
        self.close_done = np.zeros(2, dtype=np.int64)   # next step, its first row
        self.concurrent = engine_timestep.receive_flag(sim.chip_tables)
        self.models = engine_timestep.model_flags(sim.neurons)
        self.probe_owner = self.part.neuron_rank[sim.probe_ids] if sim.probe_ids.size else \
            np.zeros(0, np.int32)

    # -- steps ----------------------------------------------------------------------------------

    def _exchange(self, n_out: int, batch: int) -> np.ndarray:
        """Every rank's ``out[:n_out]`` rows, in (step, id) order; with idle pricing, the
        ranks' idle counts of the batch summed into ``idle_sum[:batch]``.

        One ``Allgather`` carries each rank's count, its idle counts and up to ``cap`` rows
        (``partitioned.pack_rows``); a rank with more sends the rest in an ``Allgatherv`` that
        every rank joins (each sees every count), and ``cap`` grows alike on every rank. The
        buffers are kept between batches, and packing and merging are one kernel call each.
        """
        n_idle = batch if self.idle else 0
        head = 1 + n_idle * self.idle_own.shape[1]
        width = head + 4 * self.cap
        if self.send.shape[0] < width:
            self.send = np.empty(width, dtype=np.float64)
            self.recv = np.empty(self.size * width, dtype=np.float64)
        send = self.send[:width]
        recv = self.recv[:self.size * width].reshape(self.size, width)
        partitioned.pack_rows(send, self.out, n_out, self.idle_own, n_idle, self.cap)
        self.comm.Allgather(send, recv)
        more, more_at, cap = self.no_more, self.no_more_at, self.cap
        if recv[:, 0].max() > self.cap:
            counts = recv[:, 0].astype(np.int64)
            cap = int(min(2 * counts.max(), self.max_rows))
            extra = np.maximum(counts - self.cap, 0)
            more_at = np.zeros(self.size + 1, dtype=np.int64)
            np.cumsum(extra, out=more_at[1:])
            more = np.empty((int(more_at[-1]), 4), dtype=np.float64)
            self.comm.Allgatherv(self.out[min(n_out, self.cap):n_out],
                                 [more, extra * 4, more_at[:-1] * 4, self.MPI.DOUBLE])
        rows = partitioned.merge_rank_rows(recv, head, self.cap, more, more_at,
                                           self.idle_sum, n_idle)
        self.cap = cap
        return rows

    def run_steps(self, sim, stim, k0, k1, durs, spikes_t, spikes_n, trace) -> np.ndarray:
        """Run steps ``k0 .. k1-1`` of ``sim`` (this rank's part) with this chunk's stimulus
        record ``stim``; step durations into ``durs``."""
        dt = sim.config.dt_ps
        n = sim.network.n_neurons
        rec = sim.rec
        before = self._counters(sim)
        clock0 = int(sim.counters.hw_clock[0])
        # Kept rows index this chunk's ``durs``: none may outlive a chunk that raised.
        self.pending.clear()
        self.pending_bytes = 0
        k = k0
        while k < k1:
            batch = min(self.max_batch, k1 - k,
                        max(1, rec.spike_t.shape[0] // max(n, 1)),
                        max(1, rec.probe_t.shape[0]) if sim.probe_ids.size else k1 - k)
            if self._must_drain(sim, n * batch, batch):
                self.drain(sim, spikes_t, spikes_n, trace)
            ke = k + batch
            n_lv = self.levels.shape[0] - 1
            spiked = 0
            levels_rows = []
            for lv in range(n_lv):
                n_out = partitioned.update_steps(
                    sim.neurons, sim.syn, sim.chip_tables, sim.mode_tables, sim.state,
                    sim.counters, stim, rec, self.own, self.own_core, self.idle_own, k, ke,
                    max(self.levels[lv], self.id_lo),
                    max(min(self.levels[lv + 1], self.id_hi), self.id_lo), lv == 0,
                    lv == n_lv - 1, dt,
                    self.ids, self.pays, self.out, self.models, self.id_lo, self.id_hi)
                rows = self._exchange(n_out, batch)
                if n_lv > 1:
                    # Zero-delay synapses (one step per batch): deliver before the next level.
                    spiked = partitioned.deliver_step(
                        sim.syn, sim.chip_tables, sim.mode_tables, sim.state, sim.scratch,
                        rec, rows, 0, rows.shape[0], spiked, dt)
                    levels_rows.append(rows)
            if n_lv == 1:
                self._deliver_close(sim, rows, k, ke, k0, durs, spikes_t, spikes_n, trace)
            elif self.split:
                sim.n_steps_done += 1
                rows = np.concatenate(levels_rows)      # the levels are ascending id ranges
            else:
                self._close(sim, spiked, durs, k - k0)
            if self.split:
                idle = self.idle_sum[:batch].copy() if self.idle else self.idle_sum[:batch]
                self.pending.append((rows, k, ke, idle, k - k0))
                self.pending_bytes += rows.nbytes + (idle.nbytes if self.idle else 0)
                if self.pending_bytes > self.MAX_PENDING_BYTES:
                    self._close_pending(sim, durs)
            k = ke
        if self.split:
            self._close_pending(sim, durs)
        self._reduce(sim, durs, before)
        if self.split:
            sim.counters.hw_clock[0] = clock0 + int(durs.sum())
        self.drain(sim, spikes_t, spikes_n, trace)
        return durs

    def _close_pending(self, sim, durs) -> None:
        """Run the timelines of this rank's steps among the batches kept since the last call
        (``partitioned.close_steps``: step ``k``'s on rank ``k % N``); the other steps'
        durations stay 0 here."""
        done = self.close_done
        for rows, kb, ke, idle_sum, i0 in self.pending:
            done[0], done[1] = kb, 0
            while partitioned.close_steps(
                    sim.neurons, sim.syn, sim.chip_tables, sim.heap, sim.counters, sim.scratch,
                    sim.rec, rows, kb, ke, idle_sum, durs, i0, sim.contention, self.concurrent,
                    self.size, self.rank, done):
                step = int(done[0])
                sim.finish_held_step(durs, i0 + step - kb, self.concurrent)
                done[0] = step + 1
        self.pending.clear()
        self.pending_bytes = 0

    @staticmethod
    def _counters(sim) -> tuple:
        """Copies of the counters a chunk adds to: operation counts (cores by operation), the
        chip-to-chip links' and the on-chip links' counters, the packet counts (injected,
        delivered) of the contention model."""
        noc = sim.chip_tables.noc
        return (sim.counters.ops.copy(), sim.chip_tables.link_stats.copy(),
                noc.link_stats.copy(), noc.meta[META_INJECTED:META_DELIVERED + 1].copy())

    def _reduce(self, sim, durs, before) -> None:
        """Sum this chunk's counters over the ranks, once per chunk: the drive's events
        (``STIM_IN``) from each core's owner, the only rank that drew them; with the timeline
        split by step, also each step's duration (``durs``, 0 on the other ranks) and everything
        its timeline counted (the largest queue of a link is the largest of the ranks')."""
        ops0, chip_links0, links0, packets0 = before
        ops = sim.counters.ops
        sum_ = self.MPI.SUM
        if not self.split:
            # The whole timeline ran on every rank, but each core's drive events on its owner.
            delta = (ops[:, STIM_IN] - ops0[:, STIM_IN]) * self.own_core
            self.comm.Allreduce(self.MPI.IN_PLACE, delta, op=sum_)
            ops[:, STIM_IN] = ops0[:, STIM_IN] + delta
            return
        self.comm.Allreduce(self.MPI.IN_PLACE, durs, op=sum_)
        delta = ops - ops0
        delta[:, STIM_IN] *= self.own_core
        self.comm.Allreduce(self.MPI.IN_PLACE, delta, op=sum_)
        ops[:] = ops0 + delta
        chip_links = sim.chip_tables.link_stats
        if chip_links.size:
            delta = chip_links - chip_links0
            self.comm.Allreduce(self.MPI.IN_PLACE, delta, op=sum_)
            chip_links[:] = chip_links0 + delta
        if sim.contention:
            noc = sim.chip_tables.noc
            delta = noc.link_stats - links0
            self.comm.Allreduce(self.MPI.IN_PLACE, delta, op=sum_)
            most = noc.link_stats[:, LINK_MAX_QUEUE_FLITS].copy()
            self.comm.Allreduce(self.MPI.IN_PLACE, most, op=self.MPI.MAX)
            noc.link_stats[:] = links0 + delta
            noc.link_stats[:, LINK_MAX_QUEUE_FLITS] = most
            packets = noc.meta[META_INJECTED:META_DELIVERED + 1]
            delta = packets - packets0
            self.comm.Allreduce(self.MPI.IN_PLACE, delta, op=sum_)
            packets[:] = packets0 + delta

    def _deliver_close(self, sim, rows, k, ke, k0, durs, spikes_t, spikes_n, trace) -> None:
        """Deliver and close steps ``k .. ke-1`` from their gathered spikes ``rows`` in one
        kernel call (``partitioned.deliver_close_steps``), stepping out only to drain the
        message log or to grow the queue / run a contended step."""
        done = self.done
        done[1] = 0
        s = k
        while s < ke:
            why = partitioned.deliver_close_steps(
                sim.neurons, sim.syn, sim.chip_tables, sim.mode_tables, sim.state, sim.heap,
                sim.counters, sim.scratch, sim.rec, rows, int(done[1]), s, ke,
                self.idle_sum[s - k:], durs, s - k0, sim.contention, self.concurrent,
                not self.split, done, sim.config.dt_ps)
            stop = int(done[0])
            sim.n_steps_done += stop - s
            if why == 2:
                self.drain(sim, spikes_t, spikes_n, trace)
            elif why == 1:
                # The held step is delivered; its timeline runs once the queue has room.
                sim.finish_held_step(durs, stop - k0, self.concurrent)
                sim.n_steps_done += 1
                stop += 1
            s = stop

    def _close(self, sim, n_sp: int, durs, i: int) -> None:
        """The hardware timeline, now, of the step of one batch (a network with zero-delay
        levels) whose global spikes are ``scratch.spiked[:n_sp]``, where every rank runs every
        step's as it delivers it (the message log is kept)."""
        sim.n_steps_done += 1
        if partitioned.close_step(sim.neurons, sim.syn, sim.chip_tables, sim.heap, sim.counters,
                                  sim.scratch, sim.rec, n_sp, self.idle_sum[0], durs, i,
                                  sim.contention, self.concurrent):
            sim.finish_held_step(durs, i, self.concurrent)

    def _must_drain(self, sim, spikes: int, samples: int) -> bool:
        """Whether ``spikes`` more spikes, ``samples`` more probe rows or one more step's
        messages could overflow a buffer (the same answer on every rank: every rank records
        every spike, and the message log and probe rows are replicated)."""
        rec = sim.rec
        return (int(rec.spike_meta[0]) + spikes > rec.spike_t.shape[0]
                or (rec.mlog.shape[0] > 0
                    and int(rec.mlog_meta[0]) + sim.syn.msg_core.shape[0] > rec.mlog.shape[0])
                or (samples > 0 and sim.probe_ids.size > 0
                    and int(rec.probe_meta[0]) + samples > rec.probe_t.shape[0]))

    # -- gathering results ----------------------------------------------------------------------

    def share_state(self, sim) -> None:
        """Each neuron's state (``v``, ``cur``, ``aux1``, ``aux2``, refractory steps) from its
        owning rank into every rank's ``sim.state``: the state a one-process run ends with."""
        st = sim.state
        own = np.flatnonzero(self.own)
        arrays = (st.v, st.cur, st.aux1, st.aux2, st.ref_count)
        for ids, values in self.comm.allgather((own, [a[own] for a in arrays])):
            for a, vals in zip(arrays, values, strict=True):
                a[ids] = vals

    def drain(self, sim, spikes_t, spikes_n, trace) -> None:
        """Hand the recorded spikes on as one process does (``Simulation._drain``): every
        rank recorded all of them in one-process order on delivery; the probe samples are
        gathered from their neurons' owners first."""
        rec = sim.rec
        if sim.probe_ids.size:
            rows = int(rec.probe_meta[0])
            chunks = self.comm.allgather((rec.probe_v[:rows].copy(), rec.probe_c[:rows].copy()))
            for i, owner in enumerate(self.probe_owner):
                rec.probe_v[:rows, i] = chunks[owner][0][:, i]
                rec.probe_c[:rows, i] = chunks[owner][1][:, i]
        sim._drain(spikes_t, spikes_n, trace)
