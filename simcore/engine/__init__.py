"""The fast engine and its reference: event queue, build step, engine kernels, hardware timing."""

from aersim.simcore.engine.kernel_cache import check_engine_cache

# Before any kernel is loaded from Numba's cache: drop it if a source it inlines changed.
check_engine_cache()
