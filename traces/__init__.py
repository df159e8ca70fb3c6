"""aersim's event data: event-camera recordings in, HDF5 traces out.

``traces.transforms`` and ``traces.functional`` (Numba-backed preprocessing), ``traces.report``
and ``traces.plots`` (matplotlib) are loaded on first use, so that ``import traces`` stays cheap.
"""

import importlib

from traces.errors import TraceError, TraceFormatError, TraceWarning
from traces.recording import FORMATS, EventReader, open_events, read_events, write_events
from traces.recording_base import RecordingMeta
from traces.schema import EVENT_DTYPE, SPIKE_DTYPE, TRACE_FORMAT_VERSION
from traces.trace import Trace, TraceWriter, read_trace

_LAZY = ("compare", "functional", "nirdata", "plots", "report", "transforms")

__all__ = [
    "EVENT_DTYPE", "EventReader", "FORMATS", "RecordingMeta", "SPIKE_DTYPE",
    "TRACE_FORMAT_VERSION", "Trace", "TraceError", "TraceFormatError", "TraceWarning",
    "TraceWriter", "open_events", "read_events", "read_trace", "write_events",
]


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f"traces.{name}")
    raise AttributeError(f"module 'traces' has no attribute {name!r}")
