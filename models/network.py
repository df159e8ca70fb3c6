"""``Network``: populations of neurons and the projections (CSR synapse tables) between them.

A network is pure data. Neurons are numbered globally in the order their populations were added
(``Network.offset(name)`` gives the first id of a population). Each projection stores its synapses
in compressed sparse rows over the presynaptic neurons::

    indptr   int64  (n_pre + 1,)  row i spans indptr[i]:indptr[i+1]
    indices  int32  (n_syn,)      postsynaptic neuron, local to the post population
    weights  float32 (n_syn,)     weight (a voltage jump times the neuron's input_gain)
    delays_ps int64 ()  or (n_syn,)  synaptic delay in picoseconds; a 0-d array is one delay
                                  shared by every synapse of the projection (no copy per synapse)

The ``indices`` and ``weights`` of all projections may be views of one int32 and one float32
array (:func:`synapse_arena`, as the built-in generators allocate them): the engine then reads
them in place instead of copying 8 bytes per synapse (``simcore.engine.synapse_tables``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from aersim.models.errors import NetworkError


@dataclass(frozen=True, eq=False)
class Population:
    """A group of neurons sharing one model.

    Parameters
    ----------
    name : str
        Unique name within the network.
    size : int
        Number of neurons.
    params : object
        Model parameters (``LIFParams``, ``InputParams``, …) with a ``kind`` tag.
    shape : tuple of int
        Logical shape (e.g. ``(2, 34, 34)`` for a camera input); its product is ``size``.
    """

    name: str
    size: int
    params: object
    shape: tuple = ()

    def __post_init__(self):
        if not isinstance(self.size, (int, np.integer)) or self.size <= 0:
            raise NetworkError(f"population {self.name!r}: size must be a positive integer, "
                               f"got {self.size!r}")
        shape = tuple(int(s) for s in (self.shape or (self.size,)))
        if int(np.prod(shape)) != self.size:
            raise NetworkError(f"population {self.name!r}: shape {shape} holds "
                               f"{int(np.prod(shape))} neurons, not {self.size}")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "size", int(self.size))

    @property
    def kind(self) -> str:
        """The model's type tag (``"lif"``, ``"input"``, …)."""
        return self.params.kind


@dataclass(frozen=True, eq=False)
class Projection:
    """Synapses from population ``pre`` to population ``post`` in CSR form (see module doc).

    ``channel`` selects which input of the target neurons the synapses feed: 0 for every
    single-input model; a model with several inputs (``params.input_channels``, e.g. the gates
    of an EGRU) numbers them from 0.
    """

    name: str
    pre: str
    post: str
    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    delays_ps: np.ndarray
    channel: int = 0

    @property
    def n_synapses(self) -> int:
        """Number of synapses."""
        return int(self.indices.shape[0])

    def to_csr_arrays(self):
        """``(indptr, indices, weights, delays_ps)``; for CSR projections, the arrays themselves."""
        return self.indptr, self.indices, self.weights, self.delays_ps

    def delays_per_synapse(self) -> np.ndarray:
        """Delays as a full ``(n_syn,)`` int64 array (expands a shared delay)."""
        return np.broadcast_to(self.delays_ps, (self.n_synapses,))


