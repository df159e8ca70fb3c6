"""Plots of a sweep result: Pareto fronts and the effect of each axis.

matplotlib is imported inside the functions (with the Agg backend), so importing this module
costs nothing and plots can be drawn on machines without a display.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: Latency columns in order of preference (step statistics exist only in timestep mode).
_LATENCY_COLUMNS = ("step_p95_ps", "step_mean_ps", "hardware_time_ps")


def pareto_front(x: np.ndarray, y: np.ndarray, maximize_y: bool = False) -> np.ndarray:
    """Indices of the points that no other point beats in both coordinates.

    Parameters
    ----------
    x : ndarray, float, (n,)
        Minimised (e.g. energy).
    y : ndarray, float, (n,)
        Minimised (latency) or, with ``maximize_y``, maximised (agreement).

    Returns
    -------
    ndarray, int64
        Front indices sorted by ``x``. NaN coordinates never enter the front.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    y = -y if maximize_y else y
    idx = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    order = idx[np.lexsort((y[idx], x[idx]))]
    front, best = [], np.inf
    for i in order:
        # Sorted by x, then y: a point is on the front when it improves the best y so far.
        if y[i] < best:
            front.append(i)
            best = y[i]
    return np.array(front, dtype=np.int64)


def _axes_of(table) -> list[str]:
    from aersim.simcore.sweep.table import HEAD_COLUMNS, METRIC_COLUMNS, TAIL_COLUMNS

    fixed = {n for n, _ in METRIC_COLUMNS + HEAD_COLUMNS + TAIL_COLUMNS}
    return [n for n in table.dtype.names if n not in fixed]


def latency_column(table) -> str:
    """The latency to plot: the 95th-percentile step duration when the runs have steps
    (timestep mode), else the hardware time."""
    for name in _LATENCY_COLUMNS:
        if np.any(np.isfinite(table[name].astype(np.float64)) & (table[name] > 0)):
            return name
    return "hardware_time_ps"


def plot_pareto(table, ax, y: str, maximize_y: bool = False, color_by: str | None = None):
    """Scatter of total energy against ``y`` with the Pareto front drawn on ``ax``."""
    ok = table[table["status"] == "ok"]
    x = ok["energy_total_j"] * 1e6
    yv = ok[y].astype(np.float64)
    scale, unit = (1e-6, "us") if y.endswith("_ps") else (1.0, "")
    yv = yv * scale
    if color_by is not None and ok.size:
        values = ok[color_by]
        for v in np.unique(values):
            sel = values == v
            ax.scatter(x[sel], yv[sel], s=18, label=f"{color_by}={v}")
        ax.legend(fontsize=7)
    else:
        ax.scatter(x, yv, s=18)
    front = pareto_front(x, yv, maximize_y)
    if front.size:
        ax.step(x[front], yv[front], where="post", color="k", lw=1, label="Pareto front")
    ax.set_xlabel("energy (uJ)")
    ax.set_ylabel(f"{y} ({unit})" if unit else y)
    ax.set_title(f"energy vs {y}" + (" (higher is better)" if maximize_y else ""))
    return front


def plot_axis_effects(table, fig):
    """One column per axis: mean and spread of energy and latency against the axis' values."""
    axes_names = _axes_of(table)
    ok = table[table["status"] == "ok"]
    lat = latency_column(table)
    rows = [("energy_total_j", 1e6, "energy (uJ)"), (lat, 1e-6, f"{lat} (us)")]
    n = max(1, len(axes_names))
    grid = fig.subplots(2, n, squeeze=False)
    for j, name in enumerate(axes_names):
        values = np.unique(ok[name]) if ok.size else np.array([])
        labels = [str(v) for v in values]
        for i, (metric, scale, label) in enumerate(rows):
            ax = grid[i][j]
            groups = [ok[metric][ok[name] == v].astype(np.float64) * scale for v in values]
            groups = [g[np.isfinite(g)] for g in groups]
            pos = np.arange(len(groups))
            for k, g in enumerate(groups):
                ax.scatter(np.full(g.size, k), g, s=10, alpha=0.5, color="C0")
            means = [g.mean() if g.size else np.nan for g in groups]
            ax.plot(pos, means, "o-", color="C1")
            ax.set_xticks(pos, labels, rotation=30, fontsize=7)
            if j == 0:
                ax.set_ylabel(label)
            if i == 1:
                ax.set_xlabel(name)
    fig.suptitle("effect of each axis (points: runs; line: mean)")
    return grid


def plot_sweep(result_path, out_dir) -> list[Path]:
    """Write the plots of a sweep result as PNG files.

    Parameters
    ----------
    result_path : str or Path
        A sweep result (``.h5`` or ``.parquet``).
    out_dir : str or Path
        Folder for the files (created).

    Returns
    -------
    list of Path
        ``pareto_latency.png``, ``pareto_agreement.png`` when the sweep has a reference, and
        ``axis_effects.png``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from aersim.simcore.sweep.table import read_sweep

    table = read_sweep(result_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    axes_names = _axes_of(table)
    color_by = axes_names[0] if axes_names else None
    paths = []

    fig, ax = plt.subplots(figsize=(6, 4.5))
    plot_pareto(table, ax, latency_column(table), color_by=color_by)
    paths.append(out / "pareto_latency.png")
    fig.tight_layout()
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    if np.any(np.isfinite(table["agree_spikes"])):
        fig, ax = plt.subplots(figsize=(6, 4.5))
        plot_pareto(table, ax, "agree_spikes", maximize_y=True, color_by=color_by)
        paths.append(out / "pareto_agreement.png")
        fig.tight_layout()
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)

    fig = plt.figure(figsize=(3.2 * max(1, len(axes_names)), 6))
    plot_axis_effects(table, fig)
    paths.append(out / "axis_effects.png")
    fig.tight_layout()
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths
