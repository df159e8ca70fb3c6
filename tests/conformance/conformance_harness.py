"""Shared pieces of the conformance tests: inputs, and a NIR file run through aersim.

The frameworks themselves are the oracle: each test builds a seeded network in the framework,
steps it there on fixed input spikes, exports it with the framework's own NIR exporter, and
requires the spikes aersim produces from that file (timestep mode, the framework's profile) to
be identical in every layer at every step.
"""

from __future__ import annotations

import warnings

import numpy as np

from aersim.models import load_network
from aersim.simcore import RunConfig, Simulation, SpikeTrains


def dyadic(a, bits: int = 8) -> np.ndarray:
    """Round to multiples of 2**-bits: sums of such weights are exact in float32 and float64,
    so a comparison tests the neuron equations rather than the order of a BLAS summation."""
    return np.round(np.asarray(a, np.float64) * 2**bits) / 2**bits


def spikes_in(rng, steps: int, shape, p: float = 0.3) -> np.ndarray:
    """Random binary input spikes, float32 (steps, *shape)."""
    return (rng.random((steps,) + tuple(shape)) < p).astype(np.float32)


def run_aersim(path, profile: str, x: np.ndarray, chip: str = "loihi_like") -> dict:
    """Spikes of every population of the NIR file at ``path`` driven by ``x`` (steps, n_in).

    Returns ``{population: bool (steps, size)}``; input spikes of step ``k`` enter at ``k dt``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = load_network(path, profile=profile)
    steps = x.shape[0]
    flat = x.reshape(steps, -1)
    k, idx = np.nonzero(flat)
    dt_ps = round(net.metadata["profile"]["dt_s"] * 1e12)
    stim = SpikeTrains(net.inputs[0], k.astype(np.int64) * dt_ps, idx)
    sim = Simulation(net, chip, config=RunConfig(mode="timestep"), stimuli=[stim])
    res = sim.run(duration_ps=steps * dt_ps)
    out = {}
    for name, pop in net.populations.items():
        lo = net.offset(name)
        sel = (res.spikes_neuron >= lo) & (res.spikes_neuron < lo + pop.size)
        grid = np.zeros((steps, pop.size), dtype=bool)
        grid[res.spikes_t_ps[sel] // dt_ps, res.spikes_neuron[sel] - lo] = True
        out[name] = grid
    return out


def population_of(spikes: dict, layer: int) -> str:
    """The population that a Sequential's module ``layer`` became (``'3'`` or ``'3.lif'``)."""
    for name in (str(layer), f"{layer}.lif"):
        if name in spikes:
            return name
    raise KeyError(f"no population for layer {layer}; populations are {sorted(spikes)}")


def mismatches(reference: dict, spikes: dict) -> tuple[int, int]:
    """``(framework spikes, mismatching step x neuron entries)`` over every spiking layer."""
    total = bad = 0
    for layer, ref in reference.items():
        got = spikes[population_of(spikes, layer)]
        ref = np.asarray(ref).reshape(got.shape) != 0
        total += int(ref.sum())
        bad += int((ref != got).sum())
    return total, bad
