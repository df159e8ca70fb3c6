"""A trace survives its run being killed at any moment, a full disk and a second writer: the file
opens with plain h5py, is marked incomplete, and holds everything up to its last flush."""

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from aersim.traces import TraceError, TraceWriter, read_trace
from aersim.traces.output.lock import lock_path

N_NEURONS = 1000

WRITER = textwrap.dedent("""
    import sys, time, numpy as np
    from aersim.simcore.run.signals import interrupt_on_signals
    from aersim.traces import TraceWriter

    path, compression = sys.argv[1], sys.argv[2]
    w = TraceWriter(path, {"network": "test"}, flush_every_s=0.03, compression=compression,
                    chunk=4096)
    print("ready", flush=True)
    w.describe(populations=[{"name": "all", "size": 1000}])
    w.write_array("run/core_of", np.arange(1000, dtype=np.int32) // 100)
    seen = w._last_flush
    n = 0
    try:
        with interrupt_on_signals():
            for i in range(100000):
                k = 1000 + (i * 7919) % 3000
                t = np.arange(n, n + k, dtype=np.int64)
                w.append_spikes(t, (t % 1000).astype(np.int32))
                w.append_step_durations(np.full(3, i, dtype=np.int64))
                n += k
                if w._last_flush > seen:   # append_spikes flushed: all n are on disk
                    seen = w._last_flush
                    print("flushed", n, flush=True)
                time.sleep(0.001)
    except KeyboardInterrupt:
        # Interrupted anywhere, even between the two columns of one append: whole spikes.
        n = min(c.base + c.fill for name, c in w._columns.items() if name.startswith("spikes"))
        w.close(complete=False)
        print("closed", n, flush=True)
        raise SystemExit(130)
    w.close()
""")


def run_and_kill(path: Path, sig: int, delay_s: float, compression: str = "gzip"):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), compression],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay_s)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    lines = out.split("\n")
    # Before "ready" the signal may land in Python's own start-up (imports).
    assert "Traceback" not in err or "ready" not in lines, err
    return proc.returncode, lines


def check_killed_trace(tmp_path, sig, delay_s, compression="gzip"):
    path = tmp_path / "t.h5"
    code, lines = run_and_kill(path, sig, delay_s, compression)
    assert code in (-sig, 130, 1), code
    if "ready" not in lines:
        # Killed before the writer existed: no file, or the complete-but-empty one.
        if not path.exists():
            return 0
    tr = read_trace(path)  # opens, checks ids against /run/core_of, trims a torn flush
    with h5py.File(path, "r") as f:  # plain h5py reads every dataset
        for name in ("spikes/t_ps", "spikes/neuron", "steps/duration_ps"):
            f[name][:]
    assert not tr.complete
    n = tr.spikes_t_ps.size
    assert np.array_equal(tr.spikes_t_ps, np.arange(n))
    assert np.array_equal(tr.spikes_neuron, np.arange(n) % N_NEURONS)
    flushed = [int(x.split()[1]) for x in lines if x.startswith("flushed")]
    if flushed:
        assert n >= flushed[-1], (n, flushed[-1])
    closed = [int(x.split()[1]) for x in lines if x.startswith("closed")]
    if closed:  # SIGINT/SIGTERM: closed cleanly with everything appended
        assert n == closed[0]
    assert not lock_path(path).exists() or sig == signal.SIGKILL
    assert not list(tmp_path.glob(".t.h5.*.tmp")) or sig == signal.SIGKILL
    return n


@pytest.mark.parametrize("sig,delay_s,compression", [
    (signal.SIGKILL, 0.05, "gzip"), (signal.SIGKILL, 1.2, "gzip"), (signal.SIGKILL, 0.9, "lzf"),
    (signal.SIGTERM, 1.0, "gzip"), (signal.SIGINT, 0.8, "none"),
])
def test_killed_writer_leaves_a_readable_incomplete_trace(tmp_path, sig, delay_s, compression):
    check_killed_trace(tmp_path, sig, delay_s, compression)


@pytest.mark.slow
@pytest.mark.parametrize("case", range(60))
def test_killed_writer_at_many_moments(tmp_path, case):
    rng = random.Random(case)
    sig = (signal.SIGKILL, signal.SIGKILL, signal.SIGTERM, signal.SIGINT)[case % 4]
    check_killed_trace(tmp_path, sig, rng.uniform(0.0, 2.0),
                       ("gzip", "lzf", "none")[case % 3])


AERSIM = str(Path(sys.executable).with_name("aersim"))


@pytest.mark.parametrize("sig,delay_s", [(signal.SIGKILL, 4.0), (signal.SIGTERM, 5.0)])
def test_killed_aersim_run_leaves_no_unreadable_trace(tmp_path, sig, delay_s):
    check_killed_run(tmp_path, sig, delay_s)


