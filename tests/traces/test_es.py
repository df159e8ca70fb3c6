"""Event Stream (.es): round trips, hand-built DVS and ATIS bytes, damage."""

import pytest

from aersim.traces.errors import TraceError, TraceFormatError
from aersim.traces.recordings.recording import detect_format, read_events, write_events

HEAD_DVS = (
    b"Event Stream" + bytes([2, 0, 0, 1]) + (20).to_bytes(2, "little") + (10).to_bytes(2, "little")
)


def test_roundtrip_and_detection(tmp_path, synth, h):
    ev = synth(5000, 128, 128, regressions=False)
    path = tmp_path / "a.es"
    h.roundtrip(path, ev, (128, 128), "es")
    assert detect_format(path) == "es"
    assert read_events(path)[1].header == (("version", "2.0.0"), ("type", "DVS"))


def test_hand_built_dvs(tmp_path):
    # event at 5 µs (ON), overflow (+127), reset, event 3 µs later (OFF)
    body = bytes([5 << 1 | 1, 7, 0, 9, 0, 0xFF, 0xFE, 3 << 1, 19, 0, 0, 0])
    path = tmp_path / "d.es"
    path.write_bytes(HEAD_DVS + body)
    ev, meta = read_events(path)
    assert (meta.width, meta.height) == (20, 10)
    # rows count from the bottom in the file: y = height - 1 - y_file
    assert ev.tolist() == [(5, 7, 0, 1), (135, 19, 9, 0)]


def test_hand_built_atis_skips_threshold_crossings(tmp_path):
    head = HEAD_DVS[:15] + bytes([2]) + HEAD_DVS[16:]
    body = bytes(
        [
            4 << 2 | 1 << 1 | 0,
            1,
            0,
            2,
            0,  # DVS event at 4 µs, ON
            0b11111110,  # overflow 2 * 63
            1 << 2 | 0 << 1 | 1,
            3,
            0,
            3,
            0,  # threshold crossing: skipped
            0b11111100,  # reset
            2 << 2 | 0 << 1 | 0,
            5,
            0,
            6,
            0,  # DVS event, OFF
        ]
    )
    path = tmp_path / "a.es"
    path.write_bytes(head + body)
    ev, meta = read_events(path)
    assert ev.tolist() == [(4, 1, 7, 1), (4 + 126 + 1 + 2, 5, 3, 0)]
    assert meta.skipped_words == 1


@pytest.mark.parametrize(
    "blob,match",
    [
        (HEAD_DVS + bytes([2, 25, 0, 1, 0]), "x=25, expected x < width 20"),
        (HEAD_DVS + bytes([2, 1, 0, 1]), "byte 20: found an event cut by the end"),
        (HEAD_DVS[:12] + bytes([1, 0, 0, 1]) + HEAD_DVS[16:], "version 1.0.0"),
        (HEAD_DVS[:15] + bytes([4]) + HEAD_DVS[16:], "a color stream"),
        (HEAD_DVS[:16] + bytes(4), "sensor size 0x0"),
        (HEAD_DVS[:17], "byte 17: found end of file"),
    ],
)
def test_damage(tmp_path, blob, match):
    path = tmp_path / "x.es"
    path.write_bytes(blob)
    with pytest.raises(TraceFormatError, match=match):
        read_events(path, "es")


def test_writer_refuses_what_it_cannot_spell(tmp_path, synth):
    ev = synth(100, 64, 64)  # has regressions
    with pytest.raises(TraceError, match="never decrease"):
        write_events(tmp_path / "a.es", ev, (64, 64))
    ev = synth(100, 64, 64, regressions=False)
    ev["t"] += 1_600_000_000_000_000
    with pytest.raises(TraceError, match="re-base"):
        write_events(tmp_path / "a.es", ev, (64, 64))


def test_damaged_files(tmp_path, synth, h):
    path = tmp_path / "d.es"
    write_events(path, synth(500, 64, 64, t0=0, regressions=False), (64, 64))
    # a cut between events (or overflow bytes) leaves a valid shorter stream: cannot be seen
    data, pos, ends = path.read_bytes(), 20, {20}
    while pos < len(data):
        pos += 1 if data[pos] >= 0xFE else 5
        ends.add(pos)
    h.check_corruptions(tmp_path, path, "es", 60, 30, seed=5, boundary=ends.__contains__)
