"""Sweeps on a real Dask cluster: rows equal direct runs, failures and lost workers are recorded,
resume completes what is missing, and bad specs fail with messages that say where and what."""

import argparse
import dataclasses
import os
import signal
import sys
import threading

import numpy as np
import pytest

from aersim.hardware import load_chip
from aersim.simcore import RunConfig, Simulation
from aersim.simcore.errors import SimulationError
from aersim.simcore.run.catalog import builtin_run
from aersim.simcore.sweep.spec import SweepSpecError, load_spec

DURATION_S = 0.01
BASE = {"network": "random", "chip": "minimal", "duration_s": DURATION_S}


@pytest.fixture(scope="module")
def client():
    """One two-process cluster for the module: starting one costs seconds."""
    distributed = pytest.importorskip("distributed")
    import dask

    # A task whose worker dies is reported as lost at once instead of being retried, so the
    # kill test sees a lost point deterministically.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def direct_run(neurons: int, mode: str, seed: int = 0, rate_hz=None, duration_s=DURATION_S):
    """The same point run in this process, without the sweep machinery."""
    net, stimuli = builtin_run("random").build(0)
    if rate_hz is not None:
        stimuli = [dataclasses.replace(s, rate_hz=rate_hz) for s in stimuli]
    chip = load_chip("minimal")
    chip = dataclasses.replace(chip, core=dataclasses.replace(chip.core, neurons=neurons))
    sim = Simulation(net, chip, config=RunConfig(mode=mode, seed=seed), stimuli=stimuli)
    return sim.run(duration_s)


def assert_row_equals_direct(row, res):
    assert row["status"] == "ok", row["error"]
    assert row["spikes"] == res.n_spikes
    assert row["energy_total_j"] == res.ledger.total_j
    assert row["energy_dynamic_j"] == res.ledger.dynamic_j
    assert row["hardware_time_ps"] == res.hardware_time_ps
    for k, v in res.op_totals().items():
        assert row[f"ops_{k}"] == v, k
    for k, v in res.ledger.by_op_j().items():
        assert row[f"energy_{k}_j"] == v, k


def test_rows_equal_direct_runs_bit_for_bit(client, tmp_path):
    from aersim.simcore.sweep.runner import read_sweep, sweep

    spec = {"base": BASE, "axes": {"chip.core.neurons": [32, 64, 256],
                                   "run.mode": ["timestep", "async"]},
            "reference": "first"}
    out = tmp_path / "grid.h5"
    table = sweep(spec, client=client, out=out)
    assert table.shape == (6,) and list(table["point"]) == list(range(6))
    for row in table:
        res = direct_run(int(row["chip.core.neurons"]), str(row["run.mode"]))
        assert_row_equals_direct(row, res)
    # Smaller cores spread the network over more tiles: more hops.
    ts = table[table["run.mode"] == "timestep"]
    assert ts["hops"][0] > ts["hops"][1] > ts["hops"][2] == 0
    assert table["agree_spikes"][0] == 1.0 and table["agree_count_corr"][0] == pytest.approx(1)
    # Functional results in timestep mode do not depend on the core size.
    assert np.all(ts["agree_spikes"] == 1.0)
    assert np.all(table["messages"] == table["ops_message_out"])
    stored = read_sweep(out)
    assert stored.dtype.names == table.dtype.names
    for name in table.dtype.names:
        if name != "error":
            assert np.array_equal(stored[name], table[name], equal_nan=table[name].dtype.kind
                                  == "f"), name


def test_failing_point_is_recorded_and_others_complete(client, tmp_path):
    from aersim.simcore.sweep.runner import read_sweep, sweep

    spec = {"base": BASE, "axes": {"chip.core.neurons": [8, 64]}}
    table = sweep(spec, client=client, out=tmp_path / "fail.h5")
    bad, good = table
    assert bad["status"] == "error"
    assert bad["error"].startswith("MappingError: network needs 220 neurons")
    assert np.isnan(bad["energy_total_j"]) and bad["spikes"] == -1
    assert_row_equals_direct(good, direct_run(64, "timestep"))
    stored = read_sweep(tmp_path / "fail.h5")
    assert list(stored["status"]) == ["error", "ok"] and stored["error"][0] == bad["error"]