@pytest.mark.slow
@pytest.mark.parametrize("case", range(20))
def test_killed_aersim_run_at_many_moments(tmp_path, case):
    sig = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)[case % 3]
    check_killed_run(tmp_path, sig, random.Random(500 + case).uniform(1.0, 9.0))


def check_killed_run(tmp_path, sig, delay_s):
    proc = subprocess.Popen([AERSIM, "run", "brunel", "--duration", "5", "--out", "t.h5",
                             "--no-plots", "--no-progress"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        proc.wait(timeout=delay_s)
    except subprocess.TimeoutExpired:
        proc.send_signal(sig)
    proc.communicate(timeout=60)
    path = tmp_path / "t.h5"
    if path.exists():
        tr = read_trace(path)
        assert tr.complete == (proc.returncode == 0)


# ----------------------------------------------------------------------------------------------
# Second writer, full disk.

def test_discarded_trace_leaves_nothing(tmp_path):
    w = TraceWriter(tmp_path / "d.h5", {"command": "aersim run"})
    w.append_spikes(np.zeros(3, dtype=np.int64), np.zeros(3, dtype=np.int32))
    w.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_second_writer_of_one_path_is_refused(tmp_path):
    path = tmp_path / "a.h5"
    with TraceWriter(path):
        with pytest.raises(TraceError, match=r"a.h5 is being written by process \d+ .*\(lock "
                                             r"file .*a.h5.lock"):
            TraceWriter(path)
    assert not lock_path(path).exists()
    # A lock left by a killed process of this host is stale and taken over.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    lock_path(path).write_text(f"{os.uname().nodename} {dead}\n")
    with TraceWriter(path) as w:
        w.append_spikes(np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int32))
    assert read_trace(path).complete


FULL = textwrap.dedent("""
    import resource, signal, sys, numpy as np
    from aersim.traces import TraceError, TraceWriter
    path, limit = sys.argv[1], int(sys.argv[2])
    if limit:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    rng = np.random.default_rng(0)
    try:
        with TraceWriter(path, {"a": 1}, flush_every_s=0.0, chunk=8192) as w:
            for i in range(100000):
                w.append_spikes(np.arange(i * 5000, (i + 1) * 5000, dtype=np.int64),
                                rng.integers(0, 1000, 5000).astype(np.int32))
    except TraceError as exc:
        print("TraceError:", exc)
""")


def run_full(path: Path, limit: int):
    proc = subprocess.run([sys.executable, "-c", FULL, str(path), str(limit)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]   # no crash when HDF5 shuts down
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return proc.stdout


def test_file_size_limit_is_one_error_and_no_crash(tmp_path):
    """RLIMIT_FSIZE: the reserve cannot help (the limit is per file), so the file is removed or
    kept readable, and the message says which."""
    path = tmp_path / "f.h5"
    out = run_full(path, 3_000_000)
    assert "TraceError: writing trace" in out and "File too large" in out, out
    if "was removed" in out:
        assert not path.exists()
    else:
        assert "keeps the data up to this point" in out
        assert not read_trace(path).complete
    assert not lock_path(path).exists()


@pytest.fixture
def small_disk(tmp_path):
    """A 12 MiB tmpfs (needs root; skipped where mounting is not allowed)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(mnt)],
            capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small file system here")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)


def test_full_disk_keeps_a_readable_trace(small_disk):
    path = small_disk / "f.h5"
    out = run_full(path, 0)
    assert "No space left on device" in out and "keeps the data up to this point" in out, out
    tr = read_trace(path)
    assert not tr.complete and tr.spikes_t_ps.size > 0
    assert np.array_equal(tr.spikes_t_ps, np.arange(tr.spikes_t_ps.size))


def test_signal_during_a_flush_waits_for_its_end():
    from aersim.simcore.run.signals import Interrupted, interrupt_on_signals
    from aersim.traces.output.lock import signals_deferred

    events = []
    with interrupt_on_signals():
        with pytest.raises(Interrupted) as info:
            with signals_deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
                events.append("block done")
    assert events == ["block done"] and info.value.signum == signal.SIGTERM
    assert info.value.exit_code == 128 + signal.SIGTERM


def test_interrupt_dropped_by_a_finaliser_is_raised_again():
    """Python prints and drops an exception raised inside ``__del__``; the signal is sent again
    so that the run still stops."""
    from aersim.simcore.run.signals import Interrupted, interrupt_on_signals

    class Finaliser:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):   # the handler runs here, inside the finaliser
                pass

    with interrupt_on_signals():
        with pytest.raises(Interrupted):
            Finaliser()
            time.sleep(2)
