"""Seeded fuzzing of every event-file reader, each case in a memory- and time-limited subprocess.

Damaged files are made from small recordings written by the package's own writers: byte flips,
cuts (at the end of the header, on record boundaries and anywhere), inserted garbage, header
edits (absurd sizes, zero dimensions, huge counts and offsets, wrong compression codes, damaged
indexes), decompression bombs, and files read with the wrong ``format=``. Each damaged file is
read whole, by time window and by a ``t_start``/``t_stop`` window (which uses the AEDAT4 and HDF5
indexes). The outcome of a case is one of

* ``error`` -- a :class:`TraceError` whose message names the file (and a byte, for format errors);
* ``warning`` -- a :class:`TraceWarning` and events;
* ``identical`` -- the same events as the undamaged file, or (a cut on a record boundary, which
  no format can tell) a prefix of them;
* ``changed`` -- other in-bounds events without a warning: only allowed for byte flips and
  insertions inside the event payload of formats that carry no checksum;

and anything else is a failure: another exception, a NumPy warning (a value silently cast), a
window read that disagrees with the whole read, a message without file or byte, a hang (time
limit) or a memory blow-up (``RLIMIT_AS``). Counts per format and outcome are printed (``-s``)
and written to ``$AERSIM_FUZZ_REPORT`` when set.

Run this file as a script to serve a batch of cases (the worker side).
"""

from __future__ import annotations

import io
import json
import os
import re
import selectors
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

#: Seconds a single case may take before it counts as a hang (the first case of a worker also
#: loads the Numba kernels).
CASE_SECONDS = 20.0
#: Address space a worker may grow by beyond what it uses after warming up.
MEMORY_MARGIN_BYTES = 1 << 30
#: Window of the time-window read, µs.
WINDOW_US = 1000

#: Exception text of the cases that crashed, by case number (parent side).
DETAILS: dict[int, str] = {}
FAILURES = ("crash", "numpy-warning", "inconsistent", "bad-message", "timeout", "memory")

# name -> (registry format, suffix, sensor size, writer options, record bytes or None)
BASES = {
    "evt2": ("evt2", ".raw", (128, 128), {}, 4),
    "evt21": ("evt21", ".raw", (128, 128), {}, 8),
    "evt3": ("evt3", ".raw", (128, 128), {}, 2),
    "dat": ("dat", ".dat", (128, 128), {}, 8),
    "nmnist": ("nmnist", ".bin", (34, 34), {}, 5),
    "aedat2": ("aedat2", ".aedat", (128, 128), {}, 8),
    "aedat31": ("aedat31", ".aedat", (128, 128), {"packet_events": 256}, None),
    "aedat4_lz4": ("aedat4", ".aedat4", (128, 128), {"packet_events": 256}, None),
    "aedat4_zstd": (
        "aedat4",
        ".aedat4",
        (128, 128),
        {"packet_events": 256, "compression": "zstd"},
        None,
    ),
    "csv": ("csv", ".csv", (128, 128), {}, None),
    "npy": ("npy", ".npy", (128, 128), {}, None),
    "npz": ("npz", ".npz", (128, 128), {"compressed": True}, None),
    "hdf5": ("hdf5", ".h5", (128, 128), {"chunk_events": 256}, None),
    "es": ("es", ".es", (128, 128), {}, None),
    # real recordings, when the shared data folder is present (never copied anywhere)
    "real_aedat4": ("aedat4", ".aedat4", None, None, None),
    "real_evt3": ("evt3", ".raw", None, None, 2),
    "real_nmnist": ("nmnist", ".bin", None, None, 5),
}
REAL_FILES = {
    "real_aedat4": "sample.aedat4",
    "real_evt3": "evt3_sample.raw",
    "real_nmnist": "sample_nmnist.bin",
}
#: The shared data folder: ``../shared/data`` next to the repository, or ``$AERSIM_SHARED_DATA``.
DATA_DIR = Path(
    os.environ.get("AERSIM_SHARED_DATA")
    or Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
)
#: Formats read with a size the file does not carry.
NEEDS_SIZE = {"npy": (128, 128)}
#: Formats without a header, whose bytes decode as events whatever they are.
HEADERLESS = ("nmnist", "ncaltech101")
#: Header edits that make another valid file (the events legitimately change).
LEGAL_EDITS = (
    "overflow run",
    "reset run",
    "type ATIS",
    "time high jump",
    "ts overflow max",
    "packet stream 77",
    "ms_to_idx zeros",
)


