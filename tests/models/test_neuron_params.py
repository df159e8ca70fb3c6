"""Parameter classes of IF, integrator, LI, CubaLI and CubaLIF, and their scalar kernels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aersim.models.errors import ParameterError
from aersim.models.neurons.cuba import (
    CubaLIFParams,
    CubaLIParams,
    LIParams,
    cuba_after_spike,
    cuba_relax_euler,
    cuba_relax_exact,
    cuba_step,
    li_relax_euler,
    li_relax_exact,
)
from aersim.models.neurons.integrator import (
    IFParams,
    IntegratorParams,
    if_relax,
    if_step,
    if_time_to_threshold_s,
)

ALL = [IFParams, IntegratorParams, LIParams, CubaLIParams, CubaLIFParams]


@pytest.mark.parametrize("cls", ALL)
def test_defaults_and_per_neuron(cls):
    p = cls()
    out = p.per_neuron(4)
    assert all(v.shape == (4,) and v.dtype == np.float64 and v.flags.c_contiguous
               for v in out.values())
    assert isinstance(p.kind, str)


@pytest.mark.parametrize("cls,field", [(IFParams, "v_th"), (IntegratorParams, "r"),
                                       (LIParams, "tau_s"), (CubaLIParams, "tau_syn_s"),
                                       (CubaLIFParams, "v_reset")])
def test_nan_rejected(cls, field):
    with pytest.raises(ParameterError, match=rf"parameter '{field}' contains NaN"):
        cls(**{field: np.array([1.0, np.nan])})


@pytest.mark.parametrize("cls,field", [(LIParams, "tau_s"), (CubaLIParams, "tau_mem_s"),
                                       (CubaLIFParams, "tau_syn_s")])
def test_negative_time_constant(cls, field):
    with pytest.raises(ParameterError, match=rf"'{field}' must be > 0, got -0.5"):
        cls(**{field: -0.5})


def test_length_mismatch():
    with pytest.raises(ParameterError, match=r"disagree in length.*'v_th': 3.*'r': 2"):
        IFParams(v_th=np.ones(3), r=np.ones(2))
    with pytest.raises(ParameterError, match=r"'v_th' has 3 values but the population has 5"):
        IFParams(v_th=np.ones(3)).per_neuron(5)
    with pytest.raises(ParameterError, match=r"scalar or a 1-d per-neuron array, got shape"):
        LIParams(tau_s=np.ones((2, 2)))


def test_bad_options():
    with pytest.raises(ParameterError, match=r"IF reset 'zero' is not one of"):
        IFParams(reset="zero")
    with pytest.raises(ParameterError, match=r"CubaLIF order 'x' is not one of"):
        CubaLIFParams(order="x")
    with pytest.raises(ParameterError, match=r"LI integrator 'rk' is not one of"):
        LIParams(integrator="rk")


def test_frozen():
    with pytest.raises(AttributeError):
        IFParams().v_th = 2.0


# -- kernels ------------------------------------------------------------------------------------


def test_if_kernels():
    assert if_relax(0.5, 2.0, 0.25, 1.0) == 1.0
    assert if_step(0.5, 1.0, 0.0, 1.0, 0.6, 1.0, 0.0, False) == (0.0, True)
    v, z = if_step(0.5, 1.0, 0.0, 1.0, 0.75, 1.0, 0.0, True)
    assert z and math.isclose(v, 0.25)
    assert if_step(0.5, 1.0, 0.0, 1.0, 0.5, 1.0, 0.0, True) == (1.0, False)  # strict >
    assert if_time_to_threshold_s(0.0, 2.0, 0.5, 1.0) == 1.0
    assert if_time_to_threshold_s(0.0, 2.0, 0.0, 1.0) == math.inf


def test_li_kernels():
    assert math.isclose(li_relax_exact(1.0, 0.0, 1e-3, 1e-3), math.exp(-1))
    assert math.isclose(li_relax_euler(1.0, 0.0, 1e-4, 1e-3), 0.9)


# neurons.md §5.5 (b), (d), (e): tau_m = 10 ms, tau_s = 2 ms, C = 250 pF, I0 = 1000 pA (ms units);
# our r = tau_m / C.
@pytest.mark.parametrize("t,want", [(1.0, 2.983068), (2.0, 4.508513), (0.1, 0.388204092)])
def test_cuba_exact_against_published_values(t, want):
    v, i = cuba_relax_exact(0.0, 1000.0, 0.0, 10.0 / 250.0, 0.0, t, 10.0, 2.0)
    assert math.isclose(v, want, rel_tol=1e-6)
    assert math.isclose(i, 1000.0 * math.exp(-t / 2.0))


@pytest.mark.parametrize("t,want", [(2.0, 6.549846), (5.0, 12.130613), (10.0, 14.715178)])
def test_cuba_exact_singular_case(t, want):
    # tau_s = tau_m = 10 ms, u = 4 t exp(-t/10): r * i0 / tau = 4
    v, _ = cuba_relax_exact(0.0, 40.0, 0.0, 1.0, 0.0, t, 10.0, 10.0)
    assert math.isclose(v, want, rel_tol=1e-6)
    v2, _ = cuba_relax_exact(0.0, 40.0, 0.0, 1.0, 0.0, t, 10.0, 10.0 * (1 + 1e-12))
    assert math.isclose(v2, want, rel_tol=1e-6)


def test_cuba_exact_composes():
    """Relaxing h1 then h2 equals relaxing h1 + h2, with a leak and a constant current."""
    a = cuba_relax_exact(0.3, 2.0, 0.1, 1.5, 0.5, 0.7, 3.0, 1.2)
    b = cuba_relax_exact(*cuba_relax_exact(0.3, 2.0, 0.1, 1.5, 0.5, 0.3, 3.0, 1.2),
                         0.1, 1.5, 0.5, 0.4, 3.0, 1.2)
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_cuba_step_orders():
    # snnTorch form with alpha = 0.5, beta = 0.8: i <- 0.5 i + x; v <- 0.8 v + i
    dt, ts, tm = 1.0, 2.0, 5.0
    v, i = cuba_step(1.0, 2.0, 0.0, tm / dt, 0.0, dt, tm, ts, 3.0, True, True)
    assert math.isclose(i, 0.5 * 2.0 + 3.0) and math.isclose(v, 0.8 * 1.0 + i)
    v, i = cuba_step(1.0, 2.0, 0.0, tm / dt, 0.0, dt, tm, ts, 3.0, True, False)
    assert math.isclose(v, 0.8 * 1.0 + 2.0) and math.isclose(i, 0.5 * 2.0 + 3.0)
    assert cuba_relax_euler(1.0, 2.0, 0.0, 5.0, 0.0, 1.0, 5.0, 2.0) == (2.8, 1.0)
    v, i = cuba_step(0.0, 0.0, 0.0, 1.0, 0.0, 0.1, 1.0, 0.5, 1.0, False, False)
    assert v == 0.0 and i == 1.0  # a current jump moves v only afterwards
    assert cuba_after_spike(1.5, 1.0, -0.1, True) == 0.5
    assert cuba_after_spike(1.5, 1.0, -0.1, False) == -0.1
