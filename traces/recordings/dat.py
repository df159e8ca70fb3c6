"""Prophesee DAT files (decoded CD events): reader and writer.

Header: ``% key value`` lines (``Data file containing ...``, ``Version``, ``Width``, ``Height``),
then two bytes: event type (0x00 Event2d, 0x0C EventCD) and event size (8). Records are 8 bytes
little-endian ``uint32 t, uint32 data``; version 2 packs ``x`` in bits 13..0, ``y`` in 27..14 and
polarity in 31..28; version 1 (old 304x240 ATIS files) ``x`` in 8..0, ``y`` in 16..9, polarity in
bit 17 and up.

Time is 32-bit µs, unwrapped when it falls by more than 2**31. A file without Width/Height
cannot be bounds-checked: pass ``sensor_size``, else the 14-bit coordinate range is assumed with
a warning. Trigger files (type 0x0E) are not CD events and are refused. A file cut mid-record is
an error after the whole records.
"""

from __future__ import annotations

import warnings

import numpy as np
from numba import njit

from aersim.traces.errors import TraceError, TraceWarning
from aersim.traces.recordings.recording_base import (
    C_BAD,
    C_LAST_T,
    C_REGRESSIONS,
    C_WRAPS,
    DEFAULT_BLOCK_BYTES,
    S_BAD_X,
    S_BAD_Y,
    S_OK,
    EventSource,
    RecordingMeta,
    check_events,
    check_in_sensor,
    file_size,
    format_error,
    header_int,
    header_size,
    header_time_offset,
    iter_byte_blocks,
    open_binary,
    read_percent_header,
    sensor_size_arg,
    status_error,
)

_CD_TYPES = (0x00, 0x0C)


class DatSource(EventSource):
    """Streaming reader of a Prophesee DAT file."""

    decodes_into_sink = True
    time_bits = 32

    def __init__(self, path, sensor_size=None, block_bytes=DEFAULT_BLOCK_BYTES, **_):
        super().__init__(path)
        f = self._file = open_binary(path)
        pairs, offset = read_percent_header(f, path)
        f.seek(offset)
        tb = f.read(2)
        if len(tb) < 2:
            raise format_error(
                path, offset, "end of file", "event type and size bytes", "the file is truncated"
            )
        if tb[0] not in _CD_TYPES or tb[1] != 8:
            raise format_error(
                path,
                offset,
                f"event type 0x{tb[0]:02X} of size {tb[1]}",
                "CD events (type 0x00 or 0x0C) of 8 bytes",
                "this DAT file holds no CD events",
            )
        self.data_offset = offset + 2
        header = dict(pairs)
        version = (header.get("Version") or "2").split(" ")[0]
        self.version = header_int(version, path, "Version", 0, 1, 2)
        self.time_offset = header_time_offset(
            header.get("time_offset_us", "0"), path, "time_offset_us"
        )
        size = sensor_size_arg(sensor_size)
        if size is None and "Width" in header and "Height" in header:
            size = header_size(
                header_int(header["Width"], path, "Width"),
                header_int(header["Height"], path, "Height"),
                path,
            )
        if size is None:
            size = (512, 256) if self.version == 1 else (16384, 16384)
            warnings.warn(
                f"{path}: DAT header has no Width/Height; bounds {size[0]}x{size[1]} "
                "assumed, pass sensor_size=(width, height)",
                TraceWarning,
                stacklevel=4,
            )
        self.block_bytes = block_bytes
        self.meta = RecordingMeta(
            width=size[0], height=size[1], format="dat", path=str(path), header=tuple(pairs)
        )

    def estimate_events(self):
        return (file_size(self._file) - self.data_offset) // 8

    def blocks(self, t_start=None, t_stop=None):
        state = np.full(2, -1, dtype=np.int64)
        state[1] = 0
        for offset, data in iter_byte_blocks(
            self._file, self.data_offset, self.block_bytes, 8, self.path
        ):
            words = data.view("<u4")
            out = self.sink.space(words.size // 2, words.size // 2)
            status, pos, n = _dat_decode_kernel(
                words, state, self.counters, out, self.version, self.meta.width, self.meta.height
            )
            if status != S_OK:
                raise status_error(
                    self.path,
                    status,
                    offset + 8 * pos,
                    self.meta,
                    int(self.counters[C_BAD]),
                    "record",
                )
            if n:
                if self.time_offset:
                    out["t"][:n] += self.time_offset
                self.block_offset = offset
                yield self.sink.commit(out, n)


@njit(cache=True)
def _dat_decode_kernel(words, state, counters, out, version, width, height):
    """Decode (t, data) uint32 pairs; ``state`` = [previous raw t (-1 first), wrap offset µs]."""
    prev = state[0]
    offset = state[1]
    last_t = counters[C_LAST_T]
    n = 0
    status = S_OK
    r = 0
    for r in range(words.shape[0] // 2):
        raw = np.int64(words[2 * r])
        d = np.int64(words[2 * r + 1])
        if prev >= 0 and prev - raw > (1 << 31):
            offset += 1 << 32
            counters[C_WRAPS] += 1
        prev = raw
        if version == 1:
            x = d & 0x1FF
            y = (d >> 9) & 0xFF
            p = (d >> 17) & 0xF
        else:
            x = d & 0x3FFF
            y = (d >> 14) & 0x3FFF
            p = (d >> 28) & 0xF
        if x >= width:
            counters[C_BAD] = x
            status = S_BAD_X
            break
        if y >= height:
            counters[C_BAD] = y
            status = S_BAD_Y
            break
        t = raw + offset
        if t < last_t:
            counters[C_REGRESSIONS] += 1
        last_t = t
        out[n].t = t
        out[n].x = x
        out[n].y = y
        out[n].p = 1 if p else 0
        n += 1
    state[0] = prev
    state[1] = offset
    counters[C_LAST_T] = last_t
    return status, r, n


def write_dat(path, events, meta: RecordingMeta):
    """Write ``events`` as a version-2 DAT file of CD events.

    Times are re-based to the 2**32 µs period holding the earliest event (recorded in a
    ``% time_offset_us`` line); consecutive events may not be more than 2**31 µs apart.
    """
    events = check_events(events)
    check_in_sensor(events, meta, path)
    if meta.width > 16384 or meta.height > 16384:
        raise TraceError(
            f"{path}: DAT stores 14-bit coordinates; sensor {meta.width}x{meta.height} is too large"
        )
    t = events["t"]
    if len(t) > 1 and np.abs(np.diff(t)).max() > (1 << 31):
        raise TraceError(
            f"{path}: consecutive events more than 2**31 µs apart cannot be written to DAT"
        )
    base = (int(t.min()) >> 32) << 32 if len(t) else 0
    rec = np.empty((len(events), 2), dtype="<u4")
    rec[:, 0] = (t - base) & 0xFFFFFFFF
    rec[:, 1] = (
        events["x"].astype(np.uint32)
        | events["y"].astype(np.uint32) << 14
        | (events["p"].astype(np.uint32) & 1) << 28
    )
    lines = [
        "% Data file containing CD events.",
        "% Version 2",
        f"% Width {meta.width}",
        f"% Height {meta.height}",
    ]
    if base:
        lines.append(f"% time_offset_us {base}")
    with open(path, "wb") as f:
        f.write(("\n".join(lines) + "\n").encode("ascii") + bytes([0x0C, 8]))
        rec.tofile(f)
