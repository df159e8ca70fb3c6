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

from traces import report as _report
from traces.errors import TraceError, TraceWarning

#: Spikes drawn by :func:`raster_figure` at most; more are thinned evenly (and the title says so).
MAX_RASTER_SPIKES = 200_000

#: Categories shown by name in a legend; more are shown as a colour bar of ids.
MAX_LEGEND_ENTRIES = 12

_DPI = 110


def _new_figure(width_in: float, height_in: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _colormap(name: str):
    import matplotlib

    return matplotlib.colormaps[name]


def _scale(max_value: float, unit: str) -> tuple[float, str]:
    """Divisor and prefixed unit that keep ``max_value`` between 1 and 1000."""
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"),
                           (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f")):
        if abs(max_value) >= factor:
            return factor, prefix + unit
    return 1.0, unit


def _time_scale(max_ps: float) -> tuple[float, str]:
    """Divisor from picoseconds and unit name (ns, µs, ms or s) for a time axis."""
    factor, label = _scale(max_ps * 1e-12, "s")
    if label in ("ps", "fs"):
        factor, label = 1e-9, "ns"
    return factor * 1e12, label


def _run_label(trace) -> str:
    meta = trace.metadata
    return f"{meta.get('network', '?')} on {meta.get('chip', '?')}, {meta.get('mode', '?')} mode"


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=11,
            color="0.35")


def save_figure(fig, path, dpi: int = _DPI) -> Path:
    """Write ``fig`` as a PNG to ``path`` (its folder must exist) and return the path."""
    path = Path(path)
    if not path.parent.is_dir():
        raise TraceError(f"cannot write figure {path}: folder {path.parent} does not exist")
    fig.savefig(path, format="png", dpi=dpi)
    return path


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


# -- network-on-chip ------------------------------------------------------------------------

def _core_grid(values: np.ndarray, width: int, height: int, per_tile: int) -> np.ndarray:
    """Per-core ``values`` placed on the mesh: each tile a small block of its cores.

    Returns a float64 image of shape ``(height * rows, width * cols)`` (NaN where a tile has no
    core in that slot), with ``rows × cols`` the most square block holding ``per_tile`` cores.
    """
    cols = math.ceil(math.sqrt(per_tile))
    rows = math.ceil(per_tile / cols)
    img = np.full((height * rows, width * cols), np.nan)
    n = min(values.size, width * height * per_tile)
    x, y = _report.core_xy(width, per_tile, n)
    slot = np.arange(n) % per_tile
    img[y * rows + slot // cols, x * cols + slot % cols] = values[:n]
    return img


def noc_figure(trace, view: str = "auto"):
    """Network-on-chip load drawn on the mesh.

    Parameters
    ----------
    view : {"auto", "links", "cores"}
        ``links``: :func:`link_load_figure`, the load of every link (needs per-link counters,
        recorded when the chip models contention). ``cores``: :func:`core_traffic_figure`,
        messages and hops per core. ``auto``: links when the trace has them, else cores.
    """
    if view not in ("auto", "links", "cores"):
        raise TraceError(f"view must be 'auto', 'links' or 'cores', got {view!r}")
    if view == "links" or (view == "auto" and trace.links is not None):
        return link_load_figure(trace)
    return core_traffic_figure(trace)


def core_traffic_figure(trace):
    """Network-on-chip traffic per core, drawn on the mesh: messages sent, messages received,
    and hops started (east + west + north + south). Each tile is a block of its cores."""
    if trace.counters is None:
        raise TraceError(f"trace {trace.path} has no operation counters (the run did not finish)")
    width, height, per_tile = _report.chip_layout(trace)
    cols = math.ceil(math.sqrt(per_tile))
    rows = math.ceil(per_tile / cols)
    zero = np.zeros(trace.counters.shape[0], dtype=np.int64)

    def col(name):
        v = _report.column(trace, name)
        return zero if v is None else v

    hops = sum(col(name) for name in _report.HOP_COLUMNS)
    panels = [("messages sent", col("message_out"), "messages"),
              ("messages received", col("message_in"), "messages"),
              ("hops started here (all directions)", hops, "hops")]
    aspect = (height * rows) / (width * cols)
    fig = _new_figure(5.2 * len(panels), max(3.2, 4.2 * aspect + 1.4))
    axes = fig.subplots(1, len(panels))
    source = ("" if "chip_width" in trace.metadata
              else " — geometry not in trace, square layout assumed")
    fig.suptitle(f"Network-on-chip traffic per core — {_run_label(trace)}\n"
                 f"{width}×{height} tiles, {per_tile} core{'s' if per_tile > 1 else ''} per tile"
                 f"{source}")
    cmap = _colormap("viridis").with_extremes(bad="0.92")
    annotate = width * height * per_tile <= 64
    n_all = width * height * per_tile
    core_id = _core_grid(np.arange(n_all, dtype=np.float64), width, height, per_tile)
    core_id = np.where(np.isfinite(core_id), core_id, -1).astype(np.int64)
    for ax, (title, values, unit) in zip(axes, panels, strict=True):
        img = _core_grid(values.astype(np.float64), width, height, per_tile)
        im = ax.imshow(img, cmap=cmap, interpolation="nearest", origin="upper",
                       vmin=0, vmax=max(1.0, float(np.nanmax(img)) if img.size else 1.0))
        ax.set_title(f"{title} (total {int(values.sum())})")
        # Tile borders, so that the cores of one tile read as one block.
        for gx in range(1, width):
            ax.axvline(gx * cols - 0.5, color="white", linewidth=2)
        for gy in range(1, height):
            ax.axhline(gy * rows - 0.5, color="white", linewidth=2)
        step_x = max(1, width // 8)
        step_y = max(1, height // 8)
        ax.set_xticks(np.arange(0, width, step_x) * cols + (cols - 1) / 2,
                      [str(i) for i in range(0, width, step_x)])
        ax.set_yticks(np.arange(0, height, step_y) * rows + (rows - 1) / 2,
                      [str(i) for i in range(0, height, step_y)])
        ax.set_xlabel("tile x (east →)")
        ax.set_ylabel("tile y (south ↓)")
        for gx in range(1, width * cols):
            if gx % cols:
                ax.axvline(gx - 0.5, color="white", linewidth=0.5)
        for gy in range(1, height * rows):
            if gy % rows:
                ax.axhline(gy - 0.5, color="white", linewidth=0.5)
        if annotate:
            vmax = np.nanmax(img) if np.isfinite(img).any() else 0
            for (r, c), v in np.ndenumerate(img):
                if np.isfinite(v):
                    ax.text(c, r, f"core {core_id[r, c]}\n{int(v)}", ha="center",
                            va="center", fontsize=6.5,
                            color="black" if v > 0.6 * vmax and vmax > 0 else "white")
        fig.colorbar(im, ax=ax, label=f"{unit} per core", shrink=0.8)
    return fig


#: Cell of each router output in the 3×3 block drawn for a tile: (row, column); the centre holds
#: the busiest ejection port (router to core).
_LINK_CELL = {0: (1, 2), 1: (1, 0), 2: (0, 1), 3: (2, 1)}
_LINK_ARROW = {0: "→", 1: "←", 2: "↑", 3: "↓"}


def _link_grid(trace, values: np.ndarray, width: int, height: int) -> np.ndarray:
    """Per-link ``values`` on the mesh: a 3×3 block per tile, each output link in the cell on
    its side (east right, north up), the largest ejection value in the centre, NaN corners."""
    img = np.full((3 * height, 3 * width), np.nan)
    links = trace.links
    tile = links["tile"].astype(np.int64)
    ok = tile < width * height
    x, y = tile % width, tile // width
    for port, (r, c) in _LINK_CELL.items():
        sel = ok & (links["port"] == port)
        img[3 * y[sel] + r, 3 * x[sel] + c] = values[sel]
    centre = np.zeros(width * height)
    sel = ok & (links["port"] >= 4)
    np.maximum.at(centre, tile[sel], values[sel])
    img[1::3, 1::3] = centre.reshape(height, width)
    return img


def link_load_figure(trace):
    """Load of every network-on-chip link on the mesh: utilisation and blocked time.

    Each tile is a 3×3 block of cells: the link leaving it east is the cell on its right, west on
    its left, north above and south below; the centre is its busiest ejection port (router to
    core). Utilisation is busy time over the hardware time the counters cover; blocked time is
    time a link sat idle with a packet waiting for room downstream, as a share of the same time.
    """
    if trace.links is None:
        raise TraceError(f"trace {trace.path} has no per-link counters (the chip did not model "
                         "network-on-chip contention)")
    width, height, per_tile = _report.chip_layout(trace)
    stats = _report.link_report(trace)
    duration = max(stats["duration_ps"], 1)
    util = _report.link_utilisation(trace)
    blocked = trace.links["blocked_ps"] / duration
    panels = [("utilisation (busy time)", util, stats["max_utilisation"]),
              ("blocked time (waiting for room downstream)", blocked,
               stats["max_blocked_ps"] / duration)]
    aspect = height / width
    fig = _new_figure(5.6 * len(panels), max(3.4, 4.4 * aspect + 1.5))
    axes = fig.subplots(1, len(panels))
    source = ("" if "chip_width" in trace.metadata
              else " — geometry not in trace, square layout assumed")
    fig.suptitle(f"Network-on-chip link load — {_run_label(trace)}\n{width}×{height} tiles, "
                 f"over {duration / 1e9:.4g} ms of hardware time; arrows: link direction, "
                 f"centre: busiest ejection port{source}")
    cmap = _colormap("magma_r").with_extremes(bad="white")
    arrows = width * height <= 256
    numbers = width * height <= 36
    for ax, (title, values, vmax) in zip(axes, panels, strict=True):
        img = 100 * _link_grid(trace, values.astype(np.float64), width, height)
        top = float(np.nanmax(img)) if np.isfinite(img).any() else 0.0
        top = top if top > 0 else 1.0      # an all-zero panel keeps a readable scale
        im = ax.imshow(img, cmap=cmap, interpolation="nearest", origin="upper", vmin=0,
                       vmax=top)
        ax.set_title(f"{title}, max {100 * vmax:.3g} %")
        for gx in range(width + 1):
            ax.axvline(3 * gx - 0.5, color="0.6", linewidth=1.2)
        for gy in range(height + 1):
            ax.axhline(3 * gy - 0.5, color="0.6", linewidth=1.2)
        step_x, step_y = max(1, width // 8), max(1, height // 8)
        ax.set_xticks(np.arange(0, width, step_x) * 3 + 1, [str(i) for i in range(0, width,
                                                                              step_x)])
        ax.set_yticks(np.arange(0, height, step_y) * 3 + 1, [str(i) for i in range(0, height,
                                                                               step_y)])
        ax.set_xlabel("tile x (east →)")
        ax.set_ylabel("tile y (south ↓)")
        if arrows:
            for port, (r, c) in _LINK_CELL.items():
                for ty in range(height):
                    for tx in range(width):
                        v = img[3 * ty + r, 3 * tx + c]
                        label = _LINK_ARROW[port] + (f"\n{v:.2g}" if numbers and v > 0 else "")
                        ax.text(3 * tx + c, 3 * ty + r, label, ha="center", va="center",
                                fontsize=6 if numbers else 5,
                                color="white" if v > 0.6 * top else "0.25")
        fig.colorbar(im, ax=ax, label="% of hardware time", shrink=0.8)
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
    out_dir.mkdir(parents=True, exist_ok=True)
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
    return paths
