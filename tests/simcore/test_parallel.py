"""A run partitioned over MPI ranks gives the one-process run bit for bit.

Each parallel run is a real ``mpiexec -n N`` in a subprocess (``tests.simcore.parallel_cases``),
compared with the same case run here in one process: spikes, counts per core and operation,
energy, step durations, the message log and probe samples, byte for byte. The trace of
``aersim run --ranks N`` is compared with the one-process trace dataset by dataset.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aersim.models import InputParams, LIFParams, Network
from aersim.simcore import ConfigError
from aersim.simcore.engine import partitioned
from aersim.simcore.engine.partition import split_cores, zero_delay_levels
from tests.simcore.helpers import assert_split_run_writes_the_one_process_trace, run_cli
from tests.simcore.parallel_cases import results_arrays, run_case

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 300


def _mpiexec():
    if importlib.util.find_spec("mpi4py") is None:
        return None
    from aersim.simcore.run.mpi import find_mpiexec
    try:
        return find_mpiexec()
    except ConfigError:
        return None


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(MPIEXEC is None, reason="mpi4py or mpiexec not installed "
                                                       "(pip install -e '.[mpi]')")


@pytest.fixture(scope="module")
def reference():
    """One-process results of every case, computed once."""
    return {}


def one_process(reference, case):
    if case not in reference:
        reference[case] = results_arrays(*run_case(case))
    return reference[case]


def run_ranks(case, n, tmp_path):
    out = tmp_path / f"{case}-{n}.npz"
    proc = subprocess.run([MPIEXEC, "-n", str(n), sys.executable, "-m",
                           "tests.simcore.parallel_cases", case, str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(np.load(out))


@needs_mpi
@pytest.mark.parametrize("case,n", [("brunel", 2), ("brunel", 3), ("brunel", 4),
                                    ("feedforward", 1), ("feedforward", 2),
                                    ("feedforward", 4), ("graded", 2), ("graded", 3),
                                    ("contention", 3), ("brunel-nolog", 2),
                                    ("brunel-nolog", 4), ("feedforward-nolog", 3),
                                    ("graded-nolog", 2), ("brunel-long", 2),
                                    ("brunel-inplace", 3), ("brunel-overflow", 2),
                                    ("graded-overflow", 3), ("contention-nolog", 2),
                                    ("contention-nolog", 3), ("concurrent-nolog", 2),
                                    ("concurrent", 3), ("system-nolog", 2),
                                    ("system-nolog", 3), ("noc", 2), ("noc-nolog", 3)])
def test_ranks_reproduce_one_process(reference, case, n, tmp_path):
    # Tables read in place, or a narrower exchange, give the runs of the plain case.
    ref = one_process(reference, case.replace("-inplace", "").replace("-overflow", ""))
    got = run_ranks(case, n, tmp_path)
    assert ref["spikes_t"].size > 100
    for key, want in ref.items():
        have = got[key]
        assert have.shape == want.shape and have.dtype == want.dtype, key
        assert have.tobytes() == want.tobytes(), f"{case} on {n} ranks: {key} differs"
    if n > 1:
        # The run really was split: every rank owned work; without the message log the
        # ranks also split the timeline (by step).
        assert got["work"].size == n and np.all(got["work"] > 0)
        assert bool(got["split"]) == case.endswith("-nolog")
    if case.startswith(("brunel", "noc", "concurrent")) and n > 1:
        assert int(got["lookahead"]) == 15           # 1.5 ms delays in 0.1 ms steps
    if case.endswith("-overflow"):
        assert int(got["cap"]) > 1                   # the overflow exchange ran, and grew
    if case == "brunel-long":
        assert ref["messages"].shape[0] > 1 << 16    # more than the log holds: drained
    if case.startswith("feedforward") and n > 1:
        assert got["levels"].size - 1 == 4          # input and three zero-delay layers


def _cli(args, cwd, check=True):
    return run_cli(args, cwd, check, TIMEOUT_S)


@needs_mpi
def test_cli_ranks_write_the_one_process_trace(tmp_path):
    assert_split_run_writes_the_one_process_trace(tmp_path, ["--ranks", "2"])


@needs_mpi
def test_too_many_ranks_is_one_clear_error(tmp_path):
    proc = _cli(["run", "random", "--mode", "timestep", "--duration", "0.01", "--out", "",
                 "--no-progress", "--ranks", "4"], tmp_path, check=False)
    # random: 220 neurons on 'minimal' fill fewer than 4 cores
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("aersim: error")]
    assert len(lines) == 1 and "at most" in lines[0] and "--ranks" in lines[0], proc.stderr


@needs_mpi
def test_async_over_ranks_is_refused(tmp_path):
    proc = _cli(["run", "random", "--mode", "async", "--duration", "0.01", "--out", "",
                 "--no-progress", "--ranks", "2"], tmp_path, check=False)
    assert proc.returncode == 2
    assert "async mode over several MPI ranks or threads is not supported yet" in proc.stderr


def test_missing_mpi_names_the_install(tmp_path):
    # A stand-in mpi4py that fails to import, as when the extra is not installed.
    fake = tmp_path / "site" / "mpi4py"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no MPI here')\n")
    proc = subprocess.run([sys.executable, "-m", "aersim.simcore.cli.main", "run", "random",
                           "--ranks", "2", "--out", ""], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120,
                          env={**__import__("os").environ, "PYTHONPATH": str(fake.parent)})
    assert proc.returncode == 2
    assert "pip install -e '.[mpi]'" in proc.stderr and "Traceback" not in proc.stderr


def test_split_cores_balances_contiguous_blocks():
    work = np.array([5, 0, 5, 5, 5, 0, 10, 10], dtype=np.int64)
    used = work > 0
    rank = split_cores(work, used, 2)
    assert rank.tolist() == [0, -1, 0, 0, 0, -1, 1, 1]
    rank = split_cores(work, used, 6)
    assert sorted(set(rank[used].tolist())) == list(range(6))
    assert np.all(np.diff(rank[used]) >= 0)
    with pytest.raises(ConfigError, match="at most 6"):
        split_cores(work, used, 7)


def test_zero_delay_levels_follow_the_feedforward_chain():
    net = Network()
    net.add_population("a", 3, InputParams())
    net.add_population("b", 4, LIFParams())
    net.add_population("c", 2, LIFParams())
    net.add_population("d", 5, LIFParams())
    net.connect("a", "b", [0], [0], 1.0, 0)
    net.connect("a", "c", [0], [0], 1.0, 0)      # c does not depend on b: same level as b
    net.connect("c", "d", [0], [0], 1.0, 0)
    net.connect("d", "b", [0], [0], 1.0, 10**9)  # delayed: no level boundary
    assert zero_delay_levels(net).tolist() == [0, 3, 9, 14]


@pytest.mark.parametrize("seed", range(6))
def test_merged_exchange_rows_are_in_one_process_order(seed):
    """The ranks' exchanged rows, each rank's in (step, id) order and partly in the overflow
    buffer, merge into the order of a sort by (step, id): ranks owning interleaved ids,
    ranks without spikes, rows beyond the shared capacity; their idle counts are summed."""
    rng = np.random.default_rng(seed)
    size, cap, n_cores = int(rng.integers(1, 5)), int(rng.integers(1, 6)), 3
    n_idle = int(rng.integers(0, 3))
    head = 1 + n_idle * n_cores
    owner = rng.integers(0, size, 60)
    lists, idle = [], rng.integers(0, 50, (size, 4, n_cores))
    for r in range(size):
        ids = np.flatnonzero(owner == r)
        fired = [(s, j) for s in range(4) for j in ids if rng.random() < 0.4]
        rows = np.array([[s, j, rng.random(), rng.integers(0, 99)] for s, j in fired],
                        dtype=np.float64).reshape(-1, 4)
        lists.append(rows)
    counts = np.array([len(rows) for rows in lists], dtype=np.int64)
    recv = np.full((size, head + 4 * cap), np.nan)
    more_at = np.concatenate(([0], np.cumsum(np.maximum(counts - cap, 0))))
    more = np.zeros((int(more_at[-1]), 4))
    for r, rows in enumerate(lists):
        partitioned.pack_rows(recv[r], rows, len(rows), idle[r], n_idle, cap)
        more[more_at[r]:more_at[r + 1]] = rows[cap:]
    idle_sum = np.full((4, n_cores), -1, dtype=np.int64)
    merged = partitioned.merge_rank_rows(recv, head, cap, more, more_at, idle_sum, n_idle)
    everything = np.concatenate(lists)
    expected = everything[np.lexsort((everything[:, 1], everything[:, 0]))]
    assert merged.tobytes() == expected.tobytes()
    assert (idle_sum[:n_idle] == idle.sum(axis=0)[:n_idle]).all()
    assert (idle_sum[n_idle:] == -1).all()
