"""Sorting a network's synapses into the engine's fan-out tables, without a per-synapse temporary.

Used by :func:`simcore.engine.build.build_synapses`, which defines the tables
(``SynapseTables``). Every neuron's row is the concatenation of its CSR rows in all projections
leaving its population, in projection order; the row is sorted stably by (destination core,
delay) and written straight into the final ``target`` (int32) and ``weight`` (float32) arrays.
Nothing else of size ``n_syn`` is allocated: the sort works on one row at a time in scratch
buffers of the longest row, and the tables of segments and messages are sized by a first pass
that only counts them. The peak is therefore the network's own arrays, the engine's 8 bytes per
synapse and the segment and message tables. The segment and message pointers are int32 while
the counts they index fit (:func:`narrowest_int`), int64 beyond.

The engine's ``target`` and ``weight`` are single arrays over all neurons, in that sorted
order, holding global input slots. A network's arrays can be them only when it has one
projection, onto the first population's single input channel (local index = slot), and every
row is already in (core, delay) order: then the tables use the projection's ``indices`` and
``weights`` themselves and keep nothing per synapse (:func:`_shareable`). With several
projections a neuron's synapses lie in several arrays, with indices local to each target
population, so the engine copies them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from aersim.hardware.typed_lists import typed_list
from aersim.models.network import projections_by_source

#: Largest count an int32 pointer array can index up to (its last entry is the count itself).
INT32_LIMIT = int(np.iinfo(np.int32).max)


def narrowest_int(largest: int):
    """Type of an integer table whose entries lie in ``[-largest, largest]`` (a pointer array
    running from 0 to a count of synapses or segments, a message's work in ps): int32 while
    ``largest`` fits, int64 beyond (such a network compiles the engine kernels once more)."""
    return np.int32 if largest <= INT32_LIMIT else np.int64


def fan_out_tables(network, slot_core: np.ndarray, slot0: np.ndarray, delay_bits: int,
                   share: bool = True):
    """The fan-out of every neuron of ``network``, sorted by (core, delay).

    Parameters
    ----------
    network : models.Network
    slot_core : int32 array (n_slots,)
        Core of every input slot (a synapse's target is a slot).
    slot0 : int64 array (n_neurons,)
        First input slot of every neuron.
    delay_bits : int
        Width of the delay in the (core, delay) sort key; delays must be below ``2**delay_bits``.
    share : bool
        Use the network's own index and weight arrays as ``target`` and ``weight`` when they
        are those arrays already (see the module doc); False: always copy.

    Returns
    -------
    tuple
        ``(target, weight, seg_lo, seg_delay, delay_ps, msg_ptr, msg_core, msg_seg_lo)`` as
        described by ``SynapseTables``; ``target`` and ``weight`` may be the network's arrays.
    """
    n = network.n_neurons
    first, grp_ptr, projs = projections_by_source(network)
    indptrs, indices, weights, delays = [], [], [], []   # typed lists for the kernels
    shared = np.zeros(len(projs), dtype=np.bool_)
    post0 = np.zeros(len(projs), dtype=np.int64)
    stride = np.ones(len(projs), dtype=np.int64)
    counts = np.zeros(n, dtype=np.int64)
    own_delays = []     # (synapses, delays) of each projection, for distinct_delays
    if not projs:   # a typed list needs one item to have a type; no group refers to it
        z = np.zeros(1, dtype=np.int64)
        indptrs.append(z), indices.append(z.astype(np.int32))
        weights.append(z.astype(np.float32)), delays.append(z)
    for j, proj in enumerate(projs):
        indptr, idx, w, d = proj.to_csr_arrays()
        indptrs.append(np.ascontiguousarray(indptr, dtype=np.int64))
        indices.append(np.ascontiguousarray(idx, dtype=np.int32))
        weights.append(np.ascontiguousarray(w, dtype=np.float32))
        delays.append(np.ascontiguousarray(np.atleast_1d(d), dtype=np.int64))
        own_delays.append((idx.shape[0], np.atleast_1d(d)))
        shared[j] = d.ndim == 0
        stride[j] = getattr(network.population(proj.post).params, "input_channels", 1)
        post0[j] = slot0[network.offset(proj.post)] + getattr(proj, "channel", 0)
        pre0 = network.offset(proj.pre)
        counts[pre0:pre0 + indptr.shape[0] - 1] += np.diff(indptr)
    row = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=row[1:])
    longest = int(counts.max(initial=0))
    del counts
    args = (first, grp_ptr, typed_list(indptrs), typed_list(indices), typed_list(weights),
            typed_list(delays), shared, post0, stride, slot_core,
            np.int64(delay_bits), longest)
    delay_ps = distinct_delays(own_delays)
    n_seg, n_msg, ordered = _count_kernel(*args)
    copy = not (share and ordered and _shareable(projs, post0, stride))
    if copy:
        target = np.empty(int(row[-1]), dtype=np.int32)
        weight = np.empty(int(row[-1]), dtype=np.float32)
    else:
        target, weight = projs[0].indices, projs[0].weights
    seg_lo = np.empty(n_seg + 1, dtype=narrowest_int(int(row[-1])))
    seg_delay = np.empty(n_seg, dtype=np.int32)
    msg_ptr = np.empty(n + 1, dtype=np.int64)
    msg_core = np.empty(n_msg, dtype=np.int32)
    msg_seg_lo = np.empty(n_msg + 1, dtype=narrowest_int(n_seg))
    _fill_kernel(*args, copy, row, target, weight, seg_lo, seg_delay, delay_ps, msg_ptr,
                 msg_core, msg_seg_lo)
    return target, weight, seg_lo, seg_delay, delay_ps, msg_ptr, msg_core, msg_seg_lo


def _shareable(projs, post0, stride) -> bool:
    """Whether the only projection's ``indices`` and ``weights`` are the engine's ``target``
    and ``weight`` once every row is known to be in (core, delay) order: local index = input
    slot (onto the first population, one channel), the engine's types, no gap before or after
    the rows (the engine's arrays hold exactly the synapses of the rows in neuron order)."""
    if len(projs) != 1 or post0[0] != 0 or stride[0] != 1:
        return False
    p = projs[0]
    return (isinstance(p.indices, np.ndarray) and p.indices.dtype == np.int32
            and p.indices.flags.c_contiguous and p.indices.flags.writeable
            and isinstance(p.weights, np.ndarray) and p.weights.dtype == np.float32
            and p.weights.flags.c_contiguous and p.weights.flags.writeable
            and p.weights.shape == p.indices.shape and p.indptr.shape[0] > 0
            and int(p.indptr[0]) == 0 and int(p.indptr[-1]) == p.indices.shape[0])


def distinct_delays(projections, block: int = 1 << 20) -> np.ndarray:
    """The distinct delays (ps) of the synapses of all projections, ascending, int64: what a
    segment's int32 ``seg_delay`` indexes. ``projections``: ``(n_syn, delays)`` of each, the
    delays one shared value (shape ``(1,)``) or one per synapse. A per-synapse delay array is
    read a block at a time, so the only temporaries are one block and the distinct values.
    (Python lists: indexing the kernels' typed lists from Python compiles their accessors.)

    Raises
    ------
    ConfigError
        More distinct delays than an int32 index reaches (only a network of more than 2**31
        synapses can have them).
    """
    found = [np.zeros(0, dtype=np.int64)]
    for n_syn, d in projections:
        if n_syn == 0:
            continue
        if d.shape[0] == 1:
            found.append(d.astype(np.int64))
            continue
        for lo in range(0, d.shape[0], block):
            found.append(np.unique(np.concatenate((found.pop(), np.unique(d[lo:lo + block])))))
    out = np.unique(np.concatenate(found))
    if out.shape[0] > INT32_LIMIT:
        from aersim.simcore.errors import ConfigError
        raise ConfigError(f"the network has {out.shape[0]} distinct synaptic delays, more than "
                          f"the engine's int32 delay index holds ({INT32_LIMIT}); round the "
                          "delays to a coarser grid")
    return out


@njit(cache=True, inline="always")
def _delay_index(delay_ps, d):
    """Position of delay ``d`` in the ascending ``delay_ps`` (which holds it), by bisection."""
    lo, hi = 0, delay_ps.shape[0] - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if delay_ps[mid] < d:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def _gather_row(i, lo, p_lo, p_hi, indptrs, indices, weights, delays, shared, post0, stride,
                slot_core, delay_bits, t, w, key):
    """Copy neuron ``i``'s synapses (row ``i - lo`` of projections ``p_lo:p_hi``) into the
    scratch ``t``, ``w``, ``key`` in projection order; return their number and whether the keys
    are already ascending."""
    m = 0
    ordered = True
    for p in range(p_lo, p_hi):
        ip = indptrs[p]
        idx = indices[p]
        wp = weights[p]
        dp = delays[p]
        for k in range(ip[i - lo], ip[i - lo + 1]):
            tgt = post0[p] + np.int64(idx[k]) * stride[p]
            d = dp[0] if shared[p] else dp[k]
            t[m] = tgt
            w[m] = wp[k]
            key[m] = (np.int64(slot_core[tgt]) << delay_bits) | d
            if m > 0 and key[m] < key[m - 1]:
                ordered = False
            m += 1
    return m, ordered


@njit(cache=True, inline="always")
def _stable_argsort(key, m, perm, tmp):
    """Write into ``perm[:m]`` the stable ascending order of ``key[:m]`` (what
    ``np.argsort(key[:m], kind="mergesort")`` returns), by bottom-up merging; ``tmp`` is
    scratch of ``m`` or more. Its own loops compile in a fraction of the second that Numba's
    ``argsort`` takes, and allocate nothing per row."""
    for j in range(m):
        perm[j] = j
    width = 1
    src, dst = perm, tmp
    in_tmp = False      # whether the latest pass wrote into tmp
    while width < m:
        for lo in range(0, m, 2 * width):
            mid = min(lo + width, m)
            hi = min(lo + 2 * width, m)
            a, b, o = lo, mid, lo
            while a < mid and b < hi:
                # Take from the right run only when strictly smaller: equal keys keep order.
                if key[src[b]] < key[src[a]]:
                    dst[o] = src[b]
                    b += 1
                else:
                    dst[o] = src[a]
                    a += 1
                o += 1
            while a < mid:
                dst[o] = src[a]
                a += 1
                o += 1
            while b < hi:
                dst[o] = src[b]
                b += 1
                o += 1
        src, dst = dst, src
        in_tmp = not in_tmp
        width *= 2
    if in_tmp:
        for j in range(m):
            perm[j] = src[j]


@njit(cache=True)
def _count_kernel(first, grp_ptr, indptrs, indices, weights, delays, shared, post0, stride,
                  slot_core, delay_bits, longest):
    """Numbers of segments (distinct (core, delay) per neuron) and messages (distinct core),
    and whether every row is in (core, delay) order already (in projection order)."""
    t = np.empty(longest, dtype=np.int64)
    w = np.empty(longest, dtype=np.float32)
    key = np.empty(longest, dtype=np.int64)
    perm = np.empty(longest, dtype=np.int64)
    tmp = np.empty(longest, dtype=np.int64)
    n_seg = 0
    n_msg = 0
    all_ordered = True
    for g in range(first.shape[0] - 1):
        for i in range(first[g], first[g + 1]):
            m, ordered = _gather_row(i, first[g], grp_ptr[g], grp_ptr[g + 1], indptrs, indices,
                                     weights, delays, shared, post0, stride, slot_core,
                                     delay_bits, t, w, key)
            if m == 0:
                continue
            all_ordered = all_ordered and ordered
            if not ordered:
                _stable_argsort(key, m, perm, tmp)
                for j in range(m):
                    t[j] = key[perm[j]]     # t (the targets) is not needed here
                for j in range(m):
                    key[j] = t[j]
            n_seg += 1
            n_msg += 1
            for j in range(1, m):
                if key[j] != key[j - 1]:
                    n_seg += 1
                    if (key[j] >> delay_bits) != (key[j - 1] >> delay_bits):
                        n_msg += 1
    return n_seg, n_msg, all_ordered


@njit(cache=True)
def _fill_kernel(first, grp_ptr, indptrs, indices, weights, delays, shared, post0, stride,
                 slot_core, delay_bits, longest, copy, row, target, weight, seg_lo, seg_delay,
                 delay_ps, msg_ptr, msg_core, msg_seg_lo):
    """Write every neuron's row sorted stably by key (``copy`` False: the rows are in order
    and ``target``, ``weight`` are the network's arrays, left as they are), and its segments
    and messages."""
    t = np.empty(longest, dtype=np.int64)
    w = np.empty(longest, dtype=np.float32)
    key = np.empty(longest, dtype=np.int64)
    sorted_key = np.empty(longest, dtype=np.int64)
    perm = np.empty(longest, dtype=np.int64)
    tmp = np.empty(longest, dtype=np.int64)
    mask = (np.int64(1) << delay_bits) - 1
    s = 0
    msg = 0
    for g in range(first.shape[0] - 1):
        for i in range(first[g], first[g + 1]):
            msg_ptr[i] = msg
            m, ordered = _gather_row(i, first[g], grp_ptr[g], grp_ptr[g + 1], indptrs, indices,
                                     weights, delays, shared, post0, stride, slot_core,
                                     delay_bits, t, w, key)
            at = row[i]
            if copy and ordered:
                for j in range(m):
                    target[at + j] = t[j]
                    weight[at + j] = w[j]
            elif copy:
                # Element loops rather than fancy indexing or slice assignment, whose shape
                # error path (message formatting) alone took 2 s of a first run's compilation.
                _stable_argsort(key, m, perm, tmp)
                for j in range(m):
                    target[at + j] = t[perm[j]]
                    weight[at + j] = w[perm[j]]
                    sorted_key[j] = key[perm[j]]
                for j in range(m):
                    key[j] = sorted_key[j]
            for j in range(m):
                new_msg = j == 0 or (key[j] >> delay_bits) != (key[j - 1] >> delay_bits)
                if new_msg or key[j] != key[j - 1]:
                    if new_msg:
                        msg_core[msg] = key[j] >> delay_bits
                        msg_seg_lo[msg] = s
                        msg += 1
                    seg_lo[s] = at + j
                    seg_delay[s] = _delay_index(delay_ps, key[j] & mask)
                    s += 1
    msg_ptr[first[first.shape[0] - 1]] = msg
    msg_seg_lo[msg] = s
    seg_lo[s] = row[row.shape[0] - 1]
