"""Mapping strategies and the errors of a network that does not fit."""

import dataclasses

import numpy as np
import pytest

from aersim.hardware import MappingError, load_chip, map_network
from aersim.models import ff_network, random_network


def test_sequential_fills_cores_in_order():
    net = random_network(n_neurons=3000, n_inputs=100, p_connect=0.001)
    m = map_network(net, load_chip("minimal"))
    assert m.neurons_per_core.tolist()[:4] == [1024, 1024, 1024, 28]
    assert np.all(np.diff(m.core_of) >= 0)
    assert m.synapses_per_core.sum() == net.n_synapses


def test_layer_strategy_never_mixes_populations():
    net = ff_network(n_input=100, layer_size=300, fan_in=10)
    m = map_network(net, load_chip("minimal"), "layer")
    starts = [net.offset(p) for p in net.populations]
    cores = [set(m.core_of[s:s + net.population(p).size])
             for s, p in zip(starts, net.populations, strict=True)]
    for a in range(len(cores)):
        for b in range(a + 1, len(cores)):
            assert not cores[a] & cores[b]


def test_network_too_large():
    net = random_network(n_neurons=20000, n_inputs=10, p_connect=1e-4)
    with pytest.raises(MappingError, match=r"needs 20010 neurons but chip 'minimal' holds 16 "
                                           r"cores x 1024 = 16384 \(3626 too many\)"):
        map_network(net, load_chip("minimal"))


def test_synapse_memory_limit_names_the_core():
    chip = load_chip("minimal")
    small = dataclasses.replace(chip, core=dataclasses.replace(chip.core, synapses=100))
    with pytest.raises(MappingError, match=r"core 0 must store \d+ synapses but chip 'minimal' "
                                           r"has memory for 100 per core"):
        map_network(random_network(), small)


def test_unknown_strategy():
    with pytest.raises(MappingError, match="unknown mapping strategy 'greedy'; known: "
                                           "sequential, layer, balanced, traffic"):
        map_network(random_network(), load_chip("minimal"), "greedy")


def test_balanced_spreads_every_core_evenly():
    net = ff_network(n_input=100, layer_size=300, fan_in=10)
    chip = load_chip("minimal")
    m = map_network(net, chip, "balanced")
    assert m.neurons_per_core.max() - m.neurons_per_core.min() <= 1
    assert m.cores_used == chip.n_cores


def test_traffic_strategy_cuts_messages_of_a_local_network():
    from aersim.models.generators import direction_network
    from aersim.simcore import RunConfig, Simulation, SpikeTrains

    net = direction_network(24, 24)
    chip = load_chip("loihi_like")
    rng = np.random.default_rng(0)
    n_in = net.population("retina").size
    stim = SpikeTrains("retina", rng.integers(0, 20 * 10**9, 3000), rng.integers(0, n_in, 3000))
    msgs = {}
    for strategy in ("sequential", "traffic"):
        sim = Simulation(net, chip, config=RunConfig(mode="timestep"), stimuli=[stim],
                         strategy=strategy)
        msgs[strategy] = sim.run(0.02).op_totals()["message_out"]
    assert msgs["traffic"] < 0.6 * msgs["sequential"]


def test_mapping_file(tmp_path):
    import json
    net = random_network(n_neurons=30, n_inputs=4)
    chip = load_chip("minimal")
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"input": 3, "neurons": [5] * 10 + [6] * 20}))
    m = map_network(net, chip, str(path))
    assert m.core_of[:4].tolist() == [3] * 4 and m.neurons_per_core[6] == 20
    np.save(tmp_path / "m.npy", np.arange(34) % 2)
    assert map_network(net, chip, str(tmp_path / "m.npy")).neurons_per_core[:2].tolist() == [17, 17]
    path.write_text(json.dumps({"input": 3}))
    with pytest.raises(MappingError, match=r"population 'neurons' has no placement"):
        map_network(net, chip, str(path))
    path.write_text(json.dumps({"input": 3, "neurons": 0}))
    small = dataclasses.replace(chip, core=dataclasses.replace(chip.core, neurons=16))
    with pytest.raises(MappingError, match=r"core 0 gets 30 neurons but chip 'minimal' holds 16"):
        map_network(net, small, str(path))
