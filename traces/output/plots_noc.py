"""Network-on-chip figures: traffic per core laid out on the mesh, link load per direction, and
the chip-to-chip links of a system of chips.

Part of :mod:`traces.output.plots` (which lists every figure); matplotlib is imported inside the
functions.
"""

from __future__ import annotations

import math

import numpy as np

from aersim.traces.errors import TraceError
from aersim.traces.output import report as _report
from aersim.traces.output.plot_common import _colormap, _new_figure, _run_label

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


def chip_links_figure(trace, top: int = 20):
    """Traffic on the chip-to-chip links of a system: a matrix of packets from chip to chip
    (each entry one directed link) and the ``top`` links by energy."""
    cl = trace.chip_links
    if cl is None:
        raise TraceError(f"trace {trace.path} has no chip-to-chip links (a run on one chip)")
    labels = trace.metadata.get("chip_labels") or []
    n = int(max(cl["from_chip"].max(initial=-1), cl["to_chip"].max(initial=-1))) + 1
    n = max(n, len(labels), 1)
    mat = np.full((n, n), np.nan)
    mat[cl["from_chip"], cl["to_chip"]] = cl["packets"]
    fig = _new_figure(12.0, 5.4)
    ax_m, ax_b = fig.subplots(1, 2)
    fig.suptitle(f"Chip-to-chip links — {_run_label(trace)}\n{int(cl['packets'].sum())} packets, "
                 f"{float(cl['energy_j'].sum()) * 1e6:.4g} µJ on "
                 f"{int(np.count_nonzero(cl['packets']))} of {cl.size} directed links")
    cmap = _colormap("viridis").with_extremes(bad="0.92")
    im = ax_m.imshow(mat, cmap=cmap, interpolation="nearest", origin="upper", vmin=0)
    ax_m.set_xlabel("to chip")
    ax_m.set_ylabel("from chip")
    ax_m.set_title("packets per directed link (grey: no link)")
    fig.colorbar(im, ax=ax_m, label="packets", shrink=0.8)

    def name(c):
        return labels[c] if 0 <= c < len(labels) else str(c)

    order = np.argsort(-cl["energy_j"], kind="stable")
    order = order[cl["packets"][order] > 0][:top]
    ax_b.barh(np.arange(order.size), cl["energy_j"][order] * 1e6, color="tab:blue")
    ax_b.set_yticks(np.arange(order.size), [f"{name(int(cl['from_chip'][i]))}→"
                                            f"{name(int(cl['to_chip'][i]))}" for i in order])
    ax_b.invert_yaxis()
    ax_b.set_xlabel("energy (µJ)")
    ax_b.set_title(f"busiest links by energy (top {order.size})")
    return fig
