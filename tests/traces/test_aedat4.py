"""AEDAT 4.0: round trips with each compression, index seek, triggers, damaged files."""

import struct

import numpy as np
import pytest

from aersim.traces.errors import TraceFormatError, TraceWarning
from aersim.traces.recordings.aedat4 import Aedat4Source, _vector_packet
from aersim.traces.recordings.recording import open_events, read_events, write_events
from aersim.traces.recordings.recording_base import RecordingMeta


@pytest.mark.parametrize("compression", ["lz4", "zstd", "none"])
def test_roundtrip_synthetic(tmp_path, synth, compression, h):
    pytest.importorskip("lz4")
    pytest.importorskip("zstandard")
    ev = synth(10_000, 320, 240)
    ev["t"] += 1_600_000_000_000_000
    meta = h.roundtrip(tmp_path / "s.aedat4", ev, (320, 240), "aedat4", compression=compression)
    assert meta.header_value("compression") == compression


@pytest.mark.parametrize("key", ["nmnist", "aedat4", "evt3"])
def test_roundtrip_real(tmp_path, real_events, key, h):
    ev, meta = real_events(key)
    h.roundtrip(tmp_path / "r.aedat4", ev, meta, "aedat4")


def test_index_seek_on_written_file(tmp_path, synth):
    ev = synth(20_000, 320, 240, regressions=False)
    path = tmp_path / "i.aedat4"
    write_events(path, ev, (320, 240), packet_events=500)
    src = Aedat4Source(path)
    index = src.read_index()
    assert len(index) == 40 and int(index["count"].sum()) == 20_000
    lo, hi = int(ev["t"][7000]), int(ev["t"][9000])
    packets = list(src.blocks(lo, hi))
    assert len(packets) <= 6  # only the packets overlapping the window are decoded
    got = np.concatenate(list(open_events(path, t_start=lo, t_stop=hi)))
    assert np.array_equal(got, ev[(ev["t"] >= lo) & (ev["t"] < hi)])


def test_triggers_exposed(tmp_path, synth):
    """A hand-built trigger packet (stream 1, TRIG) is returned by ``triggers()``."""
    ev = synth(100, 320, 240)
    path = tmp_path / "t.aedat4"
    write_events(path, ev, (320, 240), compression="none")
    src = Aedat4Source(path)
    data = bytearray(path.read_bytes())
    # Declare a TRIG stream in the XML and append a trigger packet before the index table.
    xml_old = b"</node></node></dv>"
    xml_new = (
        b'</node></node><node name="1" path="/mainloop/Recorder/outInfo/1/">'
        b'<attr key="typeIdentifier" type="string">TRIG</attr></node></dv>'
    )
    trig = np.zeros(2, dtype=[("t", "<i8"), ("source", "i1"), ("pad", "V7")])
    trig["t"] = [10, 20]
    trig["source"] = [2, 3]
    packet = _vector_packet(b"TRIG", trig.tobytes(), 2)
    body = data[: src.table_pos] + struct.pack("<iI", 1, len(packet)) + packet
    src.close()
    header_len = struct.unpack_from("<I", data, 14)[0]
    header = bytes(data[18 : 18 + header_len]).replace(xml_old, xml_new)
    # Rebuild header with the new XML and no index (position -1): packets are scanned.
    from aersim.traces.recordings.aedat4 import _io_header

    xml = header[header.index(b"<dv") : header.rindex(b"</dv>") + 5].decode()
    new_header = _io_header(0, -1, xml)
    blob = body[:14] + struct.pack("<I", len(new_header)) + new_header + body[18 + header_len :]
    path.write_bytes(blob)
    reader = open_events(path)
    trig_got = reader.triggers()
    assert trig_got["t"].tolist() == [10, 20] and trig_got["source"].tolist() == [2, 3]
    events = reader.read_all()
    assert np.array_equal(events, ev) and reader.meta.triggers == 1


def test_unclosed_recording_warns_on_partial_packet(tmp_path, synth):
    from aersim.traces.recordings.aedat4 import _io_header

    ev = synth(3000, 320, 240)
    path = tmp_path / "u.aedat4"
    write_events(path, ev, (320, 240), compression="none", packet_events=1000)
    src = Aedat4Source(path)
    data = path.read_bytes()
    index = src.read_index()
    cut = int(index["offset"][2]) + 100  # inside the third packet
    xml = data[data.index(b"<dv") : data.rindex(b"</dv>") + 5].decode()
    header = _io_header(0, -1, xml)
    hlen = struct.unpack_from("<I", data, 14)[0]
    path.write_bytes(data[:14] + struct.pack("<I", len(header)) + header + data[18 + hlen : cut])
    with pytest.warns(TraceWarning, match="not closed cleanly"):
        got, _ = read_events(path)
    assert np.array_equal(got, ev[:2000])


def test_missing_sensor_size_and_bad_magic(tmp_path):
    path = tmp_path / "m.aedat4"
    path.write_bytes(b"#!AER-DAT4.1\r\n" + b"\0" * 20)
    with pytest.raises(TraceFormatError, match="byte 0"):
        read_events(path, "aedat4")


def test_damaged_files(tmp_path, synth, h):
    pytest.importorskip("lz4")
    ev = synth(1500, 320, 240)
    path = tmp_path / "c.aedat4"
    write_events(path, ev, RecordingMeta(width=320, height=240, format="aedat4"), packet_events=300)
    out = h.check_corruptions(tmp_path, path, "aedat4", 150, 60, seed=4)
    assert out["error"] > 0
