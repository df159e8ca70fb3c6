"""Graded input spikes: a real value per step and input neuron, carried as the spike's payload."""

import numpy as np
import pytest

from aersim.models import EGRUParams, InputParams, LIParams, Network
from aersim.models.neurons.egru import add_egru_layer, egru_run_dense
from aersim.simcore import RunConfig, Simulation, SpikeTrains, StimulusError
from aersim.simcore.run.stimulus import GradedInput, embed_tokens
from tests.simcore.helpers import small_core_chip

MS = 1_000_000_000


def linear_readout(w, b):
    """Input population ``x`` -> non-leaking-across-steps readout: ``v_t = W x_t + b``.

    A leaky integrator with ``tau << dt`` forgets its past exactly (``exp(-dt/tau) == 0``).
    """
    m, n = w.shape
    net = Network()
    net.add_population("x", n, InputParams())
    net.add_population("out", m, LIParams(tau_s=1e-12, bias=b))
    post, pre = np.nonzero(w)
    net.connect("x", "out", pre, post, w[post, pre], 0)
    return net


def dyadic(rng, shape, zeros=0.3):
    """Multiples of 1/64 (sums exact in any order), a fraction of them exactly 0."""
    a = np.round(rng.normal(0, 1, shape) * 64) / 64
    a[rng.random(shape) < zeros] = 0.0
    return a


def run_readout(net, x, chunk_steps=None):
    cfg = RunConfig(mode="timestep", dt_ps=MS,
                    chunk_ps=None if chunk_steps is None else chunk_steps * MS)
    sim = Simulation(net, small_core_chip(4), config=cfg,
                     stimuli=[GradedInput("x", x, MS)], probes={"out": None})
    return sim.run(duration_ps=x.shape[0] * MS)


def test_linear_readout_equals_w_at_x_exactly_and_zeros_send_nothing():
    rng = np.random.default_rng(3)
    w, b, x = dyadic(rng, (6, 9)), dyadic(rng, 6, 0.0), dyadic(rng, (12, 9))
    x[4] = 0.0                                            # a silent step
    res = run_readout(linear_readout(w, b), x)
    assert np.array_equal(res.probes["v"], x @ w.T + b)
    # One input spike per non-zero entry, at its step, and nothing else.
    sp = res.spikes("x")
    rows, cols = np.nonzero(x)
    assert sp.size == rows.size
    assert np.array_equal(np.round(sp["t_s"] * 1e3).astype(int), rows)
    assert np.array_equal(sp["neuron"], cols)
    ops = res.op_totals()
    assert ops["input_spike"] + ops["spike_out"] == rows.size
    fan_out = np.count_nonzero(w, axis=0)
    assert ops["synaptic_op"] + ops["synaptic_op_dense"] == fan_out[cols].sum()
    assert ops["message_out"] > 0


def test_all_zero_input_costs_no_traffic():
    rng = np.random.default_rng(4)
    w, b = dyadic(rng, (3, 4)), dyadic(rng, 3, 0.0)
    res = run_readout(linear_readout(w, b), np.zeros((5, 4)))
    ops = res.op_totals()
    assert res.n_spikes == 0
    assert ops["message_out"] == ops["synaptic_op"] == ops["input_spike"] == 0
    assert np.array_equal(res.probes["v"], np.tile(b, (5, 1)))


def test_chunks_and_repeated_runs_agree():
    rng = np.random.default_rng(5)
    w, b, x = dyadic(rng, (4, 5)), dyadic(rng, 4, 0.0), dyadic(rng, (11, 5))
    net = linear_readout(w, b)
    one = run_readout(net, x)
    chunked = run_readout(net, x, chunk_steps=3)
    assert np.array_equal(one.probes["v"], chunked.probes["v"])
    assert np.array_equal(one.counts, chunked.counts)
    sim = Simulation(net, small_core_chip(4), config=RunConfig(mode="timestep", dt_ps=MS),
                     stimuli=[GradedInput("x", x, MS)], probes={"out": None})
    first, second = sim.run(duration_ps=4 * MS), sim.run(duration_ps=7 * MS)
    assert np.array_equal(np.vstack([first.probes["v"], second.probes["v"]]), x @ w.T + b)


