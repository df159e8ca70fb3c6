"""Network-on-chip geometry: dimension-order (XY) routes on a 2-D mesh or torus.

A message from core ``a`` to core ``b`` first travels along x (east or west) to ``b``'s column,
then along y (north or south). On a torus each dimension takes the shorter way round; a tie goes
east (or south). Every message also passes its source tile's router once, which is all a message
between two cores of one tile pays.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def xy_hops(x0, y0, x1, y1, width, height, torus):
    """Hops ``(east, west, north, south)`` of the XY route from tile (x0, y0) to (x1, y1)."""
    dx = x1 - x0
    dy = y1 - y0
    if torus:
        if dx > width // 2:
            dx -= width
        elif dx < -((width - 1) // 2):
            dx += width
        if dy > height // 2:
            dy -= height
        elif dy < -((height - 1) // 2):
            dy += height
    east = dx if dx > 0 else 0
    west = -dx if dx < 0 else 0
    south = dy if dy > 0 else 0
    north = -dy if dy < 0 else 0
    return east, west, north, south


def route_table(chip) -> np.ndarray:
    """Hops of every core-to-core route: int32 ``(n_cores, n_cores, 4)`` (east, west, north, south).

    For inspection and tests; the engines compute routes on the fly from tile coordinates.
    """
    xs, ys = chip.core_xy()
    torus = chip.topology == "torus"
    out = np.zeros((chip.n_cores, chip.n_cores, 4), dtype=np.int32)
    for a in range(chip.n_cores):
        for b in range(chip.n_cores):
            out[a, b] = xy_hops(xs[a], ys[a], xs[b], ys[b], chip.width, chip.height, torus)
    return out


def route_latency_ps(chip, hops) -> int:
    """Zero-load latency of a route with ``hops = (east, west, north, south)``, picoseconds."""
    lat = chip.noc.hop_latency_ps
    return int(chip.noc.router_latency_ps + (hops[0] + hops[1]) * lat["east_west"]
               + (hops[2] + hops[3]) * lat["north_south"])


# ----------------------------------------------------------------------------------------------
# Router ports for the contention model. A router has ``4 + cores_per_tile`` input ports and as
# many outputs. Output ``d < 4`` is the link leaving in direction ``d`` (east, west, north,
# south: the order of the ``hop_*`` operation kinds); output ``4 + k`` ejects to core ``k`` of
# the tile. Input ``d < 4`` is fed by the link that travels in direction ``d`` (so the packet
# came from the opposite neighbour); input ``4 + k`` is core ``k``'s injection port.

EAST, WEST, NORTH, SOUTH = range(4)
DIRECTIONS = ("east", "west", "north", "south")


@njit(cache=True, inline="always")
def xy_next_output(tile, dest_core, cores_per_tile, width, height, torus):
    """Output port that a packet at ``tile`` takes towards ``dest_core`` (XY routing)."""
    dt = dest_core // cores_per_tile
    if dt == tile:
        return 4 + dest_core % cores_per_tile
    east, west, north, south = xy_hops(tile % width, tile // width, dt % width, dt // width,
                                       width, height, torus)
    if east > 0:
        return EAST
    if west > 0:
        return WEST
    if north > 0:
        return NORTH
    return SOUTH


@njit(cache=True, inline="always")
def neighbour_tile(tile, direction, width, height):
    """The tile one hop from ``tile`` in ``direction`` (wrapping round, as on a torus)."""
    x = tile % width
    y = tile // width
    if direction == EAST:
        x = (x + 1) % width
    elif direction == WEST:
        x = (x - 1) % width
    elif direction == NORTH:
        y = (y - 1) % height
    else:
        y = (y + 1) % height
    return y * width + x


@njit(cache=True)
def _tree_kernel(msg_ptr, msg_core, src_core, cores_per_tile, width, height, torus, fill,
                 tree_ptr, tree_tile, tree_mask, tree_in):
    """Union of the XY routes of every key's messages, one row per tree node (see build)."""
    n_tiles = width * height
    mask = np.zeros(n_tiles, dtype=np.int64)
    arrive = np.full(n_tiles, -1, dtype=np.int64)
    on = np.zeros(n_tiles, dtype=np.bool_)
    nodes = np.empty(n_tiles, dtype=np.int64)
    row = 0
    for j in range(msg_ptr.shape[0] - 1):
        if fill:
            row = tree_ptr[j]
        n_nodes = 0
        if msg_ptr[j + 1] > msg_ptr[j]:
            src_tile = src_core[j] // cores_per_tile
            on[src_tile] = True
            nodes[0] = src_tile
            n_nodes = 1
            for m in range(msg_ptr[j], msg_ptr[j + 1]):
                tile = src_tile
                while True:
                    out = xy_next_output(tile, msg_core[m], cores_per_tile, width, height, torus)
                    mask[tile] |= np.int64(1) << out
                    if out >= 4:
                        break
                    nxt = neighbour_tile(tile, out, width, height)
                    if not on[nxt]:
                        on[nxt] = True
                        arrive[nxt] = out
                        nodes[n_nodes] = nxt
                        n_nodes += 1
                    tile = nxt
            nodes_sorted = np.sort(nodes[:n_nodes])
            for i in range(n_nodes):
                tile = nodes_sorted[i]
                if fill:
                    tree_tile[row] = tile
                    tree_mask[row] = mask[tile]
                    tree_in[row] = arrive[tile]
                row += 1
                mask[tile] = 0
                arrive[tile] = -1
                on[tile] = False
        if not fill:
            tree_ptr[j + 1] = tree_ptr[j] + n_nodes


