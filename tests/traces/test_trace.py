"""The HDF5 trace: round trip, bad paths, and an interrupted run."""

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from traces import TraceError, TraceFormatError, TraceWriter, read_trace


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
    assert tr.complete and tr.version == "1.0"
    assert np.array_equal(tr.spikes_t_ps, t) and np.array_equal(tr.spikes_neuron, n)
    assert np.array_equal(tr.counters, counts) and tr.counter_columns[3] == "op3"
    assert tr.energy["total_j"] == pytest.approx(counts.sum() * 1e-12 + 1.75)
    assert tr.metadata == {"seed": 3, "chip": "minimal", "extra": "x"}
    assert tr.step_duration_ps.tolist() == list(range(10))
    with h5py.File(path) as f:   # plain h5py sees compressed, chunked datasets
        assert f["spikes/t_ps"].compression == "gzip" and f["spikes/t_ps"].chunks


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
from traces import TraceWriter
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
