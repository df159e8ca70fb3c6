"""AEDAT 2.0 (jAER): address conventions, header edge cases, round trips, damage."""

import numpy as np
import pytest

from aersim.traces.errors import TraceError, TraceFormatError
from aersim.traces.recordings.recording import read_events, write_events

DVS_HEADER = b"#!AER-DAT2.0\r\n# AEChip: ch.unizh.ini.jaer.chip.retina.DVS128\r\n"


def records(pairs):
    return np.asarray(pairs, dtype=">u4").tobytes()


def test_dvs128_convention_pinned(tmp_path):
    # x_raw 5, y_raw 7, raw polarity bit 1 (= OFF in jAER); then a special event; then an ON event.
    blob = records([[7 << 8 | 5 << 1 | 1, 100], [0x8000, 150], [0 << 8 | 0 << 1 | 0, 200]])
    path = tmp_path / "d.aedat"
    path.write_bytes(DVS_HEADER + blob)
    ev, meta = read_events(path)
    assert ev["x"].tolist() == [122, 127] and ev["y"].tolist() == [120, 127]
    assert ev["p"].tolist() == [0, 1] and ev["t"].tolist() == [100, 200]
    assert (meta.width, meta.height, meta.skipped_words) == (128, 128, 1)


def test_davis346_convention_and_other_samples(tmp_path):
    header = b"#!AER-DAT2.0\r\n# AEChip: eu.seebetter.ini.chips.davis.Davis346red\r\n"
    dvs = 10 << 22 | 20 << 12 | 1 << 11
    blob = records([[dvs, 5], [1 << 31 | 1 << 11, 6], [1 << 10, 7], [0, 8]])
    path = tmp_path / "v.aedat"
    path.write_bytes(header + blob)
    ev, meta = read_events(path)
    assert ev["x"].tolist() == [345 - 20, 345] and ev["y"].tolist() == [259 - 10, 259]
    assert ev["p"].tolist() == [1, 0] and meta.skipped_words == 2 and meta.camera == "davis346"


@pytest.mark.filterwarnings("ignore:.*invalid or undefined words")
def test_data_starting_with_hash_byte_and_wrap(tmp_path):
    # The first address starts with 0x23 ('#'): the header must end before it.
    first = 0x23008000  # DVS128 special event (bit 15) with junk high byte -> invalid, skipped
    blob = records([[first, 10], [3 << 1, 0xFFFFFF00], [4 << 1, 0x10]])
    path = tmp_path / "h.aedat"
    path.write_bytes(DVS_HEADER + blob)
    ev, meta = read_events(path)
    assert ev["x"].tolist() == [124, 123]
    assert ev["t"].tolist() == [0xFFFFFF00, (1 << 32) + 0x10]
    assert meta.wraps == 1 and meta.invalid_words == 1


@pytest.mark.parametrize("size", [(128, 128), (346, 260), (240, 180)])
def test_roundtrip_synthetic(tmp_path, synth, size, h):
    ev = synth(5000, *size)
    h.roundtrip(tmp_path / "s.aedat", ev, size, "aedat2")
    ev["t"] += 1 << 40
    h.roundtrip(tmp_path / "e.aedat", ev, size, "aedat2")


@pytest.mark.parametrize("key,size", [("nmnist", (128, 128)), ("aedat4", (346, 260))])
def test_roundtrip_real(tmp_path, real_events, key, size, h):
    ev, _ = real_events(key)
    h.roundtrip(tmp_path / "r.aedat", ev, size, "aedat2")


def test_writer_and_reader_errors(tmp_path, synth):
    with pytest.raises(TraceError, match="jAER chip"):
        write_events(tmp_path / "x.aedat", synth(10, 64, 64), (100, 100), format="aedat2")
    path = tmp_path / "u.aedat"
    path.write_bytes(b"#!AER-DAT2.0\r\n# AEChip: some.other.Chip\r\n" + records([[0, 1]]))
    with pytest.raises(TraceFormatError, match="chip="):
        read_events(path)
    assert len(read_events(path, chip="dvs128")[0]) == 1


def test_damaged_files(tmp_path, synth, h):
    path = tmp_path / "c.aedat"
    write_events(path, synth(1500, 346, 260), (346, 260), format="aedat2")
    data = path.read_bytes()
    header = data.index(b"Davis346red\r\n") + 13
    out = h.check_corruptions(
        tmp_path,
        path,
        "aedat2",
        120,
        60,
        seed=5,
        boundary=lambda cut: cut <= header or (cut - header) % 8 == 0,
    )
    assert out["error"] > 0
