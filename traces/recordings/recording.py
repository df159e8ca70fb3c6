"""Open, read and write event-camera recordings in any supported format.

``open_events`` detects the format from the first bytes of the file (or takes ``format=``),
parses the header into a :class:`RecordingMeta` and returns an :class:`EventReader` that iterates
the events in chunks of :data:`traces.schema.EVENT_DTYPE` with bounded memory: the file is
decoded a few MiB at a time and decoder state carries across blocks. ``read_events`` reads a
whole file; ``write_events`` encodes an event array in any format that has a writer.

Format modules are imported on first use, so ``import traces`` does not import Numba.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aersim.traces.errors import TraceError, TraceWarning
from aersim.traces.recordings.recording_base import (
    INT64_MIN,
    MAX_TIME_US,
    OutBuffer,
    RecordingMeta,
    check_events,
    check_time_range,
    format_error,
    sensor_size_arg,
)
from aersim.traces.schema import EVENT_DTYPE, empty_events

__all__ = [
    "FORMATS",
    "EventReader",
    "RecordingMeta",
    "detect_format",
    "open_events",
    "read_events",
    "write_events",
]


@dataclass(frozen=True)
class FormatInfo:
    """One entry of the format registry: where its reader and writer live."""

    module: str
    reader: str | None
    writer: str | None
    description: str
    reader_options: tuple = ()
    writer_options: tuple = ()


#: Registry of formats by name. ``raw`` reads any Prophesee RAW and lets the header choose the
#: EVT encoding; ``evt2``/``evt21``/``evt3`` force one.
FORMATS: dict[str, FormatInfo] = {
    "aedat2": FormatInfo(
        "aedat", "Aedat2Source", "write_aedat2", "jAER AEDAT 1.0/2.0 (DVS128, DAVIS)"
    ),
    "aedat31": FormatInfo(
        "aedat31", "Aedat31Source", "write_aedat31", "cAER AEDAT 3.1 (DVS128 Gesture)"
    ),
    "aedat4": FormatInfo("aedat4", "Aedat4Source", "write_aedat4", "iniVation DV AEDAT 4.0"),
    "raw": FormatInfo(
        "evt",
        "RawSource",
        "write_raw",
        "Prophesee RAW, encoding from the header",
        writer_options=(("encoding", "evt3"),),
    ),
    "evt2": FormatInfo(
        "evt",
        "RawSource",
        "write_raw",
        "Prophesee RAW EVT 2.0",
        (("encoding", "evt2"),),
        (("encoding", "evt2"),),
    ),
    "evt21": FormatInfo(
        "evt",
        "RawSource",
        "write_raw",
        "Prophesee RAW EVT 2.1",
        (("encoding", "evt21"),),
        (("encoding", "evt21"),),
    ),
    "evt3": FormatInfo(
        "evt",
        "RawSource",
        "write_raw",
        "Prophesee RAW EVT 3.0",
        (("encoding", "evt3"),),
        (("encoding", "evt3"),),
    ),
    "dat": FormatInfo("dat", "DatSource", "write_dat", "Prophesee DAT (CD events)"),
    "nmnist": FormatInfo("nmnist", "NmnistSource", "write_nmnist", "N-MNIST .bin (34x34)"),
    "ncaltech101": FormatInfo(
        "nmnist", "NcaltechSource", "write_nmnist", "N-Caltech101 .bin (304x240)"
    ),
    "csv": FormatInfo(
        "textio", "TextSource", "write_text", "text/CSV, configurable columns and units"
    ),
    "npy": FormatInfo("npyio", "NpySource", "write_npy", ".npy structured or (N, 4) array"),
    "npz": FormatInfo("npyio", "NpzSource", "write_npz", ".npz with t, x, y, p arrays"),
    "hdf5": FormatInfo("h5events", "H5Source", "write_h5", "HDF5 event file (DSEC-style, MVSEC)"),
    "es": FormatInfo("es", "EsSource", "write_es", "Event Stream 2.x (.es), DVS and ATIS streams"),
}

#: What a reader may do with events whose time is below an earlier event's.
TIME_POLICIES = ("keep", "clamp", "drop")

_EXTENSIONS = {
    ".aedat4": "aedat4",
    ".raw": "raw",
    ".dat": "dat",
    ".bin": "nmnist",
    ".csv": "csv",
    ".txt": "csv",
    ".npy": "npy",
    ".npz": "npz",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".aedat": "aedat31",
    ".es": "es",
}


def _format_info(name: str) -> FormatInfo:
    try:
        return FORMATS[name]
    except KeyError:
        raise TraceError(
            f"unknown event format {name!r}; supported: {', '.join(sorted(FORMATS))}"
        ) from None


def detect_format(path) -> str:
    """Name the format of ``path`` from its first bytes (extension as a last resort).

    Raises
    ------
    TraceFormatError
        When neither the bytes nor the extension identify a format.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise TraceError(f"{path}: cannot open: {exc.strerror}") from None
    if head.startswith(b"#!AER-DAT4"):
        return "aedat4"
    if head.startswith(b"#!AER-DAT3"):
        return "aedat31"
    if head.startswith((b"#!AER-DAT2", b"#!AER-DAT1")) or (
        head.startswith(b"#") and b"AEChip" in head
    ):
        return "aedat2"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if head.startswith(b"Event Stream"):
        return "es"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK\x03\x04"):
        return "npz"
    if head.startswith(b"%"):
        keys = {
            line[1:].strip().split(b" ")[0].rstrip(b":").lower()
            for line in head.split(b"\n")[:-1]
            if line.startswith(b"%")
        }
        if head.startswith(b"%geometry:"):
            return "csv"
        if b"evt" in keys or b"format" in keys or b"system_id" in keys:
            return "raw"
        if b"data" in keys or b"version" in keys:
            return "dat"
    ext = Path(path).suffix.lower()
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    raise format_error(
        path,
        0,
        f"first bytes {head[:16]!r}",
        "a known event-file signature",
        f"pass format= explicitly (one of {', '.join(sorted(FORMATS))})",
    )


