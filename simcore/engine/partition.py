"""Partitioning a mapped network over the ranks of a parallel (MPI) run.

Each rank owns a contiguous block of the chip's cores that hold neurons, and with them those
cores' neurons: it updates them and delivers every synapse that lands on them. Blocks are
balanced by work: the synapses a core receives (each spike delivered onto the core costs one
synaptic operation per synapse) plus its neurons (one update each per step).

Within a step, a zero-delay synapse must reach its target before the target is updated. The
network's populations are cut into *levels*: a new level starts at the first population that
receives a zero-delay synapse from a population of the current level. Within a level no neuron
depends on another in the same step, so ranks update a level's neurons independently and then
exchange its spikes; a network without zero-delay synapses is one level (one exchange per step).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from aersim.simcore.engine.synapse_tables import message_synapses
from aersim.simcore.errors import ConfigError


class Partition(NamedTuple):
    """Which rank owns what (all arrays are the same on every rank)."""

    n_ranks: int
    core_rank: np.ndarray     # int32 (n_cores,): owning rank of each core (-1: no neurons)
    neuron_rank: np.ndarray   # int32 (n_neurons,): owning rank of each neuron
    levels: np.ndarray        # int64 (n_levels + 1,): neuron id bounds of zero-delay levels
    work: np.ndarray          # int64 (n_ranks,): synapses received + neurons, per rank


def core_work(neuron_core: np.ndarray, msg_core: np.ndarray, msg_syn: np.ndarray,
              n_cores: int) -> np.ndarray:
    """Work of every core (int64 (n_cores,)): synapses it receives plus neurons it holds.

    ``msg_syn`` is the number of synapses of each message (int64, same shape as ``msg_core``).
    """
    work = np.bincount(msg_core, weights=msg_syn, minlength=n_cores).astype(np.int64)
    work += np.bincount(neuron_core, minlength=n_cores).astype(np.int64)
    return work


def split_cores(work: np.ndarray, used: np.ndarray, n_ranks: int) -> np.ndarray:
    """Contiguous blocks of the used cores, one per rank, balanced by ``work``.

    Returns the owning rank of every core (int32, -1 for cores without neurons). Rank ``r``'s
    block ends at the first used core where the running work reaches ``(r + 1) / n_ranks`` of
    the total, leaving at least one used core to each later rank.
    """
    idx = np.flatnonzero(used)
    if n_ranks > idx.size:
        raise ConfigError(f"{n_ranks} ranks for a network on {idx.size} cores with neurons: a "
                          f"rank owns whole cores, so use at most {idx.size} ranks or threads "
                          f"(--ranks {idx.size} or --threads {idx.size})")
    cum = np.cumsum(work[idx].astype(np.float64))
    total = cum[-1] if cum.size else 0.0
    rank = np.full(work.shape[0], -1, dtype=np.int32)
    start = 0
    for r in range(n_ranks):
        if r == n_ranks - 1:
            stop = idx.size
        else:
            stop = int(np.searchsorted(cum, total * (r + 1) / n_ranks, side="left")) + 1
            # at least one core for this rank and for each later one
            stop = min(max(stop, start + 1), idx.size - (n_ranks - 1 - r))
        rank[idx[start:stop]] = r
        start = stop
    return rank


def zero_delay_levels(network) -> np.ndarray:
    """Neuron id bounds (int64 (n_levels + 1,)) of the network's zero-delay levels."""
    names = list(network.populations)
    zero_from = {name: set() for name in names}
    for proj in network.projections:
        d = proj.to_csr_arrays()[3]
        if np.size(d) and np.any(np.asarray(d) == 0):
            zero_from[proj.post].add(proj.pre)
    bounds = [0]
    current: set = set()
    for name in names:
        if zero_from[name] & current:
            bounds.append(network.offset(name))
            current = set()
        current.add(name)
    bounds.append(network.n_neurons)
    return np.asarray(bounds, dtype=np.int64)


def partition(network, neuron_core: np.ndarray, syn, n_cores: int, n_ranks: int) -> Partition:
    """The :class:`Partition` of a built network (``syn``: its ``SynapseTables``) over
    ``n_ranks`` ranks."""
    work = core_work(neuron_core, syn.msg_core, message_synapses(syn), n_cores)
    used = np.bincount(neuron_core, minlength=n_cores) > 0
    core_rank = split_cores(work, used, n_ranks)
    rank_work = np.bincount(core_rank[used], weights=work[used],
                            minlength=n_ranks).astype(np.int64)
    return Partition(n_ranks=n_ranks, core_rank=core_rank,
                     neuron_rank=core_rank[neuron_core].astype(np.int32),
                     levels=zero_delay_levels(network), work=rank_work)
