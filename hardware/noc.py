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
