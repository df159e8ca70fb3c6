"""Damaged and hostile inputs found by fuzzing, pinned one by one (the harness is test_fuzz.py)."""

import io
import re
import struct
import time
import zipfile

import numpy as np
import pytest

from aersim.traces.errors import TraceError, TraceFormatError, TraceWarning
from aersim.traces.recordings.recording import open_events, read_events, write_events
from aersim.traces.schema import EVENT_DTYPE


def _events(n=2000, size=(64, 64), t0=1000):
    rng = np.random.default_rng(3)
    ev = np.zeros(n, dtype=EVENT_DTYPE)
    ev["t"] = t0 + np.cumsum(rng.integers(0, 50, n))
    ev["x"] = rng.integers(0, size[0], n)
    ev["y"] = rng.integers(0, size[1], n)
    ev["p"] = rng.integers(0, 2, n)
    return ev


@pytest.mark.parametrize("fmt,suffix", [("evt3", ".raw"), ("evt2", ".raw"), ("dat", ".dat")])
def test_time_offset_beyond_int64_is_a_format_error(tmp_path, fmt, suffix):
    path = tmp_path / f"a{suffix}"
    write_events(path, _events(), (64, 64), format=fmt)
    data = path.read_bytes()
    line = b"% time_offset_us 99999999999999999999\n"
    if fmt == "dat":
        data = data.replace(b"% Height 64\n", b"% Height 64\n" + line, 1)
    else:
        data = data.replace(b"% end\n", line + b"% end\n", 1)
    path.write_bytes(data)
    with pytest.raises(TraceFormatError, match=r"time_offset_us.*an integer in"):
        read_events(path, fmt)


@pytest.mark.parametrize(
    "blob",
    [b"", b"\x93NUMPY\x01\x00\x05\x00{'de", None],
    ids=["empty", "cut header", "0-d"],
)
def test_npy_without_events_is_a_format_error(tmp_path, blob):
    path = tmp_path / "a.npy"
    if blob is None:
        np.save(path, np.zeros((), dtype=EVENT_DTYPE))
    else:
        path.write_bytes(blob)
    with pytest.raises(TraceFormatError, match=str(path)):
        read_events(path, "npy", sensor_size=(8, 8))


def test_npy_whose_header_lies_about_its_length(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, _events(10))
    path.write_bytes(path.read_bytes()[:-16])
    with pytest.raises(TraceFormatError, match="bytes for shape"):
        read_events(path, "npy", sensor_size=(64, 64))


def test_npz_two_dimensional_member(tmp_path):
    path = tmp_path / "a.npz"
    t = np.arange(10).reshape(2, 5)
    np.savez(path, t=t, x=np.ones(10), y=np.ones(10), p=np.ones(10), sensor_size=[8, 8])
    with pytest.raises(TraceFormatError, match="array 't' of shape \\(2, 5\\)"):
        read_events(path)


def test_npz_member_is_streamed_not_loaded_whole(tmp_path):
    """400 MB of deflated zeros (a 'bomb' of legal events) is read slice by slice."""
    import tracemalloc

    n = 50_000_000
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, dtype in (("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")):
            with z.open(name + ".npy", "w", force_zip64=True) as member:
                head = io.BytesIO()
                np.lib.format.write_array_header_1_0(
                    head, {"descr": dtype, "fortran_order": False, "shape": (n,)}
                )
                member.write(head.getvalue())
                left = n * np.dtype(dtype).itemsize
                block = bytes(1 << 22)
                while left > 0:
                    member.write(block[: min(left, len(block))])
                    left -= len(block)
        z.writestr("sensor_size.npy", _npy(np.array([8, 8])))
    tracemalloc.start()
    total = 0
    for chunk in open_events(path, block_events=1 << 20):
        total += len(chunk)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert total == n
    assert peak < 200 << 20, peak


