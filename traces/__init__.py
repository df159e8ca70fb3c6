"""aersim's event data: event-camera recordings in (``recordings``), simulator traces out
(``output``).

The Numba-backed preprocessing (``transforms``, ``functional``) and the matplotlib-based output
(``report``, ``plots``, ``compare``, ``nirdata``) are loaded on first attribute access
(``aersim.traces.plots``), so that ``import aersim.traces`` stays cheap.
"""

import importlib

from aersim.traces.errors import TraceError, TraceFormatError, TraceWarning
from aersim.traces.output.trace import Trace, TraceWriter, read_trace
from aersim.traces.recordings.recording import (
    FORMATS,
    EventReader,
    open_events,
    read_events,
    write_events,
)
from aersim.traces.recordings.recording_base import RecordingMeta
from aersim.traces.schema import EVENT_DTYPE, SPIKE_DTYPE, TRACE_FORMAT_VERSION

#: Submodules loaded on first use: attribute name -> module below ``aersim.traces``.
_LAZY = {
    "compare": "output.compare",
    "functional": "recordings.functional",
    "nirdata": "output.nirdata",
    "plots": "output.plots",
    "report": "output.report",
    "transforms": "recordings.transforms",
}

__all__ = [
    "EVENT_DTYPE", "EventReader", "FORMATS", "RecordingMeta", "SPIKE_DTYPE",
    "TRACE_FORMAT_VERSION", "Trace", "TraceError", "TraceFormatError", "TraceWarning",
    "TraceWriter", "open_events", "read_events", "read_trace", "write_events",
]


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f"aersim.traces.{_LAZY[name]}")
    raise AttributeError(f"module 'aersim.traces' has no attribute {name!r}")
