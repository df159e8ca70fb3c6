"""EVT 3.0: round trips, the stateful-word traps (wraps, backward TIME_LOW, vectors), damage."""

import numpy as np
import pytest

from aersim.traces.errors import TraceFormatError
from aersim.traces.recordings.recording import open_events, read_events, write_events

HEADER = "% evt 3.0\n% format EVT3;height=32;width=64\n% end\n"


def evt3_file(path, words, header=HEADER):
    path.write_bytes(header.encode() + np.asarray(words, dtype="<u2").tobytes())
    return path


def TH(v):  # noqa: N802 - word constructors named after the spec
    return 0x8000 | v


def TL(v):  # noqa: N802
    return 0x6000 | v


def Y(v):  # noqa: N802
    return v


def X(v, p=1):  # noqa: N802
    return 0x2000 | p << 11 | v


def test_roundtrip_synthetic_and_epoch(tmp_path, synth, h):
    ev = synth(20_000, 640, 480)
    h.roundtrip(tmp_path / "s.raw", ev, (640, 480), "evt3")
    ev["t"] += 1_605_537_493_718_345
    h.roundtrip(tmp_path / "e.raw", ev, (640, 480), "evt3")


def test_roundtrip_long_gaps_cross_24_bit_wraps(tmp_path, synth, h):
    ev = synth(3000, 640, 480, regressions=False)
    ev["t"][1500:] += 40_000_000  # a 40 s gap: several 2**24 µs periods
    meta = h.roundtrip(tmp_path / "g.raw", ev, (640, 480), "evt3")
    assert meta.wraps >= 2


@pytest.mark.parametrize("key", ["nmnist", "aedat4", "evt3"])
def test_roundtrip_real(tmp_path, real_events, key, h):
    ev, meta = real_events(key)
    h.roundtrip(tmp_path / "r.raw", ev, (meta.width, meta.height), "evt3")


def test_backward_time_low_is_kept_in_file_order(tmp_path):
    words = [TH(1), TL(100), Y(3), X(1), TL(96), X(2), TH(1), X(3), TH(2), X(4)]
    ev, meta = read_events(evt3_file(tmp_path / "b.raw", words))
    # TIME_HIGH repeated with the same value keeps TIME_LOW; a new value resets it to 0.
    assert ev["t"].tolist() == [4096 + 100, 4096 + 96, 4096 + 96, 8192]
    assert meta.regressions == 1 and meta.wraps == 0


def test_24_bit_wrap_and_events_before_time_high(tmp_path):
    words = [Y(1), X(5), TH(4095), TL(4095), X(6), TH(0), X(7), TH(2047), TH(4095), TH(1), X(8)]
    ev, meta = read_events(evt3_file(tmp_path / "w.raw", words))
    assert ev["x"].tolist() == [6, 7, 8]
    assert ev["t"].tolist() == [(1 << 24) - 1, 1 << 24, (2 << 24) + 4096]
    assert meta.wraps == 2 and meta.skipped_words == 1


@pytest.mark.filterwarnings("ignore:.*invalid or undefined words")
def test_vectors_truncated_groups_and_other_words(tmp_path):
    words = [
        TH(0),
        Y(9),
        0x3000 | 1 << 11 | 10,  # VECT_BASE_X at 10, ON
        0x4000 | 0b100000000001,  # x 10 and 21
        0xA000 | 0x101,
        0xE014,
        0xF123,
        0x7001,  # trigger, OTHERS + CONTINUED, CONTINUED_4
        0x5000 | 0b10000001,  # VECT_8 at base 22: x 22 and 29
        TH(1),  # a truncated group: the next word is a TIME_HIGH, not a VECT_8
        0x1005,
        X(3),  # type-0x1 row: the next X is not a CD event
        Y(4),
        X(2, 0),
        0x9000,
    ]
    ev, meta = read_events(evt3_file(tmp_path / "v.raw", words))
    assert ev["x"].tolist() == [10, 21, 22, 29, 2]
    assert ev["y"].tolist() == [9, 9, 9, 9, 4] and ev["p"].tolist() == [1, 1, 1, 1, 0]
    assert ev["t"].tolist() == [0, 0, 0, 0, 4096]
    assert (meta.triggers, meta.skipped_words, meta.invalid_words) == (1, 4, 1)


def test_state_carries_across_tiny_blocks(tmp_path, real_events, real_file, h):
    ev, _ = real_events("evt3")
    for block_bytes in (64, 2002):  # 32 words: vector groups and time words split everywhere
        got = np.concatenate(list(open_events(real_file("evt3"), block_bytes=block_bytes)))
        h.assert_same_events(got, ev)


def test_errors_name_the_byte(tmp_path):
    header = len(HEADER)
    with pytest.raises(TraceFormatError, match=f"byte {header + 4}: found word with y=40"):
        read_events(evt3_file(tmp_path / "y.raw", [TH(0), TL(1), Y(40)]))
    with pytest.raises(TraceFormatError, match=f"byte {header + 6}: found word with x=70"):
        read_events(evt3_file(tmp_path / "x.raw", [TH(0), TL(1), Y(4), X(70)]))
    path = evt3_file(tmp_path / "t.raw", [TH(0), Y(4), X(7)])
    path.write_bytes(path.read_bytes() + b"\x01")
    with pytest.raises(
        TraceFormatError, match=f"byte {header + 6}: found 1 trailing bytes.*truncated"
    ):
        read_events(path)


def test_writer_refuses_big_backward_steps(tmp_path, synth):
    ev = synth(10, 64, 32, regressions=False)
    ev["t"][5] = ev["t"][4] - 5_000_000
    with pytest.raises(Exception, match="back more than 4 s"):
        write_events(tmp_path / "b.raw", ev, (64, 32), format="evt3")


def test_damaged_files(tmp_path, real_file, synth, h):
    ev = synth(1500, 640, 480)
    path = tmp_path / "c.raw"
    write_events(path, ev, (640, 480), format="evt3")
    header = path.read_bytes().index(b"% end\n") + 6
    out = h.check_corruptions(
        tmp_path,
        path,
        "evt3",
        150,
        60,
        seed=2,
        boundary=lambda cut: cut <= header or (cut - header) % 2 == 0,
    )
    assert out["error"] > 0