def _events(n, size, seed):
    from aersim.traces.schema import EVENT_DTYPE

    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype=EVENT_DTYPE)
    ev["t"] = 1_000 + np.cumsum(rng.integers(0, 60, n))
    ev["x"] = rng.integers(0, size[0], n)
    ev["y"] = rng.integers(0, size[1], n)
    ev["p"] = rng.integers(0, 2, n)
    return ev


def write_bases(folder: Path, n_events: int = 3000) -> dict[str, Path]:
    """Write one small undamaged file per base; return name -> path."""
    from aersim.traces.recordings.recording import write_events

    paths = {}
    for k, (name, (fmt, suffix, size, opts, _)) in enumerate(BASES.items()):
        if name in REAL_FILES:
            real = DATA_DIR / "events" / REAL_FILES[name]
            if real.is_file():
                paths[name] = real
            continue
        path = folder / f"base_{name}{suffix}"
        ev = _events(n_events, size, seed=k)
        if fmt == "aedat4":
            ev["t"] += 1_600_000_000_000_000  # epoch µs, as DV writes them
        write_events(path, ev, size, format=fmt, **opts)
        paths[name] = path
    return paths


# -- where the structure of each format is ----------------------------------------------------
def _header_end(name: str, data: bytes) -> int:
    fmt = BASES[name][0]
    if fmt in ("evt2", "evt21", "evt3", "dat"):
        end = data.find(b"% end\n")
        end = end + 6 if end >= 0 else _after_lines(data, b"%")
        return end + (2 if fmt == "dat" else 0)
    if fmt in ("aedat2", "aedat31"):
        end = data.find(b"#!END-HEADER\r\n")
        return end + 14 if end >= 0 else _after_lines(data, b"#")
    if fmt == "aedat4":
        return 18 + struct.unpack_from("<I", data, 14)[0]
    if fmt == "npy":
        return 10 + struct.unpack_from("<H", data, 8)[0]
    if fmt == "csv":
        return _after_lines(data, b"%#")
    if fmt == "es":
        return 20
    return 0


def _after_lines(data: bytes, starts: bytes) -> int:
    pos = 0
    while pos < len(data) and data[pos : pos + 1] in [bytes([c]) for c in starts]:
        nl = data.find(b"\n", pos)
        if nl < 0:
            return len(data)
        pos = nl + 1
    return pos


def _boundaries(name: str, data: bytes) -> list[int]:
    """Byte offsets where a record or packet ends (a cut there leaves whole records)."""
    fmt, record = BASES[name][0], BASES[name][4]
    start = _header_end(name, data)
    if record:
        return list(range(start, len(data) + 1, record))
    if fmt == "aedat31":
        out, pos = [start], start
        while pos + 28 <= len(data):
            size, number = (
                struct.unpack_from("<i", data, pos + 4)[0],
                struct.unpack_from("<i", data, pos + 20)[0],
            )
            pos += 28 + size * number
            out.append(pos)
        return out
    if fmt == "aedat4":
        table = struct.unpack_from("<q", data, _aedat4_table_field(data))[0]
        out, pos = [start], start
        while pos + 8 <= table:
            pos += 8 + struct.unpack_from("<I", data, pos + 4)[0]
            out.append(pos)
        return out
    if fmt == "csv":
        return [start] + [m.end() for m in re.finditer(b"\n", data[start:])]
    if fmt == "es":
        out, pos = [start], start
        while pos < len(data):
            pos += 1 if data[pos] >= 0xFE else 5  # overflow/reset byte, or a DVS event
            out.append(pos)
        return out
    return []


def _aedat4_table_field(data: bytes) -> int:
    """Byte offset of the IOHeader's int64 index position in a file this package wrote."""
    hbuf = 18
    root = struct.unpack_from("<I", data, hbuf)[0]
    table = hbuf + root
    vtable = table - struct.unpack_from("<i", data, table)[0]
    return table + struct.unpack_from("<H", data, vtable + 4 + 2)[0]


def _aedat4_compression_field(data: bytes) -> int:
    root = struct.unpack_from("<I", data, 18)[0]
    table = 18 + root
    vtable = table - struct.unpack_from("<i", data, table)[0]
    return table + struct.unpack_from("<H", data, vtable + 4)[0]


# -- mutations ----------------------------------------------------------------------------------
def _flip(rng, data, head):
    blob = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        # half of the flips land in the header, where a byte means the most
        hi = head if head and rng.random() < 0.5 else len(blob)
        blob[int(rng.integers(0, max(hi, 1)))] = int(rng.integers(0, 256))
    return bytes(blob)


def _insert(rng, data, head):
    pos = int(rng.integers(head, len(data) + 1))
    junk = rng.integers(0, 256, int(rng.integers(1, 65)), dtype=np.uint8).tobytes()
    return data[:pos] + junk + data[pos:]


