"""Numba typed lists of arrays, filled by a cached kernel.

The build kernels take a varying number of arrays (one per projection) as a typed list.
Filling one from Python (``numba.typed.List.append``) compiles Numba's own append helper,
which is not cached: about 0.07 s per item type in every process that builds a network, even
with a warm cache (docs/performance.md, compile time). :func:`typed_list` appends with a
cached kernel instead; only the empty list is made by Numba's (uncached, smaller) helper.
"""

from __future__ import annotations

from numba import njit, typeof
from numba.typed import List


@njit(cache=True)
def _append(items, item):
    items.append(item)


def typed_list(arrays):
    """A Numba typed list holding ``arrays`` (a sequence of at least one array, all of one
    dtype, dimension count and layout), in order."""
    out = List.empty_list(typeof(arrays[0]))
    for a in arrays:
        _append(out, a)
    return out
