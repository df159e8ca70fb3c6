"""LIF kernels against the closed forms of neurons.md §5.1 and §5.5(a)."""

import math

import numpy as np
import pytest

from aersim.models import LIFParams, ParameterError
from aersim.models.neurons.lif import (
    lif_after_spike,
    lif_relax_euler,
    lif_relax_exact,
    lif_time_to_threshold_s,
)


def test_time_to_threshold_closed_form():
    # neurons.md §5.5(a): tau 10 ms, u_inf 20, theta 15, u0 0 -> t* = 13.862944 ms.
    t = lif_time_to_threshold_s(0.0, 20.0, 15.0, 0.010)
    assert t == pytest.approx(0.013862944, abs=1e-9)
    assert math.isinf(lif_time_to_threshold_s(0.0, 14.0, 15.0, 0.010))


def test_relax_exact_matches_solution():
    for h in (1e-4, 1e-3, 0.05):
        exact = 20 + (3 - 20) * math.exp(-h / 0.01)
        assert lif_relax_exact(3.0, 20.0, h, 0.01) == pytest.approx(exact)


def test_relax_euler_converges_to_exact():
    v_e = 0.0
    n = 10000
    for _ in range(n):
        v_e = lif_relax_euler(v_e, 1.0, 0.01 / n, 0.01)
    assert v_e == pytest.approx(lif_relax_exact(0.0, 1.0, 0.01, 0.01), rel=1e-4)


def test_reset_modes():
    assert lif_after_spike(1.3, 1.0, -0.5, False) == -0.5
    assert lif_after_spike(1.3, 1.0, -0.5, True) == pytest.approx(0.3)


@pytest.mark.parametrize("field,value,match", [
    ("tau_s", 0.0, "'tau_s' must be > 0"),
    ("tau_s", float("nan"), "NaN or infinity"),
    ("t_ref_s", -1e-3, "'t_ref_s' must be >= 0"),
    ("v_th", np.ones((2, 2)), "scalar or a 1-d"),
    ("reset", "zero", "reset 'zero' is not one of"),
    ("integrator", "rk4", "integrator 'rk4' is not one of"),
])
def test_bad_parameters(field, value, match):
    with pytest.raises(ParameterError, match=match):
        LIFParams(**{field: value})


def test_per_neuron_broadcast_and_length_check():
    p = LIFParams(tau_s=[0.01, 0.02, 0.03], v_th=2.0)
    cols = p.per_neuron(3)
    assert cols["v_th"].tolist() == [2.0, 2.0, 2.0] and cols["tau_s"][2] == 0.03
    with pytest.raises(ParameterError, match="has 3 values but the population has 4"):
        p.per_neuron(4)
