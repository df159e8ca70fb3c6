"""Adaptive LIF against neurons.md §4.3 (e-prop table; continuous first crossing) and SciPy."""

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from aersim.models import ParameterError
from aersim.models.neurons.alif import (
    ALIFParams,
    alif_after_spike,
    alif_relax_exact,
    alif_step,
    alif_time_to_threshold_s,
)


def run(params, drives, dt_s=1e-3):
    p = params.per_neuron(1)
    k = params.step_coefficients(1, dt_s)
    v, a, z, ref = p["v_init"][0], p["a_init"][0], False, 0
    rows = []
    for d in drives:
        v, a, z, ref = alif_step(v, a, z, ref, d + p["bias"][0], k["alpha"][0], k["zeta"][0],
                                 k["rho"][0], k["jump"][0], p["v_leak"][0], p["v_th"][0],
                                 p["beta"][0], p["v_reset"][0], k["reset_code"],
                                 params.late_reset, k["ref_steps"][0])
        rows.append((a, p["v_th"][0] + p["beta"][0] * a, v, int(z)))
    return rows


def test_eprop_table():
    params = ALIFParams(tau_m_s=0.020, tau_a_s=0.200, v_th=1.0, beta=0.5)
    rows = run(params, [0.8] * 6)
    a, big_a, v, z = (list(c) for c in zip(*rows, strict=True))
    np.testing.assert_allclose(a, [0, 0, 1, 0.995012, 1.990050, 1.980124], atol=1e-6)
    np.testing.assert_allclose(big_a, [1, 1, 1.5, 1.497506, 1.995025, 1.990062], atol=1e-6)
    np.testing.assert_allclose(v, [0.8, 1.560984, 1.284853, 2.022190, 1.723567, 2.439508],
                               atol=1e-6)
    assert z == [0, 1, 0, 1, 0, 1]


def test_refractory_blocks_spikes_only():
    free = run(ALIFParams(beta=0.0, late_reset=False), [0.8] * 8)
    held = run(ALIFParams(beta=0.0, late_reset=False, t_ref_s=0.002), [0.8] * 8)
    z_free, z_held = [r[3] for r in free], [r[3] for r in held]
    first = z_free.index(1)
    assert z_held[first] == 1 and z_held[first + 1:first + 3] == [0, 0]


def test_reset_variants():
    # immediate value reset (Norse-like) and subtract-adaptive (LSNN-like)
    rows = run(ALIFParams(reset="value", v_reset=-0.1, late_reset=False, beta=0.0), [0.8] * 2)
    assert rows[1][3] == 1 and rows[1][2] == -0.1
    rows = run(ALIFParams(reset="subtract_adaptive", adapt_jump="one_minus_rho",
                          zeta="one_minus_alpha", beta=1.6), [40.0] * 3)
    rho = math.exp(-1e-3 / 0.2)
    assert rows[0][3] == 1 and rows[1][0] == pytest.approx(1 - rho)
    alpha = math.exp(-1 / 20)
    want = alpha * rows[0][2] + (1 - alpha) * 40.0 - rows[1][1]
    assert rows[1][2] == pytest.approx(want)
    rows = run(ALIFParams(reset="value", v_reset=0.25, beta=0.0), [0.8] * 3)
    assert rows[1][3] == 1
    assert rows[2][2] == pytest.approx(math.exp(-1 / 20) * 0.25 + 0.8)


def test_continuous_first_crossing():
    # neurons.md §4.3: V_inf 1.6, V0 0, v_th 1, beta 0.5, a0 1, tau_m 20, tau_a 200 ms.
    t = alif_time_to_threshold_s(0.0, 1.0, 1.6, 1.0, 0.5, 0.020, 0.200, math.inf)
    assert t * 1e3 == pytest.approx(42.103619, abs=1e-6)
    v, a = alif_relax_exact(0.0, 1.0, 1.6, t, 0.020, 0.200)
    assert abs(v - 1.0 - 0.5 * a) < 1e-9
    assert alif_time_to_threshold_s(0.0, 1.0, 1.6, 1.0, 0.5, 0.020, 0.200, 0.040) == math.inf


