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


# -- whole-file reads through the index, in batches of packets on threads ----------------------
@pytest.fixture
def indexed_path(monkeypatch):
    """Record whether each whole-file read took the indexed path (True) or scanned (False)."""
    from aersim.traces.recordings import aedat4

    taken = []
    read_indexed = aedat4.Aedat4Source._read_indexed

    def spy(self):
        out = read_indexed(self)
        taken.append(out is not None)
        return out

    monkeypatch.setattr(aedat4.Aedat4Source, "_read_indexed", spy)
    return taken


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("batch_bytes", [1, 9000, 1 << 20])
@pytest.mark.parametrize("compression", ["lz4", "zstd", "none"])
def test_whole_file_read_in_batches_gives_the_written_events(
    tmp_path, synth, monkeypatch, indexed_path, threads, batch_bytes, compression
):
    """Batches decoded independently (one packet each, a few, or all) join into the events
    written, and the regression count (which crosses batch cuts) is that of the events."""
    from aersim.traces.recordings import aedat4

    pytest.importorskip("lz4")
    pytest.importorskip("zstandard")
    ev = synth(20_000, 320, 240)
    starts = np.arange(500, 20_000, 500)
    ev["t"][starts] = ev["t"][starts - 1] - 3  # time goes back at every packet start
    path = tmp_path / "b.aedat4"
    write_events(path, ev, (320, 240), compression=compression, packet_events=500)
    monkeypatch.setattr(aedat4, "_BATCH_BYTES", batch_bytes)
    got, meta = read_events(path, threads=threads)
    assert indexed_path == [True]
    assert np.array_equal(got, ev)
    assert meta.regressions == np.count_nonzero(np.diff(ev["t"]) < 0) >= len(starts)
    assert (meta.skipped_words, meta.triggers) == (0, 0)


def _bump_index_count(path, row, by=1):
    """Add ``by`` to the element count of index row ``row`` of an uncompressed file."""
    src = Aedat4Source(path)
    r = src.read_index()[row]
    src.close()
    data = bytearray(path.read_bytes())
    key = struct.pack("<qiiq", r["offset"], r["stream"], r["size"], r["count"])
    at = data.index(key, src.table_pos)
    struct.pack_into("<q", data, at + 16, int(r["count"]) + by)
    path.write_bytes(bytes(data))


def test_an_index_count_its_packet_cannot_hold_is_a_damaged_index(tmp_path, synth):
    """Readers size their output from the index: a count of 2**40 events in a 16 kB packet is
    a damaged index (a warning, then the scan), not a 16 TB allocation."""
    ev = synth(5000, 320, 240)
    path = tmp_path / "huge.aedat4"
    write_events(path, ev, (320, 240), compression="none", packet_events=1000)
    _bump_index_count(path, 2, by=1 << 40)
    for threads in (1, 2):
        with pytest.warns(TraceWarning, match="more elements than their packets can hold"):
            got, _ = read_events(path, threads=threads)
        assert np.array_equal(got, ev)


def test_whole_file_read_scans_when_the_index_disagrees(tmp_path, synth, indexed_path):
    """An index count that does not match its packet is not trusted: the scan reads the file,
    as it always has for whole-file reads, with the same result."""
    ev = synth(5000, 320, 240)
    path = tmp_path / "d.aedat4"
    write_events(path, ev, (320, 240), compression="none", packet_events=1000)
    _bump_index_count(path, 3)
    got, meta = read_events(path, threads=2)
    assert indexed_path == [False]
    assert np.array_equal(got, ev)
    assert meta.regressions == np.count_nonzero(np.diff(ev["t"]) < 0)


@pytest.mark.parametrize("threads", [1, 2])
def test_whole_file_read_of_a_bad_packet_reports_like_the_scan(
    tmp_path, synth, monkeypatch, threads
):
    """A packet the indexed path cannot decode raises the scan's error, naming its offset."""
    from aersim.traces.recordings import aedat4

    ev = synth(5000, 320, 240)
    path = tmp_path / "x.aedat4"
    write_events(path, ev, (320, 240), compression="none", packet_events=1000)
    src = Aedat4Source(path)
    offset = int(src.read_index()["offset"][3])
    src.close()
    data = bytearray(path.read_bytes())
    vector = data.index(ev[3000:3001].astype(aedat4.AEDAT4_EVENT).tobytes()[:8], offset)
    struct.pack_into("<h", data, vector + 8, 999)  # x of the packet's first event
    path.write_bytes(bytes(data))
    monkeypatch.setattr(aedat4, "_BATCH_BYTES", 1)
    with pytest.raises(TraceFormatError) as indexed:
        read_events(path, threads=threads)
    monkeypatch.setattr(aedat4.Aedat4Source, "_read_indexed", lambda self: None)
    with pytest.raises(TraceFormatError) as scanned:
        read_events(path)
    assert str(indexed.value) == str(scanned.value)
    assert f"at byte {offset - 8}" in str(indexed.value) and "x=999" in str(indexed.value)


def test_threads_option(tmp_path, synth, monkeypatch):
    from aersim.traces.errors import TraceError
    from aersim.traces.recordings import aedat4

    path = tmp_path / "t.aedat4"
    write_events(path, synth(100, 320, 240), (320, 240))
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(TraceError, match="threads must be a positive int"):
            read_events(path, threads=bad)
    monkeypatch.setattr(aedat4.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert Aedat4Source(path).threads == 1  # one core: no helper thread
    monkeypatch.setattr(aedat4.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert Aedat4Source(path).threads == 2
    assert Aedat4Source(path, threads=3).threads == 3


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_run_batches_runs_each_batch_once_and_reraises(threads):
    from aersim.traces.recordings.aedat4 import _run_batches

    done = []
    _run_batches(done.append, 50, threads)
    assert sorted(done) == list(range(50))

    def fail_at_7(b):
        if b == 7:
            raise ValueError("batch 7")

    with pytest.raises(ValueError, match="batch 7"):
        _run_batches(fail_at_7, 50, threads)