def _source_class(name: str):
    info = _format_info(name)
    module = importlib.import_module(f"{__package__}.{info.module}")
    return getattr(module, info.reader), dict(info.reader_options)


class EventReader:
    """Chunked, re-iterable view of one recording.

    Iterating yields arrays of :data:`EVENT_DTYPE` in file order: blocks as decoded (default),
    exactly ``chunk_events`` events per chunk (the last may be shorter), or one array per time
    non-empty window ``[origin + k*window_us, origin + (k+1)*window_us)`` where ``origin`` is
    ``t_start`` or the first event's time. Empty windows are not yielded: a gap in time, however
    long, is skipped in one step (``(w["t"][0] - origin) // window_us`` recovers ``k``). An event
    earlier than its window's start because time went back stays in the current window. Each
    iteration decodes the file again with fresh state; :attr:`meta` carries the statistics of the
    latest pass.

    ``time_policy`` says what to do with events earlier than an event before them (decoders never
    reorder; ``meta.regressions`` counts such events either way): ``"keep"`` them as decoded,
    ``"clamp"`` their time to the latest time seen, or ``"drop"`` them. The time window and the
    chunking apply after the policy.
    """

    def __init__(
        self,
        path,
        format: str,
        chunk_events=None,
        window_us=None,
        t_start=None,
        t_stop=None,
        time_policy="keep",
        **options,
    ):
        if time_policy not in TIME_POLICIES:
            raise TraceError(f"time_policy must be one of {TIME_POLICIES}, got {time_policy!r}")
        if chunk_events is not None and window_us is not None:
            raise TraceError("pass chunk_events or window_us, not both")
        if chunk_events is not None and int(chunk_events) <= 0:
            raise TraceError(f"chunk_events must be a positive int, got {chunk_events!r}")
        if window_us is not None and int(window_us) <= 0:
            raise TraceError(f"window_us must be a positive number of µs, got {window_us!r}")
        self.path = Path(path)
        self.format = format
        self.chunk_events = None if chunk_events is None else int(chunk_events)
        self.window_us = None if window_us is None else int(window_us)
        self.t_start = _time_arg(t_start, "t_start")
        self.t_stop = _time_arg(t_stop, "t_stop")
        if self.window_us is not None and self.window_us >= MAX_TIME_US:
            raise TraceError(f"window_us must be below 2**62 µs, got {window_us!r}")
        cls, fixed = _source_class(format)
        self.time_policy = time_policy
        self._factory = functools.partial(cls, self.path, **{**fixed, **options})
        self._source = self._factory()
        self._fresh = True

    @property
    def meta(self) -> RecordingMeta:
        """Metadata; decoder statistics are complete once a pass has read the whole file."""
        return self._source.current_meta()

    def _new_source(self):
        if not self._fresh:
            self._source.close()
            self._source = self._factory()
        self._fresh = False
        return self._source

    def _blocks(self):
        source = self._new_source()
        lo, hi = self.t_start, self.t_stop
        n_events = 0
        latest = INT64_MIN
        for ev in source.blocks(lo, hi):
            # Every reader's times pass here: none may come near the int64 limits, so that the
            # window arithmetic below and the user's own differences cannot overflow.
            if not source.times_bounded():
                check_time_range(ev["t"], self.path, source.block_offset)
            n_events += len(ev)
            if self.time_policy != "keep" and len(ev):
                running = np.maximum.accumulate(np.maximum(ev["t"], latest))
                latest = int(running[-1])
                if self.time_policy == "clamp":
                    ev = ev.copy()
                    ev["t"] = running
                else:
                    ev = ev[ev["t"] >= running]
            if lo is not None or hi is not None:
                t = ev["t"]
                if hi is not None and len(t) and t.min() >= hi:
                    break  # the rest of the file lies after the window
                keep = np.ones(len(t), dtype=bool)
                if lo is not None:
                    keep &= t >= lo
                if hi is not None:
                    keep &= t < hi
                ev = ev[keep]
            if len(ev):
                yield ev
        meta = source.current_meta()
        if meta.invalid_words > 0.01 * (n_events + meta.invalid_words):
            # Invalid or undefined words are rare in real recordings; many of them usually mean
            # the wrong format or encoding was chosen, so the user must hear about it.
            warnings.warn(
                f"{self.path}: {meta.invalid_words} invalid or undefined words dropped "
                f"while reading as {self.format!r}; check format= if that is many",
                TraceWarning,
                stacklevel=3,
            )

    def __iter__(self):
        blocks = self._blocks()
        if self.chunk_events is not None:
            return _by_count(blocks, self.chunk_events)
        if self.window_us is not None:
            return _by_window(blocks, self.window_us, self.t_start)
        return blocks

    def read_all(self) -> np.ndarray:
        """Decode the whole (windowed) recording into one array of :data:`EVENT_DTYPE`.

        Without a time window or policy, the kernels decode straight into one growing array
        (sized from the file where the format allows), so nothing is concatenated.
        """
        if (
            self.t_start is None
            and self.t_stop is None
            and self.time_policy == "keep"
            and self._source.decodes_into_sink
        ):
            source = self._new_source()
            # slack: kernels stop a few events short of a full buffer (a vector word at a time)
            source.sink = OutBuffer(whole=True, estimate=source.estimate_events() + 64)
            self._fresh = True  # _blocks takes this same source
            for _ in self._blocks():
                pass
            return source.sink.result()
        parts = list(self._blocks())
        return np.concatenate(parts) if parts else empty_events()

    def triggers(self) -> np.ndarray:
        """External triggers, for formats that store them (AEDAT4)."""
        return self._factory().triggers()

    def close(self):
        self._source.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _by_count(blocks, n):
    pending, have = [], 0
    for ev in blocks:
        pending.append(ev)
        have += len(ev)
        while have >= n:
            joined = np.concatenate(pending) if len(pending) > 1 else pending[0]
            yield joined[:n]
            rest = joined[n:]
            pending, have = ([rest] if len(rest) else []), len(rest)
    if have:
        yield np.concatenate(pending)


