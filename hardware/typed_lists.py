"""Numba typed lists of arrays, made and filled by cached kernels.

The build kernels take a varying number of arrays (one per projection) as a typed list.
Making and filling one from Python (``numba.typed.List()``, ``append``) compiles Numba's own
list helpers, which are not cached: about 0.2 s in every process that builds a network, even
with a warm cache (docs/performance.md, compile time). :func:`typed_list` uses two cached
kernels instead.
"""

from __future__ import annotations

from numba import njit, typeof
from numba.typed import List


@njit(cache=True)
def _empty(item_type):
    return List.empty_list(item_type)


@njit(cache=True)
def _append(items, item):
    items.append(item)


def typed_list(arrays):
    """A Numba typed list holding ``arrays`` (a sequence of at least one array, all of one
    dtype, dimension count and layout), in order."""
    out = _empty(typeof(arrays[0]))
    for a in arrays:
        _append(out, a)
    return out
