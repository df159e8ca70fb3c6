"""Sorting a network's synapses into the engine's fan-out tables, without a per-synapse temporary.

Used by :func:`simcore.engine.build.build_synapses`, which defines the tables
(``SynapseTables``). Every neuron's synapses are the concatenation of its CSR rows in all
projections leaving its population, in projection order, taken stably in (destination core,
delay) order. A run of equal (core, delay) in one array is a *segment*: synapses
``seg_lo[g] : seg_hi[g]`` of ``target`` and ``weight``, whose input slots are
``seg_slot0[g] + target[q]``. The tables are sized by a first pass that only counts, and the
only other temporaries are scratch buffers of the longest row. The segment and message
pointers are int32 while the counts they index fit (:func:`narrowest_int`), int64 beyond.

Two layouts, the same synapses in the same order:

- **In place**: the network's projections are views of one int32 index array and one float32
  weight array (an *arena*, as the built-in generators allocate them), each row of each
  projection is in (core, delay) order already, and every target population takes one input
  channel. Then ``target`` and ``weight`` *are* the network's arena and the engine keeps
  nothing per synapse: a segment points into its projection's row, ``seg_slot0`` is the first
  input slot of the projection's target population, and one (core, delay) reached through two
  projections is two segments (:func:`_arena`).
- **Copied**: otherwise each neuron's synapses are sorted stably by (core, delay) and written
  into new int32 ``target`` (global input slots) and float32 ``weight`` arrays (8 bytes per
  synapse), one segment per distinct (core, delay); ``seg_hi`` is then ``seg_lo[1:]`` and
  ``seg_slot0`` is zero.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from aersim.hardware.typed_lists import typed_list
from aersim.models.network import projections_by_source

#: Largest count an int32 pointer array can index up to (its last entry is the count itself).
INT32_LIMIT = int(np.iinfo(np.int32).max)
#: Bytes a segment keeps in each layout (int32 first synapse, first slot and delay index; in
#: place also its end). The time-step engine's delivery runs (:func:`delivery_runs`) add 16
#: bytes per run of segments in either layout.
COPY_SEGMENT_BYTES = 12
IN_PLACE_SEGMENT_BYTES = 16


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
        Use the network's own index and weight arrays as ``target`` and ``weight`` where the
        module doc allows it (in place); False: always copy.

    Returns
    -------
    tuple
        ``(target, weight, seg_lo, seg_hi, seg_slot0, seg_delay, delay_ps, msg_ptr, msg_core,
        msg_seg_lo)`` as described by ``SynapseTables``; ``target`` and ``weight`` may be the
        network's arrays.
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
    n_syn = int(row[-1])
    longest = int(counts.max(initial=0))
    del counts
    args = (first, grp_ptr, typed_list(indptrs), typed_list(indices), typed_list(weights),
            typed_list(delays), shared, post0, stride, slot_core,
            np.int64(delay_bits), longest)
    delay_ps = distinct_delays(own_delays)
    n_seg, n_seg_split, n_msg, proj_ordered = _count_kernel(*args)
    arena = _arena(projs, stride, n_syn) if share and proj_ordered else None
    # In place only where it keeps less: there every run of a projection's row is a segment of
    # its own, where a copy merges a neuron's runs to one core and delay but keeps 8 bytes per
    # synapse (many projections from one source onto populations sharing cores can make the
    # split segments cost more than the copy).
    if arena is not None and \
            IN_PLACE_SEGMENT_BYTES * n_seg_split >= COPY_SEGMENT_BYTES * n_seg + 8 * n_syn:
        arena = None
    if arena is not None:
        n_seg = n_seg_split
    seg_lo = np.empty(n_seg + 1, dtype=narrowest_int(n_syn))
    seg_delay = np.empty(n_seg, dtype=np.int32)
    msg_ptr = np.empty(n + 1, dtype=np.int64)
    msg_core = np.empty(n_msg, dtype=np.int32)
    msg_seg_lo = np.empty(n_msg + 1, dtype=narrowest_int(n_seg))
    slot_type = narrowest_int(max(int(slot_core.shape[0]), 1))
    if arena is None:
        target = np.empty(n_syn, dtype=np.int32)
        weight = np.empty(n_syn, dtype=np.float32)
        _fill_kernel(*args, row, target, weight, seg_lo, seg_delay, delay_ps, msg_ptr,
                     msg_core, msg_seg_lo)
        seg_hi = seg_lo[1:]
        seg_slot0 = np.zeros(n_seg, dtype=slot_type)
    else:
        target, weight, offset = arena
        seg_hi = np.empty(n_seg, dtype=seg_lo.dtype)
        seg_slot0 = np.empty(n_seg, dtype=slot_type)
        _fill_in_place_kernel(*args, offset, seg_lo, seg_hi, seg_slot0, seg_delay, delay_ps,
                              msg_ptr, msg_core, msg_seg_lo)
        seg_lo[n_seg] = n_syn
    return (target, weight, seg_lo, seg_hi, seg_slot0, seg_delay, delay_ps, msg_ptr, msg_core,
            msg_seg_lo)


def reads_in_place(syn) -> bool:
    """Whether the tables ``syn`` read the network's arrays in place (their ``target`` and
    ``weight`` are the network's): copied tables have ``seg_hi`` as a view of ``seg_lo``."""
    return syn.seg_hi.base is not syn.seg_lo


