"""N-MNIST .bin: round trips, the overflow marker, damaged files."""

import pytest

from aersim.traces.errors import TraceError, TraceFormatError
from aersim.traces.recordings.recording import read_events, write_events


def record(x, y, p, t):
    return bytes([x, y, p << 7 | (t >> 16) & 0x7F, (t >> 8) & 0xFF, t & 0xFF])


def test_bit_layout_and_overflow_marker(tmp_path):
    blob = record(1, 2, 1, 0x7FFFFF) + record(0, 240, 0, 0) + record(3, 4, 0, 5)
    path = tmp_path / "o.bin"
    path.write_bytes(blob)
    ev, meta = read_events(path)
    assert ev["t"].tolist() == [0x7FFFFF, 5 + 8192]
    assert ev["x"].tolist() == [1, 3] and ev["y"].tolist() == [2, 4] and ev["p"].tolist() == [1, 0]
    assert meta.wraps == 1 and meta.regressions == 1


def test_roundtrip_synthetic_with_overflow(tmp_path, synth, h):
    ev = synth(5000, 34, 34)
    ev["t"][2500:] += 20_000_000  # beyond the 23-bit counter: overflow markers are written
    meta = h.roundtrip(tmp_path / "s.bin", ev, (34, 34), "nmnist")
    assert meta.wraps > 0


def test_roundtrip_real(tmp_path, real_events, h):
    ev, _ = real_events("nmnist")
    assert (tmp_path / "r.bin").write_bytes(b"") == 0
    h.roundtrip(tmp_path / "r.bin", ev, (34, 34), "nmnist")


def test_roundtrip_real_aedat4_cropped(tmp_path, real_events, h):
    ev, _ = real_events("aedat4")
    ev = ev[(ev["x"] < 256) & (ev["y"] < 240)].copy()
    ev["t"] -= ev["t"][0]
    h.roundtrip(tmp_path / "c.bin", ev, (304, 240), "ncaltech101")


def test_real_file_bytes_reproduced(real_events, real_file, tmp_path):
    ev, _ = real_events("nmnist")
    write_events(tmp_path / "same.bin", ev, (34, 34))
    assert (tmp_path / "same.bin").read_bytes() == real_file("nmnist").read_bytes()


def test_errors(tmp_path, synth):
    path = tmp_path / "e.bin"
    path.write_bytes(record(1, 2, 1, 3) + record(40, 2, 1, 3))
    with pytest.raises(TraceFormatError, match="byte 5: found record with x=40.*ncaltech101"):
        read_events(path)
    assert len(read_events(path, "ncaltech101")[0]) == 2
    path.write_bytes(record(1, 2, 1, 3) + b"\x01\x02")
    with pytest.raises(TraceFormatError, match="byte 5: found 2 trailing bytes"):
        read_events(path)
    ev = synth(10, 34, 34)
    ev["t"][0] = -1
    with pytest.raises(TraceError, match="re-base"):
        write_events(tmp_path / "n.bin", ev, (34, 34))


def test_damaged_files(tmp_path, real_file, synth, h):
    path = tmp_path / "d.bin"
    write_events(path, synth(1500, 34, 34), (34, 34))
    out = h.check_corruptions(
        tmp_path, path, "nmnist", 150, 60, seed=3, boundary=lambda c: c % 5 == 0
    )
    assert out["error"] > 0
