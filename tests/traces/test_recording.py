"""Real recordings decode to the documented summaries; detection, chunking and windows."""

import warnings

import numpy as np
import pytest

from aersim.traces.errors import TraceError, TraceFormatError, TraceWarning
from aersim.traces.recordings.recording import detect_format, open_events, read_events, write_events
from aersim.traces.recordings.recording_base import RecordingMeta


def test_nmnist_real_summary(real_events):
    ev, meta = real_events("nmnist")
    assert len(ev) == 4325
    assert ev["x"].min() == 0 and ev["x"].max() == 33 and ev["y"].min() == 0 and ev["y"].max() == 33
    assert ev["t"].min() == 654 and ev["t"].max() == 311_175
    assert int(ev["p"].sum()) == 2145
    assert np.all(np.diff(ev["t"]) >= 0)
    assert (meta.width, meta.height, meta.format) == (34, 34, "nmnist")


def test_aedat4_real_summary(real_events):
    ev, meta = real_events("aedat4")
    assert len(ev) == 111_954
    assert (
        ev["t"].min() == 1_605_537_493_718_345 and ev["t"].max() == 1_605_537_493_718_345 + 589_917
    )
    assert (
        ev["x"].max() == 319 and ev["y"].max() == 239 and ev["x"].min() == 0 and ev["y"].min() == 0
    )
    assert (meta.width, meta.height, meta.camera) == (320, 240, "DVXplorer_DXB00010")
    assert meta.header_value("compression") == "lz4"
    assert [meta.header_value(f"stream{k}") for k in (0, 2, 3)] == ["EVTS", "IMUS", "TRIG"]


def test_aedat4_real_index_and_triggers(real_file):
    from aersim.traces.recordings.aedat4 import Aedat4Source

    src = Aedat4Source(real_file("aedat4"))
    assert src.table_pos == 945_243
    index = src.read_index()
    assert int(index["count"][index["stream"] == 0].sum()) == 111_954
    assert len(src.triggers()) == 0  # the trigger stream is declared but empty
    src.close()


def test_evt3_real_summary(real_events):
    ev, meta = real_events("evt3")
    assert len(ev) == 219_596
    assert ev["t"].min() == 11_718_656 and ev["t"].max() == 11_727_457
    assert ev["x"].max() == 1279 and ev["y"].max() == 719
    assert int(ev["p"].sum()) == 115_532
    assert (meta.width, meta.height, meta.format) == (1280, 720, "evt3")
    assert meta.wraps == 0 and meta.invalid_words == 0
    # Backward TIME_LOW words never precede an event here, so the stream is monotonic.
    assert meta.regressions == 0 and np.all(np.diff(ev["t"]) >= 0)


def test_evt3_real_time_words(real_file):
    """551 TIME_HIGH words and 9 backward TIME_LOW steps (OpenEB semantics), by plain Python."""
    raw = real_file("evt3").read_bytes()
    words = np.frombuffer(raw[raw.index(b"% system_ID 48\n") + 15 :], dtype="<u2")
    kinds = words >> 12
    assert int(np.count_nonzero(kinds == 8)) == 551
    # The time seen by a TIME_LOW word is high << 12 | low (a new TIME_HIGH resets low to 0,
    # which cannot make a TIME_LOW step go back), so only consecutive TIME_LOW words matter.
    high, prev, back = -1, -1, 0
    for w in words[(kinds == 6) | (kinds == 8)].tolist():
        if w >> 12 == 8:
            high = w & 0xFFF
        else:
            t = high << 12 | (w & 0xFFF)
            back += t < prev
            prev = t
    assert back == 9


@pytest.mark.parametrize("key", ["nmnist", "aedat4", "evt3"])
def test_streaming_matches_whole_read(key, real_events, real_file):
    ev, _ = real_events(key)
    fmt = detect_format(real_file(key))
    # Tiny blocks force decoder state across many block boundaries (EVT3 vector groups split).
    opts = {"block_bytes": 4096} if key != "aedat4" else {}
    chunks = list(open_events(real_file(key), fmt, chunk_events=10_000, **opts))
    assert all(len(c) == 10_000 for c in chunks[:-1])
    assert np.array_equal(np.concatenate(chunks), ev)