def test_rows_every_other_step_with_offset():
    w, b = np.array([[1.0, -2.0]]), np.array([0.0])
    x = np.array([[1.0, 0.5], [0.0, 2.0]])
    sim = Simulation(linear_readout(w, b), small_core_chip(4),
                     config=RunConfig(mode="timestep", dt_ps=MS),
                     stimuli=[GradedInput("x", x, 2 * MS, t0_ps=MS)], probes={"out": None})
    v = sim.run(duration_ps=5 * MS).probes["v"][:, 0]
    assert v.tolist() == [0.0, 0.0, 0.0, -4.0, 0.0]


def test_egru_fed_by_graded_vectors_matches_dense_reference():
    rng = np.random.default_rng(6)
    n, k, steps = 7, 3, 15
    # The engine stores weights as float32: give the reference the same weights.
    g = {f"{p}_{q}": rng.normal(0, 1.2, (n, k if p == "w" else n)).astype(np.float32)
         for p in "wr" for q in "urz"}
    params = EGRUParams(**g, bx_u=rng.normal(0, .3, n), br_z=rng.normal(0, .3, n),
                        theta=rng.uniform(0.05, 0.4, n))
    x = rng.normal(0, 1, (steps, k))
    x[3] = 0.0
    net = Network()
    net.add_population("x", k, InputParams())
    add_egru_layer(net, "egru", params, "x", MS)
    sim = Simulation(net, small_core_chip(4), config=RunConfig(mode="timestep", dt_ps=MS),
                     stimuli=[GradedInput("x", x, MS)], probes={"egru": None})
    res = sim.run(duration_ps=steps * MS)
    _, y, c = egru_run_dense(params, x)
    assert np.allclose(res.probes["v"], c, rtol=0, atol=1e-12)
    sp = res.spikes("egru")
    fired = np.zeros((steps, n), bool)
    fired[np.round(sp["t_s"] * 1e3).astype(int), sp["neuron"]] = True
    assert np.array_equal(fired, y != 0)


def test_tokens_to_embedding_rows():
    table = np.arange(12.0).reshape(4, 3)
    assert np.array_equal(embed_tokens([2, 0, 2], table), table[[2, 0, 2]])
    stim = GradedInput.from_tokens("x", np.array([1, 3]), table, MS)
    assert stim.values.shape == (2, 3) and stim.n_steps == 2
    with pytest.raises(StimulusError, match="token id 4 is outside the embedding table's 0..3"):
        embed_tokens([1, 4], table)
    with pytest.raises(StimulusError, match="tokens must be a 1-d array of integer ids"):
        embed_tokens([0.5], table)


def test_refusals():
    net = linear_readout(np.ones((1, 2)), np.zeros(1))
    x = np.ones((3, 2))
    with pytest.raises(StimulusError, match="GradedInput on 'x' needs mode='timestep'"):
        Simulation(net, small_core_chip(4), config=RunConfig(mode="async"),
                   stimuli=[GradedInput("x", x, MS)])
    with pytest.raises(StimulusError, match="must be whole numbers of the run's dt"):
        Simulation(net, small_core_chip(4), config=RunConfig(mode="timestep", dt_ps=MS),
                   stimuli=[GradedInput("x", x, MS // 2)])
    with pytest.raises(StimulusError, match="shares its population with another input"):
        Simulation(net, small_core_chip(4), config=RunConfig(mode="timestep", dt_ps=MS),
                   stimuli=[GradedInput("x", x, MS), SpikeTrains("x", [0], [0])])
    with pytest.raises(StimulusError, match="values contain NaN"):
        GradedInput("x", [[np.nan, 1.0]], MS)
    with pytest.raises(StimulusError, match="values have 3 columns for 2 neurons"):
        Simulation(net, small_core_chip(4), config=RunConfig(mode="timestep", dt_ps=MS),
                   stimuli=[GradedInput("x", np.ones((2, 3)), MS)]).run(duration_ps=MS)