def first_crossing_scipy(v0, a0, v_inf, v_th, beta, tau_m, tau_a, t_end):
    def rhs(_, y):
        return [(v_inf - y[0]) / tau_m, -y[1] / tau_a]

    def event(_, y):
        return y[0] - v_th - beta * y[1]
    event.terminal = True
    event.direction = 1
    sol = solve_ivp(rhs, (0, t_end), [v0, a0], events=event, rtol=1e-12, atol=1e-14,
                    method="DOP853")
    return sol.t_events[0][0] if sol.t_events[0].size else math.inf


@pytest.mark.parametrize("v0,a0,v_inf,beta,tau_m,tau_a", [
    (0.0, 1.0, 1.6, 0.5, 0.020, 0.200),
    (0.9, 0.0, 1.2, 0.5, 0.010, 0.100),
    (-0.5, 2.0, 1.9, 0.4, 0.030, 0.050),     # B < 0, C < 0: monotone
    (1.3, 0.5, 0.5, 2.0, 0.100, 0.005),     # B C < 0: rises above, then falls back
    (0.5, 1.0, 1.1, 0.1, 0.020, 0.020),      # tau_m = tau_a
])
def test_matches_solve_ivp(v0, a0, v_inf, beta, tau_m, tau_a):
    want = first_crossing_scipy(v0, a0, v_inf, 1.0, beta, tau_m, tau_a, 2.0)
    got = alif_time_to_threshold_s(v0, a0, v_inf, 1.0, beta, tau_m, tau_a, 2.0)
    if math.isinf(want):
        assert math.isinf(got)
    else:
        assert got == pytest.approx(want, abs=1e-9)


def test_brief_excursion_is_not_missed():
    # v falls from above v_inf while the threshold relaxes faster: f rises to a peak and back
    args = (1.3, 0.5, 0.5, 2.0, 0.100, 0.005)
    t = alif_time_to_threshold_s(args[0], args[1], args[2], 1.0, args[3], args[4], args[5],
                                 math.inf)
    assert 0 < t < math.inf
    v, a = alif_relax_exact(args[0], args[1], args[2], t, args[4], args[5])
    assert v > 1.0 + 2.0 * a and v - 1.0 - 2.0 * a < 1e-9
    # well after the peak the margin is negative again and no crossing is left
    late, al = alif_relax_exact(args[0], args[1], args[2], 0.2, args[4], args[5])
    assert alif_time_to_threshold_s(late, al, 0.5, 1.0, 2.0, 0.1, 0.005, math.inf) == math.inf


def test_discrete_exact_form_samples_the_continuous_one():
    params = ALIFParams(zeta="one_minus_alpha", adapt_jump="rho", late_reset=False,
                        bias=0.9, a_init=0.3, v_init=0.1)
    rows = run(params, [0.0] * 30)
    assert not any(r[3] for r in rows)
    v, a = alif_relax_exact(0.1, 0.3, 0.9, 0.030, 0.02, 0.2)
    assert rows[-1][2] == pytest.approx(v, abs=1e-12) and rows[-1][0] == pytest.approx(a)
    assert alif_after_spike(1.2, 0.3, 1.0, 0.0, True) == pytest.approx((0.2, 1.3))


def test_tags_and_per_neuron():
    p = ALIFParams(beta=[0.1, 0.2, 0.3])
    assert p.kind == "alif" and p.spiking and not p.graded
    assert p.per_neuron(3)["beta"].tolist() == [0.1, 0.2, 0.3]


@pytest.mark.parametrize("kwargs,match", [
    (dict(tau_m_s=0.0), "'tau_m_s' must be > 0"),
    (dict(beta=-1.0), "'beta' must be >= 0"),
    (dict(zeta="two"), "zeta 'two' is not one of"),
    (dict(reset="hard"), "reset 'hard' is not one of"),
    (dict(adapt_jump="half"), "adapt_jump 'half' is not one of"),
    (dict(late_reset=1), "late_reset must be True or False"),
    (dict(tau_m_s=[0.01, 0.02], tau_a_s=[0.1, 0.2, 0.3]), "disagree in length"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        ALIFParams(**kwargs)


def test_bad_step():
    with pytest.raises(ParameterError, match="not a whole number of steps"):
        ALIFParams(t_ref_s=0.0015).step_coefficients(1, 1e-3)
    with pytest.raises(ParameterError, match="longer than a time constant"):
        ALIFParams(integrator="euler", tau_m_s=0.001).step_coefficients(1, 2e-3)
