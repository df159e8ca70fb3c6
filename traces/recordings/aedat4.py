"""AEDAT 4.0 (iniVation DV): reader with index-based time seek, and writer.

Layout: ``#!AER-DAT4.0\\r\\n``, a ``uint32`` length and a FlatBuffer ``IOHeader`` (compression,
byte offset of the index table, XML description of the streams), then packets ``int32 stream,
uint32 size, size bytes`` each compressed as a whole (LZ4 frame, ZSTD frame or none). A packet
decompresses to a size-prefixed FlatBuffer; event packets (``EVTS``) hold a vector of 16-byte
structs ``{int64 t; int16 x; int16 y; bool on}``, trigger packets (``TRIG``) of 16-byte structs
``{int64 t; int8 source}``. The index (``FTAB``) lists every packet's byte offset, stream, element
count and first/last time, and lets a time-window read skip packets without decompressing them.

FlatBuffers are parsed by hand (a few offsets), so no ``flatbuffers`` dependency is needed.
Times are µs since the Unix epoch and are returned as stored; ``meta.t0_us`` carries ``tsOffset``.

Truncation: when the header gives the index position, every packet must end at or before it, so
a cut file is an error. A recording that was not closed cleanly (index position -1) is read to
the end of the file and a partial last packet is only a warning, because the format cannot tell
a crash of the recorder from a damaged file.

A whole-file read of an indexed file places each packet's events by the index's counts, so
batches of packets decode independently, on two threads (the codecs and the kernel release the
GIL), straight into one array; any disagreement with the index falls back to the packet scan.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import warnings
import xml.etree.ElementTree as ET

import numpy as np
from numba import njit

from aersim.traces.errors import TraceError, TraceWarning
from aersim.traces.recordings.recording_base import (
    C_BAD,
    C_LAST_T,
    C_REGRESSIONS,
    C_SKIPPED,
    C_TRIGGERS,
    INT64_MIN,
    MAX_DECOMPRESSED_BYTES,
    MAX_TIME_US,
    S_BAD_RECORD,
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
    open_binary,
    sensor_size_arg,
)

MAGIC = b"#!AER-DAT4.0\r\n"
COMPRESSIONS = {0: "none", 1: "lz4", 2: "lz4_high", 3: "zstd", 4: "zstd_high"}

#: Largest ratio of a packet's decompressed to compressed size an index may imply (real event
#: data compress 3 to 10-fold); a row claiming more is a damaged index.
MAX_COMPRESSION_RATIO = 1000

#: One element of an ``EVTS`` packet, as stored.
AEDAT4_EVENT = np.dtype(
    {
        "names": ["t", "x", "y", "on"],
        "formats": ["<i8", "<i2", "<i2", "u1"],
        "offsets": [0, 8, 10, 12],
        "itemsize": 16,
    }
)
#: One element of a ``TRIG`` packet; ``source`` 0 = timestamp reset, 1..5 external signal edges
#: and pulses, 6..9 frame/exposure begin/end.
TRIGGER_DTYPE = np.dtype([("t", np.int64), ("source", np.int8)])
_AEDAT4_TRIGGER = np.dtype(
    {"names": ["t", "source"], "formats": ["<i8", "i1"], "offsets": [0, 8], "itemsize": 16}
)


class _FlatBufferError(Exception):
    """A FlatBuffer offset points outside its buffer."""


class _Rescan(Exception):
    """The indexed whole-file read met something it does not handle: scan the packets instead."""


def _u32(buf, pos):
    if pos < 0 or pos + 4 > len(buf):
        raise _FlatBufferError(f"offset {pos} outside a {len(buf)}-byte buffer")
    return struct.unpack_from("<I", buf, pos)[0]


def _field(buf, table, index):
    """Absolute position of field ``index`` of the table at ``table``, or None when absent."""
    if table < 0 or table + 4 > len(buf):
        raise _FlatBufferError(f"table at {table} outside a {len(buf)}-byte buffer")
    vtable = table - struct.unpack_from("<i", buf, table)[0]
    if vtable < 0 or vtable + 4 > len(buf):
        raise _FlatBufferError(f"vtable at {vtable} outside a {len(buf)}-byte buffer")
    vsize = struct.unpack_from("<H", buf, vtable)[0]
    if 4 + 2 * index + 2 > vsize or vtable + vsize > len(buf):
        return None
    off = struct.unpack_from("<H", buf, vtable + 4 + 2 * index)[0]
    return table + off if off else None


def _vector(buf, table, index, item_bytes):
    """(start, count) of the vector in field ``index``; (0, 0) when absent."""
    pos = _field(buf, table, index)
    if pos is None:
        return 0, 0
    vec = pos + _u32(buf, pos)
    count = _u32(buf, vec)
    if vec + 4 + count * item_bytes > len(buf):
        raise _FlatBufferError(
            f"vector of {count} items at {vec} overruns a {len(buf)}-byte buffer"
        )
    return vec + 4, count


def _codec(code, path):
    """Check that the compression ``code`` is known and its module importable."""
    if code not in COMPRESSIONS:
        raise format_error(path, 18, f"compression code {code}", f"one of {sorted(COMPRESSIONS)}")
    try:
        if code in (1, 2):
            import lz4.frame  # noqa: F401
        elif code in (3, 4):
            import zstandard  # noqa: F401
    except ImportError:
        raise TraceError(
            f"{path}: AEDAT4 compression {COMPRESSIONS[code]!r} needs lz4 and zstandard, which "
            "aersim depends on; reinstall aersim (pip install -e . from a checkout) or "
            "pip install lz4 zstandard"
        ) from None
    return code


def _bounded_reader(code, raw):
    """Return ``read(n)``: the next at most ``n`` decompressed bytes of ``raw`` (one frame).

    Decompression is incremental, so no more than what is asked for is ever produced: a frame
    that inflates to gigabytes costs only the bytes read from it.
    """
    if code == 0:
        return io.BytesIO(raw).read
    if code in (1, 2):
        import lz4.frame

        dec = lz4.frame.LZ4FrameDecompressor()
        pending = [raw]

        def read_lz4(n):
            out = b""
            while len(out) < n and not dec.eof:
                data = pending.pop() if pending else b""
                if not data and dec.needs_input:
                    break
                out += dec.decompress(data, max_length=n - len(out))
            return out

        return read_lz4
    import zstandard

    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw), read_across_frames=False)

    def read_zstd(n):
        out = b""
        while len(out) < n:
            chunk = reader.read(n - len(out))
            if not chunk:
                break
            out += chunk
        return out

    return read_zstd


def _codec_errors():
    """Errors the lz4 and zstandard modules raise on damaged frames."""
    import zstandard

    return (RuntimeError, ValueError, EOFError, OSError, zstandard.ZstdError)


def _declared_frame_size(code, raw):
    """Content size that an LZ4 or ZSTD frame header declares, or None when it declares none."""
    try:
        if code in (1, 2):
            import lz4.frame

            return lz4.frame.get_frame_info(raw)["content_size"] or None
        if code in (3, 4):
            import zstandard

            size = zstandard.frame_content_size(raw)
            return size if size >= 0 else None
    except Exception:  # a damaged frame header: the bounded path reports it
        return None
    return len(raw)


_THREAD = threading.local()


def _zstd_context():
    """This thread's ZSTD decompression context: creating one per packet costs about as much as
    decompressing a small packet, and a context must not be shared between threads."""
    dctx = getattr(_THREAD, "zstd", None)
    if dctx is None:
        import zstandard

        dctx = _THREAD.zstd = zstandard.ZstdDecompressor()
    return dctx


def _decompress_whole(code, raw):
    if code == 0:
        return raw
    if code in (1, 2):
        import lz4.frame

        return lz4.frame.decompress(raw)
    return _zstd_context().decompress(raw)


def decompress_unit(code, raw, path, offset, what, limit=MAX_DECOMPRESSED_BYTES):
    """Decompress one size-prefixed FlatBuffer (a packet or the index), bounded by its size.

    Returns the buffer after its 4-byte size prefix (a memoryview). A frame whose header declares
    its content size (up to ``limit``) is decompressed in one call, which the codec checks
    against that size; otherwise decompression is incremental and stops at the size the
    FlatBuffer's prefix declares. More than ``limit`` bytes, fewer than declared, or more data
    after them is a :class:`TraceFormatError` at ``offset``.
    """
    try:
        declared = _declared_frame_size(code, raw)
        if declared is not None and 8 <= declared <= limit + 4:
            data = _decompress_whole(code, raw)
            if len(data) < 4 or struct.unpack_from("<I", data)[0] != len(data) - 4:
                raise _FlatBufferError(
                    f"size prefix {struct.unpack_from('<I', data)[0] if len(data) >= 4 else None}"
                    f" for {len(data) - 4} bytes"
                )
            return memoryview(data)[4:]
        read = _bounded_reader(code, raw)
        head = read(4)
        if len(head) < 4:
            raise _FlatBufferError(f"{len(head)} bytes, no size prefix")
        size = struct.unpack("<I", head)[0]
        if size > limit:
            raise _FlatBufferError(f"a declared size of {size} bytes, above {limit}")
        body = read(size)
        if len(body) < size:
            raise _FlatBufferError(f"{len(body)} bytes where the size prefix declares {size}")
        if read(1):
            raise _FlatBufferError(f"more than the {size} bytes the size prefix declares")
    except _FlatBufferError as exc:
        raise format_error(
            path, offset, f"a {what} of {exc}", f"a size-prefixed {what}", "the file is corrupt"
        ) from None
    except _codec_errors() as exc:  # lz4/zstd raise their own types on damaged frames
        raise format_error(
            path,
            offset,
            f"a {what} that does not decompress ({type(exc).__name__}: {exc})",
            f"a {COMPRESSIONS[code]} frame",
            "the file is corrupt",
        ) from None
    return memoryview(head + body)[4:]


def _compressor(name):
    try:
        if name == "lz4":
            import lz4.frame

            return 1, lz4.frame.compress
        if name == "zstd":
            import zstandard

            return 3, zstandard.ZstdCompressor().compress
    except ImportError:
        raise TraceError(
            f"AEDAT4 compression {name!r} needs lz4 and zstandard, which aersim depends on; "
            "reinstall aersim (pip install -e . from a checkout) or pip install lz4 zstandard"
        ) from None
    if name == "none":
        return 0, bytes
    raise TraceError(f"unknown AEDAT4 compression {name!r}; supported: 'lz4', 'zstd', 'none'")


def _parse_streams(xml_text, path):
    """Map stream id -> dict of attributes (typeIdentifier, sizeX, sizeY, source, tsOffset)."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise format_error(
            path, 18, f"an unreadable XML description ({exc})", "DV stream XML"
        ) from None
    streams = {}
    for node in root.iter("node"):
        name = node.get("name", "")
        if not name.isdigit():
            continue
        attrs = {a.get("key"): (a.text or "") for a in node.findall("attr")}
        info = node.find("node[@name='info']")
        if info is not None:
            attrs.update({a.get("key"): (a.text or "") for a in info.findall("attr")})
        streams[int(name)] = attrs
    return streams


