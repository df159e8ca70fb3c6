"""Async mode: exact integration against closed forms, hardware latency, invariants."""

import math

import numpy as np
import pytest

from aersim.models import LIFParams
from aersim.simcore import (
    ConfigError,
    PoissonDrive,
    RunConfig,
    Simulation,
    SpikeTrains,
    StimulusError,
)
from aersim.simcore.engine.synapse_tables import message_synapses
from tests.simcore.helpers import dyadic_random_network, input_trains, one_neuron, small_core_chip

MS = 1_000_000_000


def test_self_driven_neuron_fires_at_the_closed_form_times():
    # neurons.md §5.5(a): tau 10 ms, v_inf 20, theta 15, from 0: t* = 13.862944 ms; with
    # t_ref 2 ms the inter-spike interval is 15.862944 ms. Crossings are rounded up to 1 ps.
    net = one_neuron(LIFParams(tau_s=0.010, v_th=15.0, bias=20.0, v_reset=0.0, t_ref_s=0.002))
    sim = Simulation(net, small_core_chip(), config=RunConfig(mode="async"))
    res = sim.run(0.1)
    t = res.spikes_t_ps[res.spikes_neuron == 1]
    h_ps = math.ceil(0.010 * math.log(20 / 5) * 1e12)
    expected = h_ps + np.arange(len(t)) * (h_ps + 2 * MS)
    assert len(t) == 6 and np.array_equal(t, expected)
    assert abs(t[0] - 13.862944e9) < 1e3


def test_spike_arrives_after_hardware_latency_plus_delay():
    # One input spike, weight above threshold: the LIF neuron spikes exactly when the input
    # lands: spike_out + message_out + router + message_in + 1 synaptic op, plus the delay.
    chip = small_core_chip()
    net = one_neuron(LIFParams(tau_s=0.02, v_th=1.0), weight=1.5, delay_ps=3 * MS)
    sim = Simulation(net, chip, config=RunConfig(mode="async"),
                     stimuli=[SpikeTrains("input", [5 * MS], [0])])
    res = sim.run(0.02)
    lat = chip.core.latency_ps
    hw = lat["spike_out"] + lat["message_out"] + chip.noc.router_latency_ps \
        + lat["message_in"] + lat["synaptic_op"]
    assert res.spikes_t_ps.tolist() == [5 * MS, 5 * MS + hw + 3 * MS]
    assert res.spikes_neuron.tolist() == [0, 1]


def test_membrane_decays_exactly_between_inputs():
    # Two sub-threshold inputs 4 ms apart: the second spike only if the first has not decayed
    # below 1 - 0.6 = 0.4, i.e. 0.6 * exp(-4 ms / tau) > 0.4  <=>  tau > 9.865 ms.
    for tau, fires in ((0.0095, False), (0.0102, True)):
        net = one_neuron(LIFParams(tau_s=tau, v_th=1.0), weight=0.6, delay_ps=MS)
        sim = Simulation(net, small_core_chip(), config=RunConfig(mode="async"),
                         stimuli=[SpikeTrains("input", [0, 4 * MS], [0, 0])])
        res = sim.run(0.01)
        assert (1 in res.spikes_neuron) == fires


def test_refractory_inputs_are_discarded():
    net = one_neuron(LIFParams(tau_s=1.0, v_th=1.0, t_ref_s=0.005), weight=1.5, delay_ps=MS)
    sim = Simulation(net, small_core_chip(), config=RunConfig(mode="async"),
                     stimuli=[SpikeTrains("input", [0, 2 * MS, 8 * MS], [0, 0, 0])])
    res = sim.run(0.02)
    # The input at 2 ms lands inside the 5 ms refractory window of the first output spike.
    assert (res.spikes_neuron == 1).sum() == 2


def test_counts_and_message_service_invariants():
    net = dyadic_random_network(7, n_neurons=200)
    chip = small_core_chip()
    sim = Simulation(net, chip, config=RunConfig(mode="async", record_messages=True),
                     stimuli=[input_trains(net, 80.0, 50 * MS, 7)])
    res = sim.run(0.05)
    syn, ops = sim.syn, res.op_totals()
    assert ops["spike_out"] == res.n_spikes > 200
    # Messages still in flight at the end are not served: served <= sent.
    assert len(res.messages) == ops["message_in"] <= ops["message_out"]
    lat = chip.core.latency_ps
    m = res.messages
    n_syn = message_synapses(syn)[m[:, 0]]
    assert np.array_equal(m[:, 3] - m[:, 2], lat["message_in"] + n_syn * lat["synaptic_op"])
    assert (m[:, 2] >= m[:, 1]).all()
    # A core serves one message at a time, in order of arrival.
    dest = syn.msg_core[m[:, 0]]
    for c in np.unique(dest):
        mc = m[dest == c]
        assert (mc[1:, 2] >= mc[:-1, 3]).all() and (np.diff(mc[:, 1]) >= 0).all()
    assert ops["synaptic_op"] == n_syn.sum()


