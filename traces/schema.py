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

#: One directed link (or ejection port) of the network-on-chip: ``tile`` id, ``port`` 0..3 for the
#: link leaving east, west, north, south and ``4 + k`` for the ejection to core ``k`` of the tile;
#: ``packets`` and ``flits`` carried; ``busy_ps`` spent moving flits; ``max_queue_flits`` the
#: deepest input buffer it fed; ``blocked_ps`` idle with a packet waiting for room downstream.
LINK_DTYPE = np.dtype([("tile", np.int32), ("port", np.int32), ("packets", np.int64),
                       ("flits", np.int64), ("busy_ps", np.int64), ("max_queue_flits", np.int64),
                       ("blocked_ps", np.int64)])

#: Traffic of one directed chip-to-chip link of a system of chips: ``link`` its number,
#: ``from_chip``/``to_chip``, ``packets`` and ``bits`` it carried (overhead bits included),
#: ``busy_ps`` (packets x serialisation time), ``energy_j``.
CHIP_LINK_DTYPE = np.dtype([("link", np.int32), ("from_chip", np.int32), ("to_chip", np.int32),
                            ("packets", np.int64), ("bits", np.int64), ("busy_ps", np.int64),
                            ("energy_j", np.float64)])

#: One spike message served by a destination core: ``message`` its index in the simulator's
#: message table, ``src_core``/``dst_core``, ``send_ps`` (-1 if not recorded), ``arrival_ps`` at
#: the destination core, service ``start_ps``/``end_ps``, ``hops`` between tiles (-1 if not
#: recorded), ``queue_ps = start_ps - arrival_ps`` (waiting for the busy destination core).
MESSAGE_DTYPE = np.dtype([("message", np.int64), ("src_core", np.int32), ("dst_core", np.int32),
                          ("send_ps", np.int64), ("arrival_ps", np.int64), ("start_ps", np.int64),
                          ("end_ps", np.int64), ("hops", np.int32), ("queue_ps", np.int64)])

#: Latency of one input event: its time ``input_t_ps``, the hardware ``latency_ps`` to the first
#: output spike and the ``algorithmic_ps`` one (whole steps); -1 when no output followed (or, for
#: ``algorithmic_ps`` in traces of format 1.0, when it was not recorded).
LATENCY_DTYPE = np.dtype([("input_t_ps", np.int64), ("latency_ps", np.int64),
                          ("algorithmic_ps", np.int64)])

#: Version of the HDF5 trace layout written by :class:`traces.TraceWriter`. Readers accept every
#: minor version of the same major version.
TRACE_FORMAT_VERSION = "1.1"


def empty_events(n: int = 0) -> np.ndarray:
    """Return a zeroed array of ``n`` events of :data:`EVENT_DTYPE`."""
    return np.zeros(n, dtype=EVENT_DTYPE)