class Aedat4Source(EventSource):
    """Streaming reader of an AEDAT 4.0 file (event stream; triggers via :meth:`triggers`).

    Options: ``sensor_size`` (width, height) when the XML lacks it; ``stream``, the id of the
    ``EVTS`` stream to read (default: the first); ``threads``, how many threads a whole-file read
    decodes on (default 2 when the process may use two cores, else 1; see
    :meth:`_read_indexed`).
    """

    def __init__(self, path, sensor_size=None, stream=None, threads=None, **_):
        super().__init__(path)
        self.threads = _threads_arg(threads)
        f = self._file = open_binary(path)
        self.size = file_size(f)
        head = f.read(18)
        if len(head) < 18 or not head.startswith(MAGIC):
            raise format_error(path, 0, repr(head[:14]), repr(MAGIC), "pass the right format=")
        (hlen,) = struct.unpack_from("<I", head, 14)
        if 18 + hlen > self.size:
            raise format_error(
                path,
                14,
                f"a header of {hlen} bytes",
                f"at most {self.size - 18}",
                "the file is truncated",
            )
        hbuf = f.read(hlen)
        try:
            root = _u32(hbuf, 0)
            pos = _field(hbuf, root, 0)
            code = struct.unpack_from("<i", hbuf, pos)[0] if pos is not None else 0
            pos = _field(hbuf, root, 1)
            self.table_pos = struct.unpack_from("<q", hbuf, pos)[0] if pos is not None else -1
            pos = _field(hbuf, root, 2)
            if pos is None:
                raise _FlatBufferError("no description")
            spos = pos + _u32(hbuf, pos)
            n = _u32(hbuf, spos)
            xml_text = bytes(hbuf[spos + 4 : spos + 4 + n]).decode("utf-8")
        except (_FlatBufferError, struct.error, UnicodeDecodeError) as exc:
            raise format_error(
                path, 18, f"a corrupt IOHeader ({exc})", "an AEDAT4 FlatBuffer header"
            ) from None
        self.data_start = 18 + hlen
        self._index = None  # parsed index rows; an empty untyped array when unusable
        self.compression = _codec(code, path)
        self.streams = _parse_streams(xml_text, path)
        events = [k for k, v in sorted(self.streams.items()) if v.get("typeIdentifier") == "EVTS"]
        if stream is None and not events:
            raise format_error(path, 18, "no EVTS stream in the description", "an event stream")
        if stream is not None and (
            not isinstance(stream, (int, np.integer)) or int(stream) not in events
        ):
            raise TraceError(
                f"{path}: stream={stream!r} is not an event stream of this file; "
                f"its event streams are {events}"
            )
        self.stream = events[0] if stream is None else int(stream)
        self.trigger_streams = {
            k for k, v in self.streams.items() if v.get("typeIdentifier") == "TRIG"
        }
        info = self.streams.get(self.stream, {})
        size = sensor_size_arg(sensor_size)
        if size is None:
            try:
                size = sensor_size_arg((int(info["sizeX"]), int(info["sizeY"])))
            except (KeyError, ValueError, TraceError):
                raise format_error(
                    path,
                    18,
                    f"no sizeX/sizeY for stream {self.stream}",
                    "the sensor size in the XML",
                    "pass sensor_size=(width, height)",
                ) from None
        if self.table_pos != -1 and not self.data_start <= self.table_pos <= self.size:
            raise format_error(
                path,
                18,
                f"index position {self.table_pos}",
                f"a position in {self.data_start}..{self.size}",
                "the file is truncated",
            )
        self.meta = RecordingMeta(
            width=size[0],
            height=size[1],
            format="aedat4",
            camera=info.get("source") or None,
            path=str(path),
            t0_us=header_time_offset(info.get("tsOffset") or "0", path, "tsOffset", 18),
            header=(("compression", COMPRESSIONS.get(code, str(code))),)
            + tuple(
                (f"stream{k}", v.get("typeIdentifier", "")) for k, v in sorted(self.streams.items())
            ),
        )

    # -- packets --------------------------------------------------------------------------------
    def _scan_packets(self):
        """Yield ``(offset, stream, size)`` of every packet by walking the file."""
        end = self.table_pos if self.table_pos != -1 else self.size
        pos = self.data_start
        f = self._file
        while pos < end:
            f.seek(pos)
            head = f.read(8)
            if len(head) < 8 or pos + 8 + struct.unpack_from("<I", head, 4)[0] > end:
                if self.table_pos == -1:
                    warnings.warn(
                        f"{self.path}: at byte {pos}: partial last packet of a recording "
                        "that was not closed cleanly; ignored",
                        TraceWarning,
                        stacklevel=3,
                    )
                    return
                raise format_error(
                    self.path,
                    pos,
                    "a packet running past the index table",
                    f"packets ending at byte {end}",
                    "the file is truncated or corrupt",
                )
            stream, size = struct.unpack("<iI", head)
            yield pos, stream, size
            pos += 8 + size

    decodes_into_sink = True
    checks_times = True  # _aedat4_events_kernel refuses times beyond +-2**62 µs

    def estimate_events(self):
        index = self.read_index()
        if index is not None:
            return int(index["count"][index["stream"] == self.stream].sum())
        return self.size // 6  # events compress to a third or so of their 16 bytes

    def read_index(self):
        """Return the packet index as an array of (offset, stream, size, count, start_t, end_t).

        ``offset`` is the byte offset of the packet payload (after its 8-byte header).

        Returns None, with a :class:`TraceWarning`, when the file has no index (not closed
        cleanly) or the index is damaged: it must list every packet, back to back from the end of
        the header to the index itself, with times in order; anything else and a time-window
        read would skip data, so the caller scans the packets instead.
        """
        if self.table_pos == -1:
            return None
        if self._index is not None:
            return self._index if len(self._index) or self._index.dtype.names else None
        f = self._file
        f.seek(self.table_pos)
        raw = f.read(self.size - self.table_pos)
        try:
            data = decompress_unit(self.compression, raw, self.path, self.table_pos, "index table")
            rows = _index_rows(data)
            problem = self._index_problem(rows)
        except (TraceError, _FlatBufferError, struct.error) as exc:
            problem = str(exc)
        if problem:
            warnings.warn(
                f"{self.path}: at byte {self.table_pos}: unusable index table ({problem}); "
                "scanning packets instead",
                TraceWarning,
                stacklevel=3,
            )
            self._index = np.zeros(0)  # unusable: remembered, so that it warns once
            return None
        self._index = rows
        return rows

    def _index_problem(self, rows):
        """What is wrong with index ``rows`` (a string), or None when they describe the file."""
        if len(rows) == 0:
            return None if self.table_pos == self.data_start else "no packets listed"
        starts = rows["offset"] - 8
        ends = rows["offset"] + rows["size"]
        if starts[0] != self.data_start or ends[-1] != self.table_pos:
            return f"packets listed from byte {starts[0]} to {ends[-1]}"
        if np.any(starts[1:] != ends[:-1]) or np.any(rows["size"] < 0):
            return "packets that are not back to back"
        if np.any(rows["count"] < 0) or np.any(rows["start_t"] > rows["end_t"]):
            return "negative counts or time ranges"
        # Readers size their output from the counts: a packet cannot hold more elements than
        # its bytes decompress to (a 16-byte event is the smallest element; no recording
        # compresses a thousand-fold, and no packet decompresses beyond the cap).
        ratio = 1 if self.compression == 0 else MAX_COMPRESSION_RATIO
        most = np.minimum(rows["size"].astype(np.int64) * ratio, MAX_DECOMPRESSED_BYTES)
        if np.any(rows["count"] > most // AEDAT4_EVENT.itemsize):
            return "more elements than their packets can hold"
        if np.abs(rows[["start_t", "end_t"]].view(np.int64)).max() >= MAX_TIME_US:
            return "times beyond 2**62 us"
        return None

    def _payload(self, offset, size, ident):
        """Decompress one packet and return (buffer, vector start, count) of its elements."""
        f = self._file
        f.seek(offset + 8)
        raw = f.read(size)
        buf = decompress_unit(self.compression, raw, self.path, offset, "packet")
        try:
            if len(buf) < 8:
                raise _FlatBufferError(f"{len(buf)} bytes")
            if bytes(buf[4:8]) != ident:
                raise _FlatBufferError(f"identifier {bytes(buf[4:8])!r}")
            start, count = _vector(buf, _u32(buf, 0), 0, 16)
        except _FlatBufferError as exc:
            raise format_error(
                self.path,
                offset,
                f"a corrupt packet ({exc})",
                f"a {ident.decode()} FlatBuffer",
                "the file is corrupt",
            ) from None
        return buf, start, count

    def _packet_events(self, offset, size):
        """Decode one event packet into the sink; return (events, min t, max t)."""
        buf, start, count = self._payload(offset, size, b"EVTS")
        words = np.frombuffer(buf, dtype="<i8", count=2 * count, offset=start)
        out = self.sink.space(count, count)
        status, k, t_min, t_max = _aedat4_events_kernel(
            words, out, self.meta.width, self.meta.height, self.counters
        )
        if status != S_OK:
            bad = int(self.counters[C_BAD])
            if status in (S_BAD_X, S_BAD_Y):
                bad = bad - 65536 if bad >= 32768 else bad  # int16 in the file
                found = f"event {k} at {'x' if status == S_BAD_X else 'y'}={bad}"
                want = f"a {self.meta.width}x{self.meta.height} sensor"
            else:
                found, want = f"event {k} at t={bad} µs", "times within +-2**62 µs"
            raise format_error(
                self.path, offset, found, want, "the file is corrupt, or pass sensor_size="
            )
        return self.sink.commit(out, count), t_min, t_max

    def blocks(self, t_start=None, t_stop=None):
        if self.sink.whole and t_start is None and t_stop is None:
            events = self._read_indexed()
            if events is not None:
                if len(events):
                    yield events
                return
        index = self.read_index() if (t_start is not None or t_stop is not None) else None
        if index is not None:
            keep = index["stream"] == self.stream
            if t_start is not None:
                keep &= index["end_t"] >= t_start
            if t_stop is not None:
                keep &= index["start_t"] < t_stop
            packets = [
                (int(r["offset"]) - 8, int(r["stream"]), int(r["size"]), r) for r in index[keep]
            ]
        else:
            packets = ((o, s, z, None) for o, s, z in self._scan_packets())
        for offset, stream, size, row in packets:
            if row is not None:
                self._check_indexed(offset, stream, size)
            if stream == self.stream:
                events, t_min, t_max = self._packet_events(offset, size)
                if row is not None:
                    self._check_row(offset, row, len(events), t_min, t_max)
                if len(events):
                    self.block_offset = offset
                    yield events
            elif stream in self.trigger_streams:
                self.counters[C_TRIGGERS] += 1
            else:
                self.counters[C_SKIPPED] += 1
        if index is None and self.table_pos != -1 and self._index is None:
            self.read_index()  # warns when the index table after the packets is damaged

    # -- whole-file read through the index ------------------------------------------------------
    def _read_indexed(self):
        """Decode every event packet straight into the whole-file sink, in batches of packets
        spread over :attr:`threads` threads; return the events, or None to scan instead.

        The index gives each packet's place in the output (its event count), so batches are
        independent: each is read with one ``pread``, its packets decompressed (lz4 and
        zstandard release the GIL) and converted by the kernel (compiled ``nogil``) into their
        final place. The result and the statistics are those of the packet scan: any packet
        whose header, count or times disagree with its index row, or that fails to decompress
        or decode, abandons this path, and the scan then reads the file (and reports what is
        wrong with it) exactly as it would have. (The index's first and last times are not
        needed here: DV writes a packet's first and last event times, which need not be its
        smallest and largest.)
        """
        index = self.read_index()
        if index is None or len(index) == 0 or not hasattr(os, "pread"):
            return None
        streams = index["stream"]
        is_event = streams == self.stream
        counts = np.where(is_event, index["count"], 0)
        total = int(counts.sum())
        out = self.sink.space(total, total)
        # batches of about _BATCH_BYTES compressed bytes, cut at packet boundaries
        ends = index["offset"] + index["size"]
        cuts = np.searchsorted(ends, np.arange(1, 1 + ends[-1] // _BATCH_BYTES) * _BATCH_BYTES)
        bounds = np.unique(np.r_[0, cuts, len(index)]).tolist()
        first = np.r_[0, np.cumsum(counts)]
        batches = [
            (index[a:b], int(first[a]), int(first[b]))
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
        counters = np.zeros((len(batches), len(self.counters)), dtype=np.int64)
        counters[:, C_LAST_T] = INT64_MIN
        counters[0, C_LAST_T] = self.counters[C_LAST_T]
        try:
            _run_batches(
                lambda b: self._decode_batch(*batches[b], out, counters[b]),
                len(batches),
                min(self.threads, len(batches)),
            )
        except (_Rescan, _FlatBufferError, TraceError):
            return None
        c = self.counters
        c[C_REGRESSIONS] += counters[:, C_REGRESSIONS].sum()
        t = out["t"]
        # a batch's kernel did not see the event before it: compare across the cuts
        starts = np.unique(np.array([s for _, s, _ in batches if 0 < s < total], dtype=np.int64))
        c[C_REGRESSIONS] += int(np.count_nonzero(t[starts] < t[starts - 1]))
        if total:
            c[C_LAST_T] = t[total - 1]
        triggers = int(np.isin(streams, list(self.trigger_streams)).sum())
        c[C_TRIGGERS] += triggers
        c[C_SKIPPED] += len(index) - int(is_event.sum()) - triggers
        self.block_offset = self.data_start
        return self.sink.commit(out, total)

    def _decode_batch(self, rows, k, stop, out, counters):
        """Decode the event packets of index ``rows`` (back to back in the file) into
        ``out[k:stop]``; raise :class:`_Rescan` at the first packet whose header or event count
        disagrees with the index, or that does not decode."""
        lo = int(rows["offset"][0]) - 8
        hi = int(rows["offset"][-1] + rows["size"][-1])
        raw = os.pread(self._file.fileno(), hi - lo, lo)
        if len(raw) != hi - lo:
            raise _Rescan
        view = memoryview(raw)
        width, height = self.meta.width, self.meta.height
        for offset, stream, size, count, _, _ in rows.tolist():
            p = offset - 8 - lo
            if struct.unpack_from("<iI", raw, p) != (stream, size):
                raise _Rescan
            if stream != self.stream:
                continue
            buf = decompress_unit(
                self.compression, view[p + 8 : p + 8 + size], self.path, offset - 8, "packet"
            )
            if len(buf) < 8 or bytes(buf[4:8]) != b"EVTS":
                raise _Rescan
            start, n = _vector(buf, _u32(buf, 0), 0, 16)
            if n != count or k + n > stop:
                raise _Rescan
            words = np.frombuffer(buf, dtype="<i8", count=2 * n, offset=start)
            status, _, _, _ = _aedat4_events_kernel(words, out[k : k + n], width, height, counters)
            if status != S_OK:
                raise _Rescan
            k += n
        if k != stop:
            raise _Rescan

    def _check_indexed(self, offset, stream, size):
        """The packet header at ``offset`` must be the one the index promised."""
        self._file.seek(offset)
        head = self._file.read(8)
        if len(head) < 8 or struct.unpack("<iI", head) != (stream, size):
            raise format_error(
                self.path,
                offset,
                f"packet header {tuple(struct.unpack('<iI', head)) if len(head) == 8 else head}",
                f"stream {stream}, {size} bytes as the index table says",
                "the index is corrupt; read without t_start/t_stop to scan the packets",
            )

    def _check_row(self, offset, row, n, t_min, t_max):
        """Events of an indexed packet must match the count and times the index gives."""
        if n != row["count"] or (n and (t_min < row["start_t"] or t_max > row["end_t"])):
            raise format_error(
                self.path,
                offset,
                f"a packet of {n} events",
                f"{row['count']} events in {row['start_t']}..{row['end_t']} as the index says",
                "the index is corrupt; read without t_start/t_stop to scan the packets",
            )

    def triggers(self) -> np.ndarray:
        """All triggers of the recording: array of :data:`TRIGGER_DTYPE`, ``t`` in µs."""
        parts = []
        if len(self.trigger_streams) == 0:
            return np.zeros(0, dtype=TRIGGER_DTYPE)
        for offset, stream, size in self._scan_packets():
            if stream in self.trigger_streams:
                buf, start, count = self._payload(offset, size, b"TRIG")
                parts.append(np.frombuffer(buf, dtype=_AEDAT4_TRIGGER, count=count, offset=start))
        out = np.zeros(sum(len(p) for p in parts), dtype=TRIGGER_DTYPE)
        k = 0
        for part in parts:
            out["t"][k : k + len(part)] = part["t"]
            out["source"][k : k + len(part)] = part["source"]
            k += len(part)
        return out


#: Compressed bytes per batch of packets of a whole-file read: large enough that the per-batch
#: cost (a read, a task hand-over) is negligible, small enough that two threads share the work
#: evenly and a batch's bytes stay in the processor's cache.
_BATCH_BYTES = 1 << 20


def _threads_arg(threads):
    """Threads of a whole-file read: ``threads=`` (>= 1), or 2 when the process may use two
    cores (faster; see docs/recordings.md), else 1."""
    if threads is None:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cores = os.cpu_count() or 1
        return min(2, cores)
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise TraceError(f"threads must be a positive int, got {threads!r}")
    return int(threads)


def _run_batches(work, n, threads):
    """Call ``work(b)`` for ``b`` in ``0..n-1`` on ``threads`` threads (this one included),
    each taking the next batch as it finishes one; re-raise the first exception, once all
    threads have stopped (the others stop taking batches after it)."""
    if threads <= 1:
        for b in range(n):
            work(b)
        return
    tasks = iter(range(n))
    lock = threading.Lock()
    errors = []

    def loop():
        while not errors:
            with lock:
                b = next(tasks, None)
            if b is None:
                return
            try:
                work(b)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
                errors.append(exc)

    helpers = [threading.Thread(target=loop, daemon=True) for _ in range(threads - 1)]
    for h in helpers:
        h.start()
    loop()
    for h in helpers:
        h.join()
    if errors:
        raise errors[0]


_INDEX_DTYPE = np.dtype(
    [
        ("offset", "i8"),
        ("stream", "i4"),
        ("size", "i4"),
        ("count", "i8"),
        ("start_t", "i8"),
        ("end_t", "i8"),
    ]
)


def _index_rows(buf):
    """Parse an ``FTAB`` FlatBuffer into an array of :data:`_INDEX_DTYPE` (vectorised).

    Fields equal to their default (0) may be omitted by the writer (FlatBuffers does so unless
    told otherwise); an omitted field reads as 0.
    """
    start, count = _vector(buf, _u32(buf, 0), 0, 4)
    rows = np.zeros(count, dtype=_INDEX_DTYPE)
    if count == 0:
        return rows
    b = np.frombuffer(buf, dtype=np.uint8)
    e = start + 4 * np.arange(count, dtype=np.int64)
    tab = e + _gather(b, e, "<u4")
    vtable = tab - _gather(b, tab, "<i4")
    vsize = _gather(b, vtable, "<u2")
    for j, fields in enumerate(
        (
            (("offset", "<i8", 0),),
            (("stream", "<i4", 0), ("size", "<i4", 4)),
            (("count", "<i8", 0),),
            (("start_t", "<i8", 0),),
            (("end_t", "<i8", 0),),
        )
    ):
        has = vsize >= 4 + 2 * j + 2
        off = np.zeros(count, dtype=np.int64)
        off[has] = _gather(b, vtable[has] + 4 + 2 * j, "<u2")
        present = off > 0
        for name, fmt, shift in fields:
            rows[name][present] = _gather(b, tab[present] + off[present] + shift, fmt)
    return rows


def _gather(b, pos, fmt):
    """Values of type ``fmt`` at byte positions ``pos`` (int64 array) of the uint8 array ``b``."""
    size = np.dtype(fmt).itemsize
    if len(pos) and (pos.min() < 0 or pos.max() + size > len(b)):
        raise _FlatBufferError(f"offsets outside a {len(b)}-byte buffer")
    return b[pos[:, None] + np.arange(size)].copy().view(fmt).ravel().astype(np.int64)


@njit(cache=True, nogil=True)
def _aedat4_events_kernel(words, out, width, height, counters):
    """Convert AEDAT4 event structs into :data:`EVENT_DTYPE`.

    Parameters
    ----------
    words : ndarray of int64, shape (2 n,)
        The packet's 16-byte structs as pairs: ``t`` (µs), then ``x | y << 16 | on << 32``
        (``x``, ``y`` int16).
    out : ndarray of EVENT_DTYPE, shape (>= n,)
    width, height : int
    counters : ndarray of int64, shape (8,)
        ``recording_base.C_*`` layout; regressions and the last time are updated.

    Returns
    -------
    status : int
        ``S_OK``, ``S_BAD_X``/``S_BAD_Y`` (``counters[C_BAD]`` = the coordinate as uint16) or
        ``S_BAD_RECORD`` for a time beyond +-2**62 µs (``counters[C_BAD]`` = the time).
    k : int
        Events converted (the offending one on error).
    t_min, t_max : int
        Smallest and largest time converted.
    """
    n = words.shape[0] // 2
    last_t = counters[C_LAST_T]
    t_min = MAX_TIME_US
    t_max = -MAX_TIME_US
    for k in range(n):
        t = words[2 * k]
        w = words[2 * k + 1]
        x = w & 0xFFFF
        y = (w >> 16) & 0xFFFF
        if x >= width:
            counters[C_BAD] = x
            return S_BAD_X, k, t_min, t_max
        if y >= height:
            counters[C_BAD] = y
            return S_BAD_Y, k, t_min, t_max
        if t >= MAX_TIME_US or t <= -MAX_TIME_US:
            counters[C_BAD] = t
            return S_BAD_RECORD, k, t_min, t_max
        if t < last_t:
            counters[C_REGRESSIONS] += 1
        last_t = t
        t_min = min(t_min, t)
        t_max = max(t_max, t)
        out[k].t = t
        out[k].x = x
        out[k].y = y
        out[k].p = 1 if (w >> 32) & 0xFF else 0
    counters[C_LAST_T] = last_t
    return S_OK, n, t_min, t_max


# -- writer ------------------------------------------------------------------------------------
def _pad(buf: bytearray, align: int, skew: int = 0):
    """Pad ``buf`` so that ``len(buf) + skew`` is a multiple of ``align``."""
    buf.extend(b"\0" * (-(len(buf) + skew) % align))


def _io_header(compression: int, table_pos: int, xml_text: str) -> bytes:
    """IOHeader FlatBuffer: root, 'IOHE', vtable, table (compression, table position, XML)."""
    text = xml_text.encode("utf-8")
    buf = bytearray(struct.pack("<I4s", 24, b"IOHE"))
    buf += struct.pack("<5H", 10, 20, 4, 8, 16)
    _pad(buf, 8)
    buf += struct.pack("<iiqI", 24 - 8, compression, table_pos, 4)
    buf += struct.pack("<I", len(text)) + text + b"\0"
    _pad(buf, 4)
    return bytes(buf)


def _vector_packet(ident: bytes, items: bytes, count: int) -> bytes:
    """Size-prefixed FlatBuffer of a table whose only field is a vector of 16-byte structs."""
    buf = bytearray(struct.pack("<I4s3H", 16, ident, 6, 8, 4))
    _pad(buf, 8)
    buf += struct.pack("<iII", 16 - 8, 4, count)
    buf += items
    return struct.pack("<I", len(buf)) + bytes(buf)


def _index_table(rows) -> bytes:
    """Size-prefixed ``FTAB`` FlatBuffer listing (offset, stream, size, count, start_t, end_t)."""
    n = len(rows)
    buf = bytearray(struct.pack("<I4s3H", 16, b"FTAB", 6, 8, 4))
    _pad(buf, 8)
    buf += struct.pack("<iII", 16 - 8, 4, n)
    vec = len(buf)
    buf += b"\0" * (4 * n)
    _pad(buf, 8)
    vtable = len(buf)
    buf += struct.pack("<7H", 14, 48, 8, 16, 24, 32, 40)
    # FlatBuffers align each int64 to 8 bytes from the start of the buffer, which here is the
    # 4-byte size prefix: the rows (48 bytes each, int64s at +8) start 4 bytes past a multiple.
    _pad(buf, 8, skew=4)
    for k, (offset, stream, size, count, t0, t1) in enumerate(rows):
        tab = len(buf)
        struct.pack_into("<I", buf, vec + 4 * k, tab - (vec + 4 * k))
        buf += struct.pack("<iiqiiqqq", tab - vtable, 0, offset, stream, size, count, t0, t1)
    return struct.pack("<I", len(buf)) + bytes(buf)


def write_aedat4(
    path, events, meta: RecordingMeta, compression: str = "lz4", packet_events: int = 4096
):
    """Write ``events`` as an AEDAT 4.0 file with one event stream and an index table.

    Parameters
    ----------
    path : str or Path
    events : ndarray of EVENT_DTYPE, shape (n,)
        ``t`` in µs (conventionally since the Unix epoch).
    meta : RecordingMeta
        Sensor size, camera (``source``) and ``t0_us`` (``tsOffset``).
    compression : {"lz4", "zstd", "none"}
    packet_events : int
        Events per packet.
    """
    events = check_events(events)
    check_in_sensor(events, meta, path)
    code, compress = _compressor(compression)
    name = {0: "NONE", 1: "LZ4", 3: "ZSTD"}[code]
    source = meta.camera or "unknown"
    xml_text = (
        '<dv version="2.0"><node name="outInfo" path="/mainloop/Recorder/outInfo/">'
        '<node name="0" path="/mainloop/Recorder/outInfo/0/">'
        f'<attr key="compression" type="string">{name}</attr>'
        '<attr key="originalModuleName" type="string">aersim</attr>'
        '<attr key="originalOutputName" type="string">events</attr>'
        '<attr key="typeDescription" type="string">Array of events (polarity ON/OFF).</attr>'
        '<attr key="typeIdentifier" type="string">EVTS</attr>'
        '<node name="info" path="/mainloop/Recorder/outInfo/0/info/">'
        f'<attr key="sizeX" type="int">{meta.width}</attr>'
        f'<attr key="sizeY" type="int">{meta.height}</attr>'
        f'<attr key="source" type="string">{source}</attr>'
        f'<attr key="tsOffset" type="long">{int(meta.t0_us)}</attr>'
        "</node></node></node></dv>"
    )
    rows = []
    with open(path, "wb") as f:
        header = _io_header(code, 0, xml_text)
        f.write(MAGIC + struct.pack("<I", len(header)) + header)
        for s in range(0, len(events), packet_events):
            part = events[s : s + packet_events]
            items = np.zeros(len(part), dtype=AEDAT4_EVENT)
            items["t"] = part["t"]
            items["x"] = part["x"]
            items["y"] = part["y"]
            items["on"] = part["p"]
            payload = compress(_vector_packet(b"EVTS", items.tobytes(), len(part)))
            rows.append(
                (f.tell() + 8, 0, len(payload), len(part), int(part["t"][0]), int(part["t"][-1]))
            )
            f.write(struct.pack("<iI", 0, len(payload)) + payload)
        table_pos = f.tell()
        f.write(compress(_index_table(rows)))
        f.seek(len(MAGIC) + 4)
        f.write(_io_header(code, table_pos, xml_text))
