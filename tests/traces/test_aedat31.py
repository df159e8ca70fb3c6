"""AEDAT 3.1 (DVS128 Gesture layout): packets, overflow, special events, round trips, damage."""

import numpy as np
import pytest

from aersim.traces.errors import TraceFormatError
from aersim.traces.recordings.aedat31 import packet_bytes
from aersim.traces.recordings.recording import open_events, read_events, write_events

HEADER = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n"


def polarity(x, y, p, ts, valid=1):
    return [x << 17 | y << 2 | p << 1 | valid, ts]


def special(kind, ts):
    return [kind << 1 | 1, ts]


def pk(etype, rows, overflow=0):
    return packet_bytes(etype, np.asarray(rows, dtype="<u4").astype("<u4"), overflow)


@pytest.mark.filterwarnings("ignore:.*invalid or undefined words")
def test_packets_overflow_invalid_reset_and_skips(tmp_path):
    frame = np.zeros(40, dtype=np.uint8)  # a FRAME packet (type 2) of one 40-byte event: skipped
    frame_packet = packet_bytes(2, frame, 0, event_size=40, ts_offset=4)
    blob = (
        pk(1, [polarity(1, 2, 1, 100), polarity(3, 4, 0, 200, valid=0)])
        + frame_packet
        + pk(1, [polarity(5, 6, 0, 7)], overflow=1)
        + pk(0, [special(0, 8), special(2, 9)], overflow=1)
        + pk(0, [special(1, 0)])  # TIMESTAMP_RESET: the camera clock restarts
        + pk(1, [polarity(7, 8, 1, 50)])
    )
    path = tmp_path / "g.aedat"
    path.write_bytes(HEADER + blob)
    ev, meta = read_events(path)
    assert (
        ev["x"].tolist() == [1, 5, 7]
        and ev["y"].tolist() == [2, 6, 8]
        and ev["p"].tolist() == [1, 0, 1]
    )
    assert ev["t"].tolist() == [100, (1 << 31) + 7, (1 << 31) + 7 + 50]
    assert (meta.invalid_words, meta.skipped_words, meta.wraps, meta.resets, meta.triggers) == (
        1,
        1,
        1,
        1,
        1,
    )
    assert meta.camera == "DVS128" and (meta.width, meta.height) == (128, 128)


def test_roundtrip_synthetic(tmp_path, synth, h):
    ev = synth(20_000, 128, 128)
    h.roundtrip(tmp_path / "s.aedat", ev, (128, 128), "aedat31")
    ev["t"] += 1_605_537_493_718_345  # epoch times: many overflow values
    h.roundtrip(tmp_path / "e.aedat", ev, (128, 128), "aedat31")
    h.roundtrip(
        tmp_path / "o.aedat", synth(500, 300, 200), (300, 200), "aedat31"
    )  # Generic-WxH source


@pytest.mark.parametrize("key", ["nmnist", "aedat4", "evt3"])
def test_roundtrip_real(tmp_path, real_events, key, h):
    ev, meta = real_events(key)
    h.roundtrip(tmp_path / "r.aedat", ev, (meta.width, meta.height), "aedat31")


def test_packets_straddle_small_blocks(tmp_path, synth):
    ev = synth(5000, 128, 128)
    path = tmp_path / "b.aedat"
    write_events(path, ev, (128, 128), format="aedat31", packet_events=700)
    got = np.concatenate(list(open_events(path, block_bytes=1000)))
    assert np.array_equal(got, ev)


def test_bad_and_truncated_packets(tmp_path):
    path = tmp_path / "t.aedat"
    good = pk(1, [polarity(1, 2, 1, 100)])
    path.write_bytes(HEADER + good + good[:-3])
    with pytest.raises(TraceFormatError, match=f"byte {len(HEADER) + len(good)}.*truncated"):
        read_events(path)
    bad = bytearray(good)
    bad[4] = 3  # event size 3 is impossible
    path.write_bytes(HEADER + good + bytes(bad))
    with pytest.raises(
        TraceFormatError, match=f"byte {len(HEADER) + len(good)}: found an impossible packet"
    ):
        read_events(path)
    path.write_bytes(HEADER[:-4])
    with pytest.raises(TraceFormatError, match="truncated"):
        read_events(path, "aedat31")


def test_damaged_files(tmp_path, synth, h):
    path = tmp_path / "c.aedat"
    write_events(path, synth(1500, 128, 128), (128, 128), format="aedat31", packet_events=200)
    header = len(HEADER)
    starts = {header + k * (28 + 200 * 8) for k in range(9)}
    out = h.check_corruptions(
        tmp_path,
        path,
        "aedat31",
        150,
        60,
        seed=6,
        boundary=lambda cut: cut in starts or cut < header,
    )
    assert out["error"] > 0
