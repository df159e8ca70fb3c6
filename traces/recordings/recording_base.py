"""Pieces shared by every event-file reader and writer: metadata, counters, errors, block I/O.

A reader of one format is an :class:`EventSource`: it parses the file header into a
:class:`RecordingMeta`, then decodes the body block by block (a few MiB of bytes at a time) into
arrays of :data:`traces.schema.EVENT_DTYPE`. Decoder state (time bases, wrap counts, partial vector
groups) lives in small ``int64`` arrays that the Numba kernels update in place, so it carries across
block boundaries. The statistics every kernel keeps share one layout, the ``C_*`` indices below.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aersim.traces.errors import TraceError, TraceFormatError
from aersim.traces.schema import EVENT_DTYPE

#: Default number of bytes decoded per block; bounds memory whatever the file size.
DEFAULT_BLOCK_BYTES = 4 << 20
#: Default capacity, in events, of one decoded output buffer.
DEFAULT_OUT_EVENTS = 1 << 20

# Layout of the int64 counter array shared by all kernels (module constants are compile-time
# constants for Numba, so kernels index with them at no cost).
C_WRAPS = 0  # timestamp counter roll-overs unwrapped
C_RESETS = 1  # timestamp resets (time restarted from zero) re-based
C_REGRESSIONS = 2  # events whose t is smaller than the previous event's t (kept, not reordered)
C_INVALID = 3  # words/records of unknown type or flagged invalid by the camera, dropped
C_SKIPPED = 4  # legal words/records that carry no CD event (IMU, triggers, counters, ...)
C_TRIGGERS = 5  # external trigger words seen
C_LAST_T = 6  # t of the last emitted event (µs), for the regression count
C_BAD = 7  # detail value of the last error status (e.g. offending coordinate)
N_COUNTERS = 8

# Status codes returned by kernels; the Python wrapper turns them into errors with context.
S_OK = 0  # the whole input was consumed
S_FULL = 1  # the output buffer is full; call again from the returned position
S_BAD_X = 2  # an event x outside the sensor width
S_BAD_Y = 3  # an event y outside the sensor height
S_BAD_RECORD = 4  # a structurally impossible record (format-specific)
S_TRUNCATED = 5  # a record is cut by the end of the data

INT64_MIN = np.iinfo(np.int64).min
#: Largest magnitude of an event time, µs (146,000 years). Every value that becomes a time (a
#: decoded timestamp, a header offset, a float time times its scale) is checked against it, so
#: that sums and differences of two times can never overflow ``int64``.
MAX_TIME_US = 1 << 62
#: Largest number of bytes one compressed unit (an AEDAT4 packet or index, a ``.npz`` member
#: read at once) may decompress to, whatever its header declares.
MAX_DECOMPRESSED_BYTES = 256 << 20


@dataclass(frozen=True)
class RecordingMeta:
    """What is known about a recording besides its events.

    Parameters
    ----------
    width, height : int
        Sensor size in pixels (x < width, y < height).
    format : str
        Registry name of the source format (e.g. ``"evt3"``).
    camera : str or None
        Camera model or serial, when the header says.
    path : str or None
        File the events came from.
    t0_us : int
        Offset in µs that the file declares for its timestamps (AEDAT4 ``tsOffset``, DSEC
        ``t_offset``); events keep their own timestamps, this is informational.
    wraps, resets, regressions, invalid_words, skipped_words, triggers : int
        Decoder statistics, complete once the whole file has been read: counter roll-overs
        unwrapped, time resets re-based, events earlier than their predecessor, words dropped as
        invalid or unknown, words without a CD event (IMU, counters, ...), trigger words.
    header : tuple of (str, str)
        Raw header key/value pairs, in file order.
    """

    width: int
    height: int
    format: str
    camera: str | None = None
    path: str | None = None
    t0_us: int = 0
    wraps: int = 0
    resets: int = 0
    regressions: int = 0
    invalid_words: int = 0
    skipped_words: int = 0
    triggers: int = 0
    header: tuple = ()

    def __post_init__(self):
        for name in ("width", "height"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or not 0 < value <= 65536:
                raise TraceError(f"RecordingMeta.{name} must be an int in 1..65536, got {value!r}")

    def with_counters(self, counters: np.ndarray) -> RecordingMeta:
        """Return a copy carrying the statistics of a kernel counter array (``C_*`` layout)."""
        return dataclasses.replace(
            self,
            wraps=int(counters[C_WRAPS]),
            resets=int(counters[C_RESETS]),
            regressions=int(counters[C_REGRESSIONS]),
            invalid_words=int(counters[C_INVALID]),
            skipped_words=int(counters[C_SKIPPED]),
            triggers=int(counters[C_TRIGGERS]),
        )

    def header_value(self, key: str, default=None):
        """Return the first header value stored under ``key``, or ``default``."""
        for k, v in self.header:
            if k == key:
                return v
        return default


def new_counters() -> np.ndarray:
    """Return a fresh ``int64`` counter array in the ``C_*`` layout."""
    counters = np.zeros(N_COUNTERS, dtype=np.int64)
    counters[C_LAST_T] = INT64_MIN
    return counters


def format_error(path, offset: int, found: str, expected: str, fix: str = "") -> TraceFormatError:
    """Build the one-line error every reader raises for a bad file."""
    msg = f"{path}: at byte {offset}: found {found}, expected {expected}"
    if fix:
        msg += f"; {fix}"
    return TraceFormatError(msg)


def status_error(
    path, status: int, offset: int, meta: RecordingMeta, detail: int, what: str = "record"
) -> TraceFormatError:
    """Turn a kernel status code into a :class:`TraceFormatError` with context."""
    if status == S_BAD_X:
        return format_error(
            path,
            offset,
            f"{what} with x={detail}",
            f"x < width {meta.width}",
            "the file is corrupt, or pass sensor_size=(width, height) or the right format=",
        )
    if status == S_BAD_Y:
        return format_error(
            path,
            offset,
            f"{what} with y={detail}",
            f"y < height {meta.height}",
            "the file is corrupt, or pass sensor_size=(width, height) or the right format=",
        )
    if status == S_TRUNCATED:
        return format_error(
            path,
            offset,
            f"a {what} cut by the end of the file",
            "complete records",
            "the file is truncated",
        )
    return format_error(
        path,
        offset,
        f"an impossible {what} (code {detail})",
        f"a valid {meta.format} {what}",
        "the file is corrupt or not in this format",
    )


def sensor_size_arg(sensor_size) -> tuple[int, int] | None:
    """Validate a user ``sensor_size=(width, height[, polarities])`` argument."""
    if sensor_size is None:
        return None
    try:
        w, h = int(sensor_size[0]), int(sensor_size[1])
    except (TypeError, IndexError, ValueError):
        raise TraceError(f"sensor_size must be (width, height), got {sensor_size!r}") from None
    if not (0 < w <= 65536 and 0 < h <= 65536):
        raise TraceError(f"sensor_size must be positive and <= 65536, got {sensor_size!r}")
    return w, h


class OutBuffer:
    """Where a reader's kernels decode to: a fresh array per block, or one growing array.

    Streaming (``whole=False``), :meth:`space` returns a new array for every block, so blocks
    stay valid after the next one is decoded. Whole-file (``whole=True``), every block is decoded
    straight into one array that grows geometrically, so reading a file never concatenates:
    :meth:`result` is the whole recording. Blocks yielded in that mode are views that a later
    growth may leave behind; :meth:`EventReader.read_all` ignores them.
    """

    def __init__(self, whole: bool = False, estimate: int = 0):
        self.whole = whole
        self.array = np.empty(max(int(estimate), 0) if whole else 0, dtype=EVENT_DTYPE)
        self.n = 0

    def space(self, size: int, min_free: int = 1, want: int = 0) -> np.ndarray:
        """An array to decode into: ``size`` events streaming, all free room (>= ``min_free``)
        of the growing array when reading whole. When it must grow, it grows by half at least,
        or by ``want`` events (the caller's estimate of what is still to come)."""
        if not self.whole:
            return np.empty(size, dtype=EVENT_DTYPE)
        if len(self.array) - self.n < min_free:
            room = max(len(self.array) // 2, min_free, min(int(want), 1 << 31), 1024)
            grown = np.empty(self.n + room, dtype=EVENT_DTYPE)
            grown[: self.n] = self.array[: self.n]
            self.array = grown
        return self.array[self.n :]

    def commit(self, out: np.ndarray, n: int) -> np.ndarray:
        """Record that ``n`` events were decoded into ``out``; return them."""
        if self.whole:
            self.n += n
            return out[:n]
        # a mostly empty block is copied, so that the big buffer is not kept alive by a view
        return out[:n] if n > len(out) // 2 else out[:n].copy()

    def result(self) -> np.ndarray:
        """The whole recording (whole-file mode)."""
        if self.n < len(self.array):
            self.array = (
                self.array[: self.n].copy()
                if self.n < len(self.array) // 2
                else (self.array[: self.n])
            )
        return self.array


class EventSource:
    """Base class of the per-format readers.

    Subclasses set :attr:`meta` (without statistics) and :attr:`counters` in ``__init__`` and
    implement :meth:`blocks`. A source is single-pass: :meth:`blocks` may be called once.
    """

    meta: RecordingMeta
    counters: np.ndarray
    #: Byte offset of the data behind the block yielded last (for error messages).
    block_offset: int = 0
    #: True when :meth:`blocks` decodes into :attr:`sink` (so a whole-file read needs no copy).
    decodes_into_sink: bool = False
    #: Width in bits of the format's time counter, when every decoded time is below
    #: ``(wraps + 1) << time_bits`` plus :attr:`time_offset`; None when times come from the file
    #: as they are (and must be range-checked one by one).
    time_bits: int | None = None
    #: µs added to every decoded time (a header offset).
    time_offset: int = 0
    #: True when the decoding kernel itself range-checks every time it returns.
    checks_times: bool = False

    def __init__(self, path):
        self.path = Path(path)
        self.counters = new_counters()
        self._file = None
        self.sink = OutBuffer()

    def estimate_events(self) -> int:
        """A guess of the number of events, to size a whole-file read (0 when unknown)."""
        return 0

    def blocks(self, t_start: int | None = None, t_stop: int | None = None) -> Iterator[np.ndarray]:
        """Yield decoded events, one array of :data:`EVENT_DTYPE` per block, in file order.

        ``t_start``/``t_stop`` (µs) are hints: a source with an index may skip data outside the
        window; the caller filters exactly.
        """
        raise NotImplementedError

    def times_bounded(self) -> bool:
        """True when the times decoded so far are within +-MAX_TIME_US by construction."""
        if self.checks_times:
            return True
        if self.time_bits is None:
            return False
        bound = (int(self.counters[C_WRAPS]) + 1) << self.time_bits
        return bound + abs(int(self.time_offset)) < MAX_TIME_US

    def current_meta(self) -> RecordingMeta:
        """Metadata with the statistics gathered so far."""
        return self.meta.with_counters(self.counters)

    def triggers(self) -> np.ndarray:
        """External triggers of the recording, when the format stores them."""
        raise TraceError(f"{self.path}: format {self.meta.format!r} does not expose triggers")

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None


def open_binary(path):
    """Open ``path`` for reading bytes, turning OS errors into :class:`TraceError`."""
    try:
        return open(path, "rb")
    except OSError as exc:
        raise TraceError(f"{path}: cannot open: {exc.strerror}") from None


def file_size(f) -> int:
    return os.fstat(f.fileno()).st_size


def iter_byte_blocks(
    f, start: int, block_bytes: int, record_bytes: int, path, what: str = "record"
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(file_offset, uint8 array)`` blocks of whole records from ``start`` to the end.

    Each block holds a multiple of ``record_bytes`` bytes. A trailing partial record is a
    :class:`TraceFormatError` (the file was cut mid-record), raised after the whole records before
    it have been yielded. Every block is read into the same buffer (a block is valid until the
    next one is asked for): a buffer that stays in the processor's cache is faster to decode
    than a fresh array per block.
    """
    size = file_size(f)
    body = size - start
    if body < 0:
        raise format_error(path, size, "end of file", "a complete header", "the file is truncated")
    block = max(record_bytes, (block_bytes // record_bytes) * record_bytes)
    f.seek(start)
    offset = start
    end_whole = start + (body // record_bytes) * record_bytes
    buffer = np.empty(min(block, max(end_whole - offset, 0)), dtype=np.uint8)
    while offset < end_whole:
        count = min(block, end_whole - offset)
        data = buffer[:count]
        got = f.readinto(data)
        if got != count:
            raise format_error(
                path,
                offset + (got or 0),
                "end of file",
                f"{count} more bytes",
                "the file changed while being read",
            )
        yield offset, data
        offset += count
    if end_whole != size:
        raise format_error(
            path,
            end_whole,
            f"{size - end_whole} trailing bytes",
            f"whole {record_bytes}-byte {what}s",
            "the file is truncated",
        )


def read_percent_header(f, path, max_bytes: int = 1 << 20) -> tuple[list[tuple[str, str]], int]:
    """Parse Prophesee-style ``% key value`` header lines; return ``(pairs, data_offset)``.

    The header ends after a ``% end`` line, or at the first line not starting with ``%``.
    """
    f.seek(0)
    pairs: list[tuple[str, str]] = []
    offset = 0
    while True:
        head = f.read(1)
        if head != b"%":
            break
        line = b"%" + f.readline(65536)
        if not line.endswith(b"\n"):
            raise format_error(
                path,
                offset,
                "an unterminated header line",
                "'% key value' lines ending in a newline",
                "the file is truncated or corrupt",
            )
        offset += len(line)
        if offset > max_bytes:
            raise format_error(path, offset, "a header longer than 1 MiB", "a short '% ' header")
        text = line[1:].decode("latin-1").strip()
        if text == "end":
            return pairs, offset
        key, _, value = text.partition(" ")
        if key:
            pairs.append((key, value.strip()))
    return pairs, offset


def events_from_fields(t, x, y, p) -> np.ndarray:
    """Pack separate field arrays into one :data:`EVENT_DTYPE` array."""
    out = np.empty(len(t), dtype=EVENT_DTYPE)
    out["t"] = t
    out["x"] = x
    out["y"] = y
    out["p"] = p
    return out


def check_events(events, where: str = "events") -> np.ndarray:
    """Validate that ``events`` is a 1-D array of :data:`EVENT_DTYPE` (writers' input)."""
    if not isinstance(events, np.ndarray) or events.dtype != EVENT_DTYPE or events.ndim != 1:
        got = getattr(events, "dtype", type(events).__name__)
        raise TraceError(
            f"{where} must be a 1-D numpy array of traces.schema.EVENT_DTYPE, got {got}"
        )
    return np.ascontiguousarray(events)


def check_in_sensor(events: np.ndarray, meta: RecordingMeta, path) -> None:
    """Writers refuse events outside the declared sensor size."""
    if len(events) and (
        int(events["x"].max()) >= meta.width or int(events["y"].max()) >= meta.height
    ):
        raise TraceError(
            f"{path}: events reach x={int(events['x'].max())}, y={int(events['y'].max())} but the "
            f"sensor is {meta.width}x{meta.height}; pass the right sensor size or crop first"
        )


def header_int(value, path, key: str, offset: int = 0, lo: int = None, hi: int = None) -> int:
    """Parse an integer header value, raising a :class:`TraceFormatError` that names the key.

    ``lo``/``hi`` bound the value (inclusive) when given.
    """
    try:
        number = int(str(value).strip())
    except ValueError:
        raise format_error(
            path, offset, f"header {key}={value!r}", "an integer", "the header is corrupt"
        ) from None
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise format_error(
            path,
            offset,
            f"header {key}={value!r}",
            f"an integer in {lo}..{hi}",
            "the header is corrupt",
        )
    return number


def header_time_offset(value, path, key: str, offset: int = 0) -> int:
    """Parse a header time offset in µs, range-checked so that offset + time cannot overflow."""
    return header_int(value, path, key, offset, -MAX_TIME_US + 1, MAX_TIME_US - 1)


def header_size(width, height, path, offset: int = 0, where: str = "header") -> tuple[int, int]:
    """Validate a sensor size read from a file: a :class:`TraceFormatError` naming the file."""
    try:
        w, h = int(width), int(height)
    except (TypeError, ValueError, OverflowError):
        w = h = 0
    if not (0 < w <= 65536 and 0 < h <= 65536):
        raise format_error(
            path,
            offset,
            f"{where} sensor size {width!r}x{height!r}",
            "1..65536 pixels a side",
            "the header is corrupt; pass sensor_size=(width, height)",
        )
    return w, h


def check_time_range(t: np.ndarray, path, offset: int, what: str = "events") -> None:
    """Refuse times (int or float, any shape) that are not finite or beyond +-MAX_TIME_US."""
    if t.size == 0:
        return
    if t.dtype.kind == "f":
        bad = ~np.isfinite(t) | (np.abs(t) >= MAX_TIME_US)
        if bad.any():
            k = int(np.argmax(bad.ravel()))
            raise format_error(
                path,
                offset,
                f"{what} with time {t.ravel()[k]} µs",
                "finite times within +-2**62 µs",
                "the file is corrupt, or check t_scale=/columns=",
            )
        return
    lo, hi = t.min(), t.max()
    if (t.dtype.kind == "u" and hi >= MAX_TIME_US) or (
        t.dtype.kind == "i" and (hi >= MAX_TIME_US or lo <= -MAX_TIME_US)
    ):
        raise format_error(
            path,
            offset,
            f"{what} with times {int(lo)}..{int(hi)} µs",
            "times within +-2**62 µs",
            "the file is corrupt",
        )
