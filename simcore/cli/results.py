"""The ``aersim report``, ``aersim compare`` and ``aersim plot`` commands: results read from a
trace written by ``aersim run``.

:func:`add_parsers` registers the sub-commands on the ``aersim`` parser and :data:`COMMANDS`
maps their names to the functions that run them. Bad input raises :class:`traces.TraceError`,
which the ``aersim`` entry point prints as one line with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

REPORT_EXAMPLES = """\
examples:
  aersim report aersim-out/trace.h5            summary, energy, latency, traffic, utilisation
  aersim report run.h5 --top 5                 list the 5 most expensive / busiest cores
  aersim report run.h5 --json > report.json    every number, for scripts
"""

COMPARE_EXAMPLES = """\
examples:
  aersim run demo --out a.h5 && aersim run demo --mode async --out b.h5
  aersim compare a.h5 b.h5                     every number of both runs and the ratio B/A
  aersim compare a.h5 b.h5 --json              the same as JSON (ratio null when A is 0, B not)
"""

PLOT_EXAMPLES = """\
examples:
  aersim plot aersim-out/trace.h5              PNGs into aersim-out/plots/
  aersim plot run.h5 --out figs                raster, activity, energy, noc, latency .png
  aersim plot run.h5 --events rec.aedat4       also frames of an event-camera recording
  aersim plot --events rec.raw --frames 9      only the recording's frames
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def add_parsers(subparsers) -> None:
    """Register ``report``, ``compare`` and ``plot`` on the ``aersim`` sub-command parsers."""
    raw = argparse.RawDescriptionHelpFormatter
    rep = subparsers.add_parser(
        "report", help="print the report of a trace (energy, latency, traffic, ...)",
        description="Read a trace and print its summary, energy by operation and core, "
                    "step-latency distribution, network-on-chip traffic and utilisation. "
                    "See docs/reports.md for what each number means.",
        epilog=REPORT_EXAMPLES, formatter_class=raw)
    rep.add_argument("trace", help="trace .h5 written by 'aersim run'")
    rep.add_argument("--json", action="store_true", help="print the report as JSON")
    rep.add_argument("--top", type=_positive_int, default=10, metavar="N",
                     help="cores listed in the per-core tables (default 10)")

    cmp = subparsers.add_parser(
        "compare", help="compare two traces side by side, with ratios B/A",
        description="Put every number of the reports of two runs side by side with the ratio "
                    "B/A; ratios outside 0.9 .. 1.1 are marked with '*'.",
        epilog=COMPARE_EXAMPLES, formatter_class=raw)
    cmp.add_argument("trace_a", help="trace A (the baseline)")
    cmp.add_argument("trace_b", help="trace B")
    cmp.add_argument("--json", action="store_true", help="print the comparison as JSON")

    plot = subparsers.add_parser(
        "plot", help="write the figures of a trace as PNG files",
        description="Write a spike raster, spikes per core over time, the energy breakdown, "
                    "network-on-chip traffic on the mesh and the step-latency histogram as PNG "
                    "files; optionally frames of an event-camera recording.",
        epilog=PLOT_EXAMPLES, formatter_class=raw)
    plot.add_argument("trace", nargs="?", help="trace .h5 written by 'aersim run'")
    plot.add_argument("--out", default="aersim-out/plots", metavar="DIR",
                      help="folder for the PNG files, created if missing "
                           "(default aersim-out/plots)")
    plot.add_argument("--events", metavar="RECORDING",
                      help="event-camera recording (any supported format) to draw as frames")
    plot.add_argument("--frames", type=_positive_int, default=6, metavar="N",
                      help="number of frames the recording is cut into (default 6)")
    plot.add_argument("--max-events", type=_positive_int, default=2_000_000, metavar="N",
                      help="events of the recording read at most, from its start "
                           "(default 2000000)")


def _load(path: str):
    """Read a trace; a file that is damaged inside becomes a TraceError naming it."""
    from aersim.traces import TraceError, read_trace

    try:
        trace = read_trace(path)
    except TraceError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise TraceError(f"cannot read trace {path}: {exc}; the file is damaged") from None
    if not trace.complete:
        warn(f"trace {path} is incomplete (the run did not finish); reporting what was written "
              "before it stopped")
    return trace


def warn(message: str) -> None:
    """Print ``message`` as the command's warning (stderr), without Python's source line."""
    print(f"aersim: warning: {message}", file=sys.stderr)


def _cmd_report(args) -> int:
    from aersim.traces.output import report as rp

    trace = _load(args.trace)
    rep = rp.report(trace, top=args.top)
    if args.json:
        print(json.dumps(rp.to_json(rep), indent=2, allow_nan=False))
    else:
        # The incomplete-trace warning went to stderr already.
        rep["warnings"] = [w for w in rep["warnings"] if "incomplete" not in w]
        print(rp.format_report(rep))
    return 0


def _cmd_compare(args) -> int:
    from aersim.traces.output import compare as cp
    from aersim.traces.output import report as rp

    a, b = _load(args.trace_a), _load(args.trace_b)
    cmp = cp.compare(a, b)
    if args.json:
        print(json.dumps(rp.to_json(cmp), indent=2, allow_nan=False))
    else:
        cmp["warnings"] = [w for w in cmp["warnings"] if "incomplete" not in w]
        print(cp.format_compare(cmp))
    return 0


def _cmd_plot(args) -> int:
    from pathlib import Path

    from aersim.traces import TraceError, TraceWarning

    if args.trace is None and args.events is None:
        raise TraceError("nothing to plot: give a trace .h5, --events RECORDING, or both")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise TraceError(f"--out {out} is a file; give a folder for the PNG files")
    from aersim.traces.output import plots

    paths = []
    if args.trace is not None:
        trace = _load(args.trace)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", TraceWarning)
            paths += plots.plot_all(trace, out)
        for w in caught:
            warn(str(w.message))
    if args.events is not None:
        paths.append(_plot_recording(args, out))
    for path in paths:
        print(path)
    return 0


def _plot_recording(args, out):
    from pathlib import Path

    from aersim.traces import TraceError
    from aersim.traces.output import plots
    from aersim.traces.recordings.recording import open_events

    path = Path(args.events)
    if not path.is_file():
        raise TraceError(f"recording {path} does not exist")
    with open_events(path, chunk_events=args.max_events) as reader:
        events = next(iter(reader), None)
        meta = reader.meta
    if events is None or events.size == 0:
        raise TraceError(f"recording {path} holds no events")
    out.mkdir(parents=True, exist_ok=True)
    fig = plots.event_frames_figure(events, (meta.width, meta.height), n_frames=args.frames,
                                    title=f"{path.name} ({meta.format})")
    return plots.save_figure(fig, out / f"events_{path.stem}.png")


COMMANDS = {"report": _cmd_report, "compare": _cmd_compare, "plot": _cmd_plot}
