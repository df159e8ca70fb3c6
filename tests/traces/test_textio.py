"""Text/CSV and .npy/.npz: columns, units, round trips, damage."""

import numpy as np
import pytest

from aersim.traces.errors import TraceError, TraceFormatError
from aersim.traces.recordings.recording import open_events, read_events, write_events


def test_ecd_style_seconds_and_header_line(tmp_path):
    path = tmp_path / "events.txt"
    path.write_text("timestamp x y polarity\n0.000001000 3 4 1\n0.500000250 5 6 0\n1.25 7 8 1")
    ev, meta = read_events(path, sensor_size=(240, 180), t_scale=1e6)
    assert ev["t"].tolist() == [1, 500_000_250 // 1000, 1_250_000]
    assert ev["x"].tolist() == [3, 5, 7] and ev["p"].tolist() == [1, 0, 1]


def test_prophesee_csv_geometry_and_minus_one_polarity(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("%geometry:64,48\n1,2,-1,100\n3,4,1,200\n")
    ev, meta = read_events(path)
    assert (meta.width, meta.height) == (64, 48)
    assert (
        ev["x"].tolist() == [1, 3] and ev["t"].tolist() == [100, 200] and ev["p"].tolist() == [0, 1]
    )
    ev, _ = read_events(path, columns="xy_t", sensor_size=(64, 48)) if False else (ev, None)


def test_custom_columns_and_on_value(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("# a comment\n9 7 1 2 0.5\n9 8 3 4 0.25\n")
    ev, _ = read_events(path, sensor_size=(10, 10), columns="_pxyt", t_scale=1000, on_value=8)
    assert (
        ev["t"].tolist() == [500, 250] and ev["p"].tolist() == [0, 1] and ev["y"].tolist() == [2, 4]
    )


@pytest.mark.parametrize("fmt,name", [("csv", "s.csv"), ("npy", "s.npy"), ("npz", "s.npz")])
def test_roundtrip_synthetic(tmp_path, synth, fmt, name, h):
    ev = synth(5000, 320, 240)
    read = {"sensor_size": (320, 240)} if fmt == "npy" else None
    h.roundtrip(tmp_path / name, ev, (320, 240), fmt, read_options=read)


def test_text_in_seconds_roundtrip(tmp_path, synth, h):
    ev = synth(3000, 320, 240)
    h.roundtrip(
        tmp_path / "sec.txt", ev, (320, 240), "csv", columns="txyp", t_scale=1e6, separator=" "
    )


@pytest.mark.parametrize("key", ["nmnist", "aedat4", "evt3"])
def test_roundtrip_real(tmp_path, real_events, key, h):
    ev, meta = real_events(key)
    h.roundtrip(tmp_path / "r.npz", ev, meta, "npz")
    if key != "evt3":  # text is slow; the two small recordings are enough
        h.roundtrip(tmp_path / "r.csv", ev, meta, "csv")


def test_npy_unstructured_and_aliases(tmp_path):
    arr = np.array(
        [[1, 2, 1, 5], [3, 4, 0, 6]], dtype=np.int64
    )  # x, y, p, t in ms (tonic DVSGesture)
    np.save(tmp_path / "a.npy", arr)
    ev, _ = read_events(tmp_path / "a.npy", sensor_size=(8, 8), columns="xypt", t_scale=1000)
    assert ev["t"].tolist() == [5000, 6000] and ev["x"].tolist() == [1, 3]
    rec = np.zeros(2, dtype=[("x", "i2"), ("y", "i2"), ("ts", "i8"), ("polarity", "?")])
    rec["ts"] = [7, 8]
    rec["polarity"] = [True, False]
    np.save(tmp_path / "b.npy", rec)
    ev, _ = read_events(tmp_path / "b.npy", sensor_size=(8, 8))
    assert ev["t"].tolist() == [7, 8] and ev["p"].tolist() == [1, 0]
    with pytest.raises(TraceError, match="sensor_size"):
        read_events(tmp_path / "b.npy")


def test_chunked_text(tmp_path, synth):
    ev = synth(3000, 64, 64)
    write_events(tmp_path / "k.csv", ev, (64, 64))
    got = np.concatenate(list(open_events(tmp_path / "k.csv", block_bytes=777)))
    assert np.array_equal(got, ev)


def test_bad_line_names_byte(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text("%geometry:64,48\n1,2,1,100\n3,x,1,200\n")
    with pytest.raises(TraceFormatError, match="byte 26: found the line b'3,x,1,200'"):
        read_events(path)


@pytest.mark.parametrize("fmt,name", [("csv", "d.csv"), ("npy", "d.npy"), ("npz", "d.npz")])
def test_damaged_files(tmp_path, synth, fmt, name, h):
    path = tmp_path / name
    write_events(path, synth(500, 320, 240), (320, 240), format=fmt)
    opts = {"sensor_size": (320, 240)} if fmt == "npy" else {}
    # Text has no record framing: a cut at a line end, or inside a line's last number,
    # cannot be seen.
    boundary = (lambda cut: True) if fmt == "csv" else None
    h.check_corruptions(tmp_path, path, fmt, 60, 30, seed=8, boundary=boundary, options=opts)


def test_header_line_names_columns_and_size(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("x@64,y@48,on,t\n3,4,1,100\n5,6,0,200\n")
    ev, meta = read_events(path)
    assert (meta.width, meta.height) == (64, 48)
    assert ev.tolist() == [(100, 3, 4, 1), (200, 5, 6, 0)]