def _arena(projs, stride, n_syn: int):
    """``(indices, weights, offset)`` when the projections' ``indices`` and ``weights`` are
    views of one int32 and one float32 array (the arena) that they cover exactly, each
    projection at the same element ``offset`` (int64 ``(n_proj,)``) in both, and every target
    population takes one input channel; else None (the tables copy the synapses)."""
    if not projs or np.any(stride != 1):
        return None
    bases = []
    for arrays, dtype in (([p.indices for p in projs], np.int32),
                          ([p.weights for p in projs], np.float32)):
        base = arrays[0] if arrays[0].base is None else arrays[0].base
        if not (isinstance(base, np.ndarray) and base.dtype == dtype and base.ndim == 1
                and base.flags.c_contiguous and base.shape[0] == n_syn):
            return None
        for a in arrays:
            if not (isinstance(a, np.ndarray) and a.dtype == dtype and a.ndim == 1
                    and a.flags.c_contiguous and (a is base or a.base is base)):
                return None
        bases.append(base)
    offset = np.zeros(len(projs), dtype=np.int64)
    spans = []
    for j, p in enumerate(projs):
        at = [(a.__array_interface__["data"][0] - b.__array_interface__["data"][0]) // 4
              for a, b in ((p.indices, bases[0]), (p.weights, bases[1]))]
        if at[0] != at[1] or p.weights.shape != p.indices.shape or p.indptr.shape[0] == 0 \
                or int(p.indptr[0]) != 0 or int(p.indptr[-1]) != p.indices.shape[0]:
            return None
        offset[j] = at[0]
        spans.append((at[0], at[0] + p.indices.shape[0]))
    spans.sort()
    # The projections tile the arena (no synapse of the engine's count is outside them, and
    # none is read twice).
    ends = [0] + [hi for _, hi in spans]
    if [lo for lo, _ in spans] != ends[:-1] or ends[-1] != n_syn:
        return None
    return bases[0], bases[1], offset


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


@njit(cache=True, inline="always")
def _sort_key(slot_core, slot, d, delay_bits):
    """The (destination core, delay) sort key of a synapse onto input ``slot`` with delay
    ``d`` (ps), int64: ``core << delay_bits | d``."""
    return (np.int64(slot_core[slot]) << delay_bits) | d


@njit(cache=True)
def _gather_row(i, lo, p_lo, p_hi, indptrs, indices, weights, delays, shared, post0, stride,
                slot_core, delay_bits, t, w, key):
    """Copy neuron ``i``'s synapses (row ``i - lo`` of projections ``p_lo:p_hi``) into the
    scratch ``t``, ``w``, ``key`` in projection order. Returns their number, whether the keys
    are ascending, whether they are ascending within each projection, and the number of runs
    of equal key within the projections (the segments of the in-place layout)."""
    m = 0
    ordered = True
    proj_ordered = True
    runs = 0
    for p in range(p_lo, p_hi):
        ip = indptrs[p]
        idx = indices[p]
        wp = weights[p]
        dp = delays[p]
        start = m
        for k in range(ip[i - lo], ip[i - lo + 1]):
            tgt = post0[p] + np.int64(idx[k]) * stride[p]
            d = dp[0] if shared[p] else dp[k]
            t[m] = tgt
            w[m] = wp[k]
            key[m] = _sort_key(slot_core, tgt, d, delay_bits)
            if m == start or key[m] != key[m - 1]:
                runs += 1
            if m > 0 and key[m] < key[m - 1]:
                ordered = False
                if m > start:
                    proj_ordered = False
            m += 1
    return m, ordered, proj_ordered, runs


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
    """Numbers of segments (distinct (core, delay) per neuron; and runs of equal (core, delay)
    within each projection's row, the in-place segments), of messages (distinct core per
    neuron), and whether every projection's rows are in (core, delay) order already."""
    t = np.empty(longest, dtype=np.int64)
    w = np.empty(longest, dtype=np.float32)
    key = np.empty(longest, dtype=np.int64)
    perm = np.empty(longest, dtype=np.int64)
    tmp = np.empty(longest, dtype=np.int64)
    n_seg = 0
    n_seg_split = 0
    n_msg = 0
    all_proj_ordered = True
    for g in range(first.shape[0] - 1):
        for i in range(first[g], first[g + 1]):
            m, ordered, proj_ordered, runs = _gather_row(
                i, first[g], grp_ptr[g], grp_ptr[g + 1], indptrs, indices, weights, delays,
                shared, post0, stride, slot_core, delay_bits, t, w, key)
            if m == 0:
                continue
            all_proj_ordered = all_proj_ordered and proj_ordered
            n_seg_split += runs
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
    return n_seg, n_seg_split, n_msg, all_proj_ordered


