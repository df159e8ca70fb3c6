"""EVT 2.0 / 2.1 and the RAW header: round trips, bit-level fixtures, damaged files."""

import numpy as np
import pytest

from aersim.traces.errors import TraceFormatError
from aersim.traces.recordings.recording import read_events, write_events
from aersim.traces.schema import EVENT_DTYPE


def raw_file(path, words, header="% evt 2.0\n% geometry 64x32\n% end\n", dtype="<u4"):
    path.write_bytes(header.encode() + np.asarray(words, dtype=dtype).tobytes())
    return path


def cd2(p, t_lsb, x, y):
    return (p << 28) | (t_lsb << 22) | (x << 11) | y


@pytest.mark.parametrize(
    "fmt,opts",
    [("evt2", {}), ("evt21", {"endianness": "little"}), ("evt21", {"endianness": "legacy"})],
)
def test_roundtrip_synthetic(tmp_path, synth, fmt, opts, h):
    ev = synth(20_000, 640, 480)
    meta = h.roundtrip(tmp_path / "s.raw", ev, (640, 480), fmt, **opts)
    assert meta.format == fmt
    # Huge absolute times (epoch µs) survive through the header offset.
    ev["t"] += 1_605_537_493_718_345
    h.roundtrip(tmp_path / "e.raw", ev, (640, 480), fmt, **opts)


@pytest.mark.parametrize("key", ["nmnist", "aedat4", "evt3"])
@pytest.mark.parametrize("fmt", ["evt2", "evt21"])
def test_roundtrip_real(tmp_path, real_events, key, fmt, h):
    ev, meta = real_events(key)
    h.roundtrip(tmp_path / "r.raw", ev, (meta.width, meta.height), fmt)


def test_evt21_is_smaller_than_evt2_on_bursts(tmp_path, real_events):
    ev, meta = real_events("evt3")
    write_events(tmp_path / "a.raw", ev, (1280, 720), format="evt2")
    write_events(tmp_path / "b.raw", ev, (1280, 720), format="evt21")
    assert (tmp_path / "b.raw").stat().st_size < 2 * (tmp_path / "a.raw").stat().st_size


@pytest.mark.filterwarnings("ignore:.*invalid or undefined words")
def test_evt2_time_base_wrap_and_other_words(tmp_path):
    top = (1 << 28) - 1
    words = [
        cd2(1, 5, 1, 1),  # before any TIME_HIGH: no time base, dropped
        (0x8 << 28) | top,
        cd2(1, 63, 3, 4),
        (0xA << 28) | 1,
        (0xE << 28) | 0x14,
        (0xD << 28),
        (0xF << 28),
        (0x3 << 28),
        (0x8 << 28) | 2,
        cd2(0, 7, 5, 6),
    ]  # TIME_HIGH falls by the full range: a wrap
    ev, meta = read_events(raw_file(tmp_path / "w.raw", words))
    assert ev["t"].tolist() == [(top << 6) | 63, (1 << 34) + (2 << 6) + 7]
    assert ev["x"].tolist() == [3, 5] and ev["y"].tolist() == [4, 6] and ev["p"].tolist() == [1, 0]
    assert (meta.wraps, meta.triggers, meta.invalid_words) == (1, 1, 1)
    assert meta.skipped_words == 4  # the early CD word, OTHERS, IMU, CONTINUED


def test_evt2_small_time_high_regression_is_not_a_wrap(tmp_path):
    words = [(0x8 << 28) | 100, cd2(1, 0, 0, 0), (0x8 << 28) | 99, cd2(1, 0, 1, 0)]
    ev, meta = read_events(raw_file(tmp_path / "r.raw", words))
    assert ev["t"].tolist() == [6400, 6336] and meta.wraps == 0 and meta.regressions == 1


def evt21_word(typ, t_lsb, x_base, y, mask):
    return (typ << 60) | (t_lsb << 54) | (x_base << 43) | (y << 32) | mask