def _by_window(blocks, width, origin):
    """Group events into non-empty windows; a gap of empty windows is one step, not a loop."""
    pending, cur = [], None
    for ev in blocks:
        if origin is None:
            origin = int(ev["t"][0])
        k = (ev["t"] - origin) // width
        if cur is not None:
            k = np.maximum(k, cur)
        k = np.maximum.accumulate(k)
        starts = np.flatnonzero(np.diff(k)) + 1
        for seg, kk in zip(np.split(ev, starts), k[np.r_[0, starts]], strict=True):
            if cur is not None and kk != cur and pending:
                yield np.concatenate(pending) if len(pending) > 1 else pending[0]
                pending = []
            cur = int(kk)
            pending.append(seg)
    if pending:
        yield np.concatenate(pending) if len(pending) > 1 else pending[0]


def _time_arg(value, name):
    """Validate a user time bound (µs): an integer within +-2**62."""
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise TraceError(f"{name} must be an integer number of µs, got {value!r}") from None
    if not -MAX_TIME_US < number < MAX_TIME_US:
        raise TraceError(f"{name} must be within +-2**62 µs, got {value!r}")
    return number


def open_events(
    path,
    format: str | None = None,
    *,
    chunk_events: int | None = None,
    window_us: int | None = None,
    t_start: int | None = None,
    t_stop: int | None = None,
    time_policy: str = "keep",
    **options,
) -> EventReader:
    """Open an event recording for chunked reading.

    Parameters
    ----------
    path : str or Path
    format : str, optional
        A key of :data:`FORMATS`; detected from the first bytes when omitted.
    chunk_events : int, optional
        Yield chunks of exactly this many events.
    window_us : int, optional
        Yield one chunk per time window of this many µs.
    t_start, t_stop : int, optional
        Keep events with ``t_start <= t < t_stop`` (µs, as stored in the file). AEDAT4 files use
        their index to skip packets outside the window.
    time_policy : {"keep", "clamp", "drop"}
        Treatment of events earlier than a preceding event, see :class:`EventReader`.
    **options
        Format options: ``sensor_size=(width, height)``, ``block_bytes`` (bytes decoded per block),
        and per-format ones (e.g. text ``columns``, ``t_scale``; EVT ``encoding``).

    Returns
    -------
    EventReader
    """
    name = detect_format(path) if format is None else format
    _format_info(name)
    return EventReader(
        path,
        name,
        chunk_events=chunk_events,
        window_us=window_us,
        t_start=t_start,
        t_stop=t_stop,
        time_policy=time_policy,
        **options,
    )


