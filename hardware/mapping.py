"""Placing a network's neurons onto a chip's cores.

A :class:`Mapping` says which core each neuron lives on. Strategies are registered in
:data:`STRATEGIES`; each is a function ``(network, chip) -> core_of`` that places neurons and
leaves the capacity checks to :func:`map_network`:

- ``sequential`` fills cores in order (cores of a tile are consecutive, so neighbours in the
  network land on the same tile);
- ``layer`` starts every population on a fresh core;
- ``balanced`` spreads every population evenly over all cores (least work per core, shortest
  timestep, most traffic);
- ``traffic`` orders neurons along the Fiedler vector of the connectivity graph (spectral
  partitioning: strongly connected neurons end up close) and fills cores in that order;
- a path to a ``.json`` or ``.npy`` file gives the placement explicitly (see
  :func:`load_mapping_file`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

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


def _balanced(network, chip) -> np.ndarray:
    """Every population dealt round-robin over all cores, continuing where the last one ended."""
    core_of = np.empty(network.n_neurons, dtype=np.int64)
    start, nxt = 0, 0
    for pop in network.populations.values():
        core_of[start:start + pop.size] = (nxt + np.arange(pop.size)) % chip.n_cores
        nxt = (nxt + pop.size) % chip.n_cores
        start += pop.size
    # Neurons of a core in id order; keep ids grouped by core so cores stay contiguous blocks
    # only where populations are (the engines need no contiguity).
    return core_of.astype(np.int32)


def _traffic(network, chip) -> np.ndarray:
    """Spectral ordering: neurons sorted by the Fiedler vector fill the cores in order."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import laplacian
    from scipy.sparse.linalg import eigsh

    n = network.n_neurons
    rows, cols = [], []
    for proj in network.projections:
        indptr, indices = proj.to_csr_arrays()[:2]
        pre = np.repeat(np.arange(indptr.size - 1), np.diff(indptr)) + network.offset(proj.pre)
        rows.append(pre)
        cols.append(indices.astype(np.int64) + network.offset(proj.post))
    if not rows or n < 3:
        return _sequential(network, chip)
    r, c = np.concatenate(rows), np.concatenate(cols)
    adj = coo_matrix((np.ones(r.size), (r, c)), shape=(n, n)).tocsr()
    adj = ((adj + adj.T) > 0).astype(np.float64)
    lap = laplacian(adj, normed=True)
    try:
        _, vecs = eigsh(lap, k=2, sigma=-1e-3, which="LM", maxiter=5000, tol=1e-6)
        fiedler = vecs[:, 1]
    except Exception:  # scipy's solver may not converge on odd graphs; fall back calmly
        return _sequential(network, chip)
    order = np.argsort(fiedler, kind="stable")
    core_of = np.empty(n, dtype=np.int64)
    core_of[order] = np.arange(n) // chip.core.neurons
    return core_of.astype(np.int32)


STRATEGIES = {"sequential": _sequential, "layer": _layer, "balanced": _balanced,
              "traffic": _traffic}


def load_mapping_file(path, network) -> np.ndarray:
    """Placement from a file: ``.npy`` (core of every neuron, int) or ``.json``.

    The JSON form maps population names to a core (every neuron there) or to a list with one
    core per neuron: ``{"input": 0, "hidden": [1, 1, 2, 2]}``. Every population must appear.
    """
    path = Path(path)
    try:
        if path.suffix == ".npy":
            core_of = np.load(path)
        else:
            spec = json.loads(path.read_text(encoding="utf-8"))
            core_of = np.empty(network.n_neurons, dtype=np.int64)
            for pop in network.populations.values():
                if pop.name not in spec:
                    raise MappingError(f"mapping file {path}: population {pop.name!r} has no "
                                       f"placement; add \"{pop.name}\": CORE or a list of "
                                       f"{pop.size} cores")
                value = np.asarray(spec[pop.name], dtype=np.int64)
                if value.ndim == 1 and value.size != pop.size:
                    raise MappingError(f"mapping file {path}: population {pop.name!r} lists "
                                       f"{value.size} cores for {pop.size} neurons")
                lo = network.offset(pop.name)
                core_of[lo:lo + pop.size] = value
    except (OSError, ValueError) as exc:
        raise MappingError(f"cannot read mapping file {path}: {exc}") from None
    core_of = np.asarray(core_of)
    if core_of.shape != (network.n_neurons,) or not np.issubdtype(core_of.dtype, np.integer):
        raise MappingError(f"mapping file {path}: need one integer core per neuron "
                           f"({network.n_neurons}), got {core_of.dtype} {core_of.shape}")
    if core_of.size and int(core_of.min()) < 0:
        raise MappingError(f"mapping file {path}: negative core {int(core_of.min())}")
    return core_of.astype(np.int32)


def map_network(network, chip, strategy: str = "sequential") -> Mapping:
    """Place ``network`` on ``chip`` with the named strategy and check every capacity.

    Raises
    ------
    MappingError
        Unknown strategy, or a limit that breaks: which limit, on which core, by how much, and
        what to change.
    """
    if str(strategy).endswith((".json", ".npy")):
        def place(net, _chip):
            return load_mapping_file(strategy, net)
    else:
        try:
            place = STRATEGIES[strategy]
        except KeyError:
            raise MappingError(f"unknown mapping strategy {strategy!r}; known: "
                               f"{', '.join(STRATEGIES)}, or a .json/.npy mapping file") from None
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
    if int(per_core.max(initial=0)) > chip.core.neurons:
        worst = int(np.argmax(per_core))
        raise MappingError(
            f"core {worst} gets {int(per_core[worst])} neurons but chip {chip.name!r} holds "
            f"{chip.core.neurons} per core ({int(per_core[worst]) - chip.core.neurons} too "
            f"many); change the placement or use strategy 'sequential'")
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