@dataclass(eq=False)
class Network:
    """Populations and projections; the network loaded from a file or built by a generator.

    Attributes
    ----------
    populations : dict[str, Population]
        In the order they were added; that order numbers the neurons.
    projections : list[Projection]
    inputs, outputs : list[str]
        Names of the populations that receive the stimulus and whose spikes are the result.
    metadata : dict
        Free-form provenance (source file, generator and seed, import profile…).
    """

    populations: dict = field(default_factory=dict)
    projections: list = field(default_factory=list)
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    # -- building ------------------------------------------------------------------------------

    def add_population(self, name: str, size: int, params, shape=()) -> Population:
        """Add a population and return it. Raises ``NetworkError`` on a duplicate name."""
        if name in self.populations:
            raise NetworkError(f"population {name!r} exists already; choose another name")
        pop = Population(name, size, params, shape)
        self.populations[name] = pop
        return pop

    def connect(self, pre: str, post: str, pre_idx, post_idx, weights, delays_ps,
                name: str | None = None, channel: int = 0) -> Projection:
        """Add a projection given as coordinate lists (one entry per synapse).

        Parameters
        ----------
        pre, post : str
            Population names.
        pre_idx, post_idx : array_like of int, shape (n_syn,)
            Local neuron indices in ``pre`` and ``post``.
        weights : array_like of float, shape (n_syn,) or scalar
        delays_ps : int or array_like of int, shape (n_syn,)
            Synaptic delays in picoseconds (>= 0). A scalar is stored once.
        """
        p_pre, p_post = self.population(pre), self.population(post)
        pre_idx = np.asarray(pre_idx, dtype=np.int64).ravel()
        post_idx = np.asarray(post_idx, dtype=np.int64).ravel()
        n = pre_idx.shape[0]
        label = name or f"{pre}->{post}"
        if post_idx.shape[0] != n:
            raise NetworkError(f"projection {label!r}: {n} presynaptic but {post_idx.shape[0]} "
                               "postsynaptic indices; give one of each per synapse")
        weights = np.broadcast_to(np.asarray(weights, dtype=np.float32), (n,))
        delays = np.asarray(delays_ps, dtype=np.int64)
        if delays.ndim not in (0, 1) or (delays.ndim == 1 and delays.shape[0] != n):
            raise NetworkError(f"projection {label!r}: delays must be a scalar or one per "
                               f"synapse ({n}), got shape {delays.shape}")
        _check_range(label, "presynaptic", pre_idx, p_pre.size)
        _check_range(label, "postsynaptic", post_idx, p_post.size)
        order = _counting_sort_kernel(pre_idx, p_pre.size)
        indptr = np.zeros(p_pre.size + 1, dtype=np.int64)
        np.cumsum(np.bincount(pre_idx, minlength=p_pre.size), out=indptr[1:])
        proj = Projection(label, pre, post, indptr,
                          np.ascontiguousarray(post_idx[order], dtype=np.int32),
                          np.ascontiguousarray(weights[order]),
                          delays if delays.ndim == 0 else np.ascontiguousarray(delays[order]),
                          channel=int(channel))
        self.add_projection(proj)
        return proj

    def add_projection(self, proj: Projection) -> Projection:
        """Validate and add a projection already in CSR form."""
        label = proj.name
        if any(p.name == label for p in self.projections):
            raise NetworkError(f"projection {label!r} exists already; pass another name=")
        p_pre, p_post = self.population(proj.pre), self.population(proj.post)
        channels = getattr(p_post.params, "input_channels", 1)
        if not 0 <= getattr(proj, "channel", 0) < channels:
            raise NetworkError(f"projection {label!r}: channel {proj.channel} does not exist; "
                               f"{p_post.kind} neurons of {p_post.name!r} have {channels} "
                               f"input channel(s), 0..{channels - 1}")
        if hasattr(proj, "to_csr"):
            # Shared-weight projections (convolutions) validate their own geometry; their CSR
            # form is derived only when a mapper or an engine needs it.
            proj.validate(p_pre, p_post)
            self.projections.append(proj)
            return proj
        if proj.indptr.dtype != np.int64 or proj.indptr.shape != (p_pre.size + 1,):
            raise NetworkError(f"projection {label!r}: indptr must be int64 of shape "
                               f"({p_pre.size + 1},), got {proj.indptr.dtype} {proj.indptr.shape}")
        n = proj.n_synapses
        if proj.indptr[0] != 0 or proj.indptr[-1] != n or np.any(np.diff(proj.indptr) < 0):
            raise NetworkError(f"projection {label!r}: indptr is not a valid CSR row pointer "
                               f"for {n} synapses")
        if proj.indices.dtype != np.int32 or proj.weights.dtype != np.float32:
            raise NetworkError(f"projection {label!r}: indices must be int32 and weights "
                               "float32")
        if proj.weights.shape != (n,):
            raise NetworkError(f"projection {label!r}: {proj.weights.shape[0]} weights for "
                               f"{n} synapses")
        _check_range(label, "postsynaptic", proj.indices, p_post.size)
        if not np.all(np.isfinite(proj.weights)):
            bad = int(np.flatnonzero(~np.isfinite(proj.weights))[0])
            raise NetworkError(f"projection {label!r}: weight of synapse {bad} is "
                               f"{proj.weights[bad]}; weights must be finite")
        if proj.delays_ps.size and int(proj.delays_ps.min()) < 0:
            raise NetworkError(f"projection {label!r}: negative delay "
                               f"{int(proj.delays_ps.min())} ps; delays must be >= 0")
        self.projections.append(proj)
        return proj

    # -- queries -------------------------------------------------------------------------------

    def population(self, name: str) -> Population:
        """The population called ``name``; ``NetworkError`` listing the known names otherwise."""
        try:
            return self.populations[name]
        except KeyError:
            raise NetworkError(f"no population {name!r}; the network has "
                               f"{sorted(self.populations)}") from None

    def offset(self, name: str) -> int:
        """Global id of the first neuron of population ``name``."""
        start = 0
        for pop in self.populations.values():
            if pop.name == name:
                return start
            start += pop.size
        raise NetworkError(f"no population {name!r}; the network has {sorted(self.populations)}")

    @property
    def n_neurons(self) -> int:
        """Total number of neurons."""
        return sum(p.size for p in self.populations.values())

    @property
    def n_synapses(self) -> int:
        """Total number of synapses."""
        return sum(p.n_synapses for p in self.projections)

    def summary(self) -> str:
        """One line per population and projection, for ``aersim info``."""
        lines = [f"network: {self.n_neurons} neurons, {self.n_synapses} synapses"]
        for p in self.populations.values():
            lines.append(f"  population {p.name}: {p.size} x {p.kind} shape {p.shape}")
        for p in self.projections:
            lines.append(f"  projection {p.name}: {p.pre} -> {p.post}, {p.n_synapses} synapses")
        return "\n".join(lines)


