"""The fast engine and its reference: event queue, build step, engine kernels, hardware timing."""
