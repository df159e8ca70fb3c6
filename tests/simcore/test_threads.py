"""A run partitioned over threads of one process gives the one-thread run bit for bit.

The thread communicator's collectives are checked against what MPI defines them to return;
every parallel case runs on 2 and 3 threads here and is compared with the one-process run
byte for byte (spikes, counts, energy, step durations, message log, probes); ``aersim run
--threads 2`` writes the one-thread trace.
"""

import dataclasses
import threading

import numpy as np
import pytest

from aersim.models import InputParams, LIFParams, Network
from aersim.simcore import ConfigError, RunConfig, Simulation, SpikeTrains
from aersim.simcore.run.threads import THREAD_MPI, run_threads
from tests.simcore.helpers import (
    assert_split_run_writes_the_one_process_trace,
    run_cli,
    small_core_chip,
)
from tests.simcore.parallel_cases import results_arrays, run_case


def test_collectives_return_what_mpi_defines():
    def body(comm):
        r, n = comm.Get_rank(), comm.Get_size()
        got = {"allgather": comm.allgather(("x", r)), "bcast": comm.bcast(r * 10 + 7, root=1)}
        recv = np.zeros((n, 3))
        comm.Allgather(np.full(3, r + 0.5), recv)
        got["Allgather"] = recv
        counts = np.array([2 * (q + 1) for q in range(n)])      # rank q sends q + 1 rows of 2
        displ = np.concatenate(([0], np.cumsum(counts)[:-1]))
        more = np.zeros((int(counts.sum()) // 2, 2))
        comm.Allgatherv(np.full((r + 1, 2), float(r)), [more, counts, displ, THREAD_MPI.DOUBLE])
        got["Allgatherv"] = more
        for op in ("MAX", "SUM"):
            buf = np.array([r, 10 - r, r * r], dtype=np.int64)
            comm.Allreduce(THREAD_MPI.IN_PLACE, buf, op=getattr(THREAD_MPI, op))
            got[op] = buf
        comm.Barrier()
        return got

    n = 3
    for r, got in enumerate(run_threads(n, body)):
        assert got["allgather"] == [("x", q) for q in range(n)], r
        assert got["bcast"] == 17
        assert np.array_equal(got["Allgather"], np.repeat(np.arange(n)[:, None] + 0.5, 3, 1))
        assert np.array_equal(got["Allgatherv"],
                              np.concatenate([np.full((q + 1, 2), float(q)) for q in range(n)]))
        assert got["MAX"].tolist() == [2, 10, 4] and got["SUM"].tolist() == [3, 27, 5]


def test_a_failing_thread_releases_the_others_and_its_error_is_raised():
    entered = threading.Event()

    def body(comm):
        if comm.Get_rank() == 1:
            entered.wait(5)
            raise ConfigError("rank 1 cannot build its share")
        entered.set()
        comm.Barrier()      # would wait for ever without the abort
        return "unreachable"

    with pytest.raises(ConfigError, match="rank 1 cannot build its share"):
        run_threads(2, body)


@pytest.mark.parametrize("case,n", [("brunel", 2), ("brunel", 3), ("feedforward", 2),
                                    ("feedforward", 3), ("graded", 2), ("contention", 2),
                                    ("brunel-nolog", 2), ("feedforward-nolog", 3),
                                    ("brunel-long", 2), ("noc-nolog", 2),
                                    ("contention-nolog", 3), ("system-nolog", 2),
                                    ("concurrent-nolog", 2), ("ffidle-nolog", 3),
                                    ("ffconcurrent-nolog", 2), ("brunel-early", 2),
                                    ("feedforward-early", 3)])
def test_threads_reproduce_one_process(case, n):
    want = results_arrays(*run_case(case.replace("-early", "-nolog")))
    outcomes = run_threads(n, lambda comm: run_case(case, comm))
    assert want["spikes_t"].size > 100
    for res, sim in outcomes:     # every thread holds the whole run's results
        assert sim.parallel is not None and sim.parallel.size == n
        for key, value in results_arrays(res, sim).items():
            assert value.dtype == want[key].dtype and value.shape == want[key].shape, key
            assert value.tobytes() == want[key].tobytes(), f"{case} on {n} threads: {key}"


def test_a_rank_grows_the_queue_for_a_contended_step():
    # 600 input spikes at once, each to about 19 cores: some 11,000 packets in one step, more
    # than the event queue starts with; the rank that runs the step's timeline must grow it
    # first, as one process does.
    rng = np.random.default_rng(1)
    net = Network()
    net.add_population("input", 600, InputParams())
    net.add_population("L1", 600, LIFParams(tau_s=0.01, v_th=1.0))
    pre, post = np.nonzero(rng.random((600, 600)) < 0.5)
    net.connect("input", "L1", pre, post, rng.normal(0.1, 0.05, pre.size), 1_000_000_000)
    net.inputs, net.outputs = ["input"], ["L1"]
    chip = small_core_chip(32, "loihi_like")
    chip = dataclasses.replace(chip, noc=dataclasses.replace(chip.noc, contention=True))
    inputs = [SpikeTrains("input", np.zeros(600, np.int64), np.arange(600))]

    def run(comm=None):
        sim = Simulation(net, chip, config=RunConfig(mode="timestep", seed=1), stimuli=inputs,
                         comm=comm)
        start = sim.heap.e.shape[0]
        return sim.run(0.003), sim.heap.e.shape[0] > start

    want, grew = run()
    assert grew and want.info["noc_packets"] > 10_000
    for res, _ in run_threads(2, run):
        assert res.step_duration_ps.tobytes() == want.step_duration_ps.tobytes()
        assert res.counts.tobytes() == want.counts.tobytes()
        assert res.info["noc_packets"] == want.info["noc_packets"]
        assert res.links.busy_ps.tobytes() == want.links.busy_ps.tobytes()


def test_cli_threads_write_the_one_thread_trace(tmp_path):
    assert_split_run_writes_the_one_process_trace(tmp_path, ["--threads", "2"])


@pytest.mark.parametrize("extra, message", [
    (["--threads", "0"], "threads must be a whole number >= 1, got 0"),
    (["--threads", "4"], "use at most 1 ranks or threads"),
    (["--threads", "2", "--mode", "async"],
     "async mode over several MPI ranks or threads is not supported yet"),
])
def test_bad_thread_counts_are_one_clear_error(tmp_path, extra, message):
    # random: 220 neurons on one core of 'minimal'
    args = ["run", "random", "--duration", "0.01", "--out", "", "--no-progress"]
    if "--mode" not in extra:
        args += ["--mode", "timestep"]
    proc = run_cli([*args, *extra], tmp_path, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("aersim: error")]
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
