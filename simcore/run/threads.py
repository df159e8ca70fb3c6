"""One run over several threads of this process, bit-identical to the same run in one thread.

The ranks of a partitioned run (``simcore.run.parallel``) need from MPI only a few collective
operations; :class:`ThreadComm` provides them between threads of one process, so that the same
``RankRun`` runs each share of the network in a thread of its own: the network is built once
and shared (every thread reads it), no MPI runtime is needed, and the spikes of a batch pass
through memory instead of a launcher's shared-memory channel. The engine kernels a rank calls
in its loop release the GIL (``nogil``), so the threads' kernels run on separate cores; the
Python between them (one exchange per batch of steps) holds it briefly.

Each collective is one wait on one barrier: every thread puts its part (a copy of an array
buffer) in its slot, waits until all have, and reads all of them. The slots alternate between
two sets, so that a slot is written again only two collectives later, when every thread has
passed the next wait and so has finished reading it. A thread that fails aborts the barrier,
so that the others stop with it instead of waiting for ever (:func:`run_threads` raises the
failure).
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np

#: The names of ``mpi4py.MPI`` that ``RankRun`` uses, for a :class:`ThreadComm`.
THREAD_MPI = SimpleNamespace(IN_PLACE=object(), DOUBLE=np.float64, MAX=np.maximum, SUM=np.add)


class ThreadWorld:
    """The shared state of ``n`` threads' communicators."""

    def __init__(self, n: int):
        self.n = n
        self.barrier = threading.Barrier(n)
        self.slots = ([None] * n, [None] * n)

    def comm(self, rank: int) -> ThreadComm:
        return ThreadComm(self, rank)


class ThreadComm:
    """An mpi4py-like communicator between the threads of a :class:`ThreadWorld` (the
    operations ``RankRun`` uses: ``allgather``, ``bcast``, ``Allgather``, ``Allgatherv``,
    ``Allreduce``, ``Barrier``), with the same results as MPI's."""

    MPI = THREAD_MPI

    def __init__(self, world: ThreadWorld, rank: int):
        self.world, self.rank = world, rank
        self.calls = 0      # collectives so far: every thread makes the same ones in order

    def Get_rank(self) -> int:  # noqa: N802 (mpi4py's names)
        return self.rank

    def Get_size(self) -> int:  # noqa: N802
        return self.world.n

    def _share(self, part, read):
        """Put this thread's ``part`` in its slot and return ``read(parts)``, every thread's
        parts in rank order. No slot that ``read`` sees is written again before every thread
        has finished reading it (see the module's note); ``part`` itself must not change
        until then either, so the array collectives pass copies."""
        w = self.world
        slots = w.slots[self.calls % 2]
        self.calls += 1
        slots[self.rank] = part
        w.barrier.wait()
        return read(slots)

    def allgather(self, obj) -> list:
        return self._share(obj, list)

    def bcast(self, obj, root: int = 0):
        return self._share(obj if self.rank == root else None, lambda parts: parts[root])

    def Barrier(self) -> None:  # noqa: N802
        self.world.barrier.wait()

    def Allgather(self, send: np.ndarray, recv: np.ndarray) -> None:  # noqa: N802
        """``recv[r]`` = thread ``r``'s ``send`` (``recv``: ``(n, *send.shape)``)."""
        def read(parts):
            for r, part in enumerate(parts):
                recv[r] = part
        self._share(np.array(send), read)

    def Allgatherv(self, send: np.ndarray, spec) -> None:  # noqa: N802
        """``spec`` = ``[recv, counts, displacements, type]`` (elements): thread ``r``'s
        ``send`` flattened into ``recv`` from ``displacements[r]`` on."""
        flat, counts, displ = spec[0].reshape(-1), spec[1], spec[2]

        def read(parts):
            for r, part in enumerate(parts):
                flat[displ[r]:displ[r] + counts[r]] = part.reshape(-1)
        self._share(np.array(send), read)

    def Allreduce(self, in_place, buf: np.ndarray, op) -> None:  # noqa: N802
        """``buf`` = ``op`` of every thread's ``buf`` (``in_place`` must be ``MPI.IN_PLACE``),
        reduced in rank order."""
        if in_place is not THREAD_MPI.IN_PLACE:
            raise ValueError("ThreadComm.Allreduce reduces in place only")

        def read(parts):
            out = parts[0].copy()
            for part in parts[1:]:
                op(out, part, out=out)
            return out
        buf[...] = self._share(buf.copy(), read)


def run_threads(n: int, target) -> list:
    """``target(comm)`` on ``n`` threads (rank 0 in the calling thread), each with its
    :class:`ThreadComm`; returns their results in rank order. If any fails, the others are
    released from their waits and the first failure is raised."""
    world = ThreadWorld(n)
    results, errors = [None] * n, [None] * n

    def one(rank):
        try:
            results[rank] = target(world.comm(rank))
        except BaseException as exc:   # every failure must release the other threads
            errors[rank] = exc
            world.barrier.abort()

    threads = [threading.Thread(target=one, args=(r,), name=f"aersim-rank-{r}", daemon=True)
               for r in range(1, n)]
    for t in threads:
        t.start()
    one(0)
    for t in threads:
        t.join()
    failures = [e for e in errors if e is not None]
    root = [e for e in failures if not isinstance(e, threading.BrokenBarrierError)]
    if root or failures:
        raise (root or failures)[0]
    return results
