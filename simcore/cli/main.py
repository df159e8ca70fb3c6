"""The ``aersim`` command.

Exit codes: 0 success, 2 bad input (the message says what and how to fix it), 1 internal error.
"""

from __future__ import annotations

import argparse
import platform
import sys
import warnings
from importlib import metadata

from aersim.simcore.cli import run as cli_run
from aersim.simcore.cli import sweep as cli_sweep
from aersim.simcore.cli.results import COMMANDS as RESULT_COMMANDS
from aersim.simcore.cli.results import add_parsers as add_result_parsers
from aersim.simcore.cli.results import warn

EXAMPLES = """\
examples:
  aersim run                              the demo: a simulated DVS watching a moving bar,
                                          replayed into a direction-selective network
  aersim run brunel --mode async          Brunel balanced network, event-driven
  aersim run net.nir --profile snntorch --input recording.aedat4
  aersim info loihi_like                  describe a chip preset (or a chip .yaml, a trace .h5)
  aersim chips                            list the bundled chip presets
  aersim report aersim-out/trace.h5       tables: energy, latency, traffic, utilisation
  aersim plot aersim-out/trace.h5 --out plots
  aersim sweep examples/sweep_cores.yaml  design-space sweep on a local Dask cluster
"""


def version() -> str:
    try:
        return metadata.version("aersim")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aersim",
        description="Simulate spiking networks on neuromorphic many-core chips: spikes, latency, "
                    "energy by core and operation, network-on-chip traffic.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"aersim {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    cli_run.add_parser(sub)

    info = sub.add_parser("info", help="describe a chip, a network, a trace or this install")
    info.add_argument("target", nargs="?", help="chip preset or .yaml, built-in network, trace .h5")

    chips = sub.add_parser("chips", help="list chip presets, or print one")
    chips.add_argument("name", nargs="?", help="preset to print")
    add_result_parsers(sub)
    cli_sweep.add_parser(sub)
    return parser


def _cmd_info(args) -> int:
    from aersim.hardware import load_chip, preset_names
    from aersim.simcore.run.catalog import BUILTIN_RUNS

    target = args.target
    if target is None:
        print(f"aersim {version()} (Python {platform.python_version()})")
        print("chip presets:", ", ".join(preset_names()))
        print("built-in networks:", ", ".join(BUILTIN_RUNS))
        return 0
    if target in BUILTIN_RUNS:
        net, _ = BUILTIN_RUNS[target].build(0)
        print(BUILTIN_RUNS[target].description)
        print(net.summary())
        return 0
    if target.endswith((".h5", ".hdf5")):
        from aersim.traces import read_trace
        tr = read_trace(target)
        print(f"trace {target}: format {tr.version}, "
              f"{'complete' if tr.complete else 'INCOMPLETE'}, {tr.spikes_t_ps.size} spikes")
        for key in ("network", "chip", "mode", "seed", "command"):
            if key in tr.metadata:
                print(f"  {key}: {tr.metadata[key]}")
        if tr.energy:
            print(f"  energy: {tr.energy['total_j'] * 1e6:.4g} uJ")
        return 0
    print(load_chip(target).summary())
    return 0


def _cmd_chips(args) -> int:
    from aersim.hardware import load_chip, preset_names

    if args.name:
        print(load_chip(args.name).summary())
        return 0
    for name in preset_names():
        chip = load_chip(name)
        print(f"{name:18s} {chip.n_cores:5d} cores  {chip.execution_mode:8s} {chip.description}")
    return 0


def _cmd_sweep(args) -> int:
    return cli_sweep.run_sweep_command(args)


COMMANDS = {"run": cli_run.run_command, "info": _cmd_info, "chips": _cmd_chips, "sweep": _cmd_sweep,
            "sweep-plot": _cmd_sweep, **RESULT_COMMANDS}


def _command_warnings(default):
    """A ``warnings.showwarning`` that prints the package's own warnings as the command's
    (``aersim: warning: ...``) instead of Python's file, line and source line, and passes any
    other to ``default``."""
    def show(message, category, filename, lineno, file=None, line=None):
        if category.__module__.startswith("aersim."):
            warn(str(message))
        else:
            default(message, category, filename, lineno, file, line)
    return show


def main(argv=None) -> int:
    from aersim.hardware.errors import HardwareError
    from aersim.models.errors import ModelError
    from aersim.simcore.errors import SimulationError
    from aersim.simcore.run.mpi import launcher_rank
    from aersim.traces.errors import TraceError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["run"] + list(argv if argv is not None else sys.argv[1:]))
    args.argv = list(argv if argv is not None else sys.argv[1:])
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _command_warnings(warnings.showwarning)
            return COMMANDS[args.command](args)
    except (ModelError, HardwareError, SimulationError, TraceError) as exc:
        if launcher_rank() == 0:  # the ranks of a parallel run fail alike; one says so
            print(f"aersim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"aersim: {exc or 'interrupted'}", file=sys.stderr)
        return getattr(exc, "exit_code", 130)
    except BrokenPipeError:
        # Output piped into a command that stopped reading (``aersim report T | head``).
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
