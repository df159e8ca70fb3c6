"""Resonate-and-fire populations in the engine, driven by input spikes: states and spike steps
against the closed form (float form) and against Lava's traces (fixed-point form)."""

import numpy as np
import pytest

from aersim.models import InputParams, Network
from aersim.models.neurons.resonate_fire import LoihiRFParams, RFParams
from aersim.simcore import ConfigError, RunConfig, Simulation, SpikeTrains
from tests.models.test_resonate_fire import LAVA_INPUT, LAVA_TRACES
from tests.simcore.helpers import small_core_chip

DT = 250_000_000        # 0.25 ms in ps


def rf_network(params, n_rf, pre, post, weights, delay_ps):
    net = Network()
    net.add_population("input", 3, InputParams())
    net.add_population("rf", n_rf, params)
    net.connect("input", "rf", pre, post, weights, delay_ps)
    net.inputs, net.outputs = ["input"], ["rf"]
    return net


def run(net, times_steps, inputs, n_steps, mode="timestep"):
    sim = Simulation(net, small_core_chip(4), config=RunConfig(mode=mode, dt_ps=DT),
                     stimuli=[SpikeTrains("input", np.asarray(times_steps) * DT,
                                          np.asarray(inputs))],
                     probes={"rf": None})
    return sim.run(duration_ps=n_steps * DT)


def test_float_rf_in_the_engine_follows_the_closed_form():
    lam = np.array([30.0, 0.0])
    f = np.array([37.0, 121.0])
    z0 = np.array([0.0, 0.3 - 0.2j])
    params = RFParams(decay_per_s=lam, freq_hz=f, v_th=np.array([0.3, 0.35]), input_gain=0.5,
                      re_init=z0.real, im_init=z0.imag)
    # input i -> rf j with weight w (gained by 0.5), delay one step.
    pre, post, w = [0, 1, 2, 2], [0, 1, 0, 1], [2.0, 1.0, -0.625, 0.375]  # exact in float32
    spikes = [(3, 0), (40, 1), (90, 2), (151, 0), (230, 1)]
    n_steps = 400
    res = run(rf_network(params, 2, pre, post, w, DT), [s[0] for s in spikes],
              [s[1] for s in spikes], n_steps)
    # Closed form, z[k] = the state after k steps (z[0] the initial state): each input is a
    # jump of 0.5 w on re at the end of the step after the spike's, then
    # z(t) = z(t0) exp((-lambda + i omega)(t - t0)) -- superposed.
    k = np.arange(n_steps + 1)
    a = -lam + 2j * np.pi * f
    z = z0[None, :] * np.exp(np.outer(k * DT * 1e-12, a))
    for step, i in spikes:
        for p, q, wq in zip(pre, post, w, strict=True):
            if p == i:
                end = step + 2       # delivered in step ``step + 1``: after step + 2 steps
                z[end:, q] += 0.5 * wq * np.exp(a[q] * (k[end:] - end) * DT * 1e-12)
    pr = res.probes
    assert pr["t_ps"].tolist() == (k[:-1] * DT).tolist()
    # Probes hold the state after step k (stamped k * dt): z[k + 1].
    np.testing.assert_allclose(pr["v"], z[1:].real, rtol=0, atol=1e-12)
    np.testing.assert_allclose(pr["state2"], z[1:].imag, rtol=0, atol=1e-12)
    vth = np.array([0.3, 0.35])
    rule = (z.imag[1:] >= 0) & (z.imag[:-1] < 0) & (z.real[1:] >= vth)
    expect = sorted((s, j) for s, j in zip(*np.nonzero(rule), strict=True))
    got = res.spikes("rf")
    assert len(expect) >= 6 and {j for _, j in expect} == {0, 1}
    assert [(int(round(t / (DT * 1e-12))), int(j)) for t, j in got] == \
        [(int(s), int(j)) for s, j in expect]
    # Robust against rounding: no spike decision rests on a value within 1e-9 of a boundary.
    assert np.min(np.abs(z.imag[1:][rule])) > 1e-9


def test_fixed_point_rf_in_the_engine_equals_lava():
    ref = LAVA_TRACES[(8, 0.1)]
    params = LoihiRFParams.from_period(8, 0.1, vth=40, rounding="truncate")
    steps = sorted(LAVA_INPUT)
    # One input neuron per input value; zero delay, so the input lands in its own step.
    net = rf_network(params, 1, [0, 1, 2], [0, 0, 0], [LAVA_INPUT[s] for s in steps], 0)
    res = run(net, steps, [0, 1, 2], 40)
    assert res.probes["v"][:, 0].tolist() == ref["re"]
    assert res.probes["state2"][:, 0].tolist() == ref["im"]
    got = res.spikes("rf")["t_s"] / (DT * 1e-12)
    assert np.round(got).astype(int).tolist() == ref["spikes"]


@pytest.mark.parametrize("params", [RFParams(), LoihiRFParams()])
def test_async_mode_refuses_rf_with_a_clear_error(params):
    net = rf_network(params, 1, [0], [0], [1.0], DT)
    with pytest.raises(ConfigError, match="defined per time step; run it in mode='timestep'"):
        Simulation(net, small_core_chip(4), config=RunConfig(mode="async"))
