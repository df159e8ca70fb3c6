"""The ``aersim`` command: runs, writes a readable trace, fails in one line with exit code 2."""

import json

import numpy as np
import pytest

from aersim.simcore.cli.main import main
from aersim.traces import read_trace


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


def test_warnings_print_as_the_commands_without_python_source(tmp_path, capsys):
    # An async trace has no steps, so its latency figure is skipped with a TraceWarning.
    assert main(["run", "random", "--mode", "async", "--duration", "0.01", "--no-progress",
                 "--out", str(tmp_path / "t.h5"), "--plots", str(tmp_path / "plots")]) == 0
    err = capsys.readouterr().err
    assert "aersim: warning: latency figure skipped" in err
    assert "TraceWarning" not in err and "plot_all(" not in err


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


def test_demo_replays_a_scene_and_reports_direction(tmp_path, capsys):
    out = tmp_path / "demo.h5"
    assert main(["run", "--duration", "0.3", "--out", str(out), "--plots", str(tmp_path / "p"),
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "output direction spikes:" in text and "-> right" in text
    assert "latency input event -> first output spike" in text
    assert (tmp_path / "p" / "raster.png").stat().st_size > 1000
    tr = read_trace(out)
    assert tr.metadata["chip_width"] == 8 and tr.metadata["populations"][0]["name"] == "retina"


def test_run_network_file_with_recording(tmp_path, capsys, shared_data):
    pytest.importorskip("nir")
    assert main(["run", str(shared_data / "nir" / "cnn_sinabs.nir"), "--profile", "sinabs",
                 "--input", str(shared_data / "events" / "sample_nmnist.bin"), "--bin-us",
                 "1000", "--out", "", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    counts = next(iter(report["outputs"].values()))
    assert len(counts) == 10 and int(np.argmax(counts)) == 4
    assert report["simulated_s"] == pytest.approx(311.0, abs=1.0)   # 311 ms at 1 ms per 1 s step


def test_run_npz_network_with_poisson_input(tmp_path, capsys):
    from aersim.models import random_network, save_network
    path = tmp_path / "net.npz"
    save_network(random_network(seed=1), path)
    assert main(["run", str(path), "--rate", "80", "--duration", "0.02", "--out", "",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["spikes"] > 0


@pytest.mark.parametrize("argv,match", [
    (["run", "demo", "--crop", "1,2,3"], "--crop takes 4 non-negative integers"),
    (["run", "demo", "--input", "missing.aedat4"], "missing.aedat4"),
])
def test_input_option_errors(argv, match, capsys):
    assert main(argv + ["--out", ""]) == 2
    assert match in capsys.readouterr().err


def test_probe_option_writes_state_samples(tmp_path, capsys):
    out = tmp_path / "probe.h5"
    assert main(["run", "random", "--duration", "0.01", "--out", str(out), "--no-progress",
                 "--no-plots", "--probe", "neurons:0,3", "--probe-period-ms", "1"]) == 0
    pr = read_trace(out).probes
    assert pr["neuron"].tolist() == [20, 23] and pr["v"].shape == (10, 2)
    assert main(["run", "random", "--probe", "neurons:a", "--out", ""]) == 2
    assert "--probe 'neurons:a'" in capsys.readouterr().err