@pytest.mark.parametrize("order", ["little", "legacy"])
def test_evt21_byte_orders(tmp_path, order):
    # Prophesee's example: 0x0102030405060708 is 08..01 in little order,
    # 04 03 02 01 08 07 06 05 in legacy.
    value = 0x0102030405060708
    little = value.to_bytes(8, "little")
    legacy = little[4:] + little[:4]
    assert legacy == bytes([4, 3, 2, 1, 8, 7, 6, 5])
    words = [
        (0x8 << 60) | (10 << 32),
        evt21_word(1, 3, 32, 7, 0b1011 | (1 << 31)),
        evt21_word(0, 4, 0, 2, 1 << 5),
    ]
    blob = b"".join(w.to_bytes(8, "little") for w in words)
    if order == "legacy":
        blob = b"".join(blob[k + 4 : k + 8] + blob[k : k + 4] for k in range(0, len(blob), 8))
    header = f"% evt 2.1\n% format EVT21;height=16;width=64;endianness={order}\n% end\n"
    path = tmp_path / "v.raw"
    path.write_bytes(header.encode() + blob)
    ev, meta = read_events(path)
    assert ev["x"].tolist() == [32, 33, 35, 63, 5]
    assert ev["y"].tolist() == [7, 7, 7, 7, 2] and ev["p"].tolist() == [1, 1, 1, 1, 0]
    assert ev["t"].tolist() == [643] * 4 + [644]
    # Reading with the wrong byte order does not silently give the same events.
    other = "legacy" if order == "little" else "little"
    path.write_bytes(header.replace(order, other).encode() + blob)
    try:
        wrong, meta = read_events(path)
        assert not np.array_equal(wrong, ev)
    except TraceFormatError:
        pass


@pytest.mark.parametrize("system_id,size", [(21, (640, 480)), (48, (1280, 720)), (49, (1280, 720))])
def test_raw_header_geometry_from_system_id(tmp_path, system_id, size):
    path = raw_file(
        tmp_path / "g.raw",
        [(0x8 << 28) | 1, cd2(1, 0, 3, 3)],
        header=f"% Date 2020-01-01 00:00:00\n% evt 2.0\n% system_ID {system_id}\n",
    )
    ev, meta = read_events(path)
    assert (meta.width, meta.height) == size and len(ev) == 1


def test_raw_header_without_geometry_needs_sensor_size(tmp_path):
    path = raw_file(
        tmp_path / "n.raw", [(0x8 << 28) | 1, cd2(1, 0, 3, 3)], header="% evt 2.0\n% end\n"
    )
    with pytest.raises(TraceFormatError, match="sensor_size"):
        read_events(path)
    ev, meta = read_events(path, sensor_size=(10, 10))
    assert (meta.width, len(ev)) == (10, 1)


def test_out_of_range_and_truncated_words(tmp_path):
    path = raw_file(tmp_path / "o.raw", [(0x8 << 28) | 1, cd2(1, 0, 70, 3)])
    header_len = len("% evt 2.0\n% geometry 64x32\n% end\n")
    with pytest.raises(TraceFormatError, match=f"byte {header_len + 4}: found word with x=70"):
        read_events(path)
    path = raw_file(tmp_path / "t.raw", [(0x8 << 28) | 1, cd2(1, 0, 7, 3)])
    path.write_bytes(path.read_bytes() + b"\x01\x02")
    with pytest.raises(TraceFormatError, match=f"byte {header_len + 8}.*truncated"):
        read_events(path)


@pytest.mark.parametrize("fmt,word", [("evt2", 4), ("evt21", 8)])
def test_damaged_files(tmp_path, synth, fmt, word, h):
    ev = synth(1500, 640, 480)
    path = tmp_path / "c.raw"
    write_events(path, ev, (640, 480), format=fmt)
    header = path.read_bytes().index(b"% end\n") + 6
    out = h.check_corruptions(
        tmp_path,
        path,
        fmt,
        120,
        60,
        seed=1,
        boundary=lambda cut: cut <= header or (cut - header) % word == 0,
    )
    assert out["error"] > 0


def test_empty_body(tmp_path):
    ev, meta = read_events(raw_file(tmp_path / "e.raw", []))
    assert len(ev) == 0 and ev.dtype == EVENT_DTYPE
