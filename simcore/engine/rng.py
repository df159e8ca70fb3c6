"""A small, fast, explicit-state random number generator for the Numba kernels.

xorshift64* (Vigna, "An experimental exploration of Marsaglia's xorshift generators, scrambled",
ACM TOMS 42(4), 2016): 64 bits of state, one multiply per draw, which matters because the
Poisson background is the single largest cost of a Brunel run (performance.md §4). State lives in
a ``uint64`` array owned by the caller, so runs are reproducible and resumable chunk by chunk.
Streams are seeded from ``numpy.random.SeedSequence`` (never zero).
"""

import math

import numpy as np
from numba import njit, uint64

_MULT = uint64(0x2545F4914F6CDD1D)
_INV_2_53 = 1.0 / 9007199254740992.0


def seed_states(seed_sequence: np.random.SeedSequence, n: int) -> np.ndarray:
    """``n`` independent non-zero generator states drawn from ``seed_sequence``."""
    states = seed_sequence.generate_state(n, dtype=np.uint64)
    states[states == 0] = np.uint64(0x9E3779B97F4A7C15)
    return states


@njit(cache=True, inline="always")
def next_u64(state, i):
    """Advance stream ``i`` of ``state`` (uint64 array) and return 64 random bits."""
    x = state[i]
    x ^= x >> uint64(12)
    x ^= x << uint64(25)
    x ^= x >> uint64(27)
    state[i] = x
    return x * _MULT


@njit(cache=True, inline="always")
def uniform_open0(state, i):
    """A uniform float in (0, 1] (never 0, so that ``log`` is finite)."""
    return ((next_u64(state, i) >> uint64(11)) + 1) * _INV_2_53


@njit(cache=True, inline="always")
def exponential(state, i):
    """A standard exponential variate (mean 1)."""
    return -math.log(uniform_open0(state, i))
