"""Event Stream (``.es``, Sepia / faery): DVS and ATIS streams of version 2, reader and writer.

Layout: ``Event Stream`` (12 ASCII bytes), version major, minor, patch (3 bytes, major 2), the
stream type (1 byte: 0 generic, 1 DVS, 2 ATIS, 3 display, 4 color), then for DVS and ATIS the
sensor width and height (``uint16`` little-endian each). The body is a byte-level state machine.
Each event starts with a byte carrying the time elapsed since the previous event and is followed
by four bytes ``x`` (``uint16`` LE) and ``y`` (``uint16`` LE):

* DVS: first byte ``t[6:0] << 1 | is_increase``; between events, ``0xFF`` adds 127 µs (overflow)
  and ``0xFE`` is a reset byte that carries nothing.
* ATIS: first byte ``t[5:0] << 2 | polarity << 1 | is_tc``; between events, ``0b111111xx``
  adds ``63 * xx`` µs (``xx`` = 0 is a reset). Threshold-crossing events (``is_tc`` = 1, half of
  an exposure measurement) are not change events: skipped and counted; DVS events keep their
  polarity.

Rows are counted from the bottom of the sensor in the file (as faery and the Sepia tools write
and read them); the reader returns ``y`` from the top like every other format, so
``y = height - 1 - y_file``.

Times are µs from 0 (the start of the stream) and never decrease. An event whose coordinates lie
outside the declared sensor is an error naming its byte; an event cut by the end of the file is
an error after the whole events before it. Generic, display and color streams are refused.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from aersim.traces.errors import TraceError
from aersim.traces.recordings.recording_base import (
    C_BAD,
    C_LAST_T,
    C_SKIPPED,
    DEFAULT_BLOCK_BYTES,
    MAX_TIME_US,
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
    header_size,
    iter_byte_blocks,
    open_binary,
    sensor_size_arg,
    status_error,
)

MAGIC = b"Event Stream"
HEADER_BYTES = 20
_TYPES = {0: "generic", 1: "DVS", 2: "ATIS", 3: "display", 4: "color"}


class EsSource(EventSource):
    """Streaming reader of an Event Stream file (DVS or ATIS stream)."""

    decodes_into_sink = True

    def __init__(self, path, sensor_size=None, block_bytes=DEFAULT_BLOCK_BYTES, **_):
        super().__init__(path)
        f = self._file = open_binary(path)
        head = f.read(HEADER_BYTES)
        if not head.startswith(MAGIC):
            raise format_error(path, 0, repr(head[:12]), repr(MAGIC), "pass the right format=")
        if len(head) < 16:
            raise format_error(
                path, len(head), "end of file", "version and stream type", "the file is truncated"
            )
        major, minor, patch, kind = head[12], head[13], head[14], head[15]
        if major != 2:
            raise format_error(
                path, 12, f"version {major}.{minor}.{patch}", "Event Stream version 2.x"
            )
        if kind not in (1, 2):
            raise format_error(
                path,
                15,
                f"a {_TYPES.get(kind, f'type {kind}')} stream",
                "a DVS (1) or ATIS (2) stream",
                "other Event Stream types carry no polarity events",
            )
        if len(head) < HEADER_BYTES:
            raise format_error(
                path, len(head), "end of file", "the sensor size", "the file is truncated"
            )
        declared = header_size(
            int.from_bytes(head[16:18], "little"), int.from_bytes(head[18:20], "little"), path, 16
        )
        size = sensor_size_arg(sensor_size) or declared
        self.atis = kind == 2
        self.block_bytes = block_bytes
        self.meta = RecordingMeta(
            width=size[0],
            height=size[1],
            format="es",
            path=str(path),
            header=(("version", f"{major}.{minor}.{patch}"), ("type", _TYPES[kind])),
        )

    def estimate_events(self):
        return (file_size(self._file) - HEADER_BYTES) // 5

    def times_bounded(self):
        # at most 127 µs per byte: no file can reach 2**62 µs
        return 127 * file_size(self._file) < MAX_TIME_US

    def blocks(self, t_start=None, t_stop=None):
        state = np.zeros(6, dtype=np.int64)
        w, h = self.meta.width, self.meta.height
        for offset, data in iter_byte_blocks(
            self._file, HEADER_BYTES, self.block_bytes, 1, self.path, "byte"
        ):
            pos = 0
            while True:
                out = self.sink.space(max(64, (len(data) - pos) // 5 + 1), 64)
                status, pos, n = _es_decode_kernel(
                    data, pos, state, self.counters, out, w, h, self.atis
                )
                if n:
                    self.block_offset = offset
                    yield self.sink.commit(out, n)
                if status == S_OK:
                    break
                if status != S_FULL:
                    raise status_error(
                        self.path, status, offset + pos, self.meta, int(self.counters[C_BAD])
                    )
        if state[1] != 0:
            end = file_size(self._file)
            raise format_error(
                self.path,
                end - state[1],
                "an event cut by the end of the file",
                "whole 5-byte events",
                "the file is truncated",
            )


@njit(cache=True)
def _es_decode_kernel(data, pos, state, counters, out, width, height, atis):
    """Decode Event Stream bytes ``data[pos:]`` into ``out``.

    Parameters
    ----------
    data : ndarray of uint8, shape (n_bytes,)
    pos : int
    state : ndarray of int64, shape (6,)
        Time (µs), bytes of the current event read (0 between events), x, y, polarity, is_tc;
        updated in place so that an event may straddle two blocks.
    counters : ndarray of int64, shape (8,)
    out : ndarray of EVENT_DTYPE, shape (capacity,)
    width, height : int
    atis : bool
        ATIS stream (else DVS).

    Returns
    -------
    status, next_pos, n_out : int
        On a coordinate error ``next_pos`` is the event's first byte.
    """
    t = state[0]
    phase = state[1]
    x = state[2]
    y = state[3]
    pol = state[4]
    tc = state[5]
    last_t = counters[C_LAST_T]
    cap = out.shape[0]
    n = 0
    i = pos
    status = S_OK
    while i < data.shape[0]:
        b = np.int64(data[i])
        if phase == 0:
            if atis:
                if (b >> 2) == 0x3F:
                    t += 63 * (b & 3)  # overflow; 0b11111100 is a reset
                    i += 1
                    continue
            elif b >= 0xFE:
                if b == 0xFF:
                    t += 127  # overflow; 0xFE is a reset
                i += 1
                continue
            if n >= cap:
                status = S_FULL
                break
            if atis:
                t += b >> 2
                pol = (b >> 1) & 1
                tc = b & 1
            else:
                t += b >> 1
                pol = b & 1
                tc = 0
            phase = 1
        elif phase == 1:
            x = b
            phase = 2
        elif phase == 2:
            x |= b << 8
            phase = 3
        elif phase == 3:
            y = b
            phase = 4
        else:
            y |= b << 8
            phase = 0
            if tc:
                counters[C_SKIPPED] += 1
            else:
                if x >= width:
                    counters[C_BAD] = x
                    status = S_BAD_X
                    i = max(i - 4, 0)
                    break
                if y >= height:
                    counters[C_BAD] = y
                    status = S_BAD_Y
                    i = max(i - 4, 0)
                    break
                out[n].t = t
                out[n].x = x
                out[n].y = height - 1 - y  # the file counts rows from the bottom
                out[n].p = pol
                last_t = t
                n += 1
        i += 1
    state[0] = t
    state[1] = phase
    state[2] = x
    state[3] = y
    state[4] = pol
    state[5] = tc
    counters[C_LAST_T] = last_t
    return status, i, n


@njit(cache=True)
def _es_encode_kernel(t, x, y, p, out):
    """Encode sorted DVS events (times >= 0) into Event Stream bytes; return the byte count."""
    k = 0
    prev = 0
    for i in range(t.shape[0]):
        dt = t[i] - prev
        prev = t[i]
        while dt >= 127:
            out[k] = 0xFF
            k += 1
            dt -= 127
        out[k] = (dt << 1) | (p[i] & 1)
        out[k + 1] = x[i] & 0xFF
        out[k + 2] = x[i] >> 8
        out[k + 3] = y[i] & 0xFF
        out[k + 4] = y[i] >> 8
        k += 5
    return k


#: Largest number of overflow bytes a writer may emit (a time gap of about 2.3 hours).
MAX_OVERFLOW_BYTES = 64 << 20


def write_es(path, events, meta: RecordingMeta):
    """Write ``events`` as an Event Stream 2.0.0 DVS file.

    Times must not decrease and must start at or after 0 µs; a gap of ``g`` µs costs ``g // 127``
    bytes, so times far from 0 (such as AEDAT4 epoch times) must be re-based first.
    """
    events = check_events(events)
    check_in_sensor(events, meta, path)
    t = np.ascontiguousarray(events["t"])
    if len(t) and (t[0] < 0 or np.any(np.diff(t) < 0)):
        raise TraceError(
            f"{path}: Event Stream times start at 0 µs and never decrease; sort and re-base them"
        )
    overflow = int(t[-1]) // 127 if len(t) else 0
    if overflow > MAX_OVERFLOW_BYTES:
        raise TraceError(
            f"{path}: times reach {int(t[-1])} µs, which Event Stream spells with {overflow} "
            "overflow bytes; re-base the times (t - t[0]) first"
        )
    out = np.empty(5 * len(t) + overflow + 1, dtype=np.uint8)
    k = _es_encode_kernel(
        t,
        events["x"].astype(np.int64),
        meta.height - 1 - events["y"].astype(np.int64),
        events["p"].astype(np.int64),
        out,
    )
    with open(path, "wb") as f:
        f.write(MAGIC + bytes([2, 0, 0, 1]))
        f.write(int(meta.width).to_bytes(2, "little") + int(meta.height).to_bytes(2, "little"))
        out[:k].tofile(f)