def test_time_window_iteration(real_events, real_file):
    ev, _ = real_events("evt3")
    windows = list(open_events(real_file("evt3"), window_us=1000, block_bytes=8192))
    assert np.array_equal(np.concatenate(windows), ev)
    t0 = ev["t"][0]
    for k, w in enumerate(windows):
        assert np.all((w["t"] - t0) // 1000 == k)


def test_aedat4_time_seek_uses_index(real_events, real_file):
    ev, _ = real_events("aedat4")
    lo = int(ev["t"][0]) + 200_000
    hi = lo + 50_000
    got, _ = read_events(real_file("aedat4"), t_start=lo, t_stop=hi)
    assert np.array_equal(got, ev[(ev["t"] >= lo) & (ev["t"] < hi)])


def test_reader_is_reiterable_and_meta_counts(tmp_path, synth):
    ev = synth()
    path = tmp_path / "a.raw"
    write_events(path, ev, (128, 128), format="evt2")
    reader = open_events(path)
    first, second = reader.read_all(), reader.read_all()
    assert np.array_equal(first, second) and np.array_equal(first, ev)
    assert reader.meta.regressions == int(np.count_nonzero(np.diff(ev["t"]) < 0))


def test_detection_and_override(tmp_path, synth):
    ev = synth(200)
    for fmt, name in [
        ("aedat2", "a.aedat"),
        ("aedat31", "b.aedat"),
        ("aedat4", "c.aedat4"),
        ("evt2", "d.raw"),
        ("evt21", "e.raw"),
        ("evt3", "f.raw"),
        ("dat", "g.dat"),
        ("csv", "h.csv"),
        ("npy", "i.npy"),
        ("npz", "j.npz"),
        ("hdf5", "k.h5"),
    ]:
        path = tmp_path / name
        write_events(path, ev, (128, 128), format=fmt)
        expected = "raw" if fmt.startswith("evt") else fmt
        assert detect_format(path) == expected
        # Detection ignores the extension: renamed files are still recognised.
        odd = tmp_path / (name + ".data")
        odd.write_bytes(path.read_bytes())
        assert detect_format(odd) == expected
    odd = tmp_path / "x.unknown"
    odd.write_bytes(bytes(range(7)) * 10)
    with pytest.raises(TraceFormatError, match="pass format="):
        detect_format(odd)
    with pytest.raises(TraceError, match="supported: .*aedat4"):
        open_events(tmp_path / "d.raw", format="nope")
    # Explicit override: an EVT 3.0 stream read as EVT 2.0 is garbage: an error or a warning.
    with pytest.warns(TraceWarning, match="undefined"):
        try:
            read_events(tmp_path / "f.raw", format="evt2")
        except TraceFormatError:
            warnings.warn("undefined type", TraceWarning, stacklevel=1)


def test_write_events_checks_input(tmp_path, synth):
    ev = synth(100)
    with pytest.raises(TraceError, match="EVENT_DTYPE"):
        write_events(tmp_path / "a.raw", ev[["t", "x"]], (128, 128))
    with pytest.raises(TraceError, match="crop"):
        write_events(tmp_path / "a.raw", ev, (64, 64))
    with pytest.raises(TraceError, match="extension"):
        write_events(tmp_path / "a.zzz", ev, (128, 128))
    meta = RecordingMeta(width=128, height=128, format="x", camera="cam7")
    write_events(tmp_path / "a.aedat4", ev, meta)
    assert read_events(tmp_path / "a.aedat4")[1].camera == "cam7"


def test_import_is_lazy():
    import subprocess
    import sys

    code = "import sys, aersim.traces.recordings.recording; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize("fmt", ["evt3", "evt21", "aedat31", "nmnist"])
def test_memory_is_bounded_by_block_and_buffer_sizes(tmp_path, synth, fmt):
    ev = synth(60_000, 128, 128)
    path = tmp_path / f"m.{fmt}"
    write_events(
        path, ev, (128, 128), format=fmt, **({"packet_events": 500} if fmt == "aedat31" else {})
    )
    opts = {"block_bytes": 8192, "out_events": 2000, "sensor_size": (128, 128)}
    sizes = [len(c) for c in open_events(path, fmt, **opts)]
    assert sum(sizes) == len(ev) and len(sizes) > 10
    # A block of 8 KiB never yields more events than its bytes allow (plus, for AEDAT 3.1, the
    # carried-over part of a packet), nor more than the output buffer.
    limit = {"evt3": 2000, "evt21": 2000, "aedat31": 8192 // 8 + 500, "nmnist": 8192 // 5}[fmt]
    assert max(sizes) <= limit


def test_time_policies(tmp_path, synth):
    ev = synth(5000, 128, 128)
    path = tmp_path / "p.raw"
    write_events(path, ev, (128, 128), format="evt3")
    running = np.maximum.accumulate(ev["t"])
    assert np.count_nonzero(ev["t"] < running) > 0
    kept, meta = read_events(path, block_bytes=512)
    assert np.array_equal(kept, ev) and meta.regressions == np.count_nonzero(np.diff(ev["t"]) < 0)
    clamped, _ = read_events(path, time_policy="clamp", block_bytes=512)
    assert np.array_equal(clamped["t"], running) and np.array_equal(clamped["x"], ev["x"])
    dropped, _ = read_events(path, time_policy="drop", block_bytes=512)
    assert np.array_equal(dropped, ev[ev["t"] >= running])
    with pytest.raises(TraceError, match="time_policy"):
        open_events(path, time_policy="sort")
