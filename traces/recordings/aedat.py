"""jAER AEDAT 1.0 / 2.0 files (DVS128 and DAVIS240/346 addresses): reader and writer.

Header: ``#`` lines ending in CRLF; ``# AEChip: <java class>`` names the chip, which fixes how an
address decodes. There is no terminator line, so the header ends at the first line that is not
printable ASCII text (binary data may start with the byte 0x23 = ``#``). Records are big-endian
``int32 address, int32 timestamp`` (2.0) or ``int16 address, int32 timestamp`` (1.0).

Address layouts (converted to top-left origin, 1 = ON):

* DVS128: bit 0 raw polarity (1 = OFF), bits 7..1 ``x_raw``, bits 14..8 ``y_raw``, bit 15 special
  event; jAER mirrors both axes, so ``x = 127 - x_raw``, ``y = 127 - y_raw``.
* DAVIS: bit 31 APS/IMU sample, bit 10 special event; DVS events have ``y_raw`` in bits 30..22,
  ``x_raw`` in bits 21..12, polarity in bit 11; ``x = W-1-x_raw``, ``y = H-1-y_raw``.

Special, APS and IMU records are skipped and counted. Timestamps are read as unsigned 32-bit µs and
unwrapped when they fall by more than 2**31 (every record counts, so a writer may keep long gaps
representable). The reader adds a ``# time_offset_us N`` header line written by
:func:`write_aedat2` when it re-based times to fit 32 bits. A file cut mid-record is an error.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from aersim.traces.errors import TraceError
from aersim.traces.recordings.recording_base import (
    C_BAD,
    C_INVALID,
    C_LAST_T,
    C_REGRESSIONS,
    C_SKIPPED,
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
    header_time_offset,
    iter_byte_blocks,
    open_binary,
    status_error,
)

#: chip name -> (layout code, width, height); layout 0 = DVS128, 1 = DAVIS.
CHIPS = {
    "dvs128": (0, 128, 128),
    "davis240": (1, 240, 180),
    "davis346": (1, 346, 260),
    "davis640": (1, 640, 480),
}
_JAER_CLASSES = {
    "dvs128": "ch.unizh.ini.jaer.chip.retina.DVS128",
    "davis240": "eu.seebetter.ini.chips.davis.DAVIS240C",
    "davis346": "eu.seebetter.ini.chips.davis.Davis346red",
    "davis640": "eu.seebetter.ini.chips.davis.Davis640",
}


def _chip_from_class(name: str):
    low = name.lower()
    for key in ("davis346", "davis240", "davis640"):
        if key in low:
            return key
    if "dvs128" in low or "tmpdiff128" in low:
        return "dvs128"
    return None


def read_hash_header(f, path, stop_line: bytes | None = None):
    """Read ``#`` header lines; return ``(lines, data_offset)``.

    Stops after ``stop_line`` when given, else before the first line that is not printable text.
    """
    f.seek(0)
    lines, offset = [], 0
    while True:
        pos = f.tell()
        if f.read(1) != b"#":
            f.seek(pos)
            break
        line = b"#" + f.readline(4096)
        text_ok = line.endswith(b"\n") and all(32 <= c < 127 or c in (9, 10, 13) for c in line)
        if not text_ok:
            if stop_line is not None:
                raise format_error(
                    path,
                    offset,
                    "a non-text header line",
                    "'#' text lines",
                    "the file is truncated or corrupt",
                )
            f.seek(pos)
            break
        offset += len(line)
        text = line.decode("ascii").rstrip("\r\n")
        lines.append(text)
        if stop_line is not None and line.rstrip(b"\r\n") == stop_line:
            return lines, offset
    if stop_line is not None:
        raise format_error(
            path,
            offset,
            f"the end of the header without {stop_line.decode()!r}",
            "a complete header",
            "the file is truncated",
        )
    return lines, offset


class Aedat2Source(EventSource):
    """Streaming reader of a jAER AEDAT 1.0/2.0 file."""

    decodes_into_sink = True

    def __init__(self, path, sensor_size=None, chip=None, block_bytes=DEFAULT_BLOCK_BYTES, **_):
        super().__init__(path)
        self._file = open_binary(path)
        lines, self.data_offset = read_hash_header(self._file, path)
        self.version1 = bool(lines) and lines[0].startswith("#!AER-DAT1")
        self.time_offset = 0
        found = None
        for line in lines:
            body = line[1:].strip()
            if body.startswith("AEChip:"):
                found = _chip_from_class(body.split(":", 1)[1])
            elif body.startswith("time_offset_us"):
                self.time_offset = header_time_offset(body.split(" ")[-1], path, "time_offset_us")
        chip = chip or found
        if chip not in CHIPS:
            raise format_error(
                path,
                0,
                f"AEChip {chip!r}",
                f"one of {sorted(CHIPS)}",
                "pass chip='dvs128' or 'davis346' (or davis240/davis640)",
            )
        self.layout, w, h = CHIPS[chip]
        if sensor_size is not None:
            w, h = int(sensor_size[0]), int(sensor_size[1])
        self.block_bytes = block_bytes
        self.meta = RecordingMeta(
            width=w,
            height=h,
            format="aedat2",
            camera=chip,
            path=str(path),
            header=tuple(("line", ln) for ln in lines),
        )

    def estimate_events(self):
        return (file_size(self._file) - self.data_offset) // (6 if self.version1 else 8)

    def blocks(self, t_start=None, t_stop=None):
        state = np.zeros(2, dtype=np.int64)
        state[0] = -1
        rec = 6 if self.version1 else 8
        for offset, data in iter_byte_blocks(
            self._file, self.data_offset, self.block_bytes, rec, self.path
        ):
            if self.version1:
                pairs = data.reshape(-1, 6)
                addr = pairs[:, :2].copy().view(">u2").ravel().astype(np.uint32)
                ts = pairs[:, 2:].copy().view(">u4").ravel().astype(np.uint32)
            else:
                words = data.view(">u4").astype(np.uint32)
                addr, ts = words[0::2].copy(), words[1::2].copy()
            out = self.sink.space(len(addr), len(addr))
            status, pos, n = _aedat2_decode_kernel(
                addr, ts, state, self.counters, out, self.layout, self.meta.width, self.meta.height
            )
            if status != S_OK:
                raise status_error(
                    self.path,
                    status,
                    offset + pos * rec,
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
def _aedat2_decode_kernel(addr, ts, state, counters, out, layout, width, height):
    """Decode address/timestamp pairs (uint32, shape (n,) each) into ``out``.

    ``state`` = [previous raw timestamp (-1 before the first), accumulated wrap offset µs].
    Returns ``(status, record_index, n_out)``.
    """
    prev = state[0]
    offset = state[1]
    last_t = counters[C_LAST_T]
    n = 0
    status = S_OK
    i = 0
    for i in range(addr.shape[0]):
        a = np.int64(addr[i])
        raw = np.int64(ts[i])
        if prev >= 0 and prev - raw > (1 << 31):
            offset += 1 << 32
            counters[C_WRAPS] += 1
        prev = raw
        if layout == 0:
            if a >> 16 != 0:
                counters[C_INVALID] += 1
                continue
            if a & 0x8000:
                counters[C_SKIPPED] += 1
                continue
            x = 127 - ((a >> 1) & 0x7F)
            y = 127 - ((a >> 8) & 0x7F)
            p = 1 - (a & 1)
        else:
            if (a >> 31) & 1 or (a >> 10) & 1:
                counters[C_SKIPPED] += 1
                continue
            xr = (a >> 12) & 0x3FF
            yr = (a >> 22) & 0x1FF
            if xr >= width:
                counters[C_BAD] = xr
                status = S_BAD_X
                break
            if yr >= height:
                counters[C_BAD] = yr
                status = S_BAD_Y
                break
            x = width - 1 - xr
            y = height - 1 - yr
            p = (a >> 11) & 1
        if x >= width or y >= height:
            counters[C_BAD] = x if x >= width else y
            status = S_BAD_X if x >= width else S_BAD_Y
            break
        t = raw + offset
        if t < last_t:
            counters[C_REGRESSIONS] += 1
        last_t = t
        out[n].t = t
        out[n].x = x
        out[n].y = y
        out[n].p = p
        n += 1
    state[0] = prev
    state[1] = offset
    counters[C_LAST_T] = last_t
    return status, i, n


def write_aedat2(path, events, meta: RecordingMeta, chip=None):
    """Write ``events`` as a jAER AEDAT 2.0 file.

    ``chip`` (``dvs128``, ``davis240``, ``davis346``, ``davis640``) defaults to the chip whose
    size equals the sensor size. Times are re-based to the 2**32 µs period holding the earliest
    event (the amount goes in a ``# time_offset_us`` line); consecutive events may not be more
    than 2**31 µs apart.
    """
    events = check_events(events)
    check_in_sensor(events, meta, path)
    if chip is None:
        chip = next((k for k, v in CHIPS.items() if v[1:] == (meta.width, meta.height)), None)
    if chip not in CHIPS:
        raise TraceError(
            f"{path}: AEDAT 2.0 needs a jAER chip; sensor {meta.width}x{meta.height} "
            f"matches none of {sorted(CHIPS)}; pass chip= or crop to a chip size"
        )
    layout, w, h = CHIPS[chip]
    t = events["t"]
    base = (int(t.min()) >> 32) << 32 if len(t) else 0
    if len(t) > 1 and np.abs(np.diff(t)).max() > (1 << 31):
        raise TraceError(
            f"{path}: consecutive events more than 2**31 µs apart cannot be written to AEDAT 2.0"
        )
    x = events["x"].astype(np.uint32)
    y = events["y"].astype(np.uint32)
    p = events["p"].astype(np.uint32) & 1
    if layout == 0:
        addr = ((127 - y) << 8) | ((127 - x) << 1) | (1 - p)
    else:
        addr = ((h - 1 - y) << 22) | ((w - 1 - x) << 12) | (p << 11)
    words = np.empty((len(events), 2), dtype=">u4")
    words[:, 0] = addr
    words[:, 1] = (t - base) & 0xFFFFFFFF
    lines = [
        "#!AER-DAT2.0",
        "# Data format is int32 address, int32 timestamp (8 bytes total), repeated for each event",
        "# Timestamps tick is 1 us",
        f"# AEChip: {_JAER_CLASSES[chip]}",
    ]
    if base:
        lines.append(f"# time_offset_us {base}")
    with open(path, "wb") as f:
        f.write(("\r\n".join(lines) + "\r\n").encode("ascii"))
        words.tofile(f)
