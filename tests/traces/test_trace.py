"""The HDF5 trace: round trip of every field, older formats, bad paths, and an interrupted run."""

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from aersim.traces import TraceError, TraceFormatError, TraceWriter, read_trace
from aersim.traces.schema import LATENCY_DTYPE, LINK_DTYPE, MESSAGE_DTYPE


def test_round_trip(tmp_path):
    path = tmp_path / "t.h5"
    rng = np.random.default_rng(0)
    t = np.sort(rng.integers(0, 10**12, 200_000))
    n = rng.integers(0, 5000, 200_000).astype(np.int32)
    counts = rng.integers(0, 100, (16, 11))
    with TraceWriter(path, metadata={"seed": 3, "chip": "minimal"}) as w:
        for lo in range(0, t.size, 70_001):
            w.append_spikes(t[lo:lo + 70_001], n[lo:lo + 70_001])
        w.append_step_durations(np.arange(10, dtype=np.int64))
        w.write_array("run/core_of", np.arange(5000, dtype=np.int32) // 1024)
        w.write_counters(counts, [f"op{i}" for i in range(11)])
        w.write_energy(counts * 1e-12, [f"op{i}" for i in range(11)], static_j=1.5,
                       barrier_j=0.25, duration_ps=123)
        w.set_metadata(extra="x")
    tr = read_trace(path)
    assert tr.complete and tr.version == "1.1"
    assert np.array_equal(tr.spikes_t_ps, t) and np.array_equal(tr.spikes_neuron, n)
    assert np.array_equal(tr.counters, counts) and tr.counter_columns[3] == "op3"
    assert tr.energy["total_j"] == pytest.approx(counts.sum() * 1e-12 + 1.75)
    assert tr.metadata == {"seed": 3, "chip": "minimal", "extra": "x"}
    assert tr.step_duration_ps.tolist() == list(range(10))
    with h5py.File(path) as f:   # plain h5py sees compressed, chunked datasets
        assert f["spikes/t_ps"].compression == "gzip" and f["spikes/t_ps"].chunks
        assert f["spikes/t_ps"].shuffle
    assert tr.links is None and tr.messages is None and tr.latency is None


def link_columns(rng, n_tiles=6, n_ports=6):
    idx = np.arange(n_tiles * n_ports)
    cols = {"tile": idx // n_ports, "port": idx % n_ports}
    for name in LINK_DTYPE.names[2:]:
        cols[name] = rng.integers(0, 10**6, idx.size)
    return cols


def message_columns(rng, n):
    arrival = np.sort(rng.integers(0, 10**9, n))
    start = arrival + rng.integers(0, 10**4, n)
    return {"message": rng.integers(0, 5000, n), "src_core": rng.integers(0, 16, n),
            "dst_core": rng.integers(0, 16, n), "arrival_ps": arrival, "start_ps": start,
            "end_ps": start + rng.integers(1, 10**4, n), "send_ps": arrival - 5000,
            "hops": rng.integers(0, 7, n)}


def test_round_trip_of_links_messages_and_latency(tmp_path):
    rng = np.random.default_rng(1)
    links = link_columns(rng)
    msgs = message_columns(rng, 150_000)
    t_in = np.sort(rng.integers(0, 10**10, 500))
    lat = rng.integers(-1, 10**7, 500)
    alg = rng.integers(-1, 10**8, 500)
    path = tmp_path / "t.h5"
    with TraceWriter(path, chunk=4096) as w:
        w.write_links(links, duration_ps=10**9)
        for lo in range(0, 150_000, 40_000):
            part = {k: v[lo:lo + 40_000] for k, v in msgs.items()}
            w.append_messages(**part)
            w.flush()       # partial chunks are written and later completed
        w.append_messages(msgs["message"][:3], msgs["src_core"][:3], msgs["dst_core"][:3],
                          msgs["arrival_ps"][:3], msgs["start_ps"][:3], msgs["end_ps"][:3])
        w.write_latency(t_in, lat, alg)
    tr = read_trace(path)
    assert tr.links.dtype == LINK_DTYPE and tr.links_duration_ps == 10**9
    for name in LINK_DTYPE.names:
        assert np.array_equal(tr.links[name], links[name]), name
    m = tr.messages
    assert m.dtype == MESSAGE_DTYPE and m.size == 150_003
    for name, values in msgs.items():
        assert np.array_equal(m[name][:150_000], values), name
    assert np.array_equal(m["queue_ps"][:150_000], msgs["start_ps"] - msgs["arrival_ps"])
    assert np.all(m["send_ps"][150_000:] == -1) and np.all(m["hops"][150_000:] == -1)
    assert tr.latency.dtype == LATENCY_DTYPE
    assert np.array_equal(tr.latency["input_t_ps"], t_in)
    assert np.array_equal(tr.latency["latency_ps"], lat)
    assert np.array_equal(tr.latency["algorithmic_ps"], alg)


@pytest.mark.parametrize("options", [{"threads": 0}, {"compression": "lzf"},
                                     {"compression": "none"}, {"threads": 2, "chunk": 1000}])
def test_every_writer_option_reads_back_equal(tmp_path, options):
    rng = np.random.default_rng(2)
    t = np.sort(rng.integers(0, 10**12, 123_457))
    n = rng.integers(0, 5000, t.size).astype(np.int32)
    with TraceWriter(tmp_path / "o.h5", **options) as w:
        for lo in range(0, t.size, 30_000):
            w.append_spikes(t[lo:lo + 30_000], n[lo:lo + 30_000])
            if lo == 60_000:
                w.flush()
    tr = read_trace(tmp_path / "o.h5")
    assert np.array_equal(tr.spikes_t_ps, t) and np.array_equal(tr.spikes_neuron, n)


def test_format_1_0_trace_still_reads(tmp_path):
    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as f:     # the layout aersim wrote as format 1.0
        f.attrs.update(format="aersim-trace", version="1.0", complete=True,
                       created="2025-01-01T00:00:00")
        f.create_group("run").attrs["metadata"] = '{"seed": 1}'
        f["spikes/t_ps"] = np.arange(5, dtype=np.int64)
        f["spikes/neuron"] = np.arange(5, dtype=np.int32)
        f["steps/duration_ps"] = np.zeros(0, dtype=np.int64)
        f["latency/input_t_ps"] = np.array([10, 20], dtype=np.int64)
        f["latency/latency_ps"] = np.array([5, -1], dtype=np.int64)
    tr = read_trace(path)
    assert tr.version == "1.0" and tr.metadata == {"seed": 1}
    assert tr.spikes_neuron.tolist() == [0, 1, 2, 3, 4]
    assert tr.latency["latency_ps"].tolist() == [5, -1]
    assert tr.latency["algorithmic_ps"].tolist() == [-1, -1]
    assert tr.links is None and tr.messages is None
    with h5py.File(path, "a") as f:
        f.attrs["version"] = "2.0"
    with pytest.raises(TraceFormatError, match="format 2.0; this aersim reads 1.x"):
        read_trace(path)


def test_bad_new_columns(tmp_path):
    with TraceWriter(tmp_path / "b.h5") as w:
        with pytest.raises(TraceError, match="no column 'blocked_ps'"):
            w.write_links({k: np.zeros(3) for k in LINK_DTYPE.names[:-1]}, duration_ps=1)
        with pytest.raises(TraceError, match=r"shape \(3,\) like 'message'.*hops \(2,\)"):
            z = np.zeros(3, dtype=np.int64)
            w.append_messages(z, z, z, z, z, z, hops=np.zeros(2))
        with pytest.raises(TraceError, match="latency columns must be 1-D"):
            w.write_latency(np.zeros(3), np.zeros(2))
    with pytest.raises(TraceError, match="compression 'zstd' is not supported; use one of gzip"):
        TraceWriter(tmp_path / "c.h5", compression="zstd")


def test_bad_paths(tmp_path):
    with pytest.raises(TraceError, match="folder .*nowhere does not exist"):
        TraceWriter(tmp_path / "nowhere" / "t.h5")
    with pytest.raises(TraceError, match="does not exist"):
        read_trace(tmp_path / "missing.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    with pytest.raises(TraceFormatError, match="is not an HDF5 file"):
        read_trace(junk)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = 1
    with pytest.raises(TraceFormatError, match="not an aersim trace"):
        read_trace(other)


WRITER = """
import sys, time, numpy as np
from aersim.traces import TraceWriter
w = TraceWriter(sys.argv[1], flush_every_s=0.0)
for i in range(1000):
    w.append_spikes(np.arange(i * 100, (i + 1) * 100, dtype=np.int64),
                    np.zeros(100, dtype=np.int32))
    if i == 5:
        print("ready", flush=True)
    time.sleep(0.01)
"""


def test_killed_run_leaves_a_readable_incomplete_trace(tmp_path):
    path = tmp_path / "killed.h5"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    tr = read_trace(path)
    assert not tr.complete
    assert tr.spikes_t_ps.size >= 600 and tr.spikes_t_ps.size % 100 == 0
    assert np.array_equal(tr.spikes_t_ps, np.arange(tr.spikes_t_ps.size))
