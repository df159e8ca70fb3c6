"""The neuron set in the engines against closed forms (neurons.md §5.5) and SciPy."""

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from aersim.models import CubaLIFParams, IFParams, LIFParams
from aersim.simcore import RunConfig, Simulation, SpikeTrains
from aersim.simcore.engine.neuron_kernels import cuba_time_to_threshold_s
from tests.simcore.helpers import one_neuron, small_core_chip

MS = 1_000_000_000


def hw_latency(chip):
    lat = chip.core.latency_ps
    return lat["spike_out"] + lat["message_out"] + chip.noc.router_latency_ps \
        + lat["message_in"] + lat["synaptic_op"]


def cuba_b(v_th, tau_syn=0.002):
    # neurons.md §5.5(b): tau_m 10 ms, tau_s 2 ms, C 250 pF -> R = 40 MOhm = 0.04 mV/pA;
    # 1000 pA arrive at t = 0; the membrane starts at rest.
    return CubaLIFParams(tau_syn_s=tau_syn, tau_mem_s=0.010, r=0.04, v_th=v_th, w_in=1.0)


@pytest.mark.parametrize("v_th,t_ms", [(5.0, 2.625347), (6.0, None), (2.0, None)])
def test_async_cuba_threshold_crossing(v_th, t_ms):
    chip = small_core_chip()
    net = one_neuron(cuba_b(v_th), weight=1000.0, delay_ps=MS)
    sim = Simulation(net, chip, config=RunConfig(mode="async"),
                     stimuli=[SpikeTrains("input", [0], [0])])
    res = sim.run(0.02)
    out = res.spikes_t_ps[res.spikes_neuron == 1]
    arrive = hw_latency(chip) + MS
    if v_th == 2.0:
        # Crossed on the way up, then crossed again after the reset to 0 while i still drives.
        t1 = brentq(lambda t: membrane_b(t) - 2.0, 0.0, 0.002623)
        assert abs(out[0] - arrive - t1 * 1e12) <= 2
        assert len(out) >= 2
    elif t_ms is None:
        assert out.size == 0
    else:
        assert out.size == 1 and abs(out[0] - arrive - t_ms * 1e9) < 1e3   # closed form, 1 ns


def membrane_b(t):
    a = 0.04 * 1000 * 0.002 / (0.002 - 0.010)
    return (0 - a) * math.exp(-t / 0.010) + a * math.exp(-t / 0.002)


def test_cuba_crossing_solver_against_closed_form_and_singular_case():
    assert membrane_b(0.001) == pytest.approx(2.983068, abs=1e-6)
    t = cuba_time_to_threshold_s(0.0, 1000.0, 5.0, 0.0, 0.04, 0.0, 0.010, 0.002)
    assert t == pytest.approx(2.625347e-3, abs=1e-9)
    assert math.isinf(cuba_time_to_threshold_s(0.0, 1000.0, 6.0, 0.0, 0.04, 0.0, 0.010, 0.002))
    # (d) singular: tau_s = tau_m = 10 ms, u = 4 t e^{-t/10} (t in ms), peak 14.715178 at 10 ms.
    t = cuba_time_to_threshold_s(0.0, 1000.0, 14.0, 0.0, 0.04, 0.0, 0.010, 0.010)
    assert t == pytest.approx(brentq(lambda s: 4 * s * math.exp(-s / 10) - 14, 0, 10) * 1e-3,
                              abs=1e-10)
    assert math.isinf(cuba_time_to_threshold_s(0.0, 1000.0, 14.8, 0.0, 0.04, 0.0, 0.010, 0.010))


def test_cuba_with_bias_matches_solve_ivp():
    # A constant current into the synapse (i_inf = 100 pA -> v_inf = 4 mV): no input at all,
    # the neuron fires periodically; compare the first spike with an ODE solver.
    p = CubaLIFParams(tau_syn_s=0.002, tau_mem_s=0.010, r=0.04, v_th=3.0, w_in=1.0, bias=100.0)
    net = one_neuron(p, weight=0.0, delay_ps=MS)
    res = Simulation(net, small_core_chip(), config=RunConfig(mode="async")).run(0.05)
    out = res.spikes_t_ps[res.spikes_neuron == 1]

    def rhs(t, y):
        v, i = y
        return [(-v + 0.04 * i) / 0.010, (100.0 - i) / 0.002]

    ev = lambda t, y: y[0] - 3.0  # noqa: E731
    ev.terminal = True
    sol = solve_ivp(rhs, (0, 0.05), [0.0, 0.0], events=ev, rtol=1e-12, atol=1e-12)
    assert abs(out[0] * 1e-12 - sol.t_events[0][0]) < 1e-9
    isi = np.diff(out)
    assert isi.size >= 2 and np.ptp(isi[1:]) <= 2     # periodic once i has settled


