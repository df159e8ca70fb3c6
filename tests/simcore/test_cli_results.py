"""``aersim report``, ``compare`` and ``plot``: run on real and hand-made traces; bad input is
one line on stderr with exit code 2."""

import argparse
import json

import numpy as np
import pytest

from aersim.simcore.cli import main as cli
from aersim.simcore.cli.results import COMMANDS, add_parsers
from aersim.traces import TraceError, TraceWriter

COLUMNS = ["synaptic_op", "neuron_update", "spike_out", "message_out", "message_in", "router",
           "hop_east", "hop_west", "hop_north", "hop_south", "stim_in"]


def aersim(argv) -> int:
    """Run ``aersim argv``: through the real entry point once it knows these commands."""
    if "report" in cli.COMMANDS:
        return cli.main(argv)
    parser = argparse.ArgumentParser(prog="aersim")
    add_parsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except TraceError as exc:
        import sys
        print(f"aersim: error: {exc}", file=sys.stderr)
        return 2


def hand_made(path, complete=True, scale=1):
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 100, (4, len(COLUMNS))) * scale
    w = TraceWriter(path, metadata={"network": "hand", "chip": "test", "mode": "timestep",
                                    "dt_ps": 10**8, "chip_width": 2, "chip_height": 2,
                                    "cores_per_tile": 1})
    w.append_spikes(np.arange(0, 10**10, 10**8, dtype=np.int64), np.arange(100) % 8)
    w.append_step_durations(np.full(100, 5000 * scale))
    w.write_array("run/core_of", (np.arange(8) // 2).astype(np.int32))
    if complete:
        w.write_counters(counts, COLUMNS)
        w.write_energy(counts * 1e-12, COLUMNS, static_j=1e-9, barrier_j=0.0,
                       duration_ps=500_000 * scale)
    w.close(complete=complete)
    return str(path)


@pytest.fixture(scope="module")
def real_trace(tmp_path_factory):
    path = tmp_path_factory.mktemp("run") / "r.h5"
    assert cli.main(["run", "random", "--duration", "0.01", "--out", str(path),
                     "--no-progress"]) == 0
    return str(path)


def test_report_text_and_json(real_trace, capsys):
    capsys.readouterr()
    assert aersim(["report", real_trace, "--top", "3"]) == 0
    out = capsys.readouterr().out
    for word in ("summary", "energy", "latency", "traffic", "utilisation", "random"):
        assert word in out
    assert aersim(["report", real_trace, "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["summary"]["network"] == "random" and rep["energy"]["total_j"] > 0
    assert rep["latency"]["steps"] == 100


def test_compare(real_trace, tmp_path, capsys):
    other = hand_made(tmp_path / "h.h5")
    assert aersim(["compare", real_trace, real_trace]) == 0
    assert "B/A" in capsys.readouterr().out
    assert aersim(["compare", real_trace, other, "--json"]) == 0
    cmp = json.loads(capsys.readouterr().out)
    assert {r["key"] for r in cmp["rows"]} >= {"energy.total_j", "latency.p99_ps"}


def test_compare_scaled(tmp_path, capsys):
    a, b = hand_made(tmp_path / "a.h5"), hand_made(tmp_path / "b.h5", scale=2)
    assert aersim(["compare", a, b, "--json"]) == 0
    rows = {r["key"]: r["ratio"] for r in json.loads(capsys.readouterr().out)["rows"]}
    assert rows["latency.mean_ps"] == pytest.approx(2) and rows["energy.dynamic_j"] == \
        pytest.approx(2)


def test_plot(real_trace, tmp_path, capsys):
    out = tmp_path / "figs"
    assert aersim(["plot", real_trace, "--out", str(out)]) == 0
    printed = capsys.readouterr().out.split()
    assert len(printed) == 6 and all((out / p.split("/")[-1]).is_file() for p in printed)


def test_incomplete_trace_warns_but_reports(tmp_path, capsys):
    path = hand_made(tmp_path / "k.h5", complete=False)
    assert aersim(["report", path]) == 0
    captured = capsys.readouterr()
    assert "incomplete" in captured.err and "not available" in captured.out
    assert aersim(["plot", path, "--out", str(tmp_path / "p")]) == 0
    err = capsys.readouterr().err
    assert "incomplete" in err and "energy figure skipped" in err


@pytest.mark.parametrize("argv,match", [
    (["report", "missing.h5"], "trace missing.h5 does not exist"),
    (["report", "{junk}"], "is not an HDF5 file"),
    (["compare", "{junk}", "missing.h5"], "is not an HDF5 file"),
    (["plot"], "nothing to plot"),
    (["plot", "{junk}", "--out", "{tmp}"], "is not an HDF5 file"),
    (["plot", "--events", "missing.raw", "--out", "{tmp}"], "recording missing.raw does not"),
    (["plot", "{good}", "--out", "{junk}"], "is a file; give a folder"),
])
def test_bad_input_is_one_line_and_exit_2(argv, match, tmp_path, capsys):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not a trace")
    good = hand_made(tmp_path / "g.h5")
    argv = [a.format(junk=junk, tmp=tmp_path / "o", good=good) for a in argv]
    assert aersim(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("aersim: error: ") and match in err and err.count("\n") == 1


def test_help_has_examples(capsys):
    parser = argparse.ArgumentParser(prog="aersim")
    add_parsers(parser.add_subparsers(dest="command"))
    for name in COMMANDS:
        with pytest.raises(SystemExit):
            parser.parse_args([name, "--help"])
        assert "examples:" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser.parse_args(["report", "x.h5", "--top", "0"])
    assert "whole number >= 1" in capsys.readouterr().err
