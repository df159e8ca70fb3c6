"""Record types shared by every reader and writer: defined once, cast to by everyone.

Times of sensor events are int64 microseconds (the unit every camera format uses); times inside
the simulator are int64 picoseconds (``*_ps``), see DESIGN.md §3.
"""

import numpy as np

#: One event from an event camera. ``t`` µs since the start of the recording, ``x``/``y`` pixel
#: column and row from the top-left, ``p`` polarity (1 = ON / brighter, 0 = OFF / darker).
EVENT_DTYPE = np.dtype([("t", np.int64), ("x", np.uint16), ("y", np.uint16), ("p", np.uint8)])

#: One spike of a simulated neuron: ``t_ps`` simulated time in picoseconds, ``neuron`` global id.
SPIKE_DTYPE = np.dtype([("t_ps", np.int64), ("neuron", np.int32)])

#: Version of the HDF5 trace layout written by :class:`traces.TraceWriter`.
TRACE_FORMAT_VERSION = "1.0"


def empty_events(n: int = 0) -> np.ndarray:
    """Return a zeroed array of ``n`` events of :data:`EVENT_DTYPE`."""
    return np.zeros(n, dtype=EVENT_DTYPE)
