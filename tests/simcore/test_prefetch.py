"""The prefetch hint compiles for the arrays the engine reads and changes nothing."""

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from aersim.simcore.engine.prefetch import prefetch


@njit(cache=False)
def _sum_with_hints(a, ahead):
    total = a.dtype.type(0)
    for i in range(a.shape[0]):
        if i + ahead < a.shape[0]:
            prefetch(a, i + ahead)
        total += a[i]
    return total


@pytest.mark.parametrize("dtype", [np.int32, np.float32, np.int64, np.float64])
def test_hint_leaves_results_alone(dtype):
    a = np.arange(1000).astype(dtype)
    assert _sum_with_hints(a, 16) == a.sum()
    assert _sum_with_hints(a[::3], 4) == a[::3].sum()


def test_hint_takes_only_a_one_dimensional_array_and_an_integer():
    @njit(cache=False)
    def bad(a):
        prefetch(a, 0)

    with pytest.raises(TypingError):
        bad(np.zeros((2, 2)))
