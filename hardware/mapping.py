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
- ``populations`` keeps populations whole on chips of a system, placed greedily by the traffic
  between them, and on the core type that suits them on chips with mixed tiles
  (:mod:`hardware.placement`); the default there (:func:`default_strategy`);
- a path to a ``.json`` or ``.npy`` file gives the placement explicitly (see
  :func:`load_mapping_file`).

:func:`map_network` then checks every per-core limit the chip declares (a limit of 0 or an absent
section is unlimited):

- ``core.neurons`` and ``core.synapses`` (a synapse lives on its post-synaptic neuron's core);
- ``core.sram``: the synapse memory of a digital core, :func:`hardware.sram.synapse_memory_bytes`
  of what the core stores in its ``synapse_format``: ``"sparse"`` one entry (weight + index) per
  synapse; ``"dense"`` per projection, (distinct presynaptic neurons reaching the core) x
  (post-synaptic neurons of that projection on the core) entries; ``"conv"`` the kernel of every
  convolution with a post-synaptic neuron on the core, once, plus sparse entries for the other
  projections;
- ``core.crossbars_per_core`` on crossbar cores: every projection is tiled separately (as
  :func:`hardware.crossbar.network.apply_crossbar` programs it) into ``rows x columns``
  tiles; on each core, the synapses landing there form a sub-matrix whose rows are the
  projection's presynaptic indices and whose columns are the core's post-synaptic neurons of
  that projection, numbered in order, and the core needs
  ``tile_projection(sub-matrix).n_crossbars`` tiles for it. A convolution stores its kernel
  ``(C_out, C_in/groups*kH*kW)`` once per core holding its outputs;
- ``core.max_fan_in``: distinct presynaptic neurons whose synapses land on a core (Loihi's input
  axons);
- ``core.max_fan_out``: output edges of a core, the distinct (source neuron, destination core)
  pairs of the neurons it holds, its own core included (Loihi's output axons: one per neuron per
  destination core).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit

from aersim.hardware.errors import MappingError
from aersim.hardware.sram import synapse_memory_bytes
from aersim.hardware.typed_lists import typed_list
from aersim.models.network import projections_by_source


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
    fan_in_per_core, fan_out_per_core : ndarray, int64, (n_cores,) or None
        Distinct presynaptic neurons landing on each core; distinct (source neuron, destination
        core) pairs leaving it. ``None`` when built by hand.
    sram_bytes_per_core : ndarray, int64, (n_cores,) or None
        Synapse memory used on each core (``None`` without ``core.sram``).
    crossbars_used : ndarray, int64, (n_cores,) or None
        Crossbar tiles used on each core (``None`` on a digital chip).
    """

    strategy: str
    core_of: np.ndarray
    neurons_per_core: np.ndarray
    synapses_per_core: np.ndarray
    fan_in_per_core: np.ndarray | None = None
    fan_out_per_core: np.ndarray | None = None
    sram_bytes_per_core: np.ndarray | None = None
    crossbars_used: np.ndarray | None = None

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


def _populations(network, chip) -> np.ndarray:
    from aersim.hardware.placement import place_populations
    return place_populations(network, chip)


STRATEGIES = {"sequential": _sequential, "layer": _layer, "balanced": _balanced,
              "traffic": _traffic, "populations": _populations}


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


def default_strategy(chip) -> str:
    """``populations`` for a system of chips or a chip with mixed tiles, else ``sequential``."""
    if getattr(chip, "n_chips", 1) > 1 or len(chip.core_specs()) > 1:
        return "populations"
    return "sequential"


def map_network(network, chip, strategy: str | None = None) -> Mapping:
    """Place ``network`` on ``chip`` with the named strategy and check every capacity.

    ``strategy`` None: :func:`default_strategy` of the chip. On a chip with mixed tiles every
    core is checked against its own type's limits.

    Raises
    ------
    MappingError
        Unknown strategy, or a limit that breaks: which limit, on which core, by how much, and
        what to change.
    """
    if strategy is None:
        strategy = default_strategy(chip)
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
    specs = chip.core_specs()
    kind = chip.core_type_of()
    mixed = len(specs) > 1
    names = [f"core_types.{n}." if t else "core." for t, n in enumerate(chip.core_type_names())]
    cap = np.array([s.neurons for s in specs], dtype=np.int64)[kind]
    capacity = int(cap.sum())
    if total > capacity:
        from aersim.hardware.placement import chips_needed
        need = chips_needed(network, chip)
        member = getattr(chip, "member", None)
        what = (f"system {chip.name!r} holds {chip.n_chips} chips of {member.name!r}, "
                f"{capacity} neurons in all" if member is not None else
                f"chip {chip.name!r} holds {chip.n_cores} cores x {chip.core.neurons} = "
                f"{capacity}" if not mixed else
                f"chip {chip.name!r} holds {capacity} on its {chip.n_cores} cores")
        raise MappingError(
            f"network needs {total} neurons but {what} ({total - capacity} too many); it would "
            f"need {need} chips of {(member or chip).name!r}: use a system with at least that "
            "many (a system file, docs/hardware.md), or a larger chip")
    core_of = place(network, chip)
    if core_of.size and int(core_of.max()) >= chip.n_cores:
        raise MappingError(
            f"strategy {strategy!r} needs {int(core_of.max()) + 1} cores but chip "
            f"{chip.name!r} has {chip.n_cores}; use strategy 'sequential' or a larger chip")
    per_core = np.bincount(core_of, minlength=chip.n_cores).astype(np.int32)
    over = per_core > cap
    if over.any():
        worst = int(np.argmax(per_core - cap))
        raise MappingError(
            f"core {worst} gets {int(per_core[worst])} neurons but chip {chip.name!r} holds "
            f"{int(cap[worst])} per core by {names[kind[worst]]}neurons "
            f"({int(per_core[worst] - cap[worst])} too many); change the placement or use "
            f"strategy '{default_strategy(chip)}'")
    syn = _synapses_per_core(network, core_of, chip.n_cores)
    limit = np.array([s.synapses for s in specs], dtype=np.int64)[kind]
    bad = (limit > 0) & (syn > limit)
    if bad.any():
        worst = int(np.argmax(np.where(bad, syn - limit, -1)))
        raise MappingError(
            f"core {worst} must store {int(syn[worst])} synapses but chip {chip.name!r} has "
            f"memory for {int(limit[worst])} per core ({int(syn[worst] - limit[worst])} too "
            "many); spread the post-synaptic neurons over more cores or use a chip with more "
            "synapse memory")
    fan_in, fan_out = fan_in_out(network, core_of, chip.n_cores)
    sram_bytes = crossbars = None
    for t, core in enumerate(specs):
        rows = kind == t
        view = chip.with_core(core) if mixed else chip
        key = names[t]
        if core.sram is not None and core.crossbar is None:
            used = synapse_memory_per_core(network, core_of, view)
            sram_bytes = used if sram_bytes is None else np.where(rows, used, sram_bytes)
            _check_limit(np.where(rows, used, 0), core.sram.size_bytes, chip,
                         "bytes of synapse memory",
                         f"{key}sram.size_kb ({core.synapse_format} format, "
                         f"{core.weight_bits}-bit weights, {core.sram.word_bits}-bit words)",
                         "spread the post-synaptic neurons over more cores (strategy 'balanced' "
                         "or a smaller core.neurons), use narrower weights (core.weight_bits) or "
                         "a larger core.sram.size_kb")
        if core.crossbar is not None:
            used = crossbars_per_core(network, core_of, chip.n_cores, core.crossbar)
            crossbars = used if crossbars is None else np.where(rows, used, crossbars)
            _check_limit(np.where(rows, used, 0), core.crossbars_per_core, chip,
                         f"{core.crossbar.rows}x{core.crossbar.columns} crossbar tiles",
                         f"{key}crossbars_per_core",
                         "spread the post-synaptic neurons over more cores (strategy 'balanced' "
                         "or a smaller core.neurons), use larger tiles or raise "
                         "core.crossbars_per_core")
        _check_limit(np.where(rows, fan_in, 0), core.max_fan_in, chip,
                     "distinct presynaptic neurons (fan-in)", f"{key}max_fan_in",
                     "spread the post-synaptic neurons over more cores (e.g. strategy 'balanced' "
                     "or a smaller core.neurons) or reduce the connectivity")
        _check_limit(np.where(rows, fan_out, 0), core.max_fan_out, chip,
                     "output edges (fan-out: source neuron x destination core)",
                     f"{key}max_fan_out",
                     "place each neuron's targets on fewer cores (e.g. strategy 'traffic' or "
                     "'layer') or reduce the connectivity")
    return Mapping(strategy, core_of, per_core, syn, fan_in, fan_out, sram_bytes, crossbars)


def synapse_storage(proj, network) -> str:
    """How a core stores a projection's synapses: ``"conv"``, ``"dense"`` or ``"sparse"``.

    ``"conv"``: a shared-weight projection (a convolution kernel stored once per core);
    ``"dense"``: every (pre, post) pair is connected, so the synapses form a full matrix with
    no target indices; ``"sparse"``: a list of (target, weight) entries. Chips may price the
    three apart (``core.energy_pj.synaptic_op_dense`` / ``synaptic_op_conv``).
    """
    if hasattr(proj, "to_csr"):
        return "conv"
    n_pre = network.population(proj.pre).size
    n_post = network.population(proj.post).size
    return "dense" if proj.n_synapses == n_pre * n_post and n_pre * n_post > 0 else "sparse"


def _check_limit(used: np.ndarray, limit: int, chip, what: str, key: str, fix: str) -> None:
    """Raise a :class:`MappingError` naming the worst core when ``used`` exceeds ``limit`` > 0."""
    if not limit or used.size == 0 or int(used.max()) <= limit:
        return
    worst = int(np.argmax(used))
    over = np.flatnonzero(used > limit)
    others = f" ({over.size} cores over the limit)" if over.size > 1 else ""
    raise MappingError(
        f"core {worst} needs {int(used[worst])} {what} but chip {chip.name!r} allows {limit} "
        f"per core by {key} ({int(used[worst]) - limit} too many){others}; {fix}")


#: Synapses counted per call of ``np.bincount`` (bounds its int64 copy of the indices).
_CHUNK = 1 << 22


def _synapses_per_core(network, core_of: np.ndarray, n_cores: int) -> np.ndarray:
    """Synapses stored on each core: every synapse is counted on its target neuron's core."""
    out = np.zeros(n_cores, dtype=np.int64)
    for proj in network.projections:
        # Per target neuron first: no temporary the size of the synapse list.
        n_post = network.population(proj.post).size
        indices = proj.to_csr_arrays()[1]
        per_post = np.zeros(n_post, dtype=np.int64)
        for lo in range(0, indices.shape[0], _CHUNK):   # bincount copies its input as int64
            per_post += np.bincount(indices[lo:lo + _CHUNK], minlength=n_post)
        off = network.offset(proj.post)
        np.add.at(out, core_of[off:off + n_post], per_post)
    return out


def _synapse_arrays(network, proj, core_of):
    """``(pre, post, core)`` of every synapse: local pre and post indices, the post's core."""
    indptr, indices = proj.to_csr_arrays()[:2]
    pre = np.repeat(np.arange(indptr.size - 1, dtype=np.int64), np.diff(indptr))
    post = indices.astype(np.int64)
    return pre, post, core_of[network.offset(proj.post) + post].astype(np.int64)


def fan_in_out(network, core_of: np.ndarray, n_cores: int) -> tuple[np.ndarray, np.ndarray]:
    """Fan-in and fan-out of every core (definitions in the module docstring).

    Returns
    -------
    (fan_in, fan_out) : two int64 arrays ``(n_cores,)``
    """
    first, grp_ptr, projs = projections_by_source(network)
    if not projs:
        return np.zeros(n_cores, dtype=np.int64), np.zeros(n_cores, dtype=np.int64)
    indptrs, indices = [], []
    post0 = np.zeros(len(projs), dtype=np.int64)
    for j, proj in enumerate(projs):
        indptr, idx = proj.to_csr_arrays()[:2]
        indptrs.append(np.ascontiguousarray(indptr, dtype=np.int64))
        indices.append(np.ascontiguousarray(idx, dtype=np.int32))
        post0[j] = network.offset(proj.post)
    return _fan_kernel(first, grp_ptr, typed_list(indptrs), typed_list(indices), post0,
                       np.ascontiguousarray(core_of, dtype=np.int64), n_cores)


@njit(cache=True)
def _fan_kernel(first, grp_ptr, indptrs, indices, post0, core_of, n_cores):
    """Count the distinct (source neuron, destination core) pairs by each core of the pair.

    ``seen[c] == i`` marks core ``c`` as already reached by neuron ``i``, so one walk over
    every neuron's fan-out counts each pair once, without sorting the synapse list.
    """
    seen = np.full(n_cores, -1, dtype=np.int64)
    fan_in = np.zeros(n_cores, dtype=np.int64)
    fan_out = np.zeros(n_cores, dtype=np.int64)
    for g in range(first.shape[0] - 1):
        for i in range(first[g], first[g + 1]):
            r = i - first[g]
            for p in range(grp_ptr[g], grp_ptr[g + 1]):
                ip = indptrs[p]
                idx = indices[p]
                for k in range(ip[r], ip[r + 1]):
                    c = core_of[post0[p] + idx[k]]
                    if seen[c] != i:
                        seen[c] = i
                        fan_in[c] += 1
                        fan_out[core_of[i]] += 1
    return fan_in, fan_out


def _local_rank(cores: np.ndarray) -> np.ndarray:
    """Position of every element among the elements with the same core, in index order."""
    order = np.argsort(cores, kind="stable")
    sorted_cores = cores[order]
    starts = np.flatnonzero(np.r_[True, sorted_cores[1:] != sorted_cores[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, cores.size]))
    rank = np.empty(cores.size, dtype=np.int64)
    rank[order] = np.arange(cores.size, dtype=np.int64) - group_start
    return rank


def crossbars_per_core(network, core_of: np.ndarray, n_cores: int, spec) -> np.ndarray:
    """Crossbar tiles each core needs (rule in the module docstring), int64 ``(n_cores,)``."""
    from aersim.models.conv import ConvProjection

    out = np.zeros(n_cores, dtype=np.int64)
    for proj in network.projections:
        n_post = network.population(proj.post).size
        post_cores = core_of[network.offset(proj.post) + np.arange(n_post)].astype(np.int64)
        if isinstance(proj, ConvProjection):
            n_out, n_in = proj.weight.shape[0], proj.weight[0].size
            tiles = -(-n_in // spec.rows) * -(-n_out // spec.columns)
            out[np.unique(post_cores)] += tiles
            continue
        pre, post, core = _synapse_arrays(network, proj, core_of)
        if pre.size == 0:
            continue
        col_block = _local_rank(post_cores)[post] // spec.columns
        n_cb = -(-n_post // spec.columns)
        n_rb = -(-(network.population(proj.pre).size) // spec.rows)
        tiles = np.unique((core * n_rb + pre // spec.rows) * n_cb + col_block)
        out += np.bincount(tiles // (n_rb * n_cb), minlength=n_cores)
    return out


def synapse_memory_per_core(network, core_of: np.ndarray, chip) -> np.ndarray:
    """Bytes of ``core.sram`` each core's synapses occupy (rule in the module docstring)."""
    from aersim.models.conv import ConvProjection

    core, n_cores = chip.core, chip.n_cores
    word = core.sram.word_bits
    sparse = np.zeros(n_cores, dtype=np.int64)     # weight + index entries
    plain = np.zeros(n_cores, dtype=np.int64)      # weight-only entries (dense matrix, kernels)
    for proj in network.projections:
        pre, _, cores = _synapse_arrays(network, proj, core_of)
        if core.synapse_format == "sparse" or (core.synapse_format == "conv"
                                               and not isinstance(proj, ConvProjection)):
            sparse += np.bincount(cores, minlength=n_cores)
        elif core.synapse_format == "conv":
            holders = np.unique(core_of[network.offset(proj.post)
                                        + np.arange(network.population(proj.post).size)])
            plain[holders] += proj.weight.size
        else:                                      # dense: a (sources x targets) block per core
            n_pre = network.population(proj.pre).size
            sources = np.bincount(np.unique(cores * n_pre + pre) // n_pre, minlength=n_cores)
            n_post = network.population(proj.post).size
            targets = np.bincount(core_of[network.offset(proj.post) + np.arange(n_post)],
                                  minlength=n_cores)
            plain += sources.astype(np.int64) * targets.astype(np.int64)
    fmt_plain = "conv" if core.synapse_format == "conv" else "dense"
    return np.array([synapse_memory_bytes(int(s), core.weight_bits, core.index_bits, "sparse",
                                          word)
                     + synapse_memory_bytes(int(p), core.weight_bits, 0, fmt_plain, word)
                     for s, p in zip(sparse, plain, strict=True)], dtype=np.int64)