def test_poisson_drive_statistics_and_determinism():
    net = one_neuron(LIFParams(tau_s=0.02, v_th=1e9))
    net.add_population("many", 500, LIFParams(tau_s=0.02, v_th=1e9))
    stim = [PoissonDrive("many", 1000.0, 0.01)]
    sims = [Simulation(net, small_core_chip(), config=RunConfig(mode="async", seed=s),
                       stimuli=stim) for s in (1, 1, 2)]
    res = [s.run(0.2) for s in sims]
    n = [r.op_totals()["stim_in"] for r in res]
    expected = 500 * 1000 * 0.2
    assert abs(n[0] - expected) < 5 * math.sqrt(expected)
    assert n[0] == n[1] and n[0] != n[2]
    assert np.array_equal(sims[0].v, sims[1].v)


def test_chunking_does_not_change_the_run():
    net = dyadic_random_network(8, n_neurons=150, bias=0.3)
    trains = input_trains(net, 80.0, 60 * MS, 8)

    def run(chunk):
        sim = Simulation(net, small_core_chip(), config=RunConfig(mode="async", chunk_ps=chunk),
                         stimuli=[trains, PoissonDrive("neurons", 200.0, 0.1)])
        return sim.run(0.06)

    a, b = run(None), run(7 * MS + 3)
    assert a.n_spikes > 100
    assert np.array_equal(a.spikes_t_ps, b.spikes_t_ps)
    assert np.array_equal(a.spikes_neuron, b.spikes_neuron)
    assert np.array_equal(a.counts, b.counts)


def test_errors():
    net = dyadic_random_network(0, n_neurons=20, integrator="euler")
    with pytest.raises(ConfigError, match="integrates with forward Euler, which needs a time "
                                          "step; use mode='timestep'"):
        Simulation(net, small_core_chip(), config=RunConfig(mode="async"))
    net = dyadic_random_network(0, n_neurons=20)
    with pytest.raises(StimulusError, match="targets population 'retina', which the network "
                                            "does not have"):
        Simulation(net, small_core_chip(), stimuli=[PoissonDrive("retina", 10.0, 1.0)])
    with pytest.raises(StimulusError, match="PoissonDrive targets input population 'input'"):
        Simulation(net, small_core_chip(), stimuli=[PoissonDrive("input", 10.0, 1.0)])
    with pytest.raises(StimulusError, match="rate_hz must be a finite number >= 0"):
        PoissonDrive("neurons", float("nan"), 1.0)
    with pytest.raises(StimulusError, match="negative spike time"):
        SpikeTrains("input", [-1], [0])


@pytest.mark.filterwarnings("ignore:.*figure skipped")   # this trace has no energy ledger
@pytest.mark.parametrize("mode", ["timestep", "async"])
def test_probes_sample_the_exact_membrane(mode, tmp_path):
    from aersim.traces import TraceWriter, read_trace
    from aersim.traces.output.plots import plot_all
    net = one_neuron(LIFParams(tau_s=0.010, v_th=15.0, bias=20.0, v_reset=0.0), delay_ps=MS)
    sim = Simulation(net, small_core_chip(), config=RunConfig(mode=mode, probe_period_ps=MS),
                     probes={"lif": None})
    with TraceWriter(tmp_path / "p.h5") as trace:
        res = sim.run(0.005, trace=trace)
    pr = res.probes
    # Async samples the state at t; timestep stamps the state after step k with k * dt.
    t_state = pr["t_ps"] + (MS // 10 if mode == "timestep" else 0)
    assert np.allclose(pr["v"][:, 0], 20 * (1 - np.exp(-t_state * 1e-12 / 0.010)), rtol=1e-12)
    back = read_trace(tmp_path / "p.h5").probes
    assert np.array_equal(back["v"], pr["v"]) and back["neuron"].tolist() == [1]
    assert (tmp_path / "plots" / "probes.png").name in [
        p.name for p in plot_all(read_trace(tmp_path / "p.h5"), tmp_path / "plots")]
    with pytest.raises(ConfigError, match="index outside 0..0"):
        Simulation(net, small_core_chip(), probes={"lif": [3]})


def test_subtractive_reset_above_threshold_fires_again_after_refractoriness():
    # One input of 2.5 thresholds: with reset by subtraction the neuron is still at 1.5 after
    # its first spike, so it fires again when its refractory period ends (as in timestep mode).
    p = LIFParams(tau_s=1.0, v_th=1.0, reset="subtract", t_ref_s=0.002)
    net = one_neuron(p, weight=2.5, delay_ps=MS)
    sim = Simulation(net, small_core_chip(), config=RunConfig(mode="async"),
                     stimuli=[SpikeTrains("input", [0], [0])])
    res = sim.run(0.02)
    out = res.spikes_t_ps[res.spikes_neuron == 1]
    assert len(out) == 2 and out[1] - out[0] == 2 * MS
    assert sim.v[1] == pytest.approx(0.5)   # held at 1.5 while refractory, then 1.5 - 1
