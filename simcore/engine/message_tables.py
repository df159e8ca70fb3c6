"""Per-message tables of the chip build: synapse storage kinds, send order, tiles in use.

Split from :mod:`simcore.engine.build` (``build_chip`` uses them); see ``docs/hardware.md``.
"""

from __future__ import annotations

import numpy as np

#: Synapse storage kinds (columns of ``ChipTables.msg_syn_n``).
STORAGE_KINDS = ("sparse", "dense", "conv")


def tiles_used(chip, core_of) -> int:
    """Tiles holding at least one neuron (``core_of``: the core of every neuron)."""
    core_of = np.asarray(core_of, dtype=np.int64)
    return int(np.unique(core_of // chip.cores_per_tile).size) if core_of.size else 0


def message_storage(network, syn, chip) -> np.ndarray:
    """Synapses of every message by storage kind, int64 ``(n_msg, 3)`` (see STORAGE_KINDS).

    A projection's storage is :func:`hardware.mapping.synapse_storage` (one kind per pair of
    populations: of two projections between the same populations the later one decides); a
    chip that prices no storage apart (``core.priced``), or a build without the network,
    counts all as sparse.
    """
    n_msg = syn.msg_core.shape[0]
    per_msg = syn.seg_lo[syn.msg_seg_lo[1:]] - syn.seg_lo[syn.msg_seg_lo[:-1]]
    out = np.zeros((n_msg, 3), dtype=np.int64)
    split = any(k in chip.core.priced for k in ("synaptic_op_dense", "synaptic_op_conv"))
    if network is None or not split or n_msg == 0:
        out[:, 0] = per_msg
        return out
    from aersim.hardware.mapping import synapse_storage
    from aersim.simcore.engine.build import input_slots  # build imports this module

    names = list(network.populations)
    pop_of = np.repeat(np.arange(len(names)),
                       [network.populations[p].size for p in names]).astype(np.int64)
    table = np.zeros((len(names), len(names)), dtype=np.int64)
    for proj in network.projections:
        table[names.index(proj.pre), names.index(proj.post)] = \
            STORAGE_KINDS.index(synapse_storage(proj, network))
    slot0, _ = input_slots(network)
    src = np.repeat(np.arange(syn.msg_ptr.shape[0] - 1), np.diff(syn.msg_ptr))
    msg_of_syn = np.repeat(np.arange(n_msg), per_msg)
    post = np.searchsorted(slot0, syn.target[syn.seg_lo[0]:syn.seg_lo[-1]], side="right") - 1
    kind = table[pop_of[src[msg_of_syn]], pop_of[post]]
    np.add.at(out, (msg_of_syn, kind), 1)
    return out


def send_order(chip, syn) -> np.ndarray:
    """Message ids in the order each neuron sends them (``core.send_order``): by destination
    core number (``row_major``, aersim's numbering: tiles row by row) or with tiles numbered
    column by column (``column_major``, as SANA-FE numbers them; its axon tables list
    destination cores in that order)."""
    n_msg = syn.msg_core.shape[0]
    if getattr(chip.core, "send_order", "row_major") == "row_major" or n_msg == 0:
        return np.arange(n_msg, dtype=np.int64)
    xs, ys = chip.core_xy()
    dest = syn.msg_core.astype(np.int64)
    rank = (xs[dest].astype(np.int64) * chip.height + ys[dest]) * chip.cores_per_tile \
        + dest % chip.cores_per_tile
    src = np.repeat(np.arange(syn.msg_ptr.shape[0] - 1, dtype=np.int64), np.diff(syn.msg_ptr))
    return np.lexsort((rank, src)).astype(np.int64)
