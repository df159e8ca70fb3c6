"""The ``aersim sweep`` and ``aersim sweep-plot`` commands.

``add_parser(subparsers)`` adds both to the ``aersim`` parser; ``run_sweep_command(args)`` runs
either (it dispatches on ``args.command``) and returns the exit code.
"""

from __future__ import annotations

import json
import math
import signal
import sys
from pathlib import Path

SWEEP_EXAMPLES = """\
examples:
  aersim sweep examples/sweep_cores.yaml                 local cluster, one worker per core
  aersim sweep spec.yaml --out cores.parquet --workers 2
  aersim sweep spec.yaml --scheduler tcp://10.0.0.5:8786  an existing Dask cluster
  aersim sweep spec.yaml --resume                        run only the points not yet done
  aersim sweep spec.yaml --dry-run                       list the points and exit
  aersim sweep-plot aersim-out/sweep.h5 --out plots/

axes: chip.<keypath> (any chip-file key, e.g. chip.core.neurons), system.<keypath> (a key of
a system file given as base.chip, e.g. system.link_types.board.bandwidth_gbit_s),
mapping.strategy, run.seed, run.mode, run.dt_ms, run.duration_s, stimulus.rate_hz,
stimulus.recording, network.profile, network.seed, network.name
"""

DEFAULT_OUT = "aersim-out/sweep.h5"


def add_parser(subparsers) -> None:
    """Add ``sweep`` and ``sweep-plot`` to an ``argparse`` sub-parser collection."""
    import argparse

    p = subparsers.add_parser(
        "sweep", help="run a design-space sweep on Dask and tabulate the results",
        description="Run every point of a sweep spec (YAML) on Dask: a local cluster by default, "
                    "or an existing one with --scheduler. Rows are appended to the result file "
                    "as points finish.",
        epilog=SWEEP_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", help="sweep spec (.yaml)")
    p.add_argument("--out", default=DEFAULT_OUT,
                   help=f"result file: .h5 (HDF5) or .parquet (default {DEFAULT_OUT})")
    p.add_argument("--resume", action="store_true",
                   help="keep the rows in --out and run only missing or lost points")
    p.add_argument("--retry-failed", action="store_true",
                   help="with --resume, also rerun points that failed with an error")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler address (default: start a local cluster)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes of the local cluster (default: one per core)")
    p.add_argument("--scheduler-timeout", type=float, default=10.0, metavar="S",
                   help="seconds to wait for --scheduler (default 10)")
    p.add_argument("--dry-run", action="store_true", help="list the points and exit")
    p.add_argument("--json", action="store_true", help="print the table as JSON lines")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    q = subparsers.add_parser(
        "sweep-plot", help="plot a sweep result: Pareto fronts and each axis' effect",
        description="Plot energy against latency (and agreement) with the Pareto front, and the "
                    "effect of each axis, as PNG files.")
    q.add_argument("result", help="sweep result (.h5 or .parquet)")
    q.add_argument("--out", default="aersim-out/sweep-plots", help="folder for the PNG files")


def run_sweep_command(args) -> int:
    """Run ``aersim sweep`` or ``aersim sweep-plot``; return the exit code."""
    if args.command == "sweep-plot":
        return _plot(args)
    from aersim.simcore.errors import ConfigError
    from aersim.simcore.run.signals import Interrupted, interrupt_on_signals
    from aersim.simcore.sweep.runner import sweep
    from aersim.simcore.sweep.spec import load_spec

    spec = load_spec(args.spec)
    if args.dry_run:
        print(f"sweep {spec.name}: {len(spec)} points over {', '.join(spec.axes)}")
        for i, (point, pid) in enumerate(zip(spec.points, spec.ids, strict=True)):
            ref = "  (reference)" if spec.reference == i else ""
            print(f"  {i:4d} {pid}  " + ", ".join(f"{k}={v}" for k, v in point.items()) + ref)
        return 0
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    if not args.scheduler_timeout > 0:
        raise ConfigError(f"--scheduler-timeout must be > 0 seconds, got {args.scheduler_timeout}")
    out = Path(args.out)
    if args.out == DEFAULT_OUT:
        _make_folder(out.parent)
    # SIGTERM ends the sweep like Ctrl-C: the rows stored so far are merged into the result
    # and the cluster is shut down.
    with interrupt_on_signals() as signals:
        try:
            table = sweep(spec, out=out, resume=args.resume, scheduler=args.scheduler,
                          n_workers=args.workers, retry_failed=args.retry_failed,
                          progress=not (args.no_progress or args.json),
                          scheduler_timeout_s=args.scheduler_timeout)
        except (Exception, Interrupted):
            if signals.signum is None:
                raise
            # Dask may have turned the interrupt into an error of its own while starting or
            # stopping the cluster; the cause is the signal.
            name = signal.Signals(signals.signum).name
            print(f"aersim: sweep interrupted by {name}; the rows finished so far are in {out}; "
                  "continue with --resume", file=sys.stderr)
            return signals.exit_code
    if args.json:
        for row in table.tolist():
            print(json.dumps({k: _plain(v) for k, v in zip(table.dtype.names, row, strict=True)}))
        return 0
    print(_summary(table, spec, out))
    return 0


def _plain(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v.item() if hasattr(v, "item") else v


def _summary(table, spec, out) -> str:
    ok = table["status"] == "ok"
    lines = [f"sweep {spec.name}: {int(ok.sum())} of {len(table)} points ok, results in {out}"]
    shown = list(spec.axes)[:4]
    head = "  " + "  ".join(f"{a[-18:]:>18s}" for a in shown) + \
        f"  {'energy uJ':>10s}  {'hw time us':>10s}  {'spikes':>7s}  status"
    lines.append(head)
    for r in table[:40]:
        cells = "  ".join(f"{str(r[a])[-18:]:>18s}" for a in shown)
        if r["status"] == "ok":
            lines.append(f"  {cells}  {r['energy_total_j'] * 1e6:10.4g}  "
                         f"{r['hardware_time_ps'] / 1e6:10.4g}  {r['spikes']:7d}  ok")
        else:
            lines.append(f"  {cells}  {'':10s}  {'':10s}  {'':7s}  {r['status']}: "
                         f"{r['error'][:80]}")
    if len(table) > 40:
        lines.append(f"  ... {len(table) - 40} more rows (aersim sweep --json, or read_sweep)")
    return "\n".join(lines)


def _make_folder(folder: Path) -> None:
    """Create an output folder, or raise ``ConfigError`` if it cannot be written."""
    import tempfile

    from aersim.simcore.errors import ConfigError
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise ConfigError(f"cannot write to folder {folder}: {exc.strerror or exc}; choose "
                          "another with --out") from None


def _plot(args) -> int:
    from aersim.simcore.sweep.plots import plot_sweep
    from aersim.simcore.sweep.runner import read_sweep

    read_sweep(args.result)  # a missing or damaged result is an error before the folder exists
    _make_folder(Path(args.out))
    paths = plot_sweep(args.result, args.out)
    for p in paths:
        print(p)
    return 0
