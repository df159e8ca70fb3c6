"""The event queue against Python's heapq, including equal times and growth."""

import heapq

import numpy as np
import pytest

from aersim.simcore.engine.queue import (
    EventQueue,
    grow,
    heap_append,
    heap_pop,
    heap_push,
    make_key,
    new_heap,
    stable_order,
    take_in_order,
)


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


@pytest.mark.parametrize("keys_in_order", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_appended_batch_is_taken_in_pop_order(seed, keys_in_order):
    """A batch appended unordered and taken at once comes out as pushing and popping each
    entry would give it: by time, then key, then push order (many ties of both)."""
    rng = np.random.default_rng(seed)
    n = 3000
    t = rng.integers(0, 50, n)
    keys = rng.integers(0, 20, n)
    if keys_in_order:
        keys = np.sort(keys)
    batch, heap = new_heap(n), new_heap(n)
    for i in range(n):
        heap_append(batch, np.int64(t[i]), make_key(1, keys[i]), np.int64(i), np.int64(0))
        heap_push(heap, np.int64(t[i]), make_key(1, keys[i]), np.int64(i), np.int64(0))
    got_t, got_a = take_in_order(batch)
    popped = [heap_pop(heap) for _ in range(n)]
    assert got_t.tolist() == [int(p[0]) for p in popped]
    assert got_a.tolist() == [int(p[2]) for p in popped]
    assert batch.meta[0] == 0 and take_in_order(batch)[0].size == 0


@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 33, 100, 1000, 4099])
def test_stable_order_is_numpys_stable_argsort(n):
    rng = np.random.default_rng(n)
    for high in (3, 1 << 40):      # many ties, then almost none
        x = rng.integers(-high, high, n)
        assert stable_order(x).tolist() == np.argsort(x, kind="stable").tolist()


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
