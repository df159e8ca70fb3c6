"""cAER / libcaer AEDAT 3.1 files (the DVS128 Gesture layout): reader and writer.

Header: CRLF ``#`` lines from ``#!AER-DAT3.1`` to ``#!END-HEADER``; ``#Source <id>: <name>``
names the camera (and so the sensor size). Body: packets, little-endian, each a 28-byte header
``int16 type, int16 source, int32 event_size, int32 ts_offset, int32 ts_overflow, int32 capacity,
int32 number, int32 valid`` followed by ``number * event_size`` bytes.

* Polarity packets (type 1, 8-byte events ``uint32 data, int32 ts``): bit 0 valid (invalid events
  are dropped and counted), bit 1 polarity (1 = ON), bits 16..2 ``y``, bits 31..17 ``x``, origin
  top-left. Time is ``ts_overflow << 31 | ts`` µs.
* Special packets (type 0): TIMESTAMP_WRAP (counted as a wrap; the overflow field already carries
  it), TIMESTAMP_RESET (the camera restarted its clock: later times are shifted by the time of the
  last event before the reset, so the stream stays monotonic; counted as a reset), external inputs
  (counted as triggers), others skipped.
* Other packet types are skipped whole (their events counted as skipped).

A packet header with impossible fields is corruption; a packet running past the end of the file
is truncation; both are errors naming the byte. Packets straddling decode blocks are carried over.
"""

from __future__ import annotations

import re

import numpy as np
from numba import njit

from aersim.traces.errors import TraceError
from aersim.traces.recordings.aedat import read_hash_header
from aersim.traces.recordings.recording_base import (
    C_BAD,
    C_INVALID,
    C_LAST_T,
    C_REGRESSIONS,
    C_RESETS,
    C_SKIPPED,
    C_TRIGGERS,
    C_WRAPS,
    DEFAULT_BLOCK_BYTES,
    S_BAD_RECORD,
    S_BAD_X,
    S_BAD_Y,
    S_OK,
    S_TRUNCATED,
    EventSource,
    RecordingMeta,
    check_events,
    check_in_sensor,
    file_size,
    format_error,
    open_binary,
    sensor_size_arg,
    status_error,
)

_S_NEED_MORE = 6  # kernel status: the next packet is not complete in this buffer
#: Known camera names of ``#Source`` lines and their sensor sizes.
SOURCE_SIZES = {
    "DVS128": (128, 128),
    "DAVIS240": (240, 180),
    "DAVIS346": (346, 260),
    "DAVIS640": (640, 480),
    "DVXPLORER": (640, 480),
}
PACKET_HEADER_BYTES = 28


def _size_from_source(name: str):
    m = re.search(r"(\d+)x(\d+)", name)
    if m:
        w, h = int(m.group(1)), int(m.group(2))
        return (w, h) if 0 < w <= 65536 and 0 < h <= 65536 else None
    upper = name.upper().replace(" ", "").replace("_", "")
    for key, size in SOURCE_SIZES.items():
        if upper.startswith(key):
            return size
    return None


