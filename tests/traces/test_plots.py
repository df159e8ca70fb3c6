"""Figures: each renders to a PNG from a small synthetic trace; plot_all writes them all."""

import subprocess
import sys

import numpy as np
import pytest

from aersim.traces import EVENT_DTYPE, TraceError, TraceWarning, TraceWriter, read_trace

pytest.importorskip("matplotlib")
from aersim.traces.output import plots  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLUMNS = ["synaptic_op", "neuron_update", "spike_out", "message_out", "message_in", "router",
           "hop_east", "hop_west", "hop_north", "hop_south", "stim_in"]


def small_trace(path, mode="timestep", geometry=True, n_spikes=300, noc=True):
    rng = np.random.default_rng(1)
    meta = {"network": "synthetic", "chip": "test", "mode": mode, "dt_ps": 1_000_000_000,
            "populations": [{"name": "in", "size": 8}, {"name": "out", "size": 16}]}
    if geometry:
        meta.update(chip_width=3, chip_height=2, cores_per_tile=2)
    counts = rng.integers(0, 500, (12, len(COLUMNS)))
    with TraceWriter(path, metadata=meta) as w:
        w.append_spikes(np.sort(rng.integers(0, 50 * 10**9, n_spikes)),
                        rng.integers(0, 24, n_spikes).astype(np.int32))
        if mode == "timestep":
            w.append_step_durations(rng.integers(10**5, 10**6, 50))
        w.write_array("run/core_of", (np.arange(24) // 5).astype(np.int32))
        w.write_counters(counts, COLUMNS)
        w.write_energy(counts * 1e-11, COLUMNS, static_j=1e-7, barrier_j=0.0,
                       duration_ps=50 * 10**9)
        if noc:
            idx = np.arange(6 * 6)
            busy = rng.integers(0, 10**9, idx.size)
            w.write_links({"tile": idx // 6, "port": idx % 6, "packets": busy // 1000,
                           "flits": busy // 1000, "busy_ps": busy, "max_queue_flits": busy % 7,
                           "blocked_ps": busy // 3}, duration_ps=50 * 10**9)
            t_in = np.sort(rng.integers(0, 50 * 10**9, 400))
            w.write_latency(t_in, rng.integers(-1, 10**8, 400),
                            rng.integers(0, 20, 400) * 10**9)
    return read_trace(path)


def assert_png(path, min_bytes=5_000):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert min_bytes < len(data) < 2_000_000


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    return small_trace(tmp_path_factory.mktemp("plots") / "t.h5")


@pytest.mark.parametrize("name", sorted(plots.FIGURES))
def test_each_figure_renders(trace, tmp_path, name):
    fig = plots.FIGURES[name](trace)
    assert fig.axes and fig.axes[0].get_title() or fig.get_suptitle()
    assert_png(plots.save_figure(fig, tmp_path / f"{name}.png"))


def test_figures_have_labels(trace):
    for name in ("raster", "activity", "latency"):
        fig = plots.FIGURES[name](trace)
        assert any(ax.get_xlabel() and "(" in ax.get_xlabel() for ax in fig.axes), name
    raster = plots.raster_figure(trace)
    assert [t.get_text() for t in raster.axes[0].get_legend().get_texts()] == ["in", "out"]
    by_core = plots.raster_figure(trace, color_by="core")
    assert by_core.axes[0].get_legend().get_title().get_text() == "core"


def test_plot_all_writes_every_figure(trace, tmp_path):
    paths = plots.plot_all(trace, tmp_path / "out")
    assert sorted(p.stem for p in paths) == sorted(plots.FIGURES)
    for p in paths:
        assert_png(p)


def test_async_trace_skips_latency_with_a_warning(tmp_path, monkeypatch):
    tr = small_trace(tmp_path / "a.h5", mode="async", geometry=False, noc=False)
    # Two figures are enough to show that one is skipped and the other still written.
    monkeypatch.setattr(plots, "FIGURES", {k: plots.FIGURES[k] for k in ("noc", "latency")})
    with pytest.warns(TraceWarning, match="latency figure skipped.*async"):
        paths = plots.plot_all(tr, tmp_path / "out")
    assert [p.stem for p in paths] == ["noc"]


def test_noc_figure_shows_links_or_falls_back_to_cores(trace, tmp_path):
    links = plots.noc_figure(trace)
    assert "link load" in links.get_suptitle() and len(links.axes) == 4   # 2 panels + bars
    assert_png(plots.save_figure(links, tmp_path / "links.png"))
    cores = plots.noc_figure(trace, view="cores")
    assert "per core" in cores.get_suptitle()
    tr = small_trace(tmp_path / "n.h5", noc=False)
    assert "per core" in plots.noc_figure(tr).get_suptitle()
    with pytest.raises(TraceError, match="no per-link counters"):
        plots.noc_figure(tr, view="links")
    with pytest.raises(TraceError, match="view must be"):
        plots.noc_figure(tr, view="tiles")
    with pytest.raises(TraceError, match="no per-input-event latencies"):
        plots.event_latency_figure(tr)


def test_event_latency_figure_marks_percentiles(trace):
    fig = plots.event_latency_figure(trace)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(lbl.startswith("p95") for lbl in labels)
    assert "(" in ax.get_xlabel() and len(fig.axes) == 2   # hardware and algorithmic


def test_trace_without_spikes_still_renders(tmp_path):
    tr = small_trace(tmp_path / "e.h5", n_spikes=0)
    assert_png(plots.save_figure(plots.raster_figure(tr), tmp_path / "r.png"), 2_000)
    assert_png(plots.save_figure(plots.activity_figure(tr), tmp_path / "a.png"), 2_000)


def test_event_frames(tmp_path):
    rng = np.random.default_rng(0)
    ev = np.zeros(3000, dtype=EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, 100_000, ev.size))
    ev["x"], ev["y"] = rng.integers(0, 40, ev.size), rng.integers(0, 30, ev.size)
    ev["p"] = rng.integers(0, 2, ev.size)
    fig = plots.event_frames_figure(ev, (40, 30, 2), n_frames=4, ncols=2)
    assert len([ax for ax in fig.axes if ax.images]) == 4
    assert_png(plots.save_figure(fig, tmp_path / "ev.png"))
    with pytest.raises(TraceError, match="outside the 20x30 sensor"):
        plots.event_frames_figure(ev, (20, 30))
    with pytest.raises(TraceError, match="fields t, x, y, p"):
        plots.event_frames_figure(np.zeros(3), (20, 30))


def test_bad_arguments(trace, tmp_path):
    with pytest.raises(TraceError, match="color_by must be"):
        plots.raster_figure(trace, color_by="colour")
    with pytest.raises(TraceError, match="folder .* does not exist"):
        plots.save_figure(plots.latency_figure(trace), tmp_path / "no" / "x.png")
    (tmp_path / "file").write_text("x")
    with pytest.raises(TraceError, match="is a file"):
        plots.plot_all(trace, tmp_path / "file")


def test_importing_traces_does_not_import_matplotlib():
    code = "import sys, traces, traces.output.report; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
