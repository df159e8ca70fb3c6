"""Memristive crossbars: device models, the array's analog computation, and network tiling."""
