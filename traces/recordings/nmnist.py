"""N-MNIST / N-Caltech101 ``.bin`` files (ATIS recordings of Orchard et al. 2015).

No header; 5 bytes per event: ``x``, ``y``, then bit 7 of byte 2 the polarity (1 = ON) and the
remaining 23 bits the time in µs, most significant byte first. A record with ``y == 240`` is a
time-overflow marker (kept from the original MATLAB reader): it emits no event and adds 2**13 µs
to every later time; the reader counts markers as wraps.

The format has no redundancy, so a flipped byte cannot be detected unless it puts a pixel
outside the sensor (an error naming the byte); a file whose length is not a multiple of 5 was cut
mid-record and is an error after the whole records before the cut.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from aersim.traces.errors import TraceError
from aersim.traces.recordings.recording_base import (
    C_BAD,
    C_LAST_T,
    C_REGRESSIONS,
    C_WRAPS,
    DEFAULT_BLOCK_BYTES,
    DEFAULT_OUT_EVENTS,
    S_BAD_RECORD,
    S_BAD_X,
    S_BAD_Y,
    S_FULL,
    S_OK,
    EventSource,
    RecordingMeta,
    check_events,
    check_in_sensor,
    file_size,
    format_error,
    iter_byte_blocks,
    open_binary,
    sensor_size_arg,
    status_error,
)

NMNIST_SIZE = (34, 34)
NCALTECH_SIZE = (304, 240)
_OVERFLOW_Y = 240
_OVERFLOW_US = 1 << 13
#: Signatures of the formats with a header (see ``recording.detect_format``).
_OTHER_SIGNATURES = (
    (b"#!AER-DAT", "AEDAT"),
    (b"% ", "Prophesee RAW or DAT"),
    (b"%geometry", "CSV"),
    (b"\x93NUMPY", ".npy"),
    (b"PK\x03\x04", ".npz"),
    (b"\x89HDF\r\n\x1a\n", "HDF5"),
    (b"Event Stream", "Event Stream"),
)


class NmnistSource(EventSource):
    """Streaming reader of an N-MNIST / N-Caltech101 ``.bin`` file."""

    decodes_into_sink = True
    time_bits = 23

    default_size = NMNIST_SIZE
    format_name = "nmnist"

    def __init__(
        self,
        path,
        sensor_size=None,
        block_bytes=DEFAULT_BLOCK_BYTES,
        out_events=DEFAULT_OUT_EVENTS,
        **_,
    ):
        super().__init__(path)
        self._file = open_binary(path)
        head = self._file.read(16)
        for magic, name in _OTHER_SIGNATURES:
            # The format has no header: a file that starts like another format is refused
            # rather than decoded into plausible pixels.
            if head.startswith(magic):
                raise format_error(
                    path,
                    0,
                    f"first bytes {head[: len(magic)]!r} (a {name} file)",
                    f"{self.format_name} records",
                    "omit format= to detect the format",
                )
        w, h = sensor_size_arg(sensor_size) or self.default_size
        self.meta = RecordingMeta(width=w, height=h, format=self.format_name, path=str(path))
        self.block_bytes = block_bytes
        self.out_events = out_events

    def estimate_events(self):
        return file_size(self._file) // 5

    def blocks(self, t_start=None, t_stop=None):
        state = np.zeros(1, dtype=np.int64)
        for offset, data in iter_byte_blocks(self._file, 0, self.block_bytes, 5, self.path):
            out = self.sink.space(data.size // 5, data.size // 5)
            status, pos, n = _nmnist_decode_kernel(
                data, state, self.counters, out, self.meta.width, self.meta.height
            )
            if status != S_OK:
                hint = status_error(
                    self.path, status, offset + pos, self.meta, int(self.counters[C_BAD])
                )
                if self.meta.format == "nmnist":
                    raise type(hint)(f"{hint}; for N-Caltech101 pass format='ncaltech101'")
                raise hint
            if n:
                self.block_offset = offset
                yield self.sink.commit(out, n)


class NcaltechSource(NmnistSource):
    """N-Caltech101 ``.bin``: same layout, ATIS sensor size 304x240 by default."""

    default_size = NCALTECH_SIZE
    format_name = "ncaltech101"


@njit(cache=True)
def _nmnist_decode_kernel(data, state, counters, out, width, height):
    """Decode whole 5-byte records.

    Parameters
    ----------
    data : ndarray of uint8, shape (5 * n,)
    state : ndarray of int64, shape (1,)
        Accumulated overflow in µs.
    counters : ndarray of int64, shape (8,)
    out : ndarray of EVENT_DTYPE, shape (>= n,)
    width, height : int

    Returns
    -------
    status, byte_pos, n_out : int
    """
    overflow = state[0]
    last_t = counters[C_LAST_T]
    n = 0
    status = S_OK
    i = 0
    for r in range(data.shape[0] // 5):
        i = 5 * r
        x = np.int64(data[i])
        y = np.int64(data[i + 1])
        b2 = np.int64(data[i + 2])
        if y == _OVERFLOW_Y:
            overflow += _OVERFLOW_US
            counters[C_WRAPS] += 1
            continue
        if x >= width:
            counters[C_BAD] = x
            status = S_BAD_X
            break
        if y >= height:
            counters[C_BAD] = y
            status = S_BAD_Y
            break
        t = ((b2 & 0x7F) << 16 | np.int64(data[i + 3]) << 8 | np.int64(data[i + 4])) + overflow
        if t < last_t:
            counters[C_REGRESSIONS] += 1
        last_t = t
        out[n].t = t
        out[n].x = x
        out[n].y = y
        out[n].p = b2 >> 7
        n += 1
    state[0] = overflow
    counters[C_LAST_T] = last_t
    return status, i, n


@njit(cache=True)
def _nmnist_encode_kernel(t, x, y, p, start, state, buf):
    """Encode events into 5-byte records, inserting overflow markers as time requires.

    ``state[0]`` is the overflow (µs) already declared. Returns ``(status, next_event, n_bytes)``;
    ``S_BAD_RECORD`` when an event is earlier than the declared overflow allows.
    """
    overflow = state[0]
    cap = buf.shape[0]
    k = 0
    i = start
    status = S_OK
    limit = (1 << 23) - 1
    while i < t.shape[0]:
        ti = t[i]
        need = 0
        if ti - overflow > limit:
            need = (ti - overflow - limit + _OVERFLOW_US - 1) // _OVERFLOW_US
        if k + 5 * (need + 1) > cap:
            status = S_FULL
            break
        for _ in range(need):
            buf[k] = 0
            buf[k + 1] = _OVERFLOW_Y
            buf[k + 2] = 0
            buf[k + 3] = 0
            buf[k + 4] = 0
            k += 5
            overflow += _OVERFLOW_US
        rel = ti - overflow
        if rel < 0:
            status = S_BAD_RECORD
            break
        buf[k] = x[i]
        buf[k + 1] = y[i]
        buf[k + 2] = (np.int64(p[i]) & 1) << 7 | (rel >> 16) & 0x7F
        buf[k + 3] = (rel >> 8) & 0xFF
        buf[k + 4] = rel & 0xFF
        k += 5
        i += 1
    state[0] = overflow
    return status, i, k


def write_nmnist(path, events, meta: RecordingMeta):
    """Write ``events`` as an N-MNIST ``.bin`` file.

    Times must be >= 0 µs; beyond 2**23 µs overflow markers are inserted, and at most 2**31 µs are
    accepted (re-base with ``events["t"] -= t0`` first). ``x``, ``y`` must be < 256 and
    ``y != 240`` (the overflow marker).
    """
    events = check_events(events)
    check_in_sensor(events, meta, path)
    if len(events):
        if int(events["t"].min()) < 0 or int(events["t"].max()) >= 1 << 31:
            raise TraceError(
                f"{path}: N-MNIST stores times in 0..2**31 µs, got "
                f"{int(events['t'].min())}..{int(events['t'].max())}; re-base the times first"
            )
        if (
            int(events["x"].max()) > 255
            or int(events["y"].max()) > 255
            or np.any(events["y"] == _OVERFLOW_Y)
        ):
            raise TraceError(
                f"{path}: N-MNIST stores x, y in 0..255 with y != 240; crop or downsample first"
            )
    state = np.zeros(1, dtype=np.int64)
    with open(path, "wb") as f:
        chunk = 1 << 20
        for s in range(0, len(events), chunk):
            part = events[s : s + chunk]
            cols = [np.ascontiguousarray(part[k]) for k in ("t", "x", "y", "p")]
            pos = 0
            while pos < len(part):
                buf = np.empty(5 * len(part) + 5 * 1024, dtype=np.uint8)
                status, pos, k = _nmnist_encode_kernel(*cols, pos, state, buf)
                buf[:k].tofile(f)
                if status not in (S_OK, S_FULL):
                    raise TraceError(
                        f"{path}: event {s + pos} goes back in time past an overflow "
                        "marker, which N-MNIST cannot express; sort the events"
                    )
