"""Prophesee RAW files: the ``%`` header and the EVT 2.0, EVT 2.1 and EVT 3.0 encodings.

EVT 2.0 packs one event per 32-bit word; EVT 2.1 one row segment of up to 32 pixels per 64-bit
word (a valid-bit mask); both carry bits 33..6 of the µs time in EVT_TIME_HIGH words and bits 5..0
in each event, so time wraps every 2**34 µs (4.77 h). A wrap is detected when TIME_HIGH falls by
at least half its range. EVT 3.0 (16-bit stateful words) lives in :mod:`traces.recordings.evt3`.

Decisions common to the three encodings:

* CD words before the first TIME_HIGH have no time base and are dropped (as OpenEB does) and
  counted as skipped.
* IMU, OTHERS and CONTINUED words are skipped and counted; EXT_TRIGGER words are counted; word
  types that the format does not define are counted as invalid and dropped.
* Coordinates outside the sensor size are corruption: a :class:`TraceFormatError` names the byte.
* A body whose length is not a whole number of words was cut: an error after the complete words.

Writers re-base times to the 2**34 µs (EVT 2.x) or 2**24 µs (EVT 3.0) period that holds the
first event and record the subtracted amount in a ``% time_offset_us`` header line, which this
reader adds back (other readers ignore unknown keys).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from aersim.traces.errors import TraceError
from aersim.traces.recordings import evt3
from aersim.traces.recordings.bitops import expand_mask
from aersim.traces.recordings.recording_base import (
    C_BAD,
    C_INVALID,
    C_LAST_T,
    C_REGRESSIONS,
    C_SKIPPED,
    C_TRIGGERS,
    C_WRAPS,
    DEFAULT_BLOCK_BYTES,
    DEFAULT_OUT_EVENTS,
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
    header_int,
    header_size,
    header_time_offset,
    iter_byte_blocks,
    open_binary,
    read_percent_header,
    sensor_size_arg,
    status_error,
)

#: Sensor size of old RAW files that only give ``system_ID``.
SYSTEM_ID_GEOMETRY = {21: (640, 480), 48: (1280, 720), 49: (1280, 720)}

# encoding name -> (bytes per decoded word unit, numpy dtype of the unit, max events per unit)
_ENCODINGS = {"evt2": (4, "<u4", 1), "evt21": (4, "<u4", 16), "evt3": (2, "<u2", 12)}
_FORMAT_TOKENS = {"EVT2": "evt2", "EVT21": "evt21", "EVT3": "evt3"}
_EVT_VERSIONS = {"2.0": "evt2", "2.1": "evt21", "3.0": "evt3"}


def parse_raw_header(pairs, path, sensor_size=None, encoding=None):
    """Work out encoding, geometry and EVT 2.1 byte order from RAW header pairs.

    Returns ``(encoding, width, height, legacy_order, camera, time_offset_us)``.
    """
    header = dict(pairs)
    fmt_tokens = header.get("format", "").split(";")
    options = dict(tok.split("=", 1) for tok in fmt_tokens[1:] if "=" in tok)
    options = {k.strip(): v for k, v in options.items()}
    found = _FORMAT_TOKENS.get(fmt_tokens[0].strip().upper()) if fmt_tokens[0] else None
    if found is None:
        found = _EVT_VERSIONS.get(header.get("evt", "").strip())
    if encoding is None:
        encoding = found
    elif found is not None and found != encoding:
        # Another encoding's words decode to plausible garbage, never to an error: refuse.
        raise format_error(
            path,
            0,
            f"a RAW header declaring {found!r}",
            f"{encoding!r} as asked by format=",
            "omit format= (or pass format='raw') to read the encoding the header declares",
        )
    if encoding is None:
        raise format_error(
            path,
            0,
            f"RAW header format={header.get('format')!r} evt={header.get('evt')!r}",
            "EVT 2.0, 2.1 or 3.0",
            "pass format='evt2', 'evt21' or 'evt3' explicitly",
        )
    size = sensor_size_arg(sensor_size)
    if size is None and "width" in options and "height" in options:
        size = header_size(
            header_int(options["width"], path, "width"),
            header_int(options["height"], path, "height"),
            path,
            0,
            "RAW format",
        )
    if size is None and "geometry" in header:
        w, _, h = header["geometry"].partition("x")
        size = header_size(
            header_int(w, path, "geometry"), header_int(h, path, "geometry"), path, 0, "geometry"
        )
    if size is None and header.get("system_ID", "").strip().isdigit():
        size = SYSTEM_ID_GEOMETRY.get(int(header["system_ID"]))
    if size is None:
        raise format_error(
            path,
            0,
            "a RAW header without geometry or a known system_ID",
            "format width=/height=, geometry or system_ID",
            "pass sensor_size=(width, height)",
        )
    order = options.get("endianness", header.get("endianness", "legacy")).strip().lower()
    if order not in ("legacy", "little"):
        raise format_error(path, 0, f"endianness={order!r}", "'legacy' or 'little'")
    camera = header.get("serial_number") or header.get("plugin_name") or None
    offset = header_time_offset(header.get("time_offset_us", "0"), path, "time_offset_us")
    return encoding, size[0], size[1], order == "legacy", camera, offset


class RawSource(EventSource):
    """Streaming reader of a Prophesee RAW file (any EVT encoding)."""

    decodes_into_sink = True

    def __init__(
        self,
        path,
        sensor_size=None,
        encoding=None,
        block_bytes=DEFAULT_BLOCK_BYTES,
        out_events=DEFAULT_OUT_EVENTS,
        **_,
    ):
        super().__init__(path)
        self._file = open_binary(path)
        pairs, self.data_offset = read_percent_header(self._file, path)
        enc, w, h, self.legacy, camera, self.time_offset = parse_raw_header(
            pairs, path, sensor_size, encoding
        )
        self.encoding = enc
        self.time_bits = 24 if enc == "evt3" else 34
        self.block_bytes = block_bytes
        self.out_events = out_events
        self.meta = RecordingMeta(
            width=w, height=h, format=enc, camera=camera, path=str(path), header=tuple(pairs)
        )

    def estimate_events(self):
        if self.encoding != "evt3":
            return (file_size(self._file) - self.data_offset) // 4  # ~ one event per word
        # EVT 3.0 packs 0 to 12 events per word: count them (a cheap pass over the words)
        # rather than grow and copy the output array
        n = 0
        for _, data in iter_byte_blocks(
            self._file, self.data_offset, self.block_bytes, 2, self.path, "word"
        ):
            n += evt3.evt3_count_kernel(data.view("<u2"), evt3.EVENTS_PER_WORD)
        return n

    def blocks(self, t_start=None, t_stop=None):
        unit_bytes, dtype, per_unit = _ENCODINGS[self.encoding]
        record = 8 if self.encoding == "evt21" else unit_bytes
        state = evt3.new_evt3_state() if self.encoding == "evt3" else _new_evt2_state()
        w, h = self.meta.width, self.meta.height
        for offset, data in iter_byte_blocks(
            self._file, self.data_offset, self.block_bytes, record, self.path, "word"
        ):
            units = data.view(dtype)
            pos = 0
            while True:
                cap = min(self.out_events, max(64, (units.shape[0] - pos) * per_unit))
                done = offset + pos * unit_bytes - self.data_offset
                left = file_size(self._file) - self.data_offset - done
                # when the whole-file buffer is full, grow it by the events per byte so far
                out = self.sink.space(cap, 64, self.sink.n * left // max(done, 1) + 64)
                if self.encoding == "evt2":
                    status, pos, n = _evt2_decode_kernel(
                        units, pos, state, self.counters, out, w, h
                    )
                elif self.encoding == "evt21":
                    status, pos, n = _evt21_decode_kernel(
                        units, pos, state, self.counters, out, w, h, self.legacy
                    )
                else:
                    status, pos, n = evt3.evt3_decode_kernel(
                        units, pos, state, self.counters, out, w, h
                    )
                if n:
                    if self.time_offset:
                        out["t"][:n] += self.time_offset
                    self.block_offset = offset
                    yield self.sink.commit(out, n)
                if status == S_OK:
                    break
                if status != S_FULL:
                    raise status_error(
                        self.path,
                        status,
                        offset + pos * unit_bytes,
                        self.meta,
                        int(self.counters[C_BAD]),
                        "word",
                    )


def _new_evt2_state():
    state = np.zeros(2, dtype=np.int64)
    state[0] = -1  # TIME_HIGH not seen yet
    return state


@njit(cache=True)
def _evt2_decode_kernel(words, pos, state, counters, out, width, height):
    """Decode EVT 2.0 words (uint32, shape (n,)) into ``out``; see ``evt3_decode_kernel``."""
    th = state[0]
    loops = state[1]
    last_t = counters[C_LAST_T]
    cap = out.shape[0]
    n = 0
    i = pos
    status = S_OK
    while i < words.shape[0]:
        w = np.int64(words[i])
        typ = w >> 28
        if typ <= 1:
            if th < 0:
                counters[C_SKIPPED] += 1
            else:
                if n >= cap:
                    status = S_FULL
                    break
                x = (w >> 11) & 0x7FF
                y = w & 0x7FF
                if x >= width:
                    counters[C_BAD] = x
                    status = S_BAD_X
                    break
                if y >= height:
                    counters[C_BAD] = y
                    status = S_BAD_Y
                    break
                t = (loops << 34) | (th << 6) | ((w >> 22) & 0x3F)
                if t < last_t:
                    counters[C_REGRESSIONS] += 1
                last_t = t
                out[n].t = t
                out[n].x = x
                out[n].y = y
                out[n].p = typ
                n += 1
        elif typ == 0x8:
            new_th = w & 0xFFFFFFF
            if th >= 0 and th - new_th >= (1 << 27):
                loops += 1
                counters[C_WRAPS] += 1
            th = new_th
        elif typ == 0xA:
            counters[C_TRIGGERS] += 1
        elif typ >= 0xD:
            counters[C_SKIPPED] += 1
        else:
            counters[C_INVALID] += 1
        i += 1
    state[0] = th
    state[1] = loops
    counters[C_LAST_T] = last_t
    return status, i, n


@njit(cache=True)
def _evt21_decode_kernel(halves, pos, state, counters, out, width, height, legacy):
    """Decode EVT 2.1 (pairs of uint32 halves, shape (2n,)); ``pos`` counts halves.

    ``legacy`` order stores the type/time/x/y half first and the valid mask second; ``little``
    order is the whole 64-bit word little-endian, so the mask comes first.
    """
    th = state[0]
    loops = state[1]
    last_t = counters[C_LAST_T]
    cap = out.shape[0]
    n = 0
    i = pos
    status = S_OK
    while i + 1 < halves.shape[0]:
        if legacy:
            hi = np.int64(halves[i])
            lo = np.int64(halves[i + 1])
        else:
            lo = np.int64(halves[i])
            hi = np.int64(halves[i + 1])
        typ = hi >> 28
        if typ <= 1:
            if th < 0:
                counters[C_SKIPPED] += 1
            elif lo != 0:
                if n + 32 > cap:
                    status = S_FULL
                    break
                xb = (hi >> 11) & 0x7FF
                y = hi & 0x7FF
                if xb + 32 > width:  # rare: only then find the highest pixel
                    top = xb + 31
                    while ((lo >> (top - xb)) & 1) == 0:
                        top -= 1
                    if top >= width:
                        counters[C_BAD] = top
                        status = S_BAD_X
                        break
                if y >= height:
                    counters[C_BAD] = y
                    status = S_BAD_Y
                    break
                t = (loops << 34) | (th << 6) | ((hi >> 22) & 0x3F)
                if t < last_t:
                    counters[C_REGRESSIONS] += 1
                last_t = t
                n = expand_mask(out, n, t, xb, y, typ, lo)
        elif typ == 0x8:
            new_th = hi & 0xFFFFFFF
            if th >= 0 and th - new_th >= (1 << 27):
                loops += 1
                counters[C_WRAPS] += 1
            th = new_th
        elif typ == 0xA:
            counters[C_TRIGGERS] += 1
        elif typ >= 0xD:
            counters[C_SKIPPED] += 1
        else:
            counters[C_INVALID] += 1
        i += 2
    state[0] = th
    state[1] = loops
    counters[C_LAST_T] = last_t
    return status, i, n


@njit(cache=True)
def _evt2_encode_kernel(t, x, y, p, start, state, words, vectorise, legacy):
    """Encode events into EVT 2.0 words (``vectorise`` false) or EVT 2.1 halves (true).

    Parameters
    ----------
    t : ndarray of int64, shape (n,)
        Times in µs, re-based to be >= 0.
    x, y : ndarray of uint16, shape (n,)
    p : ndarray of uint8, shape (n,)
    start : int
    state : ndarray of int64, shape (2,)
        Current TIME_HIGH (-1 before the first), unused.
    words : ndarray of uint32, shape (capacity,)
    vectorise, legacy : bool
        Write EVT 2.1 64-bit words (as two halves, in legacy or little order).

    Returns
    -------
    status, next_event, n_words : int
    """
    cur = state[0]
    cap = words.shape[0]
    n = t.shape[0]
    k = 0
    i = start
    status = S_OK
    step = np.int64(1) << 26
    while i < n:
        th = t[i] >> 6
        extra = 0
        if cur >= 0 and th > cur:
            extra = (th - cur) // step
        if k + 2 * extra + 6 > cap:
            status = S_FULL
            break
        if th != cur:
            if cur >= 0:
                while th - cur > step:
                    cur += step
                    k = _put_word(words, k, 0x8 << 28 | (cur & 0xFFFFFFF), 0, vectorise, legacy)
            k = _put_word(words, k, 0x8 << 28 | (th & 0xFFFFFFF), 0, vectorise, legacy)
            cur = th
        head = (np.int64(p[i]) & 1) << 28 | (t[i] & 0x3F) << 22
        if not vectorise:
            words[k] = head | np.int64(x[i]) << 11 | np.int64(y[i])
            k += 1
            i += 1
        else:
            xb = np.int64(x[i]) & ~31
            mask = np.int64(1) << (np.int64(x[i]) - xb)
            j = i + 1
            while (
                j < n
                and t[j] == t[i]
                and y[j] == y[i]
                and p[j] == p[i]
                and x[j] > x[j - 1]
                and (np.int64(x[j]) & ~31) == xb
            ):
                mask |= np.int64(1) << (np.int64(x[j]) - xb)
                j += 1
            k = _put_word(words, k, head | xb << 11 | np.int64(y[i]), mask, vectorise, legacy)
            i = j
    state[0] = cur
    return status, i, k


@njit(cache=True)
def _put_word(words, k, hi, lo, vectorise, legacy):
    if not vectorise:
        words[k] = hi
        return k + 1
    if legacy:
        words[k] = hi
        words[k + 1] = lo
    else:
        words[k] = lo
        words[k + 1] = hi
    return k + 2


def write_raw(
    path, events, meta: RecordingMeta, encoding: str = "evt3", endianness: str = "little"
):
    """Write ``events`` as a Prophesee RAW file.

    Parameters
    ----------
    path : str or Path
    events : ndarray of EVENT_DTYPE, shape (n,)
        Any order; times may go back by up to 4 s between consecutive events.
    meta : RecordingMeta
        Sensor size (and camera, written as ``serial_number``).
    encoding : {"evt2", "evt21", "evt3"}
    endianness : {"little", "legacy"}
        EVT 2.1 byte order.
    """
    events = check_events(events)
    check_in_sensor(events, meta, path)
    if encoding not in _ENCODINGS:
        raise TraceError(f"unknown RAW encoding {encoding!r}; supported: {sorted(_ENCODINGS)}")
    if endianness not in ("little", "legacy"):
        raise TraceError(f"endianness must be 'little' or 'legacy', got {endianness!r}")
    width_bits = 24 if encoding == "evt3" else 34
    t = events["t"]
    offset = (int(t.min()) >> width_bits) << width_bits if len(t) else 0
    fmt = {"evt2": "EVT2", "evt21": "EVT21", "evt3": "EVT3"}[encoding]
    fmt_line = f"{fmt};height={meta.height};width={meta.width}"
    if encoding == "evt21":
        fmt_line += f";endianness={endianness}"
    lines = [
        f"% evt {dict(evt2='2.0', evt21='2.1', evt3='3.0')[encoding]}",
        f"% format {fmt_line}",
        f"% geometry {meta.width}x{meta.height}",
    ]
    if meta.camera:
        lines.append(f"% serial_number {meta.camera}")
    if offset:
        lines.append(f"% time_offset_us {offset}")
    lines.append("% end")
    with open(path, "wb") as f:
        f.write(("\n".join(lines) + "\n").encode("ascii"))
        chunk = 1 << 20
        state = np.full(4, -1, dtype=np.int64)
        if encoding == "evt3":
            state[1] = 0
        for s in range(0, len(events), chunk):
            part = events[s : s + chunk]
            tt = np.ascontiguousarray(part["t"]) - offset
            xx, yy, pp = (np.ascontiguousarray(part[k]) for k in ("x", "y", "p"))
            pos = 0
            while pos < len(part):
                if encoding == "evt3":
                    buf = np.empty(len(part) * 2 + 64, dtype=np.uint16)
                    status, pos, k = evt3.evt3_encode_kernel(tt, xx, yy, pp, pos, state, buf)
                else:
                    buf = np.empty(len(part) * 2 + 64, dtype=np.uint32)
                    status, pos, k = _evt2_encode_kernel(
                        tt, xx, yy, pp, pos, state, buf, encoding == "evt21", endianness == "legacy"
                    )
                buf[:k].astype(buf.dtype.newbyteorder("<"), copy=False).tofile(f)
                if status not in (S_OK, S_FULL):
                    raise TraceError(
                        f"{path}: event {s + pos} at t={int(part['t'][pos])} µs goes "
                        "back more than 4 s; EVT 3.0 cannot express it; sort the events"
                    )
