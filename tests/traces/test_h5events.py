"""HDF5 event files: DSEC-style round trips, ms index seek, MVSEC layout, damage."""

import numpy as np
import pytest

from aersim.traces.errors import TraceError, TraceFormatError
from aersim.traces.recordings.h5events import H5Source
from aersim.traces.recordings.recording import open_events, read_events, write_events

h5py = pytest.importorskip("h5py")


@pytest.mark.parametrize("compression", ["gzip", "lzf", None])
def test_roundtrip_synthetic(tmp_path, synth, compression, h):
    ev = synth(20_000, 640, 480)
    ev["t"] += 1_605_537_493_718_345
    meta = h.roundtrip(tmp_path / "s.h5", ev, (640, 480), "hdf5", compression=compression)
    assert meta.t0_us == ev["t"][0]


@pytest.mark.parametrize("key", ["nmnist", "aedat4", "evt3"])
def test_roundtrip_real(tmp_path, real_events, key, h):
    ev, meta = real_events(key)
    h.roundtrip(tmp_path / "r.h5", ev, meta, "hdf5")


def test_dsec_layout_and_ms_index(tmp_path, synth):
    ev = synth(20_000, 640, 480)
    path = tmp_path / "d.h5"
    write_events(path, ev, (640, 480))
    with h5py.File(path, "r") as f:
        rel = f["events/t"][:]
        idx = f["ms_to_idx"][:]
        t_offset = int(f["t_offset"][()])
    # Plain NumPy reference of the DSEC index: first event with running-max t >= 1000 k.
    run = np.maximum.accumulate(rel)
    for k in range(0, len(idx), 37):
        first = int(np.argmax(run >= 1000 * k)) if np.any(run >= 1000 * k) else len(rel)
        assert idx[k] == first
    lo = t_offset + 20_000
    src = H5Source(path)
    assert src._first_index(lo) > 0
    src.close()
    got = np.concatenate(list(open_events(path, t_start=lo, t_stop=lo + 5000)))
    assert np.array_equal(got, ev[(ev["t"] >= lo) & (ev["t"] < lo + 5000)])


def test_mvsec_layout(tmp_path):
    path = tmp_path / "m.hdf5"
    with h5py.File(path, "w") as f:
        f["davis/left/events"] = np.array([[3, 4, 1.5, -1], [5, 6, 1.500002, 1]])
    ev, meta = read_events(path)
    assert ev["t"].tolist() == [1_500_000, 1_500_002] and ev["p"].tolist() == [0, 1]
    assert (meta.width, meta.height) == (346, 260)


def test_no_events_group(tmp_path):
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as f:
        f["other"] = np.arange(3)
    with pytest.raises(TraceFormatError, match="no events"):
        read_events(path)
    with h5py.File(path, "w") as f:
        for k in "txyp":
            f[f"events/{k}"] = np.arange(3)
    with pytest.raises(TraceError, match="sensor_size"):
        read_events(path)
    assert len(read_events(path, sensor_size=(4, 4))[0]) == 3


def test_damaged_files(tmp_path, synth, h):
    path = tmp_path / "c.h5"
    write_events(path, synth(2000, 320, 240), (320, 240), chunk_events=256)
    h.check_corruptions(tmp_path, path, "hdf5", 40, 20, seed=9)