def synapse_arena(sizes) -> list[tuple[np.ndarray, np.ndarray]]:
    """One int32 index array and one float32 weight array for every synapse of a network, cut
    into one ``(indices, weights)`` pair of views per projection.

    Projections filled in these views cover the arena exactly, which lets the engine use the
    arena as its own synapse arrays (no copy: a build then adds no bytes per synapse when every
    row is in (destination core, delay) order; ``simcore.engine.synapse_tables``).

    Parameters
    ----------
    sizes : sequence of int
        Synapses of each projection, in any order the network will hold them (whole numbers
        >= 0).

    Returns
    -------
    list of (int32 ndarray (sizes[k],), float32 ndarray (sizes[k],))
        The uninitialised views, one pair per projection, in the order of ``sizes``.
    """
    sizes = list(sizes)
    if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0
           for s in sizes):
        raise NetworkError(f"synapse counts must be whole numbers >= 0, got {sizes}")
    sizes = [int(s) for s in sizes]
    indices = np.empty(sum(sizes), dtype=np.int32)
    weights = np.empty(sum(sizes), dtype=np.float32)
    cuts = np.cumsum([0] + sizes)
    return [(indices[a:b], weights[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


def projections_by_source(network: Network) -> tuple[np.ndarray, np.ndarray, list]:
    """Projections grouped by presynaptic population, for code that walks each neuron's whole
    fan-out (its rows in every projection leaving its population) one neuron at a time.

    Returns
    -------
    first : int64 ndarray (n_populations + 1,)
        Population ``g`` (in network order) holds the neurons ``first[g]:first[g + 1]``.
    grp_ptr : int64 ndarray (n_populations + 1,)
        Population ``g`` is the source of ``projs[grp_ptr[g]:grp_ptr[g + 1]]``.
    projs : list
        The projections, by source population, each group in the order they were added.
    """
    names = list(network.populations)
    first = np.zeros(len(names) + 1, dtype=np.int64)
    np.cumsum([network.populations[p].size for p in names], out=first[1:])
    groups = [[p for p in network.projections if p.pre == name] for name in names]
    grp_ptr = np.zeros(len(names) + 1, dtype=np.int64)
    np.cumsum([len(g) for g in groups], out=grp_ptr[1:])
    return first, grp_ptr, [p for g in groups for p in g]


def _check_range(label: str, side: str, idx: np.ndarray, size: int) -> None:
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= size):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise NetworkError(f"projection {label!r}: {side} index {bad} is outside the "
                           f"population (0..{size - 1})")


@njit(cache=True)
def _counting_sort_kernel(keys, n_keys):
    """Stable permutation that sorts ``keys`` (int64 in ``[0, n_keys)``) ascending, O(n)."""
    counts = np.zeros(n_keys + 1, dtype=np.int64)
    for k in keys:
        counts[k + 1] += 1
    for i in range(n_keys):
        counts[i + 1] += counts[i]
    order = np.empty(keys.shape[0], dtype=np.int64)
    for i in range(keys.shape[0]):
        k = keys[i]
        order[counts[k]] = i
        counts[k] += 1
    return order
