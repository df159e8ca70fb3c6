"""Mapping strategies and the errors of a network that does not fit."""

import dataclasses

import numpy as np
import pytest

from hardware import MappingError, load_chip, map_network
from models import ff_network, random_network


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
                                           "sequential, layer"):
        map_network(random_network(), load_chip("minimal"), "greedy")
