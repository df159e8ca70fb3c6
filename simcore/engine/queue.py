"""The event queue: an array-based binary min-heap for the Numba kernels.

Entries are ordered by ``(t_ps, key, seq)``:

- ``t_ps`` int64 simulated time in picoseconds;
- ``key`` int64 ``kind << KIND_SHIFT | tiebreak``: the kind's priority first, then a tiebreak
  that the caller derives from the event's content (a neuron id, a message index), so the order
  of simultaneous events is defined by what they are rather than by when they were pushed;
- ``seq`` int64 push counter, which makes the order total and deterministic.

Two int64 payload words ``a`` and ``b`` ride along. An entry is one row of a ``(capacity, 5)``
int64 array (columns t, key, seq, a, b): one row is 40 contiguous bytes, which measured about
1.4x faster than five separate column arrays, and a binary heap beat a 4-ary one here. Sifting
moves a hole instead of swapping. ``meta[0]`` is the size and ``meta[1]`` the next sequence
number. Kernels never reallocate: they return a status when a heap is nearly full and the Python
wrapper grows it (:func:`grow`), so no Python work happens per event.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

KIND_SHIFT = 58
TIEBREAK_MASK = (1 << KIND_SHIFT) - 1
_T, _KEY, _SEQ, _A, _B = range(5)


class Heap(NamedTuple):
    """The arrays of one heap."""

    e: np.ndarray     # int64 (capacity, 5): t_ps, key, seq, a, b
    meta: np.ndarray  # int64 (2,): size, next seq


def new_heap(capacity: int = 1024) -> Heap:
    """An empty heap with room for ``capacity`` entries."""
    capacity = max(int(capacity), 16)
    return Heap(np.zeros((capacity, 5), dtype=np.int64), np.zeros(2, dtype=np.int64))


def grow(heap: Heap, factor: int = 2) -> Heap:
    """A copy of ``heap`` with ``factor`` times the capacity."""
    size = int(heap.meta[0])
    bigger = new_heap(heap.e.shape[0] * factor)
    bigger.e[:size] = heap.e[:size]
    bigger.meta[:] = heap.meta
    return bigger


@njit(cache=True, inline="always")
def make_key(kind, tiebreak):
    """Pack a kind priority (0..31) and a non-negative tiebreak into one int64 key."""
    return (np.int64(kind) << KIND_SHIFT) | np.int64(tiebreak)


@njit(cache=True, inline="always")
def _row_before(e, i, t, key, seq):
    """True when row ``i`` comes before the entry ``(t, key, seq)``."""
    if e[i, _T] != t:
        return e[i, _T] < t
    if e[i, _KEY] != key:
        return e[i, _KEY] < key
    return e[i, _SEQ] < seq


@njit(cache=True, inline="always")
def _move(e, dst, src):
    e[dst, 0] = e[src, 0]
    e[dst, 1] = e[src, 1]
    e[dst, 2] = e[src, 2]
    e[dst, 3] = e[src, 3]
    e[dst, 4] = e[src, 4]


@njit(cache=True, inline="always")
def heap_push(h, t, key, a, b):
    """Insert an entry. The caller guarantees ``size < capacity`` (see module doc)."""
    e = h.e
    i = h.meta[0]
    seq = h.meta[1]
    h.meta[0] = i + 1
    h.meta[1] = seq + 1
    while i > 0:
        parent = (i - 1) >> 1
        if _row_before(e, parent, t, key, seq):
            break
        _move(e, i, parent)
        i = parent
    e[i, _T] = t
    e[i, _KEY] = key
    e[i, _SEQ] = seq
    e[i, _A] = a
    e[i, _B] = b


@njit(cache=True, inline="always")
def heap_pop(h):
    """Remove the first entry and return ``(t, key, a, b)``. The heap must not be empty."""
    e = h.e
    t, key, a, b = e[0, _T], e[0, _KEY], e[0, _A], e[0, _B]
    n = h.meta[0] - 1
    h.meta[0] = n
    if n > 0:
        lt, lk, ls, la, lb = e[n, _T], e[n, _KEY], e[n, _SEQ], e[n, _A], e[n, _B]
        i = 0
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            right = child + 1
            if right < n and _row_before(e, right, e[child, _T], e[child, _KEY], e[child, _SEQ]):
                child = right
            if not _row_before(e, child, lt, lk, ls):
                break
            _move(e, i, child)
            i = child
        e[i, _T] = lt
        e[i, _KEY] = lk
        e[i, _SEQ] = ls
        e[i, _A] = la
        e[i, _B] = lb
    return t, key, a, b


@njit(cache=True, inline="always")
def heap_append(h, t, key, a, b):
    """Add an entry at the end, unordered: for a batch of entries that is only read once all
    are in (:func:`take_in_order`), which one sort orders faster than sifting each. The caller
    guarantees ``size < capacity``; the heap must be empty before a batch and is not a heap
    again until the batch is taken."""
    e = h.e
    i = h.meta[0]
    e[i, _T] = t
    e[i, _KEY] = key
    e[i, _SEQ] = h.meta[1]
    e[i, _A] = a
    e[i, _B] = b
    h.meta[0] = i + 1
    h.meta[1] += 1


@njit(cache=True)
def take_in_order(h):
    """Empty a heap filled by :func:`heap_append`; return the times and ``a`` words of its
    entries (two int64 arrays) in the order :func:`heap_pop` would give them: by
    ``(t, key, seq)``.

    Rows were appended in ``seq`` order, so two stable sorts (by key, then by time) order
    them; the first is skipped when the keys were appended in order, as a timestep's messages
    are (spikes in neuron order, each spike's messages in table order)."""
    n = h.meta[0]
    e = h.e
    # The test first, the arrays after: a loop that may rebind an array costs a reference-count
    # increment and decrement at every pass (Numba), here one pair per message of the step.
    in_key_order = True
    for i in range(1, n):
        if e[i, _KEY] < e[i - 1, _KEY]:
            in_key_order = False
            break
    order = np.arange(n) if in_key_order else stable_order(e[:n, _KEY].copy())
    t = np.empty(n, dtype=np.int64)
    for i in range(n):
        t[i] = e[order[i], _T]
    by_time = stable_order(t)
    a = np.empty(n, dtype=np.int64)
    for i in range(n):
        a[i] = e[order[by_time[i]], _A]
    h.meta[0] = 0
    return t[by_time], a


#: Runs that :func:`stable_order` sorts by insertion before merging them.
_RUN = 16


@njit(cache=True)
def stable_order(x):
    """The permutation (int64) that sorts ``x`` (int64, contiguous), equal values kept in
    their order: insertion-sorted runs of ``_RUN`` merged pairwise. (NumPy's stable
    ``argsort`` in Numba sorts as well but took seconds to compile in the engine kernel.)"""
    n = x.shape[0]
    src = np.arange(n)
    dst = np.empty(n, dtype=np.int64)
    for lo in range(0, n, _RUN):
        for i in range(lo + 1, min(lo + _RUN, n)):
            v = src[i]
            j = i - 1
            while j >= lo and x[src[j]] > x[v]:
                src[j + 1] = src[j]
                j -= 1
            src[j + 1] = v
    width = _RUN
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            i, j = lo, mid
            for k in range(lo, hi):
                # Equal values: the left run's first, which keeps the sort stable.
                if j < hi and (i == mid or x[src[j]] < x[src[i]]):
                    dst[k] = src[j]
                    j += 1
                else:
                    dst[k] = src[i]
                    i += 1
        src, dst = dst, src
        width *= 2
    return src


@njit(cache=True, inline="always")
def heap_top_time(h):
    """Time of the first entry; the heap must not be empty."""
    return h.e[0, _T]


@njit(cache=True, inline="always")
def heap_top_key(h):
    """Key of the first entry; the heap must not be empty."""
    return h.e[0, _KEY]


@njit(cache=True, inline="always")
def heap_size(h):
    """Number of entries."""
    return h.meta[0]


@njit(cache=True, inline="always")
def heap_free(h):
    """Number of entries that can still be pushed."""
    return h.e.shape[0] - h.meta[0]


class EventQueue:
    """A Python handle on a :class:`Heap`, for tests and tools (the engines use the kernels).

    Grows automatically. ``push(t_ps, kind, tiebreak, a=0, b=0)``; ``pop()`` returns
    ``(t_ps, kind, tiebreak, a, b)``.
    """

    def __init__(self, capacity: int = 1024):
        self.heap = new_heap(capacity)

    def __len__(self) -> int:
        return int(self.heap.meta[0])

    def push(self, t_ps: int, kind: int, tiebreak: int, a: int = 0, b: int = 0) -> None:
        if not 0 <= kind < 32 or not 0 <= tiebreak <= TIEBREAK_MASK:
            raise ValueError(f"kind must be in 0..31 and tiebreak in 0..2**{KIND_SHIFT}-1, "
                             f"got kind={kind}, tiebreak={tiebreak}")
        if len(self) == self.heap.e.shape[0]:
            self.heap = grow(self.heap)
        heap_push(self.heap, np.int64(t_ps), make_key(kind, tiebreak), np.int64(a), np.int64(b))

    def pop(self) -> tuple:
        if not len(self):
            raise IndexError("pop from an empty event queue")
        t, key, a, b = heap_pop(self.heap)
        return int(t), int(key >> KIND_SHIFT), int(key & TIEBREAK_MASK), int(a), int(b)


@njit(cache=True)
def queue_throughput_kernel(h, n_pairs, window_ps, seed):
    """Benchmark kernel: ``n_pairs`` pop+push pairs on a pre-filled heap (the hold model).

    Each popped entry is pushed again at its time plus a pseudo-random increment in
    ``[0, window_ps)``, keeping the size constant as in a running simulation. Returns the sum of
    popped times (so the work cannot be optimised away).
    """
    x = np.uint64(seed) | np.uint64(1)
    total = 0
    for _ in range(n_pairs):
        t, key, a, b = heap_pop(h)
        total += t
        x ^= x >> np.uint64(12)
        x ^= x << np.uint64(25)
        x ^= x >> np.uint64(27)
        dt = np.int64((x * np.uint64(0x2545F4914F6CDD1D)) >> np.uint64(33)) % window_ps
        heap_push(h, t + dt, key, a, b)
    return total
