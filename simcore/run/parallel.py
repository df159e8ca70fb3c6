"""One run over several processes (MPI ranks), bit-identical to the same run in one process.

``mpiexec -n N aersim run ...`` (or ``aersim run ... --ranks N``, which launches it) starts N
copies of the run; each builds the same network, chip and mapping, and the cores holding neurons
are split into N contiguous blocks (``simcore.engine.partition``). In ``timestep`` mode a step
is, per zero-delay level of the network: every rank updates its own neurons, the level's spikes
are gathered on every rank (``Allgather`` of the counts, ``Allgatherv`` of (id, payload, update
end) rows, 24 bytes a spike), and every rank delivers all of them, in global id order, to the
synapses on its own cores. Every rank then runs the step's hardware timeline from the step's
global spike list, so counts, step durations and the message log are those of one process on
every rank without a reduction; on chips that price idle neurons the idle counts of each core
are summed over ranks (``Allreduce``) before the timeline.

Spikes (and probe samples) are gathered on every rank when the recorder is drained, in the
one-process order; rank 0 alone writes the trace (the HDF5 library of the ``h5py`` wheels is
serial, and one writer keeps the file exactly the one-process file).
"""

from __future__ import annotations

import numpy as np

from aersim.simcore.engine import partitioned
from aersim.simcore.engine import timestep as engine_timestep
from aersim.simcore.engine.build import TIMING_IDLE
from aersim.simcore.engine.partition import partition
from aersim.simcore.engine.queue import grow
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

    def __init__(self, sim, comm):
        MPI = load_mpi()
        self.MPI, self.comm = MPI, comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        if sim.mode != "timestep":
            raise ConfigError("async mode over several MPI ranks is not supported yet: run it "
                              "in one process, or use mode='timestep'")
        self.part = partition(sim.network, sim.neurons.core, sim.syn.msg_core,
                              sim.syn.msg_seg_lo, sim.syn.seg_lo, sim.chip.n_cores, self.size)
        n = sim.network.n_neurons
        self.own = self.part.neuron_rank == self.rank
        self.own_core = self.part.core_rank == self.rank
        # Concatenating the ranks' spikes in rank order gives id order when ranks own
        # increasing id ranges (the usual sequential mappings); otherwise they are sorted.
        self.rank_ordered = bool(np.all(np.diff(self.part.neuron_rank) >= 0))
        n_own = max(int(self.own.sum()), 1)
        self.out = np.zeros((n_own, 3), dtype=np.float64)
        self.ids = np.zeros(n_own, dtype=np.int32)
        self.sent = np.zeros(n_own, dtype=np.float64)
        self.gathered = np.zeros((max(n, 1), 3), dtype=np.float64)
        self.n_each = np.zeros(self.size, dtype=np.int64)
        self.n_idle_own = np.zeros(sim.chip.n_cores, dtype=np.int64)
        self.idle = bool(sim.chip_tables.timing[TIMING_IDLE])
        self.probe_owner = self.part.neuron_rank[sim.probe_ids] if sim.probe_ids.size else \
            np.zeros(0, np.int32)
        self.recorded = 0   # spikes of all ranks since the last drain

    # -- one step -------------------------------------------------------------------------------

    def _exchange(self, n_out: int) -> int:
        """Gather every rank's ``out[:n_out]`` into ``gathered``, in id order."""
        one = np.array([n_out], dtype=np.int64)
        self.comm.Allgather(one, self.n_each)
        total = int(self.n_each.sum())
        if total == 0:
            return 0
        cnt = self.n_each * 3
        displ = np.zeros(self.size, dtype=np.int64)
        np.cumsum(cnt[:-1], out=displ[1:])
        self.comm.Allgatherv(self.out[:n_out], [self.gathered, cnt, displ, self.MPI.DOUBLE])
        if not self.rank_ordered:
            rows = self.gathered[:total]
            rows[:] = rows[np.argsort(rows[:, 0], kind="stable")]
        return total

    def run_steps(self, sim, stim, k0, k1, durs, spikes_t, spikes_n, trace) -> np.ndarray:
        """Run steps ``k0 .. k1-1`` of ``sim`` (this rank's part) with this chunk's stimulus
        record ``stim``; step durations into ``durs``."""
        dt = sim.config.dt_ps
        n = sim.network.n_neurons
        levels = self.part.levels
        tables = (sim.neurons, sim.syn, sim.chip_tables)
        for k in range(k0, k1):
            if self._must_drain(sim, n):
                self.drain(sim, spikes_t, spikes_n, trace)
            partitioned.begin_step(sim.neurons, sim.chip_tables, sim.state, sim.counters, stim,
                                   self.own, self.own_core, self.n_idle_own, k, dt)
            if self.idle:
                self.comm.Allreduce(self.n_idle_own, sim.chip_tables.n_idle, op=self.MPI.SUM)
            n_sp = 0
            for lv in range(levels.shape[0] - 1):
                n_out = partitioned.update_level(
                    *tables, sim.mode_tables, sim.state, sim.rec, self.own, levels[lv],
                    levels[lv + 1], k, dt, self.ids, self.sent, self.out)
                total = self._exchange(n_out)
                n_sp = partitioned.deliver_level(
                    sim.syn, sim.chip_tables, sim.mode_tables, sim.state, sim.scratch,
                    self.own_core, k, self.gathered, total, n_sp)
            self.recorded += n_sp
            if partitioned.close_step(*tables, sim.state, sim.heap, sim.counters, sim.scratch,
                                      sim.rec, n_sp, k, dt, durs, k - k0, sim.contention):
                while sim.heap.e.shape[0] - int(sim.heap.meta[0]) < sim.scratch.pending[1]:
                    sim.heap = grow(sim.heap)
                finish = engine_timestep.finish_step_noc_kernel if sim.contention \
                    else engine_timestep.finish_step_kernel
                finish(*tables, sim.heap, sim.counters, sim.scratch, sim.rec, durs, k - k0)
            sim.n_steps_done += 1
        self.drain(sim, spikes_t, spikes_n, trace)
        return durs

    def _must_drain(self, sim, n: int) -> bool:
        """Whether the next step could overflow a buffer (the same answer on every rank: it
        depends on global spike counts and on the replicated message log and probes)."""
        rec = sim.rec
        return (self.recorded + n > rec.spike_t.shape[0]
                or (rec.mlog.shape[0] > 0
                    and int(rec.mlog_meta[0]) + sim.syn.msg_core.shape[0] > rec.mlog.shape[0])
                or (sim.probe_ids.size > 0 and int(rec.probe_meta[0]) >= rec.probe_t.shape[0]))

    # -- gathering results ----------------------------------------------------------------------

    def drain(self, sim, spikes_t, spikes_n, trace) -> None:
        """Gather the ranks' recorded spikes (and probe samples) in one-process order into
        ``sim``'s buffers and hand them on as one process does (``Simulation._drain``)."""
        rec = sim.rec
        k = int(rec.spike_meta[0])
        parts = self.comm.allgather((rec.spike_t[:k].copy(), rec.spike_n[:k].copy()))
        t = np.concatenate([p[0] for p in parts])
        nrn = np.concatenate([p[1] for p in parts])
        order = np.lexsort((nrn, t))
        m = t.size
        rec.spike_t[:m] = t[order]
        rec.spike_n[:m] = nrn[order]
        rec.spike_meta[0] = m
        if sim.probe_ids.size:
            rows = int(rec.probe_meta[0])
            chunks = self.comm.allgather((rec.probe_v[:rows].copy(), rec.probe_c[:rows].copy()))
            for i, owner in enumerate(self.probe_owner):
                rec.probe_v[:rows, i] = chunks[owner][0][:, i]
                rec.probe_c[:rows, i] = chunks[owner][1][:, i]
        self.recorded = 0
        sim._drain(spikes_t, spikes_n, trace)
