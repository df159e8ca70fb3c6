"""``@inner``: compile an engine function that only other kernels call, without a Python entry.

Numba gives every ``@njit`` function a CPython wrapper (and a C-ABI one) so that Python can call
it. For the engine's large helpers that take the NamedTuple tables (``timestep.update_range``,
``timestep.step_timeline``, the network-contention model, ...), the CPython wrapper unboxes
about 150 arrays: compiling it costs as much as a third of the helper itself, for an entry point
only the kernels' callers use (docs/performance.md, compile time). :func:`inner` compiles the
function as an overload (Numba's ``register_jitable``) without either wrapper, cached on disk
like a kernel. Called from Python, the function runs as plain Python (slowly, but correctly).
"""

from __future__ import annotations

from numba.extending import register_jitable


def inner(fn):
    """Compile ``fn`` when a Numba kernel calls it (cached on disk, no Python entry point);
    return ``fn`` itself, so a Python call runs the Python function."""
    return register_jitable(cache=True, no_cfunc_wrapper=True)(fn)
