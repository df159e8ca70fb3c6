"""Timestep mode: function against an independent NumPy simulation; hardware invariants."""

import numpy as np
import pytest

from aersim.hardware import OP_KINDS
from aersim.hardware.noc import route_table
from aersim.models import LIFParams
from aersim.simcore import ConfigError, RunConfig, Simulation, SpikeTrains
from aersim.simcore.engine.synapse_tables import message_synapses
from tests.simcore.helpers import dyadic_random_network, input_trains, one_neuron, small_core_chip

DT = 100_000_000  # 0.1 ms


def numpy_reference(net, trains: SpikeTrains, n_steps: int, dt_ps: int):
    """Plain NumPy discrete-time LIF network, written from the semantics in the docs."""
    n = net.n_neurons
    v = np.zeros(n)
    v_inf, decay, v_th, v_reset, gain = (np.zeros(n) for _ in range(5))
    ref_steps = np.zeros(n, dtype=np.int64)
    subtract = np.zeros(n, dtype=bool)
    is_lif = np.zeros(n, dtype=bool)
    for pop in net.populations.values():
        sl = slice(net.offset(pop.name), net.offset(pop.name) + pop.size)
        if pop.kind != "lif":
            continue
        p = pop.params.per_neuron(pop.size)
        is_lif[sl] = True
        v[sl] = p["v_init"]
        v_inf[sl] = p["v_leak"] + p["r"] * p["bias"]
        dt_s = dt_ps * 1e-12
        decay[sl] = (1 - dt_s / p["tau_s"]) if pop.params.integrator == "euler" \
            else np.exp(-dt_s / p["tau_s"])
        v_th[sl], v_reset[sl], gain[sl] = p["v_th"], p["v_reset"], p["input_gain"]
        ref_steps[sl] = np.round(p["t_ref_s"] * 1e12 / dt_ps).astype(np.int64)
        subtract[sl] = pop.params.reset == "subtract"
    pre, post, w, d = [], [], [], []
    for proj in net.projections:
        rows = np.repeat(np.arange(proj.indptr.size - 1), np.diff(proj.indptr))
        pre.append(rows + net.offset(proj.pre))
        post.append(proj.indices + net.offset(proj.post))
        w.append(proj.weights.astype(np.float64))
        d.append(proj.delays_per_synapse() // dt_ps)
    pre, post, w, d = map(np.concatenate, (pre, post, w, d))
    pending = np.zeros((int(d.max()) + 1 + n_steps, n))
    refractory = np.zeros(n, dtype=np.int64)
    in_step = trains.times_ps // dt_ps
    in_global = trains.indices + net.offset(trains.population)
    spikes = []
    for k in range(n_steps):
        x = pending[k]
        hold = is_lif & (refractory > 0)
        refractory[hold] -= 1
        upd = is_lif & ~hold
        v_new = v_inf + (v - v_inf) * decay + gain * x
        fire = upd & (v_new > v_th)
        v_new = np.where(fire, np.where(subtract, v_new - v_th, v_reset), v_new)
        v = np.where(upd, v_new, v)
        refractory[fire] = ref_steps[fire]
        fire |= np.isin(np.arange(n), in_global[in_step == k])
        for s in np.flatnonzero(fire):
            spikes.append((k * dt_ps, s))
            sel = pre == s
            np.add.at(pending, (k + d[sel], post[sel]), w[sel])
    return np.array(spikes, dtype=np.int64).reshape(-1, 2)


@pytest.mark.parametrize("seed,reset,integrator,t_ref_ms", [
    (0, "value", "exact", 1.0), (1, "subtract", "exact", 0.0), (2, "value", "euler", 0.5),
])
def test_function_matches_numpy_reference(seed, reset, integrator, t_ref_ms):
    net = dyadic_random_network(seed, n_neurons=150, reset=reset, integrator=integrator,
                                t_ref_ms=t_ref_ms)
    n_steps = 1000
    trains = input_trains(net, 200.0, n_steps * DT, seed)
    sim = Simulation(net, small_core_chip(), config=RunConfig(mode="timestep", dt_ps=DT),
                     stimuli=[trains])
    res = sim.run(duration_ps=n_steps * DT)
    ref = numpy_reference(net, trains, n_steps, DT)
    got = np.stack([res.spikes_t_ps, res.spikes_neuron], axis=1)
    assert len(ref) > 500
    assert np.array_equal(got, ref)


def test_bias_neuron_matches_closed_form():
    # v_inf = 20 > theta = 15, tau 10 ms, reset to 0, no refractoriness: with exact
    # integration the neuron first exceeds threshold in the step after t* = 13.862944 ms.
    net = one_neuron(LIFParams(tau_s=0.010, v_th=15.0, bias=20.0, v_reset=0.0), delay_ps=DT)
    sim = Simulation(net, small_core_chip(), config=RunConfig(mode="timestep", dt_ps=DT))
    res = sim.run(0.05)
    first = res.spikes_t_ps[res.spikes_neuron == 1][0]
    assert first == 138 * DT    # v after k steps: 20 (1 - e^{-k dt / tau}) > 15 first at k = 139
    assert first // DT + 1 == int(np.ceil(0.013862944 / 1e-4))


def test_counts_are_consistent_with_spikes():
    net = dyadic_random_network(3, n_neurons=200)
    chip = small_core_chip()
    trains = input_trains(net, 50.0, 300 * DT, 3)
    sim = Simulation(net, chip, config=RunConfig(mode="timestep", record_messages=True),
                     stimuli=[trains])
    res = sim.run(duration_ps=300 * DT)
    ops = res.op_totals()
    syn = sim.syn
    out_degree = np.diff(np.concatenate(([0], np.cumsum(message_synapses(syn))))[syn.msg_ptr])
    n_msgs = np.diff(syn.msg_ptr)
    assert ops["spike_out"] == res.n_spikes
    assert ops["synaptic_op"] == out_degree[res.spikes_neuron].sum()
    assert ops["message_out"] == ops["message_in"] == n_msgs[res.spikes_neuron].sum() \
        == ops["router"] == len(res.messages)
    table = route_table(chip)
    hops = 0
    for s in res.spikes_neuron:
        src = sim.neurons.core[s]
        for m in range(syn.msg_ptr[s], syn.msg_ptr[s + 1]):
            hops += table[src, syn.msg_core[m]].sum()
    assert hops == sum(ops[k] for k in ("hop_east", "hop_west", "hop_north", "hop_south"))
    # Every LIF neuron is updated once per step.
    assert ops["neuron_update"] == 200 * 300


def test_step_duration_bounds():
    net = dyadic_random_network(4, n_neurons=200)
    chip = small_core_chip()
    sim = Simulation(net, chip, config=RunConfig(mode="timestep", record_messages=True),
                     stimuli=[input_trains(net, 50.0, 200 * DT, 4)])
    res = sim.run(duration_ps=200 * DT)
    lat = chip.core.latency_ps
    floor = chip.barrier_latency_ps + sim.chip_tables.n_updatable.max() * lat["neuron_update"]
    assert (res.step_duration_ps >= floor).all()
    assert (res.step_duration_ps > floor).any()
    assert res.hardware_time_ps == res.step_duration_ps.sum()
    msgs = res.messages
    assert (msgs[:, 2] >= msgs[:, 1]).all()                     # served after arrival
    service = msgs[:, 3] - msgs[:, 2]
    assert (service >= lat["message_in"] + lat["synaptic_op"]).all()
    assert res.ledger.barrier_j == 0.0 and len(OP_KINDS) == res.counts.shape[1]


def test_chunking_and_seed_determinism():
    net = dyadic_random_network(5, n_neurons=120)
    trains = input_trains(net, 80.0, 500 * DT, 5)

    def run(chunk):
        sim = Simulation(net, small_core_chip(), config=RunConfig(mode="timestep", chunk_ps=chunk),
                         stimuli=[trains])
        return sim.run(duration_ps=500 * DT)

    a, b = run(None), run(37 * DT)
    assert np.array_equal(a.spikes_t_ps, b.spikes_t_ps)
    assert np.array_equal(a.spikes_neuron, b.spikes_neuron)
    assert np.array_equal(a.counts, b.counts)
    assert np.array_equal(a.step_duration_ps, b.step_duration_ps)


def test_config_errors():
    net = dyadic_random_network(0, n_neurons=20)
    with pytest.raises(ConfigError, match=r"delay .* ms is not a whole number of steps of "
                                          r"dt = 0.3 ms"):
        Simulation(net, small_core_chip(), config=RunConfig(mode="timestep", dt_ps=300_000_000))
    sim = Simulation(net, small_core_chip(), config=RunConfig(mode="timestep"))
    with pytest.raises(ConfigError, match="not a whole number of steps"):
        sim.run(duration_ps=DT + 1)
    with pytest.raises(ConfigError, match="mode 'sync' is not one of"):
        RunConfig(mode="sync")
