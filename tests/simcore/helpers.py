"""Small networks and chips for the engine tests."""

import dataclasses

import numpy as np

from aersim.hardware import load_chip
from aersim.models import InputParams, LIFParams, Network, random_network
from aersim.simcore import SpikeTrains


def small_core_chip(neurons_per_core: int = 32, name: str = "minimal"):
    """A preset with small cores, so that a small network spans many cores and tiles."""
    chip = load_chip(name)
    return dataclasses.replace(chip, core=dataclasses.replace(chip.core, neurons=neurons_per_core))


def dyadic_random_network(seed: int, **kw) -> Network:
    """``random_network`` with weights rounded to multiples of 1/64.

    Sums of such weights are exact in any order, so an independent reference may accumulate
    inputs in another order and still agree bit for bit.
    """
    net = random_network(seed=seed, **kw)
    for proj in net.projections:
        proj.weights[:] = np.round(proj.weights * 64) / 64
    return net


def input_trains(net: Network, rate_hz: float, duration_ps: int, seed: int, grid_ps: int = 1):
    """Poisson spike trains for the ``input`` population, times on a ``grid_ps`` grid."""
    rng = np.random.default_rng(seed)
    n = net.population("input").size
    count = rng.poisson(rate_hz * n * duration_ps * 1e-12)
    t = rng.integers(0, duration_ps // grid_ps, size=count) * grid_ps
    i = rng.integers(0, n, size=count)
    return SpikeTrains("input", t, i)


def one_neuron(params: LIFParams, weight: float = 0.0, delay_ps: int = 0) -> Network:
    """One input neuron driving one LIF neuron."""
    net = Network()
    net.add_population("input", 1, InputParams())
    net.add_population("lif", 1, params)
    net.connect("input", "lif", [0], [0], weight, delay_ps)
    net.inputs, net.outputs = ["input"], ["lif"]
    return net
