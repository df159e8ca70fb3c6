"""Prophesee DAT: bit layout, 32-bit wrap, round trips, damage."""

import numpy as np
import pytest

from aersim.traces.errors import TraceFormatError, TraceWarning
from aersim.traces.recordings.recording import read_events, write_events

HEADER = b"% Data file containing CD events.\n% Version 2\n% Width 100\n% Height 50\n"


def dat_records(rows):
    return np.asarray(rows, dtype="<u4").tobytes()


def test_layout_and_wrap(tmp_path):
    rows = [[0xFFFFFFF0, 3 | 4 << 14 | 1 << 28], [0x10, 99 | 49 << 14]]
    path = tmp_path / "w.dat"
    path.write_bytes(HEADER + bytes([0x0C, 8]) + dat_records(rows))
    ev, meta = read_events(path)
    assert ev["t"].tolist() == [0xFFFFFFF0, (1 << 32) + 0x10]
    assert (
        ev["x"].tolist() == [3, 99] and ev["y"].tolist() == [4, 49] and ev["p"].tolist() == [1, 0]
    )
    assert meta.wraps == 1 and (meta.width, meta.height) == (100, 50)


def test_no_size_in_header_warns(tmp_path):
    path = tmp_path / "n.dat"
    path.write_bytes(
        b"% Data file containing Event2D events.\n% Version 2\n"
        + bytes([0, 8])
        + dat_records([[5, 7 | 8 << 14]])
    )
    with pytest.warns(TraceWarning, match="sensor_size"):
        ev, meta = read_events(path)
    assert len(ev) == 1
    ev, meta = read_events(path, sensor_size=(10, 10))
    assert meta.width == 10


def test_refuses_trigger_files(tmp_path):
    path = tmp_path / "t.dat"
    path.write_bytes(HEADER + bytes([0x0E, 8]) + dat_records([[5, 1]]))
    with pytest.raises(TraceFormatError, match="0x0E"):
        read_events(path)


def test_roundtrip_synthetic(tmp_path, synth, h):
    ev = synth(20_000, 640, 480)
    h.roundtrip(tmp_path / "s.dat", ev, (640, 480), "dat")
    ev["t"] += 1_605_537_493_718_345
    h.roundtrip(tmp_path / "e.dat", ev, (640, 480), "dat")


@pytest.mark.parametrize("key", ["nmnist", "aedat4", "evt3"])
def test_roundtrip_real(tmp_path, real_events, key, h):
    ev, meta = real_events(key)
    h.roundtrip(tmp_path / "r.dat", ev, meta, "dat")


def test_damaged_files(tmp_path, synth, h):
    path = tmp_path / "c.dat"
    write_events(path, synth(1500, 640, 480), (640, 480))
    header = path.read_bytes().index(b"% Height 480\n") + 13
    out = h.check_corruptions(
        tmp_path,
        path,
        "dat",
        120,
        60,
        seed=7,
        boundary=lambda cut: cut <= header + 2 or (cut - header - 2) % 8 == 0,
    )
    assert out["error"] > 0
