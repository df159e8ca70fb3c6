"""The event queue against Python's heapq, including equal times and growth."""

import heapq

import numpy as np
import pytest

from aersim.simcore.engine.queue import EventQueue, grow, heap_pop, heap_push, make_key, new_heap


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_heapq_on_random_push_pop(seed):
    rng = np.random.default_rng(seed)
    q = EventQueue(capacity=16)   # small: forces several grow() calls
    ref = []
    popped = 0
    for i in range(20000):
        if rng.random() < 0.55 or not ref:
            # Few distinct times, kinds and tiebreaks: plenty of exact ties.
            t, kind, tb = int(rng.integers(0, 40)), int(rng.integers(0, 4)), int(rng.integers(0, 3))
            q.push(t, kind, tb, a=i, b=-i)
            heapq.heappush(ref, (t, kind, tb, i))
        else:
            got = q.pop()
            exp = heapq.heappop(ref)
            assert got == (exp[0], exp[1], exp[2], exp[3], -exp[3])
            popped += 1
    while ref:
        exp = heapq.heappop(ref)
        assert q.pop()[:4] == exp
    assert len(q) == 0 and popped > 1000


def test_equal_keys_pop_in_push_order():
    q = EventQueue()
    for i in range(100):
        q.push(5, 1, 7, a=i)
    assert [q.pop()[3] for _ in range(100)] == list(range(100))


def test_grow_keeps_entries():
    h = new_heap(16)
    for i in range(16):
        heap_push(h, np.int64(100 - i), make_key(0, i), np.int64(i), np.int64(0))
    h = grow(h)
    assert h.e.shape[0] == 32
    heap_push(h, np.int64(0), make_key(0, 99), np.int64(99), np.int64(0))
    times = [int(heap_pop(h)[0]) for _ in range(17)]
    assert times == sorted(times) and times[0] == 0


def test_errors():
    q = EventQueue()
    with pytest.raises(IndexError, match="empty"):
        q.pop()
    with pytest.raises(ValueError, match="kind must be in 0..31"):
        q.push(0, 40, 0)
