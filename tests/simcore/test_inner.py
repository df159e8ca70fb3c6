"""Engine functions compiled for kernels only (simcore.engine.inner)."""

import numpy as np
import pytest
from numba import njit

from aersim.simcore.engine import timestep
from aersim.simcore.engine.inner import inner


def _scale(a, k):
    return a * k


_scale_inner = inner(_scale)


@njit
def _caller(a):
    return _scale_inner(a, 3.0)


def test_a_kernel_calls_it_and_python_gets_a_type_error_not_a_crash():
    assert np.array_equal(_caller(np.arange(3.0)), np.arange(3.0) * 3.0)
    # Compiled without a Python entry point: Numba's dispatcher would jump to no code.
    with pytest.raises(TypeError, match="Numba kernels only"):
        _scale_inner(np.arange(3.0), 3.0)
    assert _scale_inner.py_func(2.0, 3.0) == 6.0
    with pytest.raises(TypeError, match="update_range is compiled for Numba kernels only"):
        timestep.update_range()
