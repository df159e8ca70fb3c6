"""The ``populations`` mapping strategy: whole populations on chips and on the right core type.

For a system of chips (``hardware.system``) and for chips with mixed tiles (``core_types``), the
placement decides two things the fill-in-order strategies ignore:

- **which chip**: populations are placed one by one in network order; each goes whole onto the
  chip with the most traffic to the populations already there (traffic between two
  populations: the synapses between them, both ways; the mapper does not know the rates), among
  the chips with room for it (ties: the chip fewest links away from that traffic, then the chip it
  fills best, then the lower chip). A population
  that fits no chip whole is spread over chips in that order of preference;
- **which core type**: a population whose incoming synapses are all dense or convolutional
  (``hardware.mapping.synapse_storage``) prefers crossbar cores; any other (an input population,
  or one fed by sparse projections) prefers digital cores. Where its preferred type has no room
  left, it takes the other types' free cores.

Every population starts on a fresh core (no core mixes two populations); within a chip, cores
are filled in id order, so a population's cores share tiles, except that a population one core
holds takes the smallest free core that holds it (cores with more memory are kept for what
needs them).
"""

from __future__ import annotations

import numpy as np

from aersim.hardware.errors import MappingError


def _traffic(network, names) -> np.ndarray:
    """Synapses between every pair of populations, both directions summed: float ``(P, P)``."""
    w = np.zeros((len(names), len(names)))
    for proj in network.projections:
        i, j = names.index(proj.pre), names.index(proj.post)
        w[i, j] += proj.n_synapses
        w[j, i] += proj.n_synapses
    np.fill_diagonal(w, 0.0)
    return w


def _wants_crossbar(network, name) -> bool:
    """True when every projection into population ``name`` is dense or a convolution."""
    from aersim.hardware.mapping import synapse_storage

    kinds = {synapse_storage(p, network) for p in network.projections if p.post == name}
    return bool(kinds) and kinds <= {"dense", "conv"}


def chips_needed(network, chip) -> int:
    """Chips of ``chip``'s kind (a system: its member chip) that would hold ``network`` with
    every population starting on a fresh core: at least 1."""
    member = getattr(chip, "member", None) or chip
    specs = member.core_specs()
    cap = np.array([s.neurons for s in specs], dtype=np.int64)[member.core_type_of()]
    # Cores a population needs, on the chip's largest cores first (a lower bound): whole chips,
    # then the largest cores of one more.
    cum = np.cumsum(np.sort(cap)[::-1])
    per_chip = member.n_cores
    cores = 0
    for p in network.populations.values():
        full, rest = divmod(int(p.size), int(cum[-1]))
        cores += full * per_chip + (int(np.searchsorted(cum, rest)) + 1 if rest else 0)
    by_cores = -(-cores // per_chip)
    by_neurons = -(-network.n_neurons // int(cap.sum()))
    return max(1, by_cores, by_neurons)


def place_populations(network, chip) -> np.ndarray:
    """Core of every neuron (int32 ``(n_neurons,)``) by the rules of the module docstring.

    Raises
    ------
    MappingError
        The populations, each on fresh cores, need more cores than the chip (or system) has;
        says how many chips it would take.
    """
    specs = chip.core_specs()
    kind = chip.core_type_of()
    cap = np.array([s.neurons for s in specs], dtype=np.int64)[kind]
    n_cores = chip.n_cores
    per_chip = chip.member.n_cores if getattr(chip, "member", None) is not None else n_cores
    n_groups = n_cores // per_chip
    group = np.arange(n_cores) // per_chip
    crossbar = np.array([s.crossbar is not None for s in specs])[kind]
    names = list(network.populations)
    w = _traffic(network, names)
    share = np.zeros((len(names), n_groups))       # fraction of each population on each chip
    # Links between every two chips (traffic placed farther away crosses more of them).
    hops = np.array([[len(chip.chip_path(g, h)) for h in range(n_groups)]
                     for g in range(n_groups)], dtype=np.float64) if n_groups > 1 else None
    free = np.ones(n_cores, dtype=bool)
    core_of = np.empty(network.n_neurons, dtype=np.int64)
    ids = np.arange(n_cores)
    for i, name in enumerate(names):
        pop = network.populations[name]
        lo, size = network.offset(name), pop.size
        if size == 0:
            continue
        prefer = crossbar == _wants_crossbar(network, name) if crossbar.any() and \
            not crossbar.all() else np.ones(n_cores, dtype=bool)
        room = np.bincount(group, weights=cap * (free & prefer), minlength=n_groups)
        affinity = w[i] @ share
        distance = (w[i] @ share) @ hops if n_groups > 1 else np.zeros(1)
        fits = room >= size
        # Chip order: fits whole, most traffic, fewest links to its traffic, best fit (least
        # room), lower chip.
        order = np.lexsort((np.arange(n_groups), np.where(fits, room, np.inf), distance,
                            -affinity, ~fits))
        rank = np.empty(n_groups, dtype=np.int64)
        rank[order] = np.arange(n_groups)
        cand = ids[free]
        cand = cand[np.lexsort((cand, rank[group[cand]], ~prefer[cand]))]
        # A population that one core of the first choices can hold takes the smallest such
        # core (a core with more memory is not spent on what a small core holds).
        first = cand[(rank[group[cand]] == rank[group[cand[0]]]) & (prefer[cand] == prefer[
            cand[0]])] if cand.size else cand
        whole = first[cap[first] >= size]
        if whole.size:
            best = whole[np.argmin(cap[whole])]
            cand = np.r_[best, cand[cand != best]]
        cum = np.cumsum(cap[cand])
        if cum.size == 0 or cum[-1] < size:
            need = chips_needed(network, chip)
            what = (f"system {chip.name!r} ({n_groups} chips of {chip.member.name!r})"
                    if n_groups > 1 else f"chip {chip.name!r}")
            raise MappingError(
                f"population {name!r} ({size} neurons) finds no free cores left on {what}: "
                f"with every population on cores of its own the network needs about {need} "
                f"chip(s); use a system with more chips or a denser strategy ('sequential')")
        k = int(np.searchsorted(cum, size)) + 1
        used = cand[:k]
        take = cap[used].copy()
        take[-1] -= int(cum[k - 1]) - size
        core_of[lo:lo + size] = np.repeat(used, take)
        free[used] = False
        share[i] = np.bincount(group[used], weights=take, minlength=n_groups) / size
    return core_of.astype(np.int32)
