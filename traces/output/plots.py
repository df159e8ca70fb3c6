"""Figures of a run, read from its trace, and frames of an event-camera recording.

Each ``*_figure`` function returns a :class:`matplotlib.figure.Figure`; :func:`save_figure`
writes it as PNG and :func:`plot_all` writes every figure of a trace into a folder. Figures are
built on the Agg canvas directly, without ``pyplot``: nothing here touches matplotlib's global
state or needs a display. matplotlib is imported inside the functions, so that ``import traces``
stays cheap for users who never plot.

What each figure shows is described in ``docs/reports.md``.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from aersim.traces.errors import TraceError, TraceWarning
from aersim.traces.output import report as _report
from aersim.traces.output.plot_common import (
    _colormap,
    _new_figure,
    _no_data,
    _run_label,
    _scale,
    _time_scale,
    save_figure,
)
from aersim.traces.output.plots_noc import chip_links_figure, noc_figure

#: Spikes drawn by :func:`raster_figure` at most; more are thinned evenly (and the title says so).
MAX_RASTER_SPIKES = 200_000

#: Categories shown by name in a legend; more are shown as a colour bar of ids.
MAX_LEGEND_ENTRIES = 12

# -- spikes ---------------------------------------------------------------------------------

def raster_figure(trace, color_by: str = "auto"):
    """Spike raster: time (ms) against global neuron id, one colour per population or core.

    Parameters
    ----------
    trace : Trace
        The run.
    color_by : {"auto", "population", "core"}
        ``auto`` colours by population when the trace names them, else by core.
    """
    if color_by not in ("auto", "population", "core"):
        raise TraceError(f"color_by must be 'auto', 'population' or 'core', got {color_by!r}")
    t_ps, neuron = trace.spikes_t_ps, trace.spikes_neuron
    fig = _new_figure(10, 5.5)
    ax = fig.add_subplot()
    title = f"Spike raster — {_run_label(trace)}"
    if t_ps.size > MAX_RASTER_SPIKES:
        keep = np.linspace(0, t_ps.size - 1, MAX_RASTER_SPIKES).astype(np.int64)
        title += f"\n(every {t_ps.size / MAX_RASTER_SPIKES:.1f}th of {t_ps.size} spikes drawn)"
        t_ps, neuron = t_ps[keep], neuron[keep]
    else:
        title += f" ({t_ps.size} spikes)"
    ax.set_title(title)
    ax.set_xlabel("simulated time (ms)")
    ax.set_ylabel("neuron (global id)")
    sim_ps, _ = _report.simulated_ps(trace)
    ax.set_xlim(0, max(sim_ps, 1) / 1e9)
    n_neurons = trace.core_of.size if trace.core_of is not None else (
        int(neuron.max()) + 1 if neuron.size else 1)
    ax.set_ylim(-0.5, n_neurons - 0.5)
    if t_ps.size == 0:
        _no_data(ax, "no spikes in this trace")
        return fig
    t_ms = t_ps / 1e9
    marker_size = 4.0 if t_ps.size < 5000 else 1.0
    pops = _report.populations(trace)
    if color_by == "population" and not pops:
        raise TraceError("the trace names no populations; use color_by='core'")
    if pops and color_by != "core":
        groups = [(p["name"], (neuron >= p["start"]) & (neuron < p["start"] + p["size"]))
                  for p in pops]
        legend_title = "population"
        for p in pops[1:]:
            ax.axhline(p["start"] - 0.5, color="0.8", linewidth=0.6, zorder=0)
    elif trace.core_of is not None:
        core = trace.core_of[neuron]
        groups = [(f"core {c}", core == c) for c in np.unique(core)]
        legend_title = "core"
    else:
        groups = [("spikes", np.ones(neuron.size, dtype=bool))]
        legend_title = None
    if len(groups) <= MAX_LEGEND_ENTRIES:
        cmap = _colormap("tab10" if len(groups) <= 10 else "tab20")
        for i, (name, sel) in enumerate(groups):
            ax.scatter(t_ms[sel], neuron[sel], s=marker_size, marker="s", linewidths=0,
                       color=cmap(i % cmap.N), label=name, rasterized=True)
        ax.legend(title=legend_title, loc="upper left", bbox_to_anchor=(1.01, 1),
                  markerscale=4 / max(marker_size, 0.5) * 2, frameon=False)
    else:
        # Too many cores to name: colour by core id on a continuous scale.
        core = trace.core_of[neuron]
        sc = ax.scatter(t_ms, neuron, c=core, s=marker_size, marker="s", linewidths=0,
                        cmap="turbo", rasterized=True)
        fig.colorbar(sc, ax=ax, label="core id")
    return fig


def activity_figure(trace, bins: int = 200):
    """Spikes per core per time bin: a heat map (cores × time) under the chip-wide total.

    Parameters
    ----------
    bins : int
        Number of time bins; in ``timestep`` mode a bin is a whole number of steps.
    """
    fig = _new_figure(10, 6)
    top, ax = fig.subplots(2, 1, sharex=True, height_ratios=(1, 3))
    sim_ps, _ = _report.simulated_ps(trace)
    sim_ps = max(sim_ps, 1)
    dt = trace.metadata.get("dt_ps")
    bin_ps = sim_ps / max(bins, 1)
    if dt:
        bin_ps = max(1, round(bin_ps / int(dt))) * int(dt)
    n_bins = max(1, math.ceil(sim_ps / bin_ps))
    edges_ms = np.arange(n_bins + 1) * bin_ps / 1e9
    top.set_title(f"Spikes per core over time — {_run_label(trace)} "
                  f"(bin {bin_ps / 1e9:.4g} ms)")
    ax.set_xlabel("simulated time (ms)")
    ax.set_ylabel("core")
    top.set_ylabel("spikes per bin\n(all cores)")
    if trace.spikes_t_ps.size == 0 or trace.core_of is None:
        _no_data(ax, "no spikes in this trace" if trace.core_of is not None
                 else "the trace has no neuron-to-core map")
        return fig
    b = np.minimum((trace.spikes_t_ps / bin_ps).astype(np.int64), n_bins - 1)
    core = trace.core_of[trace.spikes_neuron]
    cores = np.unique(np.concatenate([np.unique(trace.core_of), np.unique(core)]))
    row = np.searchsorted(cores, core)
    grid = np.zeros((cores.size, n_bins), dtype=np.int64)
    np.add.at(grid, (row, b), 1)
    top.stairs(grid.sum(axis=0), edges_ms, color="tab:blue", fill=True, alpha=0.7)
    top.set_ylim(bottom=0)
    im = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap="viridis", origin="lower",
                   extent=(edges_ms[0], edges_ms[-1], -0.5, cores.size - 0.5))
    if cores.size <= 32:
        ax.set_yticks(np.arange(cores.size), [str(c) for c in cores])
    else:
        ticks = np.linspace(0, cores.size - 1, 8).astype(int)
        ax.set_yticks(ticks, [str(cores[i]) for i in ticks])
    fig.colorbar(im, ax=[top, ax], label="spikes per bin", shrink=0.8)
    return fig


# -- energy ---------------------------------------------------------------------------------

def energy_figure(trace, top: int = 16):
    """Energy breakdown: the whole chip by operation (plus static and barrier), and the ``top``
    cores as bars stacked by operation."""
    e = trace.energy_by_core_op_j
    if e is None:
        raise TraceError(f"trace {trace.path} has no energy ledger (the run did not finish)")
    columns = list(trace.counter_columns or [f"op{i}" for i in range(e.shape[1])])
    cmap = _colormap("tab20")
    color = {name: cmap(i % cmap.N) for i, name in enumerate(columns)}
    color["static"], color["barrier"] = "0.55", "0.3"
    fig = _new_figure(12, 5.5)
    left, right = fig.subplots(1, 2, width_ratios=(1, 1.4))
    total = trace.energy.get("total_j", float(e.sum()))
    fig.suptitle(f"Energy — {_run_label(trace)}: total {_report._si(total, 'J')}")

    items = [(name, float(v)) for name, v in zip(columns, e.sum(axis=0), strict=True) if v > 0]
    items += [(k, float(trace.energy.get(f"{k}_j", 0.0))) for k in ("static", "barrier")]
    items = [it for it in items if it[1] > 0]
    items.sort(key=lambda kv: kv[1])
    left.set_title("whole chip, by operation")
    if items:
        factor, unit = _scale(max(v for _, v in items), "J")
        y = np.arange(len(items))
        left.barh(y, [v / factor for _, v in items], color=[color[n] for n, _ in items])
        left.set_yticks(y, [n for n, _ in items])
        for yi, (_, v) in zip(y, items, strict=True):
            left.text(v / factor, yi, f" {v / factor:.3g} ({100 * v / total:.2g} %)",
                      va="center", fontsize=8)
        left.set_xlabel(f"energy ({unit})")
        left.set_xlim(0, max(v for _, v in items) / factor * 1.45)
    else:
        _no_data(left, "no energy spent")

    per_core = e.sum(axis=1)
    order = np.argsort(-per_core, kind="stable")[:top]
    order = order[per_core[order] > 0]
    right.set_title(f"dynamic energy of the {order.size} most expensive cores, by operation")
    right.set_xlabel("core")
    if order.size:
        factor, unit = _scale(float(per_core[order[0]]), "J")
        x = np.arange(order.size)
        bottom = np.zeros(order.size)
        for j, name in enumerate(columns):
            v = e[order, j] / factor
            if np.any(v > 0):
                right.bar(x, v, bottom=bottom, color=color[name], label=name, width=0.8)
                bottom += v
        right.set_xticks(x, [str(c) for c in order])
        right.set_ylabel(f"dynamic energy ({unit})")
        # Outside the axes and top-down, in the order the segments are stacked.
        handles, labels = right.get_legend_handles_labels()
        right.legend(handles[::-1], labels[::-1], title="operation", loc="upper left",
                     bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
        right.set_ylim(0, bottom.max() * 1.1)
    else:
        _no_data(right, "no dynamic energy")
    return fig


# -- latency --------------------------------------------------------------------------------

def latency_figure(trace, bins: int = 50):
    """Histogram of the hardware duration of each step, with mean and percentiles marked."""
    d = trace.step_duration_ps
    if d.size == 0:
        why = ("an async run has no steps" if trace.metadata.get("mode") == "async"
               else "the trace holds no step durations")
        raise TraceError(f"trace {trace.path} has no step durations: {why}")
    stats = _report.latency_report(trace)
    factor, unit = _time_scale(float(d.max()))
    fig = _new_figure(9, 5)
    ax = fig.add_subplot()
    ax.hist(d / factor, bins=bins, color="tab:blue", alpha=0.75, label=f"{d.size} steps")
    marks = [("mean", stats["mean_ps"], "black", "-"),
             ("p50", stats["p50_ps"], "tab:green", "--"),
             ("p95", stats["p95_ps"], "tab:orange", "--"),
             ("p99", stats["p99_ps"], "tab:red", "--"),
             ("max", stats["max_ps"], "tab:purple", ":")]
    for name, v, colour, style in marks:
        ax.axvline(v / factor, color=colour, linestyle=style, linewidth=1.5,
                   label=f"{name} {v / factor:.4g} {unit}")
    dt = trace.metadata.get("dt_ps")
    if dt and int(dt) <= 1.5 * d.max():
        ax.axvline(int(dt) / factor, color="crimson", linewidth=2.5,
                   label=f"dt {int(dt) / factor:.4g} {unit} (real-time limit)")
    ax.set_title(f"Hardware duration of each step — {_run_label(trace)}"
                 + (f", dt {int(dt) / 1e9:g} ms" if dt else ""))
    ax.set_xlabel(f"step duration ({unit})")
    ax.set_ylabel("number of steps")
    ax.legend(frameon=False)
    return fig


def event_latency_figure(trace, bins: int = 60):
    """Histogram of the latency from each input event to the first output spike after it.

    Hardware latency with mean and percentiles marked; in ``timestep`` mode a second panel shows
    the algorithmic latency (whole steps), usually on a much longer scale.
    """
    lat = trace.latency
    if lat is None or lat.size == 0:
        raise TraceError(f"trace {trace.path} has no per-input-event latencies")
    stats = _report.event_latency_report(trace)
    ok = lat["latency_ps"][lat["latency_ps"] >= 0]
    alg = lat["algorithmic_ps"][lat["algorithmic_ps"] >= 0]
    panels = [("hardware latency", ok, "")]
    if alg.size and not np.array_equal(alg, ok):
        panels.append(("algorithmic latency (whole steps)", alg, "algorithmic_"))
    fig = _new_figure(6.5 * len(panels), 5)
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    fig.suptitle(f"Latency from input event to first output spike — {_run_label(trace)}\n"
                 f"{stats['responded']} of {stats['events']} events answered")
    for ax, (title, values, prefix) in zip(axes, panels, strict=True):
        ax.set_title(title)
        ax.set_ylabel("number of input events")
        if values.size == 0:
            ax.set_xlabel("latency")
            _no_data(ax, "no output spike followed any input event")
            continue
        factor, unit = _time_scale(float(max(values.max(), 1)))
        ax.hist(values / factor, bins=bins, color="tab:blue", alpha=0.75,
                label=f"{values.size} events")
        for name, colour, style in (("mean", "black", "-"), ("p50", "tab:green", "--"),
                                    ("p95", "tab:orange", "--"), ("p99", "tab:red", "--"),
                                    ("max", "tab:purple", ":")):
            v = stats[f"{prefix}{name}_ps"]
            ax.axvline(v / factor, color=colour, linestyle=style, linewidth=1.5,
                       label=f"{name} {v / factor:.4g} {unit}")
        ax.set_xlabel(f"latency ({unit})")
        ax.legend(frameon=False)
    return fig


def probes_figure(trace, max_lines: int = 12):
    """Sampled membrane (and second state variable) of the probed neurons over time."""
    pr = trace.probes
    if pr is None or pr["t_ps"].size == 0:
        raise TraceError(f"trace {trace.path} has no probed neurons")
    k = min(pr["neuron"].size, max_lines)
    factor, unit = _time_scale(float(max(pr["t_ps"].max(), 1)))
    fig = _new_figure(11, 6.5)
    ax_v, ax_s = fig.subplots(2, 1, sharex=True)
    fig.suptitle(f"Probed neurons — {_run_label(trace)}"
                 + (f" (first {k} of {pr['neuron'].size})" if k < pr["neuron"].size else ""))
    t = pr["t_ps"] / factor
    for i in range(k):
        label = f"neuron {int(pr['neuron'][i])}"
        ax_v.plot(t, pr["v"][:, i], linewidth=1.0, label=label)
        ax_s.plot(t, pr["state2"][:, i], linewidth=1.0, label=label)
    ax_v.set_ylabel("membrane v (model units)")
    ax_s.set_ylabel("second state (current,\nadaptation, …)")
    ax_s.set_xlabel(f"simulated time ({unit})")
    ax_v.legend(frameon=False, fontsize="small", ncol=min(k, 4))
    return fig


# -- event-camera input ---------------------------------------------------------------------

def event_frames_figure(events: np.ndarray, sensor_size, n_frames: int = 6, ncols: int = 3,
                        title: str = "Event stream"):
    """Accumulated frames of an event-camera stream: ON minus OFF events per pixel per window.

    Parameters
    ----------
    events : ndarray of EVENT_DTYPE
        Events (``t`` µs, ``x``, ``y``, ``p``), in time order.
    sensor_size : tuple of int
        ``(width, height)`` in pixels (a third entry, the polarity count, is ignored).
    n_frames : int
        Number of equal time windows the stream is cut into.
    ncols : int
        Frames per row of the grid.
    """
    names = getattr(events.dtype, "names", None) or ()
    if not {"t", "x", "y", "p"} <= set(names):
        raise TraceError(f"events must have fields t, x, y, p (EVENT_DTYPE), got {names}")
    if len(sensor_size) < 2 or sensor_size[0] < 1 or sensor_size[1] < 1:
        raise TraceError(f"sensor_size must be (width, height) >= 1, got {tuple(sensor_size)}")
    if n_frames < 1 or ncols < 1:
        raise TraceError(f"n_frames and ncols must be >= 1, got {n_frames} and {ncols}")
    width, height = int(sensor_size[0]), int(sensor_size[1])
    x, y = events["x"].astype(np.int64), events["y"].astype(np.int64)
    if events.size and (x.max() >= width or y.max() >= height):
        raise TraceError(f"event at x={x.max()}, y={y.max()} lies outside the {width}x{height} "
                         "sensor; pass the sensor's real size")
    t = events["t"].astype(np.int64)
    t0 = int(t[0]) if t.size else 0
    t1 = int(t[-1]) + 1 if t.size else 1
    edges = np.linspace(t0, t1, n_frames + 1)
    frame = np.minimum(np.searchsorted(edges, t, side="right") - 1, n_frames - 1)
    sign = np.where(events["p"] > 0, 1, -1)
    frames = np.zeros((n_frames, height * width), dtype=np.int64)
    np.add.at(frames, (frame, y * width + x), sign)
    frames = frames.reshape(n_frames, height, width)
    # Scale by a high percentile of the active pixels, so that one hot pixel does not wash out
    # the rest of the picture.
    active = np.abs(frames[frames != 0])
    vmax = float(np.percentile(active, 99)) if active.size else 1.0
    vmax = max(vmax, 1.0)
    ncols = min(ncols, n_frames)
    nrows = math.ceil(n_frames / ncols)
    panel = 3.2
    fig = _new_figure(panel * ncols * max(1.0, width / height) + 1.2,
                      panel * nrows * min(1.0, height / width) + 0.9)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    fig.suptitle(f"{title}: {events.size} events on a {width}×{height} sensor, "
                 f"{n_frames} windows of {(t1 - t0) / n_frames / 1e3:.4g} ms")
    im = None
    for i, ax in enumerate(axes):
        if i >= n_frames:
            ax.set_axis_off()
            continue
        im = ax.imshow(frames[i], cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest",
                       origin="upper")
        n_in = int(np.count_nonzero(frame == i))
        ax.set_title(f"{(edges[i] - t0) / 1e3:.4g}–{(edges[i + 1] - t0) / 1e3:.4g} ms "
                     f"({n_in} ev)", fontsize=9)
        if i % ncols == 0:
            ax.set_ylabel("y (pixel)")
        if i // ncols == nrows - 1 or i + ncols >= n_frames:
            ax.set_xlabel("x (pixel)")
    fig.colorbar(im, ax=list(axes), label="ON − OFF events per pixel", shrink=0.8)
    return fig


# -- all at once ----------------------------------------------------------------------------

#: The figures :func:`plot_all` writes, by file stem.
FIGURES = {"raster": raster_figure, "activity": activity_figure, "energy": energy_figure,
           "noc": noc_figure, "latency": latency_figure, "event_latency": event_latency_figure}


def plot_all(trace, out_dir) -> list[Path]:
    """Write every figure of ``trace`` as ``<out_dir>/<name>.png`` and return the paths.

    A figure whose data the trace lacks (step durations of an ``async`` run, the energy ledger
    of an interrupted run) is skipped with a :class:`TraceWarning` that says why.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise TraceError(f"cannot write figures into {out_dir}: it is a file, not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise TraceError(f"cannot write figures into folder {out_dir}: {err.strerror}; choose "
                         "another folder with --out") from None
    paths = []
    for name, build in FIGURES.items():
        try:
            fig = build(trace)
        except TraceError as exc:
            warnings.warn(f"{name} figure skipped: {exc}", TraceWarning, stacklevel=2)
            continue
        paths.append(save_figure(fig, out_dir / f"{name}.png"))
    if trace.probes is not None:
        paths.append(save_figure(probes_figure(trace), out_dir / "probes.png"))
    if trace.chip_links is not None:
        paths.append(save_figure(chip_links_figure(trace), out_dir / "chip_links.png"))
    return paths
