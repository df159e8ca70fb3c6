"""Shared pieces of the figures (``traces.output.plots`` and ``traces.output.plots_noc``):
figure creation on the Agg canvas, colour maps, unit scaling, labels and saving."""

from __future__ import annotations

from pathlib import Path

from aersim.traces.errors import TraceError

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
    try:
        fig.savefig(path, format="png", dpi=dpi)
    except OSError as err:
        raise TraceError(f"cannot write figure {path}: {err.strerror}") from None
    return path