def test_if_neuron_drift_in_both_modes():
    # dv/dt = r * bias = 1000 per s, threshold 1, reset 0: one spike every millisecond.
    p = IFParams(v_th=1.0, r=1.0, bias=1000.0)
    net = one_neuron(p, weight=0.0, delay_ps=MS // 10)
    res = Simulation(net, small_core_chip(), config=RunConfig(mode="async")).run(0.0105)
    out = res.spikes_t_ps[res.spikes_neuron == 1]
    assert np.array_equal(out, np.arange(1, 11) * MS)
    res = Simulation(net, small_core_chip(), config=RunConfig(mode="timestep")).run(0.0105)
    steps = res.spikes_t_ps[res.spikes_neuron == 1] // (MS // 10)
    # v = 0.1 k after k steps; strict v > 1 happens at the 11th step after each reset (0.1 steps
    # accumulate rounding: 10 x 0.1 is 0.9999999999999999 in binary floating point).
    assert np.array_equal(np.diff(steps), np.full(steps.size - 1, np.diff(steps)[0]))


def test_lif_timestep_exact_against_solve_ivp():
    # Timestep mode with exact integration equals the ODE sampled on the step grid.
    p = LIFParams(tau_s=0.010, v_th=1e9, bias=20.0)
    net = one_neuron(p, weight=0.0, delay_ps=MS // 10)
    sim = Simulation(net, small_core_chip(), config=RunConfig(mode="timestep"))
    sim.run(0.005)
    sol = solve_ivp(lambda t, v: (20.0 - v) / 0.010, (0, 0.005), [0.0], rtol=1e-12, atol=1e-12)
    assert sim.v[1] == pytest.approx(sol.y[0, -1], rel=1e-9)


# -- models defined per time step: worked examples of neurons.md through the engine ------------

def _driven(params, weights, steps, dt_ps):
    """Input neuron k spikes once, at step k, with weight ``weights[k]`` (delay one step), into
    one neuron of ``params``; that neuron drives an integrator read-out with weight 1."""
    from aersim.models import InputParams, IntegratorParams, Network
    n = len(weights)
    net = Network()
    net.add_population("input", n, InputParams())
    net.add_population("x", 1, params)
    net.add_population("readout", 1, IntegratorParams())
    net.connect("input", "x", np.arange(n), np.zeros(n), weights, dt_ps)
    net.connect("x", "readout", [0], [0], 1.0, dt_ps)
    stim = SpikeTrains("input", np.arange(n) * dt_ps, np.arange(n))
    sim = Simulation(net, small_core_chip(), config=RunConfig(mode="timestep", dt_ps=dt_ps),
                     stimuli=[stim])
    res = sim.run(duration_ps=steps * dt_ps)
    x_lo = net.offset("x")
    return sim, res.spikes_t_ps[res.spikes_neuron == x_lo] // dt_ps, net


def test_loihi_cuba_cases_a_and_c():
    from aersim.models import LoihiCubaParams
    # Case A: a = 3 every step from t = 1: v exceeds 640 at t = 3 and t = 5.
    _, steps, _ = _driven(LoihiCubaParams(d_u=1024, d_v=256, vth=10), [3.0] * 6, 6, MS)
    assert steps.tolist() == [3, 5]
    # Case C: no input, D_v 410, bias 3 << 6: spike at t = 4 (v = 192, 364, 519, 659).
    sim, steps, _ = _driven(LoihiCubaParams(d_u=1024, d_v=410, vth=10, bias_mant=3,
                                            bias_exp=6), [0.0], 5, MS)
    assert steps.tolist() == [3] and sim.v[1] == 192    # 0-based step 3 = t 4; then v = 192


def test_alif_eprop_table():
    from aersim.models import ALIFParams
    # neurons.md §4.3: I = 0.8 per step (bias), spikes at t = 2, 4, 6.
    p = ALIFParams(tau_m_s=0.020, tau_a_s=0.200, v_th=1.0, beta=0.5, bias=0.8)
    sim, steps, _ = _driven(p, [0.0], 6, MS)
    assert steps.tolist() == [1, 3, 5]
    assert sim.v[1] == pytest.approx(2.439508, abs=1e-6)
    assert sim.cur[1] == pytest.approx(1.980124, abs=1e-6)


def test_sigma_delta_table_and_graded_payloads():
    from aersim.models import SigmaDeltaParams
    # neurons.md §2.3: a = 0.625, 0.625, 0.25, -2, 0, 0.5 -> messages 0, 1.25, 0, -1.25, 0, 0.
    a = [0.625, 0.625, 0.25, -2.0, 0.0, 0.5]
    sim, steps, net = _driven(SigmaDeltaParams(threshold=1.0), a, 8, MS)
    assert (steps - 1).tolist() == [1, 3]        # t = 2 and t = 4 (input lands one step later)
    # The read-out integrates the graded payloads: 1.25 - 1.25 = 0, after seeing +1.25.
    assert sim.v[net.offset("readout")] == pytest.approx(0.0, abs=1e-12)


def test_timestep_only_models_refuse_async():
    from aersim.models import SigmaDeltaParams
    from aersim.simcore import ConfigError
    net = one_neuron(SigmaDeltaParams(threshold=1.0), weight=1.0, delay_ps=MS)
    with pytest.raises(ConfigError, match="sigma_delta neurons, whose dynamics are defined per "
                                          "time step; run it in mode='timestep'"):
        Simulation(net, small_core_chip(), config=RunConfig(mode="async"))


def test_alif_async_first_crossing_and_adaptation():
    from aersim.models import ALIFParams
    # neurons.md §4.3 continuous form: V_inf = 1.6, V_0 = 0, v_th = 1, beta = 0.5, a_0 = 1,
    # tau_m 20 ms, tau_a 200 ms: the first crossing is at 42.103619 ms.
    p = ALIFParams(tau_m_s=0.020, tau_a_s=0.200, v_th=1.0, beta=0.5, bias=1.6, a_init=1.0,
                   reset="value", v_reset=0.0)
    net = one_neuron(p, weight=0.0, delay_ps=MS)
    sim = Simulation(net, small_core_chip(), config=RunConfig(mode="async"))
    res = sim.run(0.3)
    out = res.spikes_t_ps[res.spikes_neuron == 1]
    assert abs(out[0] - 42.103619e9) < 1e3
    isi = np.diff(out)
    assert isi.size >= 2 and isi[1] > isi[0]    # adaptation lengthens the intervals


@pytest.mark.parametrize("reset,expected_c", [
    ("subtract", [0.404761, 0.503173, -0.066147, -0.033074, 0.395866]),
    ("zero", [0.0, 0.0, -0.235845, -0.117922, 0.0]),
])
def test_egru_table_through_the_engine(reset, expected_c):
    # neurons.md §1.4: W_u 1, W_r 0.5, W_z 2, R_u = R_r = 0.5, R_z -1, theta 0.3,
    # x = 1, 1, 0, 0, 1; one step per input sample.
    from aersim.models import EGRUParams, InputParams, Network
    from aersim.models.neurons.egru import add_egru_layer
    net = Network()
    net.add_population("x", 1, InputParams())
    p = EGRUParams(w_u=1.0, w_r=0.5, w_z=2.0, r_u=0.5, r_r=0.5, r_z=-1.0, theta=0.3,
                   reset=reset)
    add_egru_layer(net, "egru", p, "x", MS)
    sim = Simulation(net, small_core_chip(), config=RunConfig(mode="timestep", dt_ps=MS),
                     stimuli=[SpikeTrains("x", [0, MS, 4 * MS], [0, 0, 0])],
                     probes={"egru": None})
    res = sim.run(duration_ps=5 * MS)
    assert np.allclose(res.probes["v"][:, 0], expected_c, atol=1e-6)
    fired = res.spikes_t_ps[res.spikes_neuron == 1] // MS
    assert fired.tolist() == [0, 1, 4]
    assert res.op_totals()["synaptic_op"] > 0


def test_egru_refuses_async_and_wrong_channels():
    from aersim.models import EGRUParams, InputParams, Network, NetworkError
    from aersim.models.neurons.egru import add_egru_layer
    from aersim.simcore import ConfigError
    net = Network()
    net.add_population("x", 1, InputParams())
    add_egru_layer(net, "egru", EGRUParams(w_u=1.0, w_r=1.0, w_z=1.0, r_u=0.0, r_r=0.0,
                                           r_z=0.0), "x", MS)
    with pytest.raises(ConfigError, match="egru neurons, whose dynamics are defined per time"):
        Simulation(net, small_core_chip(), config=RunConfig(mode="async"))
    with pytest.raises(NetworkError, match="channel 4 does not exist; egru neurons of 'egru' "
                                           "have 4 input channel"):
        net.connect("x", "egru", [0], [0], 1.0, 0, name="bad", channel=4)