@njit(cache=True)
def _fill_kernel(first, grp_ptr, indptrs, indices, weights, delays, shared, post0, stride,
                 slot_core, delay_bits, longest, row, target, weight, seg_lo, seg_delay,
                 delay_ps, msg_ptr, msg_core, msg_seg_lo):
    """The copied layout: write every neuron's row sorted stably by key into ``target`` (int32)
    and ``weight`` (float32, both ``(n_syn,)``) from ``row[i]`` on (``row``: int64
    ``(n_neurons + 1,)``), its segments into ``seg_lo`` (``(n_seg + 1,)``) and ``seg_delay``,
    and its messages into ``msg_ptr``, ``msg_core`` and ``msg_seg_lo``."""
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
            m, ordered, unused_proj_ordered, unused_runs = _gather_row(
                i, first[g], grp_ptr[g], grp_ptr[g + 1], indptrs, indices, weights, delays,
                shared, post0, stride, slot_core, delay_bits, t, w, key)
            at = row[i]
            if ordered:
                for j in range(m):
                    target[at + j] = t[j]
                    weight[at + j] = w[j]
            else:
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


@njit(cache=True)
def _fill_in_place_kernel(first, grp_ptr, indptrs, indices, weights, delays, shared, post0,
                          stride, slot_core, delay_bits, longest, offset, seg_lo, seg_hi,
                          seg_slot0, seg_delay, delay_ps, msg_ptr, msg_core, msg_seg_lo):
    """The in-place layout: every neuron's segments are the runs of equal key in its rows of
    the projections (each row in key order, projection ``p`` at ``offset[p]``, int64
    ``(n_proj,)``, of the arena), taken stably in key order (so in projection order for equal
    keys), written into ``seg_lo``, ``seg_hi``, ``seg_slot0``, ``seg_delay`` (``(n_seg,)``) and
    the messages into ``msg_ptr`` (``(n_neurons + 1,)``), ``msg_core`` (``(n_msg,)``) and
    ``msg_seg_lo`` (``(n_msg + 1,)``; ``seg_lo[n_seg]`` is the caller's)."""
    # A neuron's runs (at most one per synapse): key, arena range, first input slot; scratch.
    buf = np.empty((6, longest), dtype=np.int64)
    run_key, run_lo, run_hi, run_slot0, perm, tmp = buf[0], buf[1], buf[2], buf[3], buf[4], buf[5]
    mask = (np.int64(1) << delay_bits) - 1
    s = 0
    msg = 0
    for g in range(first.shape[0] - 1):
        lo = first[g]
        for i in range(lo, first[g + 1]):
            msg_ptr[i] = msg
            n_runs = 0
            for p in range(grp_ptr[g], grp_ptr[g + 1]):
                ip, idx, dp = indptrs[p], indices[p], delays[p]
                for k in range(ip[i - lo], ip[i - lo + 1]):
                    d = dp[0] if shared[p] else dp[k]
                    kk = _sort_key(slot_core, post0[p] + np.int64(idx[k]), d, delay_bits)
                    if k == ip[i - lo] or kk != run_key[n_runs - 1]:
                        run_key[n_runs] = kk
                        run_lo[n_runs] = offset[p] + k
                        run_slot0[n_runs] = post0[p]
                        n_runs += 1
                    run_hi[n_runs - 1] = offset[p] + k + 1
            _stable_argsort(run_key, n_runs, perm, tmp)
            for j in range(n_runs):
                r = perm[j]
                kk = run_key[r]
                if j == 0 or (kk >> delay_bits) != (run_key[perm[j - 1]] >> delay_bits):
                    msg_core[msg] = kk >> delay_bits
                    msg_seg_lo[msg] = s
                    msg += 1
                seg_lo[s] = run_lo[r]
                seg_hi[s] = run_hi[r]
                seg_slot0[s] = run_slot0[r]
                seg_delay[s] = _delay_index(delay_ps, kk & mask)
                s += 1
    msg_ptr[first[first.shape[0] - 1]] = msg
    msg_seg_lo[msg] = s