def test_resume_runs_only_missing_points(client, tmp_path):
    from aersim.simcore.sweep.runner import read_sweep, sweep

    out = tmp_path / "r.h5"
    sweep({"base": BASE, "axes": {"run.seed": [0, 1]}}, client=client, out=out)
    with pytest.raises(SimulationError, match="exists already; pass resume=True"):
        sweep({"base": BASE, "axes": {"run.seed": [0, 1]}}, client=client, out=out)
    seen = []
    table = sweep({"base": BASE, "axes": {"run.seed": [0, 1, 2]}}, client=client, out=out,
                  resume=True, on_row=seen.append)
    assert [r["run.seed"] for r in seen] == [2]
    assert list(table["run.seed"]) == [0, 1, 2] and set(table["status"]) == {"ok"}
    assert len(read_sweep(out, latest=False)) == 3


def test_killed_worker_loses_no_finished_row_and_resume_completes(client, tmp_path):
    from aersim.simcore.sweep.runner import read_sweep, sweep

    spec = {"base": dict(BASE, duration_s=0.05),
            "axes": {"run.seed": list(range(8)), "run.mode": ["timestep"]}}
    out = tmp_path / "kill.h5"
    before_kill = []
    killed = threading.Event()
    pids = client.run(os.getpid)  # worker address -> process id

    def on_row(row):
        if killed.is_set():
            return
        before_kill.append(dict(row))
        pid = int(row["worker"].rsplit(":", 1)[1])
        others = [p for p in pids.values() if p != pid]
        if others:
            # The other worker is busy with its own point: kill its process outright.
            os.kill(others[0], signal.SIGKILL)
            killed.set()

    first = sweep(spec, client=client, out=out, on_row=on_row)
    assert killed.is_set()
    assert set(first["status"]) <= {"ok", "lost"}
    stored = read_sweep(out)
    for row in before_kill:
        got = stored[stored["point_id"] == row["point_id"]]
        assert got.size == 1 and got["status"][0] == "ok"
        assert got["energy_total_j"][0] == row["energy_total_j"]
    n_missing = int(np.count_nonzero(first["status"] != "ok"))
    # Usually the killed worker held one or two points (lost); if it was idle, none are.
    redone = []
    table = sweep(spec, client=client, out=out, resume=True, on_row=redone.append)
    assert len(redone) == n_missing
    assert set(table["status"]) == {"ok"} and len(table) == 8
    for row in table[first["status"] != "ok"][:2]:
        res = direct_run(1024, "timestep", seed=int(row["run.seed"]), duration_s=0.05)
        assert_row_equals_direct(row, res)