def read_events(path, format: str | None = None, **options) -> tuple[np.ndarray, RecordingMeta]:
    """Read a whole recording: return ``(events, meta)``; see :func:`open_events` for options."""
    with open_events(path, format, **options) as reader:
        events = reader.read_all()
        return events, reader.meta


def _as_meta(meta_or_sensor_size, path, name) -> RecordingMeta:
    if isinstance(meta_or_sensor_size, RecordingMeta):
        return dataclasses.replace(meta_or_sensor_size, path=str(path), format=name)
    size = sensor_size_arg(meta_or_sensor_size)
    if size is None:
        raise TraceError("write_events needs a RecordingMeta or a sensor size (width, height)")
    return RecordingMeta(width=size[0], height=size[1], format=name, path=str(path))


def write_events(
    path, events: np.ndarray, meta_or_sensor_size, format: str | None = None, **options
) -> None:
    """Encode ``events`` into ``path``.

    Parameters
    ----------
    path : str or Path
    events : ndarray of EVENT_DTYPE, shape (n,)
    meta_or_sensor_size : RecordingMeta or (width, height)
    format : str, optional
        A key of :data:`FORMATS`; from the file extension when omitted (``.raw`` -> EVT 3.0).
    **options
        Writer options, e.g. AEDAT4 ``compression="zstd"``, EVT 2.1 ``endianness="legacy"``.
    """
    if format is None:
        format = _EXTENSIONS.get(Path(path).suffix.lower())
        if format is None:
            raise TraceError(
                f"{path}: cannot tell the format from the extension; pass format= "
                f"(one of {', '.join(sorted(FORMATS))})"
            )
    info = _format_info(format)
    if info.writer is None:
        raise TraceError(f"format {format!r} has no writer")
    events = check_events(events)
    if events.dtype != EVENT_DTYPE:
        raise TraceError("events must be of EVENT_DTYPE")
    meta = _as_meta(meta_or_sensor_size, path, format)
    writer = getattr(importlib.import_module(f"{__package__}.{info.module}"), info.writer)
    writer(path, events, meta, **{**dict(info.writer_options), **options})