def _npy_bytes(array, header_shape=None):
    buf = io.BytesIO()
    np.save(buf, array)
    raw = buf.getvalue()
    if header_shape is None:
        return raw
    hlen = struct.unpack_from("<H", raw, 8)[0]
    header = raw[10 : 10 + hlen].decode("latin-1")
    header = re.sub(r"'shape': \([^)]*\)", f"'shape': {header_shape}", header)
    header = header.rstrip("\n").rstrip() + " "
    header = header.ljust(((10 + len(header) + 1 + 63) // 64) * 64 - 10 - 1) + "\n"
    return raw[:8] + struct.pack("<H", len(header)) + header.encode("latin-1") + raw[10 + hlen :]


def _npz_with(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, blob in members.items():
            z.writestr(name + ".npy", blob)
    return buf.getvalue()


def _zero_stream_zip(name: str, header: bytes, n_zero_bytes: int) -> bytes:
    """A .npz member of ``n_zero_bytes`` zeros after ``header``, deflated in streaming mode."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open(name + ".npy", "w", force_zip64=True) as member:
            member.write(header)
            block = bytes(1 << 22)
            left = n_zero_bytes
            while left > 0:
                member.write(block[: min(left, len(block))])
                left -= len(block)
    return buf.getvalue()


def _header_edits(name: str, data: bytes) -> list[tuple[str, bytes]]:
    """Format-specific edits of the header; each returns (label, damaged bytes)."""
    fmt = BASES[name][0]
    edits = []

    def sub(pattern: bytes, repl: bytes, label: str):
        new, n = re.subn(pattern, repl, data, count=1)
        if n:
            edits.append((label, new))

    if fmt in ("evt2", "evt21", "evt3"):
        sub(rb"width=\d+", b"width=0", "width 0")
        sub(rb"width=\d+", b"width=99999999999999", "huge width")
        sub(rb"height=\d+", b"height=-5", "negative height")
        sub(rb"% format [^\n]*\n", b"", "no format line")
        sub(rb"% end\n", b"% time_offset_us 99999999999999999999999\n% end\n", "offset > int64")
        sub(rb"% end\n", b"% time_offset_us 9223372036854775000\n% end\n", "offset near int64")
        sub(rb"% end\n", b"% time_offset_us -9223372036854775800\n% end\n", "offset near min")
        sub(rb"% end\n", b"% time_offset_us 1e9\n% end\n", "float offset")
        sub(rb"% end\n", b"% endianness big\n% end\n", "bad endianness")
        sub(rb"% evt \S+\n", b"% evt 9.9\n", "unknown evt version")
        big = (
            data[: _header_end(name, data)]
            + struct.pack("<I", 0x8FFFFFFF)
            + data[_header_end(name, data) :]
        )
        edits.append(("time high jump", big))
    elif fmt == "dat":
        sub(rb"% Width \d+", b"% Width 0", "width 0")
        sub(rb"% Height \d+", b"% Height 9999999999999999999999", "huge height")
        sub(rb"% Version 2", b"% Version 99", "version 99")
        sub(rb"% Version 2", b"% Version x", "version x")
        sub(
            rb"(% Height \d+\n)", rb"\1% time_offset_us 99999999999999999999999\n", "offset > int64"
        )
        sub(rb"(% Height \d+\n)", rb"\1% time_offset_us 9223372036854775000\n", "offset near int64")
        head = _header_end(name, data)
        edits.append(("event size 0", data[: head - 1] + b"\0" + data[head:]))
        edits.append(("event type 0x0E", data[: head - 2] + b"\x0e" + data[head - 1 :]))
    elif fmt == "aedat2":
        sub(rb"# AEChip: [^\r\n]*", b"# AEChip: ch.unizh.ini.jaer.chip.Unknown", "unknown chip")
        sub(rb"#!AER-DAT2.0", b"#!AER-DAT9.9", "version 9.9")
    elif fmt == "aedat31":
        head = _header_end(name, data)
        for label, field, value in (
            ("event size 0", 4, 0),
            ("event size huge", 4, 0x7FFFFFFF),
            ("event number huge", 20, 0x7FFFFFFF),
            ("event number negative", 20, -1),
            ("ts offset 100", 8, 100),
            ("ts overflow max", 12, 0x7FFFFFFF),
        ):
            blob = bytearray(data)
            struct.pack_into("<i", blob, head + field, value)
            edits.append((label, bytes(blob)))
        sub(rb"#Source (-?\d+): [^\r\n]*", rb"#Source \1: Unknown0x0", "source 0x0")
    elif fmt == "aedat4":
        comp, table = _aedat4_compression_field(data), _aedat4_table_field(data)
        table_pos = struct.unpack_from("<q", data, table)[0]
        for label, pos, fmt_s, value in (
            ("compression 0", comp, "<i", 0),
            ("compression lz4<->zstd", comp, "<i", 3 if name.endswith("lz4") else 1),
            ("compression 7", comp, "<i", 7),
            ("index at -5", table, "<q", -5),
            ("index at 2**62", table, "<q", 1 << 62),
            ("index at data start", table, "<q", _header_end(name, data)),
            ("index one byte late", table, "<q", table_pos + 1),
            ("no index (-1)", table, "<q", -1),
        ):
            blob = bytearray(data)
            struct.pack_into(fmt_s, blob, pos, value)
            edits.append((label, bytes(blob)))
        sub(rb'"sizeX" type="int">\d+', b'"sizeX" type="int">0', "sizeX 0")
        sub(rb'"sizeX" type="int">\d+', b'"sizeX" type="int">9999999999999', "sizeX huge")
        sub(rb'"tsOffset" type="long">\d+', b'"tsOffset" type="long">9' * 1 + b"9" * 30, "tsOffset")
        sub(
            rb'"typeIdentifier" type="string">EVTS',
            b'"typeIdentifier" type="string">FRME',
            "no EVTS",
        )
        # the index: zero-filled, garbage, and a packet header whose size lies
        edits.append(("index zero-filled", data[:table_pos] + bytes(len(data) - table_pos)))
        edits.append(
            (
                "index garbage",
                data[:table_pos] + bytes(range(256)) * ((len(data) - table_pos) // 256),
            )
        )
        first = _header_end(name, data)
        for label, value in (("packet size 0", 0), ("packet size huge", 0xFFFFFFF0)):
            blob = bytearray(data)
            struct.pack_into("<I", blob, first + 4, value)
            edits.append((label, bytes(blob)))
        blob = bytearray(data)
        struct.pack_into("<i", blob, first, 77)
        edits.append(("packet stream 77", bytes(blob)))
    elif fmt == "csv":
        head = _header_end(name, data)
        lines = data[head:].split(b"\n")
        sub(rb"%geometry:\d+,\d+", b"%geometry:0,0", "geometry 0")
        sub(rb"%geometry:\d+,\d+", b"%geometry:99999999999,5", "geometry huge")
        sub(rb"# t_scale: \S+", b"# t_scale: nan", "t_scale nan")
        sub(rb"# t_scale: \S+", b"# t_scale: abc", "t_scale text")
        sub(rb"# t_scale: \S+", b"# t_scale: 1e300", "t_scale 1e300")
        sub(rb"# columns: \S+", b"# columns: txyz", "columns txyz")
        for label, row in (
            ("nan row first", b"nan,1,1,1"),
            ("inf time", b"inf,1,1,1"),
            ("nan x", b"5,nan,1,1"),
            ("fractional x", b"5,1.5,1,1"),
            ("time 1e30", b"1e30,1,1,1"),
            ("negative x", b"5,-1,1,1"),
            ("five columns", b"5,1,1,1,1"),
            ("text row", b"five,1,1,1"),
        ):
            mid = len(lines) // 2 if "first" not in label else 0
            new = b"\n".join(lines[:mid] + [row] + lines[mid:])
            edits.append((label, data[:head] + new))
    elif fmt == "npy":
        from aersim.traces.schema import EVENT_DTYPE

        ev = np.zeros(4, dtype=EVENT_DTYPE)
        edits += [
            ("empty file", b""),
            ("0-d array", _npy_bytes(ev[0])),
            ("2-D structured", _npy_bytes(ev.reshape(2, 2))),
            ("shape lies (huge)", _npy_bytes(ev, "(10**15,)".replace("10**15", str(10**15)))),
            ("shape lies (small)", _npy_bytes(ev, "(2,)")),
            ("float columns nan", _npy_bytes(np.array([[np.nan, 1, 1, 1]] * 3))),
            ("float columns inf", _npy_bytes(np.array([[1, np.inf, 1, 1]] * 3))),
            ("int columns (N, 3)", _npy_bytes(np.ones((3, 3), dtype=np.int64))),
            ("object array", _npy_bytes(np.array([1, 2, 3], dtype=np.int64))),
            ("t beyond 2**62", _npy_bytes(np.array([[2**63 - 1, 1, 1, 1]], dtype=np.int64))),
            ("uint64 t", _npy_bytes(np.array([[2**64 - 1, 1, 1, 1]], dtype=np.uint64))),
        ]
    elif fmt == "npz":
        t = np.arange(10, dtype=np.int64)
        one = np.ones(10, dtype=np.int64)
        size = np.array([128, 128])
        edits += [
            (
                "2-D member",
                _npz_with(
                    {
                        "t": _npy_bytes(t.reshape(2, 5)),
                        "x": _npy_bytes(one),
                        "y": _npy_bytes(one),
                        "p": _npy_bytes(one),
                        "sensor_size": _npy_bytes(size),
                    }
                ),
            ),
            (
                "0-d member",
                _npz_with(
                    {
                        "t": _npy_bytes(t[0]),
                        "x": _npy_bytes(one),
                        "y": _npy_bytes(one),
                        "p": _npy_bytes(one),
                        "sensor_size": _npy_bytes(size),
                    }
                ),
            ),
            (
                "nan times",
                _npz_with(
                    {
                        "t": _npy_bytes(t * np.nan),
                        "x": _npy_bytes(one),
                        "y": _npy_bytes(one),
                        "p": _npy_bytes(one),
                        "sensor_size": _npy_bytes(size),
                    }
                ),
            ),
            (
                "sensor_size 0",
                _npz_with(
                    {
                        "t": _npy_bytes(t),
                        "x": _npy_bytes(one),
                        "y": _npy_bytes(one),
                        "p": _npy_bytes(one),
                        "sensor_size": _npy_bytes(size * 0),
                    }
                ),
            ),
            (
                "sensor_size 1 value",
                _npz_with(
                    {
                        "t": _npy_bytes(t),
                        "x": _npy_bytes(one),
                        "y": _npy_bytes(one),
                        "p": _npy_bytes(one),
                        "sensor_size": _npy_bytes(size[:1]),
                    }
                ),
            ),
            (
                "lengths differ",
                _npz_with(
                    {
                        "t": _npy_bytes(t),
                        "x": _npy_bytes(one[:3]),
                        "y": _npy_bytes(one),
                        "p": _npy_bytes(one),
                        "sensor_size": _npy_bytes(size),
                    }
                ),
            ),
            (
                "member shape lies",
                _npz_with(
                    {
                        "t": _npy_bytes(t, f"({10**12},)"),
                        "x": _npy_bytes(one),
                        "y": _npy_bytes(one),
                        "p": _npy_bytes(one),
                        "sensor_size": _npy_bytes(size),
                    }
                ),
            ),
            ("not a zip", b"PK\x03\x04" + bytes(100)),
        ]
    elif fmt == "hdf5":
        edits += _hdf5_edits()
    elif fmt == "es":
        for label, pos, value in (
            ("version 3", 12, 3),
            ("type ATIS", 15, 2),
            ("type color", 15, 4),
            ("type 77", 15, 77),
            ("width 0", 16, 0),
            ("width 1", 16, 1),
        ):
            blob = bytearray(data)
            blob[pos] = value
            if label.startswith("width"):
                blob[17] = 0
            edits.append((label, bytes(blob)))
        edits.append(("overflow run", data[:20] + b"\xff" * 4096 + data[20:]))
        edits.append(("reset run", data[:20] + b"\xfe" * 5 + data[20:]))
    return edits


def _hdf5_edits():
    import h5py

    out = []

    def make(label, build):
        buf = io.BytesIO()
        with h5py.File(buf, "w") as h5:
            build(h5)
        out.append((label, buf.getvalue()))

    n = 1000
    t = np.arange(n, dtype=np.int64) * 10

    def dsec(h5, t=t, t_offset=0, width=128, ms=None, x=None):
        h5.attrs["width"], h5.attrs["height"] = width, 128
        g = h5.create_group("events")
        g["t"] = t
        g["x"] = np.ones(len(t), np.uint16) if x is None else x
        g["y"] = np.ones(len(t), np.uint16)
        g["p"] = np.ones(len(t), np.uint8)
        h5["t_offset"] = t_offset
        if ms is not None:
            h5["ms_to_idx"] = ms

    make("t_offset 2**63-1", lambda h5: dsec(h5, t_offset=np.int64(2**63 - 1)))
    make("t_offset 1-D", lambda h5: dsec(h5, t_offset=np.arange(3)))
    make("t_offset float nan", lambda h5: dsec(h5, t_offset=np.nan))
    make("width 0", lambda h5: dsec(h5, width=0))
    make("width huge", lambda h5: dsec(h5, width=2**40))
    make("ms_to_idx zeros", lambda h5: dsec(h5, ms=np.zeros(20, np.uint64)))
    make("ms_to_idx beyond", lambda h5: dsec(h5, ms=np.full(20, 10**9, np.uint64)))
    make("ms_to_idx huge", lambda h5: dsec(h5, ms=np.full(20, 2**64 - 1, np.uint64)))
    make("ms_to_idx 2-D", lambda h5: dsec(h5, ms=np.zeros((4, 5), np.uint64)))
    make("float times nan", lambda h5: dsec(h5, t=t * np.nan))
    make("2-D t", lambda h5: dsec(h5, t=t.reshape(-1, 2), x=np.ones((500, 2), np.uint16)))
    make("t near int64", lambda h5: dsec(h5, t=t + (2**63 - 2000)))
    make("mvsec 1-D table", lambda h5: h5.create_dataset("davis/left/events", data=np.ones(40)))
    make("mvsec 3 columns", lambda h5: h5.create_dataset("davis/left/events", data=np.ones((8, 3))))
    make(
        "mvsec nan time",
        lambda h5: h5.create_dataset("davis/left/events", data=np.full((8, 4), np.nan)),
    )
    make("prophesee plain table", lambda h5: h5.create_dataset("CD/events", data=np.ones(8)))
    make("events is a dataset", lambda h5: h5.create_dataset("events", data=np.ones(8)))
    return out


def _bombs(name: str, data: bytes) -> list[tuple[str, bytes]]:
    fmt = BASES[name][0]
    out = []
    if fmt == "aedat4":
        import lz4.frame
        import zstandard

        head = _header_end(name, data)
        table = _aedat4_table_field(data)
        big = 3 << 30  # 3 GiB of decompressed bytes
        # A size-prefixed buffer that claims to be 3 GiB, then zeros: a real bomb.
        prefix = struct.pack("<I", big - 4) + struct.pack("<I4s", 16, b"EVTS")
        if name.endswith("zstd"):
            cctx = zstandard.ZstdCompressor(level=1)
            chunks = cctx.compressobj()
            body = chunks.compress(prefix)
            block = bytes(1 << 24)
            for _ in range(big // len(block)):
                body += chunks.compress(block)
            body += chunks.flush()
        else:
            comp = lz4.frame.LZ4FrameCompressor()
            body = comp.begin() + comp.compress(prefix)
            block = bytes(1 << 24)
            for _ in range(big // len(block) // 4):  # lz4 caps its ratio at ~255
                body += comp.compress(block)
            body += comp.flush()
        packet = struct.pack("<iI", 0, len(body)) + body
        blob = bytearray(data[:head] + packet + data[head:])
        old = struct.unpack_from("<q", blob, table)[0]
        struct.pack_into("<q", blob, table, old + len(packet))
        out.append(("packet bomb", bytes(blob)))
        # The same bomb as the index table.
        blob = bytearray(data[: struct.unpack_from("<q", data, table)[0]] + body)
        out.append(("index bomb", bytes(blob)))
    elif fmt == "npz":
        header = _npy_bytes(np.zeros(0, dtype=np.int64), f"({(400 << 20) // 8},)")
        member = _zero_stream_zip("t", header, 400 << 20)
        out.append(("member bomb", member))
    return out


def make_cases(bases: dict[str, Path], n_random: int, seed: int) -> list[dict]:
    """All cases: the structured ones once, plus ``n_random`` seeded random ones per base."""
    rng = np.random.default_rng(seed)
    cases = []
    for name, path in bases.items():
        data = path.read_bytes()
        fmt = BASES[name][0]
        head = _header_end(name, data)
        bounds = _boundaries(name, data)

        def add(kind, label, blob, read_as=fmt, name=name):
            cases.append(
                {"base": name, "kind": kind, "label": label, "blob": blob, "format": read_as}
            )

        for label, blob in _header_edits(name, data) + _bombs(name, data):
            add("header" if "bomb" not in label else "bomb", label, blob)
        for cut in sorted({0, 1, head - 1, head, head + 1, len(data) - 1}):
            if 0 <= cut < len(data):
                add("cut", f"cut at {cut}", data[:cut])
        for other in (
            "es",
            "raw",
            "evt2",
            "evt21",
            "evt3",
            "dat",
            "nmnist",
            "aedat2",
            "aedat31",
            "aedat4",
            "csv",
            "npy",
            "npz",
            "hdf5",
        ):
            if other != fmt and not (fmt.startswith("evt") and other == "raw"):
                add("override", f"read as {other}", data, other)
        for _ in range(n_random):
            r = rng.random()
            if r < 0.45:
                add("flip", "flip", _flip(rng, data, head))
            elif r < 0.75:
                if bounds and rng.random() < 0.5:
                    cut = int(rng.choice(bounds)) + int(rng.integers(-1, 2))
                else:
                    cut = int(rng.integers(0, len(data)))
                cut = min(max(cut, 0), len(data) - 1)
                add("cut", f"cut at {cut}", data[:cut])
            else:
                add("insert", "insert", _insert(rng, data, head))
    return cases


# -- worker side ----------------------------------------------------------------------------------
def _read_case(path: Path, fmt: str, options: dict):
    """Read ``path`` three ways; return (events, meta, windowed events, window bounds)."""
    from aersim.traces.recordings.recording import open_events, read_events

    events, meta = read_events(path, fmt, **options)
    n_windows = 0
    total = 0
    for w in open_events(path, fmt, window_us=WINDOW_US, **options):
        n_windows += 1
        total += len(w)
    if total != len(events):
        raise AssertionError(f"window iteration gave {total} events, whole read {len(events)}")
    if len(events):
        lo = int(np.sort(events["t"])[len(events) // 3])
        hi = lo + 20_000
        part, _ = read_events(path, fmt, t_start=lo, t_stop=hi, **options)
        return events, meta, part, (lo, hi)
    return events, meta, None, None


def run_case(case: dict, folder: Path, reference: dict) -> str:
    import warnings

    from aersim.traces.errors import TraceError, TraceFormatError, TraceWarning

    fmt = case["format"]
    suffix = BASES[case["base"]][1]
    path = folder / f"case{suffix}"
    path.write_bytes(case["blob"])
    options = {}
    if fmt in NEEDS_SIZE:
        options["sensor_size"] = NEEDS_SIZE[fmt]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            events, meta, part, window = _read_case(path, fmt, options)
        except TraceError as exc:
            msg = str(exc)
            if str(path) not in msg and path.name not in msg:
                return "bad-message"
            if isinstance(exc, TraceFormatError) and "byte" not in msg:
                return "bad-message"
            return "error"
        except MemoryError:
            return "memory"
        except AssertionError:
            return "inconsistent"
        except Exception as exc:  # the contract is broken: name it in the counts
            case["detail"] = f"{type(exc).__name__}: {exc}"[:300]
            return "crash"
    if any(issubclass(w.category, RuntimeWarning) for w in caught):
        return "numpy-warning"
    if len(events) and (events["x"].max() >= meta.width or events["y"].max() >= meta.height):
        return "inconsistent"
    warned = any(issubclass(w.category, TraceWarning) for w in caught)
    if part is not None and not warned:
        lo, hi = window
        want = events[(events["t"] >= lo) & (events["t"] < hi)]
        if not np.array_equal(np.sort(part, order="t"), np.sort(want, order="t")):
            return "inconsistent"
    if warned:
        return "warning"
    ref = reference.get(case["base"])
    if ref is not None and fmt == BASES[case["base"]][0]:
        if len(events) <= len(ref) and np.array_equal(events, ref[: len(events)]):
            if len(events) == len(ref) or case["kind"] == "cut":
                return "identical"
    return "changed"


def worker(spec_path: str):
    """Serve the cases listed in ``spec_path``: one JSON line per case on stdout."""
    import resource

    spec = json.loads(Path(spec_path).read_text())
    folder = Path(spec["folder"])
    from aersim.traces.recordings.recording import open_events, read_events

    reference = {}
    for name, path in spec["bases"].items():
        options = (
            {"sensor_size": NEEDS_SIZE[BASES[name][0]]} if BASES[name][0] in NEEDS_SIZE else {}
        )
        reference[name] = read_events(path, BASES[name][0], **options)[0]
        # warm up every code path (Numba kernels load) before the memory limit is set
        for _ in open_events(path, BASES[name][0], window_us=WINDOW_US, **options):
            pass
    vm = _vm_bytes()
    resource.setrlimit(resource.RLIMIT_AS, (vm + MEMORY_MARGIN_BYTES, vm + MEMORY_MARGIN_BYTES))
    print(json.dumps({"ready": True}), flush=True)
    for k in spec["todo"]:
        case = json.loads(Path(folder / f"c{k}.json").read_text())
        case["blob"] = Path(folder / f"c{k}.bin").read_bytes()
        outcome = run_case(case, Path(spec["work"]), reference)
        print(json.dumps({"case": k, "outcome": outcome, "detail": case.get("detail")}), flush=True)


def _vm_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 4 << 30


# -- parent side ----------------------------------------------------------------------------------
def run_cases(cases: list[dict], bases: dict[str, Path], folder: Path, n_workers: int = 2):
    """Run ``cases`` in worker subprocesses; return the outcome of each, in order."""
    for k, case in enumerate(cases):
        meta = {key: v for key, v in case.items() if key != "blob"}
        (folder / f"c{k}.json").write_text(json.dumps(meta))
        (folder / f"c{k}.bin").write_bytes(case["blob"])
    outcomes: dict[int, str] = {}
    pending = list(range(len(cases)))
    shares = [pending[i::n_workers] for i in range(n_workers)]
    workers = [_Worker(share, bases, folder, w) for w, share in enumerate(shares) if share]
    while workers:
        for w in list(workers):
            w.step(outcomes)
            if w.done:
                workers.remove(w)
        time.sleep(0.01)
    return [outcomes[k] for k in range(len(cases))]


class _Worker:
    """One worker subprocess and the cases it still owes; restarted after a hang or a crash."""

    def __init__(self, todo, bases, folder, ident):
        self.todo = list(todo)
        self.bases = {k: str(v) for k, v in bases.items()}
        self.folder = folder
        self.ident = ident
        self.proc = None
        self.done = False
        self._start()

    def _start(self):
        if not self.todo:
            self.done = True
            return
        spec = self.folder / f"worker{self.ident}.json"
        work = self.folder / f"w{self.ident}"
        work.mkdir(exist_ok=True)
        spec.write_text(
            json.dumps(
                {
                    "folder": str(self.folder),
                    "bases": self.bases,
                    "todo": self.todo,
                    "work": str(work),
                }
            )
        )
        self.proc = subprocess.Popen(
            [sys.executable, __file__, str(spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=work,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.buf = b""
        self.ready = False
        self.deadline = time.monotonic() + 120.0  # imports and warm-up

    def step(self, outcomes):
        if self.done:
            return
        if self.sel.select(timeout=0):
            chunk = self.proc.stdout.read() or b""
            self.buf += chunk
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                msg = json.loads(line)
                if msg.get("ready"):
                    self.ready = True
                else:
                    outcomes[msg["case"]] = msg["outcome"]
                    if msg.get("detail"):
                        DETAILS[msg["case"]] = msg["detail"]
                    self.todo.remove(msg["case"])
                self.deadline = time.monotonic() + CASE_SECONDS
            if not chunk and self.proc.poll() is not None:
                self._lost(outcomes, "memory" if self.proc.returncode < 0 else "crash")
                return
        if not self.todo:
            self.proc.wait()
            self.done = True
        elif time.monotonic() > self.deadline:
            self.proc.kill()
            self.proc.wait()
            self._lost(outcomes, "timeout" if self.ready else "crash")

    def _lost(self, outcomes, why):
        """The worker died or hung on its current case: record it and carry on without it."""
        if self.todo:
            outcomes[self.todo.pop(0)] = why
        self._start()


def summarize(cases, outcomes) -> dict:
    table = defaultdict(Counter)
    for case, outcome in zip(cases, outcomes, strict=True):
        table[case["base"]][outcome] += 1
    return {name: dict(sorted(c.items())) for name, c in sorted(table.items())}


def _check(cases, outcomes):
    bad = []
    for k, (case, outcome) in enumerate(zip(cases, outcomes, strict=True)):
        if outcome in FAILURES:
            bad.append(
                (case["base"], case["kind"], case["label"], case["format"], outcome, DETAILS.get(k))
            )
        elif outcome == "changed" and not (
            case["kind"] in ("flip", "insert")
            or (case["kind"] == "override" and case["format"] in HEADERLESS)
            or case["label"] in LEGAL_EDITS
        ):
            bad.append((case["base"], case["kind"], case["label"], case["format"], outcome))
    return bad


def _run(tmp_path, n_random, seed):
    bases = write_bases(tmp_path)
    cases = make_cases(bases, n_random, seed)
    outcomes = run_cases(cases, bases, tmp_path)
    counts = summarize(cases, outcomes)
    lines = [f"fuzz: {len(cases)} cases, seed {seed}"]
    lines += [f"  {name:12s} {json.dumps(c)}" for name, c in counts.items()]
    print("\n".join(lines))
    if os.environ.get("AERSIM_FUZZ_REPORT"):
        Path(os.environ["AERSIM_FUZZ_REPORT"]).write_text(
            json.dumps({"seed": seed, "cases": len(cases), "counts": counts}, indent=1)
        )
    bad = _check(cases, outcomes)
    for row in bad:
        print("  broken:", *row)
    assert not bad, f"{len(bad)} cases broke the reader contract: {bad[:20]}"


def test_fuzz_readers(tmp_path):
    _run(tmp_path, n_random=12, seed=12)


@pytest.mark.slow
def test_fuzz_readers_many(tmp_path):
    _run(tmp_path, n_random=300, seed=2026)


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1].endswith(".json"):
        worker(sys.argv[1])
    else:  # a quick manual run: python tests/traces/test_fuzz.py [n_random] [seed]
        with tempfile.TemporaryDirectory() as tmp:
            _run(
                Path(tmp),
                int(sys.argv[1]) if len(sys.argv) > 1 else 12,
                int(sys.argv[2]) if len(sys.argv) > 2 else 12,
            )
