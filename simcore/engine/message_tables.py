"""Per-message tables of the chip build: synapse storage kinds, send order, tiles in use, the
receive work by core type (mixed tiles) and the routes between chips of a system.

Split from :mod:`simcore.engine.build` (``build_chip`` uses them); see ``docs/hardware.md``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from aersim.simcore.engine.synapse_tables import message_synapses, narrowest_int

#: Synapse storage kinds (columns of ``ChipTables.msg_syn_n`` when it has three).
STORAGE_KINDS = ("sparse", "dense", "conv")
#: Columns of ``ChipTables.link_stats`` (chip-to-chip links): packets, bits, busy time (ps).
CLINK_PACKETS, CLINK_BITS, CLINK_BUSY_PS = range(3)
CLINK_LEN = 3


def tiles_used(chip, core_of) -> int:
    """Tiles holding at least one neuron (``core_of``: the core of every neuron)."""
    core_of = np.asarray(core_of, dtype=np.int64)
    return int(np.unique(core_of // chip.cores_per_tile).size) if core_of.size else 0


def message_storage(network, syn, chip) -> np.ndarray:
    """Synapses of every message by storage kind, int32 ``(n_msg, 3)`` (see STORAGE_KINDS), or
    ``(n_msg, 1)`` (the sparse column alone) when every synapse is sparse.

    A projection's storage is :func:`hardware.mapping.synapse_storage` (one kind per pair of
    populations: of two projections between the same populations the later one decides); a
    chip none of whose core types prices a storage kind apart (``priced``), or a build without
    the network, counts all as sparse. int32: a message holds the synapses of one neuron to one
    core.
    """
    n_msg = syn.msg_core.shape[0]
    split = any(k in getattr(spec, "priced", ()) for spec in chip.core_specs()
                for k in ("synaptic_op_dense", "synaptic_op_conv"))
    if network is None or not split or n_msg == 0:
        out = np.zeros((n_msg, 1), dtype=np.int32)
        if n_msg:
            message_synapses(syn, out[:, 0])
        return out
    from aersim.hardware.mapping import synapse_storage
    from aersim.simcore.engine.build import input_slots  # build imports this module

    names = list(network.populations)
    sizes = [network.populations[p].size for p in names]
    table = np.zeros((len(names), len(names)), dtype=np.int32)
    for proj in network.projections:
        table[names.index(proj.pre), names.index(proj.post)] = \
            STORAGE_KINDS.index(synapse_storage(proj, network))
    if not table.any():
        return message_storage(None, syn, chip)
    pop_of = np.repeat(np.arange(len(names), dtype=np.int32), sizes)
    slot0, n_slots = input_slots(network)
    slot_pop = np.repeat(pop_of, np.diff(np.append(slot0, n_slots)))
    out = np.zeros((n_msg, 3), dtype=np.int32)
    _storage_counts(syn.msg_ptr, syn.msg_seg_lo, syn.seg_lo, syn.seg_hi, syn.seg_slot0,
                    syn.target, pop_of, slot_pop, table, out)
    return out if out[:, 1:].any() else np.ascontiguousarray(out[:, :1])


@njit(cache=True)
def _storage_counts(msg_ptr, msg_seg_lo, seg_lo, seg_hi, seg_slot0, target, pop_of, slot_pop,
                    table, out):
    """Add every synapse to ``out[m, kind]`` of its message ``m``, the kind being ``table``'s
    entry for (population of the sending neuron, population of the target slot): one pass
    over the synapses, no temporary per synapse."""
    for s in range(msg_ptr.shape[0] - 1):
        row = table[pop_of[s]]
        for m in range(msg_ptr[s], msg_ptr[s + 1]):
            for g in range(msg_seg_lo[m], msg_seg_lo[m + 1]):
                for q in range(seg_lo[g], seg_hi[g]):
                    out[m, row[slot_pop[seg_slot0[g] + target[q]]]] += 1


def send_order(chip, syn) -> np.ndarray:
    """Message ids in the order each neuron sends them (``core.send_order``): by destination
    core number (``row_major``, aersim's numbering: tiles row by row; the messages' own order,
    returned as an empty array rather than stored) or with tiles numbered column by column
    (``column_major``, as SANA-FE numbers them; its axon tables list destination cores in that
    order). int32 ``(n_msg,)``: message ids fit the int32 cores and counts of the chip
    tables."""
    n_msg = syn.msg_core.shape[0]
    if getattr(chip.core, "send_order", "row_major") == "row_major" or n_msg == 0:
        return np.zeros(0, dtype=np.int32)
    xs, ys = chip.core_xy()
    dest = syn.msg_core.astype(np.int64)
    rank = (xs[dest].astype(np.int64) * chip.height + ys[dest]) * chip.cores_per_tile \
        + dest % chip.cores_per_tile
    src = np.repeat(np.arange(syn.msg_ptr.shape[0] - 1, dtype=np.int64), np.diff(syn.msg_ptr))
    return np.lexsort((rank, src)).astype(np.int32)


def system_tables(chip, neurons, syn) -> tuple:
    """The ``ChipTables`` fields of a system of chips (``msg_route_ps`` .. ``link_stats``);
    empty arrays on a single chip."""
    n_links = int(getattr(chip, "n_links", 0))
    z = np.zeros(0, dtype=np.int64)
    if n_links == 0 or syn is None:
        return (z, np.zeros((0, 4), np.int64), z, z, z, z, np.zeros((0, CLINK_LEN), np.int64))
    from aersim.hardware.errors import ChipSpecError
    from aersim.hardware.system import message_routes

    if chip.noc.congestion != "none":
        raise ChipSpecError(f"system {chip.name!r}: noc.congestion: flow is not modelled "
                            "between chips; use a chip with congestion: none")
    src = np.repeat(neurons.core.astype(np.int64), np.diff(syn.msg_ptr))
    lat, hops, ptr, link = message_routes(chip, src, syn.msg_core)
    pb = chip.noc.packet_bits
    types = [chip.directed_link(d)[2] for d in range(n_links)]
    wire = np.array([t.wire_bits(pb) for t in types], dtype=np.int64)
    busy = np.array([t.serialisation_ps(pb) for t in types], dtype=np.int64)
    return (lat, hops, ptr, link, wire, busy, np.zeros((n_links, CLINK_LEN), np.int64))


@njit(cache=True)
def _receive_work(msg_syn_n, prices, kind, out):
    """``out[m]``: message ``m``'s synapses at its core type's prices (row ``kind[m]`` of
    ``prices``, columns by storage kind, then the ``message_in`` difference); ``kind`` empty:
    one core type (row 0), no difference added."""
    mixed = kind.shape[0] > 0
    split = msg_syn_n.shape[1] > 1
    for m in range(out.shape[0]):
        t = kind[m] if mixed else 0
        w = np.int64(msg_syn_n[m, 0]) * prices[t, 0]
        if split:
            w += np.int64(msg_syn_n[m, 1]) * prices[t, 1] + np.int64(msg_syn_n[m, 2]) * prices[t, 2]
        out[m] = w + prices[t, 3] if mixed else w


def receive_work_ps(chip, syn, msg_syn_n) -> np.ndarray:
    """Time a destination core spends on each message beyond the chip's ``message_in``: its
    synapses at the destination core type's prices by storage kind (mixed tiles: plus the
    difference of that type's ``message_in`` to the chip's), ps ``(n_msg,)``: int32 when the
    largest count of each kind at the dearest price fits (:func:`work_bound_ps`), else int64
    (a message of many synapses can take longer than 2**31 ps)."""
    specs = chip.core_specs() if hasattr(chip, "core_specs") else (chip.core,)
    per_type = np.array([[t.latency_ps["synaptic_op"],
                          t.latency_ps.get("synaptic_op_dense", t.latency_ps["synaptic_op"]),
                          t.latency_ps.get("synaptic_op_conv", t.latency_ps["synaptic_op"]),
                          t.latency_ps["message_in"] - chip.core.latency_ps["message_in"]]
                         for t in specs], dtype=np.int64)
    kind = np.zeros(0, dtype=np.int64) if len(specs) == 1 else \
        chip.core_type_of()[syn.msg_core].astype(np.int64)
    out = np.empty(msg_syn_n.shape[0], dtype=narrowest_int(work_bound_ps(msg_syn_n, per_type)))
    _receive_work(msg_syn_n, per_type, kind, out)
    return out


def work_bound_ps(msg_syn_n, prices) -> int:
    """An upper bound of ``|work|`` of every message (ps): per storage kind the most synapses
    a message has at the dearest price of any core type, plus the largest ``message_in``
    difference (``prices`` as in :func:`_receive_work`)."""
    k = msg_syn_n.shape[1]
    most = msg_syn_n.max(axis=0, initial=0).astype(object)   # Python ints: no overflow
    dearest = np.abs(prices[:, :k]).max(axis=0).astype(object)
    return int((most * dearest).sum()) + int(np.abs(prices[:, 3]).max())


def barrier_for_cores(chip, core_ids) -> tuple[int, float]:
    """Barrier ``(latency_ps, energy_pj)`` of a run whose neurons are on ``core_ids``: the
    chip's entry for the tiles in use (a system: the fullest chip's tiles, plus its share when
    the neurons span several chips)."""
    core_ids = np.asarray(core_ids, dtype=np.int64)
    if getattr(chip, "n_chips", 1) > 1:
        per_chip = chip.member.n_cores
        chips = core_ids // per_chip
        tiles = np.unique(core_ids // chip.cores_per_tile)
        per = np.bincount(tiles // chip.member.n_tiles, minlength=chip.n_chips)
        return chip.barrier_for_chips(int(per.max(initial=0)), int(np.unique(chips).size))
    return chip.barrier_for_tiles(tiles_used(chip, core_ids))


def chip_link_table(chip, stats, by_link_j) -> np.ndarray:
    """One row per directed chip-to-chip link (``traces.schema.CHIP_LINK_DTYPE``) from the
    engine's ``link_stats`` counters (``CLINK_*`` columns) and the priced energy per link."""
    from aersim.traces.schema import CHIP_LINK_DTYPE

    n = stats.shape[0]
    out = np.zeros(n, dtype=CHIP_LINK_DTYPE)
    out["link"] = np.arange(n)
    ends = np.array([chip.directed_link(d)[:2] for d in range(n)], dtype=np.int64).reshape(-1, 2)
    out["from_chip"], out["to_chip"] = ends[:, 0], ends[:, 1]
    out["packets"] = stats[:, CLINK_PACKETS]
    out["bits"] = stats[:, CLINK_BITS]
    out["busy_ps"] = stats[:, CLINK_BUSY_PS]
    if by_link_j is not None:
        out["energy_j"] = by_link_j
    return out


def message_hops(chip, tables, msg, src, dst) -> np.ndarray:
    """Tile hops of messages ``msg`` from cores ``src`` to ``dst`` (int64): the XY route on one
    chip; between chips of a system, the hops of the precomputed route on all its chips."""
    from aersim.hardware.system import xy_hops_array

    xs, ys = chip.core_xy()
    src, dst = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
    hops = xy_hops_array(xs[src], ys[src], xs[dst], ys[dst], chip).sum(axis=1)
    if tables.msg_link_ptr.size:
        msg = np.asarray(msg, dtype=np.int64)
        cross = tables.msg_link_ptr[msg + 1] > tables.msg_link_ptr[msg]
        hops[cross] = tables.msg_route_hops[msg[cross]].sum(axis=1)
    return hops