class Aedat31Source(EventSource):
    """Streaming reader of an AEDAT 3.x file."""

    decodes_into_sink = True

    def __init__(self, path, sensor_size=None, block_bytes=DEFAULT_BLOCK_BYTES, **_):
        super().__init__(path)
        self._file = open_binary(path)
        lines, self.data_offset = read_hash_header(self._file, path, stop_line=b"#!END-HEADER")
        if not lines[0].startswith("#!AER-DAT3"):
            raise format_error(path, 0, repr(lines[0]), "'#!AER-DAT3.1'", "pass the right format=")
        camera = None
        for line in lines:
            m = re.match(r"#Source (-?\d+): (.*)", line)
            if m:
                camera = m.group(2).strip()
                break
        size = sensor_size_arg(sensor_size) or (_size_from_source(camera) if camera else None)
        if size is None:
            raise format_error(
                path,
                0,
                f"#Source {camera!r} of unknown size",
                "a known camera",
                "pass sensor_size=(width, height)",
            )
        self.block_bytes = block_bytes
        self.meta = RecordingMeta(
            width=size[0],
            height=size[1],
            format="aedat31",
            camera=camera,
            path=str(path),
            header=tuple(("line", ln) for ln in lines),
        )

    def estimate_events(self):
        # at most one event per 8 bytes (packet headers and other packet types make it fewer)
        return (file_size(self._file) - self.data_offset) // 8

    def blocks(self, t_start=None, t_stop=None):
        f = self._file
        size = file_size(f)
        f.seek(self.data_offset)
        state = np.zeros(1, dtype=np.int64)  # time shift from timestamp resets
        carry = np.empty(0, dtype=np.uint8)
        offset = self.data_offset  # file offset of carry[0]
        while True:
            fresh = np.fromfile(f, dtype=np.uint8, count=self.block_bytes)
            buf = np.concatenate((carry, fresh)) if carry.size else fresh
            remaining = size - (offset + buf.size)
            pos = 0
            while True:
                out = self.sink.space(max(buf.size // 8, 1), max(buf.size // 8, 1))
                status, pos, n = _aedat31_decode_kernel(
                    buf,
                    pos,
                    remaining,
                    state,
                    self.counters,
                    out,
                    self.meta.width,
                    self.meta.height,
                )
                if n:
                    self.block_offset = offset
                    yield self.sink.commit(out, n)
                if status in (S_OK, _S_NEED_MORE):
                    break
                raise status_error(
                    self.path,
                    status,
                    offset + pos,
                    self.meta,
                    int(self.counters[C_BAD]),
                    "packet" if status == S_TRUNCATED or status == S_BAD_RECORD else "event",
                )
            carry = buf[pos:].copy()
            offset += pos
            if fresh.size == 0:
                if carry.size:
                    raise format_error(
                        self.path,
                        offset,
                        f"{carry.size} bytes of an incomplete packet",
                        "whole packets",
                        "the file is truncated",
                    )
                return


@njit(cache=True)
def _le(data, pos, nbytes, signed):
    v = np.int64(0)
    for k in range(nbytes):
        v |= np.int64(data[pos + k]) << (8 * k)
    if signed and (v >> (8 * nbytes - 1)) & 1:
        v -= np.int64(1) << (8 * nbytes)
    return v


@njit(cache=True)
def _aedat31_decode_kernel(buf, pos, remaining, state, counters, out, width, height):
    """Decode whole packets of ``buf`` (uint8) from byte ``pos``.

    ``remaining`` is the number of file bytes after ``buf``: a packet longer than ``buf`` plus
    ``remaining`` is truncated. ``state`` = [time shift in µs from resets]. Returns ``(status,
    byte_pos, n_out)``; ``_S_NEED_MORE`` asks for more bytes from ``byte_pos`` on.
    """
    shift = state[0]
    last_t = counters[C_LAST_T]
    nbuf = buf.shape[0]
    n = 0
    status = S_OK
    while pos < nbuf:
        if pos + 28 > nbuf:
            status = _S_NEED_MORE if remaining > 0 else S_TRUNCATED
            break
        etype = _le(buf, pos, 2, True)
        esize = _le(buf, pos + 4, 4, True)
        tsoff = _le(buf, pos + 8, 4, True)
        ovf = _le(buf, pos + 12, 4, True)
        capacity = _le(buf, pos + 16, 4, True)
        number = _le(buf, pos + 20, 4, True)
        valid = _le(buf, pos + 24, 4, True)
        if (
            etype < 0
            or etype > 100
            or esize < 4
            or tsoff < 0
            or tsoff + 4 > esize
            or ovf < 0
            or number < 0
            or valid < 0
            or valid > number
            or capacity < number
        ):
            counters[C_BAD] = etype
            status = S_BAD_RECORD
            break
        end = pos + 28 + number * esize
        if end > nbuf:
            status = _S_NEED_MORE if end - nbuf <= remaining else S_TRUNCATED
            break
        if etype == 1:
            if esize != 8 or tsoff != 4:
                counters[C_BAD] = esize
                status = S_BAD_RECORD
                break
            bad = False
            for e in range(number):
                q = pos + 28 + 8 * e
                d = _le(buf, q, 4, False)
                ts = _le(buf, q + 4, 4, True)
                if d & 1 == 0:
                    counters[C_INVALID] += 1
                    continue
                x = d >> 17
                y = (d >> 2) & 0x7FFF
                if x >= width or y >= height or ts < 0:
                    counters[C_BAD] = x if x >= width else (y if y >= height else ts)
                    status = S_BAD_X if x >= width else (S_BAD_Y if y >= height else S_BAD_RECORD)
                    pos = q
                    bad = True
                    break
                t = ((ovf << 31) | ts) + shift
                if t < last_t:
                    counters[C_REGRESSIONS] += 1
                last_t = t
                out[n].t = t
                out[n].x = x
                out[n].y = y
                out[n].p = (d >> 1) & 1
                n += 1
            if bad:
                break
        elif etype == 0:
            for e in range(number):
                q = pos + 28 + esize * e
                d = _le(buf, q, 4, False)
                if d & 1 == 0:
                    counters[C_INVALID] += 1
                    continue
                kind = (d >> 1) & 0x7F
                if kind == 0:
                    counters[C_WRAPS] += 1
                elif kind == 1:
                    counters[C_RESETS] += 1
                    if last_t > 0:
                        shift = last_t
                elif kind <= 4:
                    counters[C_TRIGGERS] += 1
                else:
                    counters[C_SKIPPED] += 1
        else:
            counters[C_SKIPPED] += number
        pos = end
    state[0] = shift
    counters[C_LAST_T] = last_t
    return status, pos, n


def packet_bytes(
    etype: int,
    events: np.ndarray,
    overflow: int,
    source: int = 1,
    event_size: int = 8,
    ts_offset: int = 4,
) -> bytes:
    """One AEDAT 3.1 packet: 28-byte header plus ``events`` (a structured or uint8 array)."""
    payload = np.ascontiguousarray(events).tobytes()
    number = len(payload) // event_size
    valid = number
    if etype in (0, 1):
        data = np.frombuffer(payload, dtype="<u4")[0::2]
        valid = int(np.count_nonzero(data & 1))
    head = (
        np.array([etype, source], dtype="<i2").tobytes()
        + np.array([event_size, ts_offset, overflow, number, number, valid], dtype="<i4").tobytes()
    )
    return head + payload


def write_aedat31(path, events, meta: RecordingMeta, packet_events: int = 4096):
    """Write ``events`` as an AEDAT 3.1 file with polarity packets.

    A new packet starts whenever the 31-bit overflow of the time changes, so any non-negative
    times are representable. The ``#Source`` name is the camera for known sizes, else
    ``Generic-<W>x<H>`` (which this reader parses back).
    """
    events = check_events(events)
    check_in_sensor(events, meta, path)
    if len(events) and int(events["t"].min()) < 0:
        raise TraceError(f"{path}: AEDAT 3.1 stores times >= 0 µs; re-base the times first")
    name = next((k for k, v in SOURCE_SIZES.items() if v == (meta.width, meta.height)), None)
    name = name or f"Generic-{meta.width}x{meta.height}"
    header = ["#!AER-DAT3.1", "#Format: RAW", f"#Source 1: {name}", "#!END-HEADER"]
    t = events["t"]
    ovf = t >> 31
    rec = np.empty(len(events), dtype=[("d", "<u4"), ("ts", "<i4")])
    rec["d"] = (
        (events["x"].astype(np.uint32) << 17)
        | (events["y"].astype(np.uint32) << 2)
        | ((events["p"].astype(np.uint32) & 1) << 1)
        | 1
    )
    rec["ts"] = t & 0x7FFFFFFF
    cuts = np.flatnonzero(np.diff(ovf)) + 1
    with open(path, "wb") as f:
        f.write(("\r\n".join(header) + "\r\n").encode("ascii"))
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(events)], strict=True):
            for s in range(lo, hi, packet_events):
                e = min(s + packet_events, hi)
                f.write(packet_bytes(1, rec[s:e], int(ovf[s])))
