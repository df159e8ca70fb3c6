"""``@inner``: compile an engine function that only other kernels call, without a Python entry.

Numba gives every ``@njit`` function a CPython wrapper (and a C-ABI one) so that Python can call
it. For the engine's large helpers that take the NamedTuple tables (``timestep.update_range``,
``timestep.step_timeline``, the network-contention model, ...), the CPython wrapper unboxes
about 150 arrays: compiling it costs as much as a third of the helper itself, for an entry point
no one uses (docs/performance.md, compile time). :func:`inner` compiles the function without
either wrapper, cached on disk like a kernel. Such a function has no machine code Python could
call: calling it from Python raises ``TypeError`` (Numba's own dispatcher would crash).

(Numba's ``register_jitable`` also compiles without the wrappers, but the engine kernel built
on it ran 2 % slower: ``bench/engine.py``, Brunel in timestep mode.)
"""

from __future__ import annotations

from numba.core.registry import CPUDispatcher

#: Numba's compile options of an inner function: no-Python mode, no wrappers.
OPTIONS = {"nopython": True, "no_cpython_wrapper": True, "no_cfunc_wrapper": True}


class InnerDispatcher(CPUDispatcher):
    """A Numba dispatcher whose compiled versions only kernels can call."""

    def __call__(self, *args, **kwargs):
        raise TypeError(f"{self.py_func.__qualname__} is compiled for Numba kernels only "
                        "(without a Python entry point); call it from a kernel, or call "
                        f"{self.py_func.__qualname__}.py_func from Python")


def inner(fn) -> InnerDispatcher:
    """Compile ``fn`` (cached on disk) for calls from Numba kernels only."""
    dispatcher = InnerDispatcher(py_func=fn, locals={}, targetoptions=dict(OPTIONS))
    dispatcher.enable_caching()
    return dispatcher
