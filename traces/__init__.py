"""aersim's event data: event-camera recordings in, HDF5 traces out."""

from traces.errors import TraceError, TraceFormatError, TraceWarning
from traces.schema import EVENT_DTYPE, SPIKE_DTYPE, TRACE_FORMAT_VERSION
from traces.trace import Trace, TraceWriter, read_trace

__all__ = sorted([
    "EVENT_DTYPE", "SPIKE_DTYPE", "TRACE_FORMAT_VERSION", "Trace", "TraceError",
    "TraceFormatError", "TraceWarning", "TraceWriter", "read_trace",
])
