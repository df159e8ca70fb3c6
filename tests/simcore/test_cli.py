"""The ``aersim`` command: runs, writes a readable trace, fails in one line with exit code 2."""

import json

import pytest

from simcore.cli import main
from traces import read_trace


def test_run_writes_trace_and_json(tmp_path, capsys):
    out = tmp_path / "r.h5"
    assert main(["run", "random", "--duration", "0.02", "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["spikes"] > 0 and report["energy_j"]["total"] > 0
    tr = read_trace(out)
    assert tr.complete and tr.spikes_t_ps.size == report["spikes"]
    assert tr.metadata["network"] == "random" and tr.counters.sum() > 0
    assert tr.energy["total_j"] == pytest.approx(report["energy_j"]["total"])


def test_run_async_mode_prints_summary(tmp_path, capsys):
    assert main(["run", "random", "--mode", "async", "--duration", "0.01", "--out", "",
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "mode async" in text and "energy: total" in text


@pytest.mark.parametrize("argv,match", [
    (["run", "nosuch"], "unknown network 'nosuch'"),
    (["run", "random", "--chip", "nosuch"], "unknown chip 'nosuch'"),
    (["run", "random", "--out", "/nonexistent-dir/x.h5"], "folder /nonexistent-dir does not"),
    (["run", "random", "--dt", "0.3", "--out", ""], "is not a whole number of steps"),
    (["info", "missing.h5"], "trace missing.h5 does not exist"),
])
def test_errors_are_one_line_with_exit_code_2(argv, match, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("aersim: error: ") and match in err and err.count("\n") == 1


def test_info_and_chips(capsys):
    assert main(["info"]) == 0 and "chip presets" in capsys.readouterr().out
    assert main(["info", "minimal"]) == 0 and "4x4 mesh" in capsys.readouterr().out
    assert main(["chips"]) == 0 and "loihi_like" in capsys.readouterr().out


def test_help_lists_examples(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0 and "examples:" in capsys.readouterr().out
