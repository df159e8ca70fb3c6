"""The bit scan used by the EVT 2.1 and EVT 3.0 mask expansion, against Python's own integers."""

import numpy as np
from numba import njit

from aersim.traces.recordings.bitops import trailing_zeros


@njit(cache=True)
def _scan(values, out):
    for i in range(values.shape[0]):
        out[i] = trailing_zeros(values[i])


def test_trailing_zeros_matches_the_lowest_set_bit():
    rng = np.random.default_rng(3)
    values = rng.integers(1, 1 << 62, 5000, dtype=np.int64) >> rng.integers(0, 62, 5000)
    values = np.concatenate([values[values > 0], 1 << np.arange(63, dtype=np.int64)])
    out = np.empty(len(values), dtype=np.int64)
    _scan(values, out)
    want = [(int(v) & -int(v)).bit_length() - 1 for v in values]
    assert out.tolist() == want
