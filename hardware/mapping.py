"""Placing a network's neurons onto a chip's cores.

A :class:`Mapping` says which core each neuron lives on. Strategies are registered in
:data:`STRATEGIES`; each is a function ``(network, chip) -> core_of`` that places neurons and
leaves the capacity checks to :func:`map_network`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hardware.errors import MappingError


@dataclass(frozen=True, eq=False)
class Mapping:
    """Where every neuron lives.

    Attributes
    ----------
    strategy : str
    core_of : ndarray, int32, (n_neurons,)
        Core of each neuron (global neuron ids, see ``Network.offset``).
    neurons_per_core : ndarray, int32, (n_cores,)
    synapses_per_core : ndarray, int64, (n_cores,)
        Synapses stored on each core (a synapse lives with its postsynaptic neuron).
    """

    strategy: str
    core_of: np.ndarray
    neurons_per_core: np.ndarray
    synapses_per_core: np.ndarray

    @property
    def cores_used(self) -> int:
        return int(np.count_nonzero(self.neurons_per_core))


def _sequential(network, chip) -> np.ndarray:
    """Fill cores in order, neuron after neuron, populations back to back."""
    cap = chip.core.neurons
    return (np.arange(network.n_neurons, dtype=np.int64) // cap).astype(np.int32)


def _layer(network, chip) -> np.ndarray:
    """Every population starts on a fresh core, so no core mixes two layers."""
    cap = chip.core.neurons
    core_of = np.empty(network.n_neurons, dtype=np.int64)
    start, core = 0, 0
    for pop in network.populations.values():
        core_of[start:start + pop.size] = core + np.arange(pop.size) // cap
        core += -(-pop.size // cap)
        start += pop.size
    return core_of.astype(np.int32)


STRATEGIES = {"sequential": _sequential, "layer": _layer}


def map_network(network, chip, strategy: str = "sequential") -> Mapping:
    """Place ``network`` on ``chip`` with the named strategy and check every capacity.

    Raises
    ------
    MappingError
        Unknown strategy, or a limit that breaks: which limit, on which core, by how much, and
        what to change.
    """
    try:
        place = STRATEGIES[strategy]
    except KeyError:
        raise MappingError(f"unknown mapping strategy {strategy!r}; known: "
                           f"{', '.join(STRATEGIES)}") from None
    total = network.n_neurons
    capacity = chip.n_cores * chip.core.neurons
    if total > capacity:
        raise MappingError(
            f"network needs {total} neurons but chip {chip.name!r} holds {chip.n_cores} cores x "
            f"{chip.core.neurons} = {capacity} ({total - capacity} too many); use a larger chip "
            "(mesh width/height, cores_per_tile or core.neurons)")
    core_of = place(network, chip)
    if core_of.size and int(core_of.max()) >= chip.n_cores:
        raise MappingError(
            f"strategy {strategy!r} needs {int(core_of.max()) + 1} cores but chip "
            f"{chip.name!r} has {chip.n_cores}; use strategy 'sequential' or a larger chip")
    per_core = np.bincount(core_of, minlength=chip.n_cores).astype(np.int32)
    syn = _synapses_per_core(network, core_of, chip.n_cores)
    limit = chip.core.synapses
    if limit and int(syn.max()) > limit:
        worst = int(np.argmax(syn))
        raise MappingError(
            f"core {worst} must store {int(syn[worst])} synapses but chip {chip.name!r} has "
            f"memory for {limit} per core ({int(syn[worst]) - limit} too many); spread the "
            "post-synaptic neurons over more cores or use a chip with more synapse memory")
    return Mapping(strategy, core_of, per_core, syn)


def _synapses_per_core(network, core_of: np.ndarray, n_cores: int) -> np.ndarray:
    """Synapses stored on each core: every synapse is counted on its target neuron's core."""
    out = np.zeros(n_cores, dtype=np.int64)
    for proj in network.projections:
        indices = proj.to_csr_arrays()[1]
        post = core_of[network.offset(proj.post) + indices.astype(np.int64)]
        out += np.bincount(post, minlength=n_cores)
    return out