@njit(cache=True)
def _message_synapses(msg_seg_lo, seg_lo, seg_hi, out):
    """``out[m]`` = the synapses of message ``m``: the sum of its segments' lengths."""
    for m in range(out.shape[0]):
        c = 0
        for g in range(msg_seg_lo[m], msg_seg_lo[m + 1]):
            c += seg_hi[g] - seg_lo[g]
        out[m] = c


def message_synapses(syn, out: np.ndarray | None = None) -> np.ndarray:
    """Synapses of every message of the tables ``syn``, ``(n_msg,)`` (int64, or into ``out``:
    a message holds the synapses of one neuron to one core, so int32 always holds them)."""
    if out is None:
        out = np.empty(syn.msg_core.shape[0], dtype=np.int64)
    _message_synapses(syn.msg_seg_lo, syn.seg_lo, syn.seg_hi, out)
    return out


#: Columns of a delivery run (:func:`delivery_runs`).
RUN_LO, RUN_HI, RUN_DELAY, RUN_SLOT0 = 0, 1, 2, 3


@njit(cache=True)
def _runs_kernel(msg_seg_lo, seg_lo, seg_hi, seg_slot0, steps, m_lo, m_hi, run_ptr, runs):
    """The delivery runs of neurons' messages ``m_lo[j] .. m_hi[j]-1`` (int64 ``(n,)`` each)
    over the segment tables and the segments' delays in steps ``steps`` (int32 ``(n_seg,)``):
    pointers into ``run_ptr`` (int64 ``(n + 1,)``) and, when ``runs`` has rows (as many as
    there are runs), the runs into ``runs`` (``(n_runs, 4)``); with no rows it only counts.
    Returns the number of runs."""
    fill = runs.shape[0] > 0
    x = 0
    # The last run's end, delay and slot (compared only once the neuron has a run).
    last_hi, last_delay, last_slot0 = np.int64(-1), np.int64(-1), np.int64(-1)
    for j in range(m_lo.shape[0]):
        run_ptr[j] = x
        first = x
        for m in range(m_lo[j], m_hi[j]):
            for g in range(msg_seg_lo[m], msg_seg_lo[m + 1]):
                lo, hi = seg_lo[g], seg_hi[g]
                if lo == hi:
                    continue
                if x > first and lo == last_hi and steps[g] == last_delay \
                        and seg_slot0[g] == last_slot0:
                    if fill:
                        runs[x - 1, RUN_HI] = hi
                else:
                    if fill:
                        runs[x, RUN_LO] = lo
                        runs[x, RUN_HI] = hi
                        runs[x, RUN_DELAY] = steps[g]
                        runs[x, RUN_SLOT0] = seg_slot0[g]
                    x += 1
                    last_delay, last_slot0 = steps[g], seg_slot0[g]
                last_hi = hi
    run_ptr[m_lo.shape[0]] = x
    return x


def delivery_runs(syn, steps: np.ndarray, m_lo: np.ndarray, m_hi: np.ndarray) -> tuple:
    """The time-step engine's view of the segments it delivers: ``(run_ptr, runs)``.

    Neuron ``j``'s synapses in its messages ``m_lo[j] .. m_hi[j]-1`` (all of them in one
    process, those to a rank's cores in a partitioned run), with every segment's delay in steps
    ``steps`` (int32 ``(n_seg,)``), as *runs*: ``runs[run_ptr[j]:run_ptr[j + 1]]`` (int64
    ``(n_neurons + 1,)`` pointers), one row ``[first synapse, end synapse, delay in steps,
    first input slot]`` (``RUN_*``) for each stretch of consecutive segments whose synapses
    follow each other in ``target`` and ``weight`` and share their delay and first slot. A
    neuron's messages to successive cores with one delay, copied tables, make one run; so a
    spike's delivery is one loop over its synapses instead of one per segment (a tenth to a
    sixth less time a spike on Brunel, docs/performance.md). The synapses come in the same
    order as the segments', so every sum is the same. ``runs`` has the dtype that holds
    synapse counts, delays and slots (int32 unless one needs int64); at most one row per
    segment.
    """
    n = m_lo.shape[0]
    run_ptr = np.empty(n + 1, dtype=np.int64)
    dtype = np.result_type(syn.seg_lo.dtype, syn.seg_slot0.dtype, steps.dtype)
    if steps.shape[0] == 0:
        run_ptr[:] = 0
        return run_ptr, np.zeros((0, 4), dtype=dtype)
    args = (syn.msg_seg_lo, syn.seg_lo, syn.seg_hi, syn.seg_slot0, steps, m_lo, m_hi, run_ptr)
    n_runs = _runs_kernel(*args, np.zeros((0, 4), dtype=dtype))
    runs = np.empty((n_runs, 4), dtype=dtype)
    if n_runs:
        _runs_kernel(*args, runs)
    return run_ptr, runs