def multicast_trees(msg_ptr, msg_core, src_core, cores_per_tile, width, height, torus):
    """XY multicast trees: for each key ``j`` (a source neuron, or an injected packet), the
    routers its packet visits and the outputs it leaves each one by.

    Parameters
    ----------
    msg_ptr : int64 (n_keys + 1,)
        Destination cores of key ``j`` are ``msg_core[msg_ptr[j]:msg_ptr[j + 1]]``.
    msg_core : int32 (n_msg,)
    src_core : int (n_keys,)
        Core that injects key ``j``'s packet.

    Returns
    -------
    tree_ptr : int64 (n_keys + 1,)
        Rows of key ``j``: ``tree_ptr[j]:tree_ptr[j + 1]``, sorted by tile.
    tree_tile : int64 (n_rows,)
    tree_mask : int64 (n_rows,)
        Bit ``o`` set when the packet leaves the router by output ``o`` (see ports above).
    tree_in : int64 (n_rows,)
        Direction of travel when the packet arrived (-1 at the source router).
    """
    msg_ptr = np.ascontiguousarray(msg_ptr, dtype=np.int64)
    msg_core = np.ascontiguousarray(msg_core, dtype=np.int64)
    src_core = np.ascontiguousarray(src_core, dtype=np.int64)
    tree_ptr = np.zeros(msg_ptr.shape[0], dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    args = (msg_ptr, msg_core, src_core, int(cores_per_tile), int(width), int(height),
            bool(torus))
    _tree_kernel(*args, False, tree_ptr, empty, empty, empty)
    n = int(tree_ptr[-1])
    tree_tile, tree_mask, tree_in = (np.zeros(n, dtype=np.int64) for _ in range(3))
    _tree_kernel(*args, True, tree_ptr, tree_tile, tree_mask, tree_in)
    return tree_ptr, tree_tile, tree_mask, tree_in


def routing_table_entries(tree_ptr, tree_tile, tree_mask, tree_in, src_core, n_tiles):
    """Key/mask entries each router needs for the multicast trees: int64 ``(n_tiles,)``.

    A packet that leaves a router straight on, by the one link that continues its direction of
    travel, takes the default route and needs no entry. The others are counted per (router,
    source core): when every key of that core that reaches the router leaves it the same way,
    one entry whose mask covers the core's neuron field serves them all; otherwise each key that
    needs an entry gets its own. Table minimisation (merging entries across cores, Mundy et al.
    2016) is not attempted.
    """
    n_keys = tree_ptr.shape[0] - 1
    key = np.repeat(np.arange(n_keys), np.diff(tree_ptr))
    core = np.asarray(src_core, dtype=np.int64)[key]
    default = (tree_in >= 0) & (tree_mask == (np.int64(1) << np.maximum(tree_in, 0)))
    need = ~default
    group = tree_tile * (int(core.max(initial=0)) + 1) + core
    order = np.argsort(group, kind="stable")
    g, m, nd = group[order], tree_mask[order], need[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if g.size else np.zeros(0, np.int64)
    entries = np.zeros(n_tiles, dtype=np.int64)
    if not g.size:
        return entries
    same = np.minimum.reduceat(m, starts) == np.maximum.reduceat(m, starts)
    n_need = np.add.reduceat(nd.astype(np.int64), starts)
    per_group = np.where(same, (n_need > 0).astype(np.int64), n_need)
    np.add.at(entries, tree_tile[order][starts], per_group)
    return entries
