"""Sweeps interrupted at any moment lose no finished row and never pair a point with another
point's results: ``aersim sweep`` and its workers are killed (SIGINT, SIGTERM, SIGKILL) at
random moments, in HDF5 and Parquet, then resumed; the result must equal an uninterrupted sweep.
The row writers are also killed mid-append, far more often, without Dask."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from aersim.simcore.errors import ConfigError
from aersim.simcore.sweep.spec import load_spec

AERSIM = str(Path(sys.executable).with_name("aersim"))
SPEC = """\
base: {network: random, chip: minimal, duration_s: 0.005}
axes:
  run.seed: [0, 1, 2, 3, 4, 5]
"""
#: Columns that a rerun of the same point reproduces exactly.
EXACT = ("point_id", "run.seed", "spikes", "energy_total_j", "hardware_time_ps", "messages")


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def reference(client, tmp_path_factory):
    """The uninterrupted sweep, and the time the command takes."""
    from aersim.simcore.sweep.runner import sweep

    folder = tmp_path_factory.mktemp("ref")
    (folder / "s.yaml").write_text(SPEC)
    t0 = time.monotonic()
    proc = subprocess.run([AERSIM, "sweep", "s.yaml", "--out", "r.h5", "--workers", "2",
                           "--no-progress"], cwd=folder, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return sweep(load_spec(folder / "s.yaml"), client=client), time.monotonic() - t0


def kill_sweep_at(folder: Path, out: str, sig: int, delay_s: float) -> int:
    """Run ``aersim sweep`` in its own process group, send ``sig`` to the whole group (the
    command and its Dask workers) after ``delay_s``; return the command's exit status."""
    proc = subprocess.Popen([AERSIM, "sweep", "s.yaml", "--out", out, "--workers", "2",
                             "--no-progress"], cwd=folder, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        proc.wait(timeout=delay_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, sig)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        pytest.fail(f"aersim sweep did not end within 60 s of {signal.Signals(sig).name}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # workers that outlived their client
        except ProcessLookupError:
            pass
    # The command itself ends with a message, never a traceback (Dask's worker processes,
    # which got the signal too, may log their own).
    assert b"simcore/cli/main.py" not in err, err.decode()
    return proc.returncode


def assert_rows_belong_to_their_points(table, ref):
    by_id = {r["point_id"]: r for r in ref}
    for row in table:
        want = by_id[row["point_id"]]
        for col in EXACT:
            assert row[col] == want[col], (col, row["point_id"])


def _needs(fmt: str) -> None:
    if fmt == "parquet":
        pytest.importorskip("pyarrow", reason="Parquet sweep results need pyarrow (the sweep "
                                              "extra)")


def check_kill_and_resume(client, reference, tmp_path, sig, fmt, delay_s):
    from aersim.simcore.sweep.runner import read_sweep, sweep

    _needs(fmt)

    ref, _ = reference
    (tmp_path / "s.yaml").write_text(SPEC)
    out = tmp_path / f"r.{fmt}"
    code = kill_sweep_at(tmp_path, out.name, sig, delay_s)
    assert code in (0, 128 + sig, -sig, 130), code
    spec = load_spec(tmp_path / "s.yaml")
    done = set()
    if out.exists() and (fmt == "h5" or any(out.glob("part-*.parquet"))):
        partial = read_sweep(out)   # readable at every moment
        assert len(set(partial["point_id"])) == len(partial)
        assert_rows_belong_to_their_points(partial[partial["status"] == "ok"], ref)
        done = set(partial["point_id"][partial["status"] == "ok"])
    redone = []
    table = sweep(spec, client=client, out=out, resume=True, on_row=redone.append)
    assert sorted(r["point_id"] for r in redone) == sorted(set(spec.ids) - done)
    assert list(table["point_id"]) == list(spec.ids) and set(table["status"]) == {"ok"}
    assert_rows_belong_to_their_points(table, ref)
    stored = read_sweep(out)
    assert list(stored["point_id"]) == list(spec.ids)
    assert not (tmp_path / f"r.{fmt}.lock").exists()


@pytest.mark.parametrize("sig,fmt,fraction", [
    (signal.SIGINT, "h5", 0.6), (signal.SIGTERM, "parquet", 0.8), (signal.SIGKILL, "h5", 0.9),
])
def test_killed_sweep_resumes_to_the_uninterrupted_result(client, reference, tmp_path, sig, fmt,
                                                          fraction):
    check_kill_and_resume(client, reference, tmp_path, sig, fmt, fraction * reference[1])


@pytest.mark.slow
@pytest.mark.parametrize("case", range(54))
def test_killed_sweep_at_many_moments(client, reference, tmp_path, case):
    sig = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)[case % 3]
    fmt = ("h5", "parquet")[(case // 3) % 2]
    delay = random.Random(case).uniform(0.2, 1.1) * reference[1]
    check_kill_and_resume(client, reference, tmp_path, sig, fmt, delay)


# ----------------------------------------------------------------------------------------------
# The row writers alone, killed mid-append.

WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from aersim.simcore.sweep import table as T
    from aersim.simcore.sweep.spec import load_spec

    T.SNAPSHOT_EVERY_S = 0.02          # rewrite the HDF5 table often, to be killed inside it
    spec = load_spec({"base": {"network": "random"}, "axes": {"run.seed": list(range(400))}})
    out = Path(sys.argv[1])
    cols = T.table_columns(spec)
    make = T.ParquetWriter if T.is_parquet(out) else T.H5Writer
    w = make(out, cols, spec, append=out.exists())
    print("ready", flush=True)
    for i, pid in enumerate(spec.ids):
        row = {name: T.missing_value(kind) for name, kind in cols}
        row.update({"point": i, "point_id": pid, "run.seed": i, "spikes": 7 * i,
                    "energy_total_j": i / 3, "status": "ok", "worker": "w" * (i % 50)})
        w.append(row)
    w.close()
""")


def kill_writer(out: Path, delay_s: float) -> None:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out)], stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"ready\n"
    time.sleep(delay_s)
    proc.kill()
    proc.wait()


def check_writer_kill(tmp_path, fmt, delay_s):
    _needs(fmt)
    from aersim.simcore.sweep.runner import read_sweep

    out = tmp_path / f"w.{fmt}"
    kill_writer(out, delay_s)
    spec_ids = load_spec({"base": {"network": "random"},
                          "axes": {"run.seed": list(range(400))}}).ids
    table = read_sweep(out, latest=False)
    for row in table:   # every stored row is whole and is its own point's
        i = int(row["run.seed"])
        assert row["point_id"] == spec_ids[i] and row["spikes"] == 7 * i
        assert row["energy_total_j"] == i / 3 and row["worker"] == "w" * (i % 50)
    # Killed between a snapshot and the journal's truncation, rows repeat (identically); each
    # point once, they are a prefix of the points: nothing lost in between.
    latest = read_sweep(out)
    assert list(latest["run.seed"]) == list(range(len(latest)))
    return len(latest)


@pytest.mark.parametrize("fmt,delay_s", [("h5", 0.05), ("h5", 0.3), ("parquet", 0.2)])
def test_killed_writer_leaves_whole_rows(tmp_path, fmt, delay_s):
    check_writer_kill(tmp_path, fmt, delay_s)


@pytest.mark.slow
@pytest.mark.parametrize("case", range(100))
def test_killed_writer_at_many_moments(tmp_path, case):
    rng = random.Random(1000 + case)
    check_writer_kill(tmp_path, ("h5", "parquet")[case % 2], rng.uniform(0.0, 1.5))


# ----------------------------------------------------------------------------------------------
# What a resume refuses.

def test_resume_refuses_another_sweep_and_a_damaged_table(client, tmp_path):
    import h5py

    from aersim.simcore.sweep.runner import read_sweep, sweep

    out = tmp_path / "a.h5"
    base = {"network": "random", "chip": "minimal", "duration_s": 0.005}
    sweep({"base": base, "axes": {"run.seed": [0, 1]}}, client=client, out=out)
    other = dict(base, duration_s=0.006)
    with pytest.raises(ConfigError, match=r"a.h5 holds another sweep .* base run, axes or "
                                          r"reference differ"):
        sweep({"base": other, "axes": {"run.seed": [0, 1]}}, client=client, out=out,
              resume=True)
    # A format-1 table whose columns a kill left at unequal lengths is refused, not guessed.
    with h5py.File(out, "a") as f:
        ds = f["sweep/rows/spikes"]
        ds.resize((ds.shape[0] + 1,))
    with pytest.raises(ConfigError, match=r"columns have unequal lengths \(2 to 3 rows\)"):
        read_sweep(out)


def test_second_sweep_on_one_result_is_refused(tmp_path):
    from aersim.simcore.sweep.runner import sweep
    from aersim.traces.output.lock import OutputLock

    out = tmp_path / "busy.h5"
    with OutputLock(out):
        # The lock's owner (this process) is alive: refused before any cluster starts.
        with pytest.raises(ConfigError, match=r"busy.h5 is being written by process \d+"):
            sweep({"base": {"network": "random"}, "axes": {"run.seed": [0]}}, out=out)


def test_unreachable_scheduler_fails_fast_with_a_clear_message(tmp_path):
    pytest.importorskip("distributed")
    from aersim.simcore.sweep.runner import sweep

    t0 = time.monotonic()
    with pytest.raises(ConfigError, match=r"cannot reach the Dask scheduler at "
                                          r"'tcp://127.0.0.1:9' within 2 s"):
        sweep({"base": {"network": "random"}, "axes": {"run.seed": [0]}},
              scheduler="tcp://127.0.0.1:9", scheduler_timeout_s=2)
    assert time.monotonic() - t0 < 20


def test_full_disk_is_one_error_and_keeps_stored_rows(tmp_path):
    """RLIMIT_FSIZE stands in for a full disk: the writer's next write fails."""
    script = WRITER.replace("T.SNAPSHOT_EVERY_S = 0.02", "T.SNAPSHOT_EVERY_S = 1e9") + \
        "\n"
    script = script.replace("w = make(", "import resource, signal\n"
                            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
                            "w = make(").replace(
        'print("ready", flush=True)',
        'print("ready", flush=True)\nresource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))')
    script = script.replace("    w.append(row)",
                            "    try:\n        w.append(row)\n"
                            "    except OSError as exc:\n"
                            "        print('oserror', exc.errno); break")
    out = tmp_path / "full.h5"
    proc = subprocess.run([sys.executable, "-c", script, str(out)], capture_output=True,
                          text=True, timeout=120)
    assert "oserror 27" in proc.stdout or "oserror 28" in proc.stdout, proc.stdout + proc.stderr
    from aersim.simcore.sweep.runner import read_sweep

    table = read_sweep(out)
    assert len(table) > 0 and list(table["run.seed"]) == list(range(len(table)))
    assert np.all(table["spikes"] == 7 * table["run.seed"])