def _npy(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def test_hdf5_one_dimensional_mvsec_table(tmp_path):
    import h5py

    path = tmp_path / "m.h5"
    with h5py.File(path, "w") as f:
        f["davis/left/events"] = np.ones(12)
    with pytest.raises(TraceFormatError, match=r"an \(N, 4\) table"):
        read_events(path)


@pytest.mark.parametrize(
    "row,what",
    [
        ("nan,1,1,1", "time nan"),
        ("5,nan,1,1", "x=nan"),
        ("inf,1,1,1", "time inf"),
        ("5,1.5,1,1", "whole pixel"),
        ("1e30,1,1,1", "time 1e"),
    ],
)
def test_text_values_that_are_not_events(tmp_path, row, what):
    path = tmp_path / "a.csv"
    path.write_text(f"{row}\n5,1,1,1\n")
    with pytest.raises(TraceFormatError, match=re.escape(what)):
        read_events(path, sensor_size=(8, 8))


def test_text_header_line_needs_a_word(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("t,x,y,p\n5,1,1,1\n")
    ev, _ = read_events(path, sensor_size=(8, 8))
    assert ev["t"].tolist() == [5]


def test_window_iteration_skips_a_huge_gap_in_one_step(tmp_path):
    path = tmp_path / "gap.npy"
    ev = np.zeros(4, dtype=EVENT_DTYPE)
    ev["t"] = [0, 1, 2**61, 2**61 + 5]
    np.save(path, ev)
    start = time.perf_counter()
    windows = list(open_events(path, sensor_size=(8, 8), window_us=1))
    assert time.perf_counter() - start < 5
    assert [w["t"].tolist() for w in windows] == [[0], [1], [2**61], [2**61 + 5]]


def test_time_bounds_must_fit(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, _events(10))
    with pytest.raises(TraceError, match="t_start must be within"):
        read_events(path, sensor_size=(64, 64), t_start=2**70)


def test_evt2_file_read_as_evt21_is_refused(tmp_path):
    path = tmp_path / "a.raw"
    write_events(path, _events(), (64, 64), format="evt2")
    with pytest.raises(TraceFormatError, match="header declaring 'evt2'"):
        read_events(path, "evt21")
    assert len(read_events(path, "raw")[0]) == 2000


def _aedat4(tmp_path, compression="lz4"):
    path = tmp_path / "a.aedat4"
    ev = _events(5000)
    ev["t"] += 1_600_000_000_000_000
    write_events(path, ev, (64, 64), format="aedat4", compression=compression, packet_events=256)
    return path, ev


def _index_field(data):
    """Byte offset of the IOHeader's index position (in a file this package wrote)."""
    root = struct.unpack_from("<I", data, 18)[0]
    table = 18 + root
    vtable = table - struct.unpack_from("<i", data, table)[0]
    return table + struct.unpack_from("<H", data, vtable + 6)[0]


def _index_pos(data):
    return struct.unpack_from("<q", data, _index_field(data))[0]


def test_aedat4_zero_filled_index_warns_and_scans(tmp_path):
    path, ev = _aedat4(tmp_path)
    data = path.read_bytes()
    pos = _index_pos(data)
    path.write_bytes(data[:pos] + bytes(len(data) - pos))
    lo, hi = int(ev["t"][1000]), int(ev["t"][3000])
    with pytest.warns(TraceWarning, match="unusable index table"):
        got, _ = read_events(path, t_start=lo, t_stop=hi)
    assert np.array_equal(got, ev[(ev["t"] >= lo) & (ev["t"] < hi)])


def test_aedat4_index_row_with_negative_offset(tmp_path):
    path, ev = _aedat4(tmp_path, "none")
    data = bytearray(path.read_bytes())
    pos = _index_pos(data)
    first_offset = struct.pack("<q", 18 + struct.unpack_from("<I", data, 14)[0] + 8)
    k = data.index(first_offset, pos)
    data[k : k + 8] = struct.pack("<q", -100)
    path.write_bytes(bytes(data))
    with pytest.warns(TraceWarning, match="not back to back|listed from byte -108"):
        got, _ = read_events(path, t_start=int(ev["t"][10]))
    assert np.array_equal(got, ev[10:])


@pytest.mark.parametrize("compression", ["lz4", "zstd"])
def test_aedat4_decompression_bomb_is_refused_without_inflating(tmp_path, compression):
    import lz4.frame
    import zstandard

    path, ev = _aedat4(tmp_path, compression)
    data = bytearray(path.read_bytes())
    start = 18 + struct.unpack_from("<I", data, 14)[0]
    # One packet claiming to be 2 GiB of events: only its size prefix is ever inflated.
    big = (2 << 30) - 8
    prefix = struct.pack("<I", big) + struct.pack("<I4s", 16, b"EVTS")
    if compression == "zstd":
        comp = zstandard.ZstdCompressor(level=1).compressobj()
        body = comp.compress(prefix) + comp.compress(bytes(64 << 20)) + comp.flush()
    else:
        body = lz4.frame.compress(prefix + bytes(64 << 20))
    size = struct.unpack_from("<I", data, start + 4)[0]
    table = _index_pos(data)
    data[start + 8 : start + 8 + size] = body
    struct.pack_into("<I", data, start + 4, len(body))
    struct.pack_into("<q", data, _index_field(data), table + len(body) - size)
    path.write_bytes(bytes(data))
    # (the index no longer matches the packets either: a warning before the error)
    with (
        pytest.warns(TraceWarning),
        pytest.raises(
            TraceFormatError, match=f"byte {start}: found a packet of (a declared size|size prefix)"
        ),
    ):
        read_events(path)


def test_aedat4_unknown_stream_is_an_error(tmp_path):
    path, _ = _aedat4(tmp_path)
    with pytest.raises(TraceError, match=r"stream=5 is not an event stream.*\[0\]"):
        read_events(path, stream=5)


def test_aedat4_index_with_omitted_default_fields():
    """FlatBuffers writers omit fields equal to their default; they read as 0."""
    from aersim.traces.recordings.aedat4 import _index_rows

    # FTAB root -> table(vector of 1 row); the row's vtable lists only byte_offset and end_t.
    buf = bytearray(struct.pack("<I4s", 16, b"FTAB"))
    buf += struct.pack("<3H", 6, 8, 4) + b"\0\0"  # vtable of the root table at 8
    buf += struct.pack("<iI", 8, 4)  # root table at 16: soffset to vtable, vector offset
    buf += struct.pack("<II", 1, 4)  # vector at 24: one element, offset to row
    row_vtable = len(buf)
    buf += struct.pack("<7H", 14, 20, 4, 0, 0, 0, 12) + b"\0\0"
    row = len(buf)
    struct.pack_into("<I", buf, 28, row - 28)
    buf += struct.pack("<iqq", row - row_vtable, 2342, 99)
    rows = _index_rows(memoryview(bytes(buf)))
    assert rows.tolist() == [(2342, 0, 0, 0, 0, 99)]