def test_plots_and_cli(client, tmp_path, capsys):
    from aersim.simcore.cli.sweep import add_parser, run_sweep_command
    from aersim.simcore.sweep.plots import pareto_front, plot_sweep
    from aersim.simcore.sweep.runner import sweep

    out = tmp_path / "p.h5"
    sweep({"base": BASE, "axes": {"chip.core.neurons": [32, 128], "stimulus.rate_hz": [20, 80]},
           "reference": 1}, client=client, out=out)
    paths = plot_sweep(out, tmp_path / "plots")
    assert [p.name for p in paths] == ["pareto_latency.png", "pareto_agreement.png",
                                       "axis_effects.png"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert list(pareto_front(np.array([1., 2, 3, 4]), np.array([4., 1, 2, 0.5]))) == [0, 1, 3]

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    spec_file = tmp_path / "s.yaml"
    spec_file.write_text("base: {network: random, duration_s: 0.01}\n"
                         "axes:\n  run.mode: [timestep, async]\n")
    assert run_sweep_command(parser.parse_args(["sweep", str(spec_file), "--dry-run"])) == 0
    text = capsys.readouterr().out
    assert "2 points over run.mode" in text and "run.mode=async" in text
    assert run_sweep_command(parser.parse_args(["sweep-plot", str(out), "--out",
                                                str(tmp_path / "cli")])) == 0
    assert (tmp_path / "cli" / "axis_effects.png").exists()


# ----------------------------------------------------------------------------------------------
# Spec validation: no cluster needed.

@pytest.mark.parametrize("spec,match", [
    ({"axes": {"chip.core.nerons": [32]}},
     r"<dict>: axes.chip.core.nerons: .*'nerons' is not a key here \(keys: energy_pj, "
     r"latency_ns, neurons, synapses\)"),
    ({"axes": {"chip.core.neurons": [0]}},
     r"axes.chip.core.neurons\[0\] = 0 is not allowed; expected an integer >= 1"),
    ({"axes": {"chip.noc.hop_energy_pj.east_west": [-1.0]}},
     r"chip.noc.hop_energy_pj.east_west\[0\] = -1.0 is not allowed; expected >= 0"),
    ({"axes": {"run.mode": ["fast"]}}, r"run.mode\[0\] = 'fast' .* one of timestep, async"),
    ({"axes": {"mapping.strategy": ["snake"]}}, r"one of sequential, layer"),
    ({"axes": {"cores": [1]}}, r"unknown axis 'cores'; axes are one of chip.<keypath>, "
                               r"mapping.strategy, run.seed"),
    ({"axes": {"run.seed": [1, 1]}}, r"axes.run.seed = \[1, 1\] .* a list of distinct values"),
    ({"axes": {"run.seed": []}}, r"a non-empty list of values"),
    ({"axes": {"run.seed": [1]}, "sample": {"random": 5}},
     r"sample.random = 5 but the grid has only 1 points"),
    ({"axes": {"stimulus.rate_hz": {"low": 1, "high": 10}}},
     r"a range \{low, high\} needs 'sample: \{random: N\}'"),
    ({"axes": {"run.seed": [1]}, "points": [{"run.seed": 1}]}, r"give either 'axes' .* not both"),
    ({"base": {"dt_ms": 0}, "axes": {"run.seed": [1]}}, r"base.dt_ms = 0 .* a number > 0"),
    ({"base": {"colour": 1}, "axes": {"run.seed": [1]}}, r"unknown key 'base.colour'"),
    ({"axes": {"run.seed": [1]}, "reference": 3}, r"reference = 3 .* a point index 0..0"),
    ({"points": [{"run.seed": 1}, {"run.seed": 1}]}, r"point 1 .* repeats an earlier point"),
])
def test_spec_errors_name_key_value_and_rule(spec, match):
    with pytest.raises(SweepSpecError, match=match):
        load_spec(spec)


def test_spec_file_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("base: {network: random}\naxes:\n  run.mode: [timestep, turbo]\n")
    with pytest.raises(SweepSpecError, match=r"bad.yaml: axes.run.mode\[1\] = 'turbo'"):
        load_spec(path)
    path.write_text("axes: [1, 2\n")
    with pytest.raises(SweepSpecError, match=r"bad.yaml: not valid YAML at line 2"):
        load_spec(path)


def test_sampling_is_seeded_and_points_are_stable():
    spec = {"axes": {"run.seed": list(range(50)), "stimulus.rate_hz":
                     {"low": 1.0, "high": 100.0, "log": True}}, "sample": {"random": 6, "seed": 3}}
    a, b = load_spec(spec), load_spec(spec)
    assert a.points == b.points and a.ids == b.ids and len(a) == 6
    assert all(1.0 <= p["stimulus.rate_hz"] <= 100.0 for p in a.points)
    grid = load_spec({"axes": {"run.seed": [0, 1], "run.mode": ["timestep", "async"]}})
    assert [tuple(p.values()) for p in grid.points] == [
        (0, "timestep"), (0, "async"), (1, "timestep"), (1, "async")]
    # A point's identity depends on its values, not on its position in the sweep.
    again = load_spec({"axes": {"run.seed": [1, 0], "run.mode": ["async", "timestep"]}})
    assert set(again.ids) == set(grid.ids)


def test_missing_dask_says_how_to_install(monkeypatch):
    from aersim.simcore.sweep.runner import _distributed

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(SimulationError, match=r"pip install -e '\.\[sweep\]'"):
        _distributed()


def test_recording_axis_replays_through_event_replay(tmp_path):
    """A point driven by a recording equals a direct run with ``EventReplay`` (no cluster)."""
    from aersim.simcore.run.replay import EventReplay
    from aersim.simcore.sweep.runner import run_point
    from aersim.traces import write_events
    from aersim.traces.recordings.synthetic import dvs_events

    events = dvs_events("bar", 32, 32, 0.05, direction="right", seed=4)
    rec = tmp_path / "bar.raw"
    write_events(rec, events, (32, 32), format="evt3")
    spec = load_spec({"base": {"network": "demo", "chip": "loihi_like", "duration_s": 0.05,
                               "stimulus": {"recording": str(rec)}},
                      "axes": {"run.seed": [0]}})
    metrics, _ = run_point(spec.run_of(0), root=str(tmp_path))
    assert metrics["status"] == "ok", metrics["error"]
    net, _ = builtin_run("demo").build(0)
    sim = Simulation(net, load_chip("loihi_like"), config=RunConfig(),
                     stimuli=[EventReplay("retina", str(rec))])
    assert metrics["spikes"] == sim.run(0.05).n_spikes > 0
