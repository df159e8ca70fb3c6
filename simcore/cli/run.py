"""``aersim run``: a network on a chip, with its input, to a printed summary and a trace."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_OUT = "aersim-out/trace.h5"

RUN_EXAMPLES = """\
examples:
  aersim run                                  the demo: a simulated DVS watching a moving bar,
                                              replayed into a direction-selective network
  aersim run brunel --mode async              Brunel balanced network, event-driven
  aersim run net.nir --profile snntorch --rate 50
  aersim run cnn.nir --profile sinabs --input digit.bin --bin-us 1000
  aersim run demo --input rec.aedat4 --downsample 32,32 --refractory-us 1000
"""


def add_parser(sub) -> None:
    """Register ``run`` on the command's subparsers."""
    run = sub.add_parser("run", help="run a network on a chip and write a trace",
                         description="Run a network on a chip, print latency, energy and "
                                     "traffic, write a trace (and plots).",
                         epilog=RUN_EXAMPLES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("network", nargs="?", default="demo",
                     help="built-in network (demo, layers, brunel, ff, random) or a network "
                          "file (.nir, .npz); default: demo")
    run.add_argument("--profile", help="import profile of a NIR file (exact, snntorch, norse, "
                                       "sinabs, rockpool, lava-dl, spyx)")
    run.add_argument("--chip", help="chip or system preset, or a chip or system .yaml "
                                    "(default: the network's, or loihi_like)")
    run.add_argument("--mode", choices=("timestep", "async"),
                     help="execution mode (default: the chip's)")
    run.add_argument("--duration", type=float,
                     help="simulated time, s (default: the recording's span, or the "
                          "built-in's, or 1 s; rounded to whole steps)")
    run.add_argument("--dt", type=float, help="time step, ms (default: the import "
                                              "profile's, else 0.1)")
    run.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    run.add_argument("--strategy", help="mapping strategy (sequential, layer, balanced, "
                                        "traffic, populations; default: the chip's)")
    run.add_argument("--ranks", type=int, metavar="N",
                     help="run over N MPI processes (timestep mode; launches mpiexec; the same "
                          "results as one process; needs pip install -e '.[mpi]')")
    run.add_argument("--threads", type=int, metavar="N", default=1,
                     help="run over N threads of this process (timestep mode; the same "
                          "results as one thread; no MPI needed)")
    inp = run.add_argument_group("input")
    inp.add_argument("--input", metavar="RECORDING",
                     help="event-camera recording to replay into the network's input")
    inp.add_argument("--format", help="recording format, when detection is not enough")
    inp.add_argument("--rate", type=float,
                     help="Poisson rate of every input neuron, Hz (default 20; for a built-in "
                          "run, replaces the rate of its Poisson stimuli)")
    inp.add_argument("--time-scale", type=float, default=1.0,
                     help="simulated seconds per recorded second (default 1)")
    inp.add_argument("--bin-us", type=float,
                     help="timestep mode: recorded microseconds per step (sets --time-scale)")
    inp.add_argument("--crop", metavar="X,Y,W,H", help="keep a region of the sensor")
    inp.add_argument("--downsample", metavar="W,H", help="sum-pool the sensor to W x H")
    inp.add_argument("--refractory-us", type=int,
                     help="drop events closer than this many µs per pixel")
    inp.add_argument("--denoise-us", type=int,
                     help="background-activity filter: keep events with a neighbour at most this "
                          "many µs older")
    out = run.add_argument_group("output")
    out.add_argument("--out", default=DEFAULT_OUT,
                     help=f"trace file to write (default {DEFAULT_OUT}; '' for none)")
    out.add_argument("--plots", metavar="DIR",
                     help="write PNG plots here (default: next to the default trace)")
    out.add_argument("--no-plots", action="store_true", help="write no plots")
    out.add_argument("--probe", action="append", default=[], metavar="POP[:I,J,...]",
                     help="sample the state of a population's neurons (all, or the listed "
                          "local indices) into the trace; repeatable")
    out.add_argument("--probe-period-ms", type=float,
                     help="probe sampling period, ms (default: every step, or 0.1 ms in async)")
    out.add_argument("--messages", action="store_true",
                     help="log every network-on-chip message in the trace (large)")
    out.add_argument("--json", action="store_true", help="print the summary as JSON")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")


def _pair(text: str, n: int, flag: str) -> tuple:
    from aersim.simcore.errors import ConfigError
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != n or min(values) < 0:
        raise ConfigError(f"{flag} takes {n} non-negative integers separated by commas, "
                          f"got {text!r}")
    return values


def _transforms(args) -> tuple:
    from aersim.traces.recordings import transforms as T
    steps = []
    if args.crop:
        steps.append(T.Crop(*_pair(args.crop, 4, "--crop")))
    if args.refractory_us:
        steps.append(T.Refractory(args.refractory_us))
    if args.denoise_us:
        steps.append(T.BackgroundActivity(args.denoise_us))
    if args.downsample:
        steps.append(T.Downsample(_pair(args.downsample, 2, "--downsample")))
    return tuple(steps)


def spec_from_args(args):
    """The :class:`~aersim.simcore.run.spec.RunSpec` that ``aersim run`` arguments describe."""
    from aersim.simcore.errors import ConfigError
    from aersim.simcore.run.catalog import BUILTIN_RUNS
    from aersim.simcore.run.spec import RunSpec

    transforms = _transforms(args)
    if transforms and not args.input:
        raise ConfigError("--crop, --downsample, --refractory-us and --denoise-us filter a "
                          "recording: give it with --input")
    if args.network not in BUILTIN_RUNS and not Path(args.network).suffix:
        raise ConfigError(f"unknown network {args.network!r}: built-ins are "
                          f"{', '.join(BUILTIN_RUNS)}, or give a network file (.nir, .npz, .net)")
    if args.out and args.network not in BUILTIN_RUNS and Path(args.out).exists() \
            and Path(args.out).resolve() == Path(args.network).resolve():
        raise ConfigError(f"--out {args.out} is the network file itself; choose another trace "
                          "path")
    return RunSpec(
        network=args.network, chip=args.chip, profile=args.profile, recording=args.input,
        recording_format=args.format, transforms=transforms, rate_hz=args.rate,
        time_scale=args.time_scale, bin_us=args.bin_us,
        dt_s=args.dt * 1e-3 if args.dt is not None else None, duration_s=args.duration,
        mode=args.mode, seed=args.seed, strategy=args.strategy,
        probes=parse_probes(args.probe) or None,
        probe_period_s=args.probe_period_ms * 1e-3 if args.probe_period_ms else None,
        record_messages=bool(args.messages), out=args.out or None)


def run_command(args) -> int:
    from aersim.simcore.errors import ConfigError
    from aersim.simcore.run.mpi import launch, launched_world
    from aersim.simcore.run.signals import interrupt_on_signals

    if args.ranks is not None and args.threads != 1:
        raise ConfigError("a run is split over MPI ranks or over threads, not both: drop "
                          "--threads (or --ranks)")
    if args.ranks is not None and launched_world() is None and args.ranks != 1:
        # ``--ranks N`` starts this same command as N MPI ranks (without ``--ranks``).
        return launch(args.ranks, list(getattr(args, "argv", sys.argv[1:])))

    # SIGTERM ends the run like Ctrl-C: the trace is closed, marked incomplete, and kept.
    with interrupt_on_signals():
        return _run(args)


def _run(args) -> int:
    from aersim.simcore.run.mpi import launcher_rank, strip_ranks
    from aersim.simcore.run.spec import execute

    spec = spec_from_args(args)
    if args.out == DEFAULT_OUT:
        Path(DEFAULT_OUT).parent.mkdir(exist_ok=True)
    outcome = execute(spec, progress=not (args.no_progress or args.json),
                      # How the run was split is not part of what it is: the trace of a
                      # run over ranks or threads is the one-process trace.
                      metadata={"command": " ".join(
                          ["aersim"] + strip_ranks(sys.argv[1:], ("--ranks", "--threads")))},
                      threads=args.threads, compile_ahead=True)
    if launcher_rank() != 0:
        return 0  # one rank of a parallel run: rank 0 reports and plots
    run, res, sim, latency = outcome.run, outcome.results, outcome.simulation, outcome.latency
    network, chip = run.network, run.chip
    outputs = output_counts(res, network, run.labels)
    if args.json:
        print(json.dumps(result_dict(res, network, chip, args, latency, outputs, run),
                         indent=2))
    else:
        print(f"network {args.network}: {network.n_neurons} neurons, {network.n_synapses} "
              f"synapses on {chip.name} ({sim.mapping.cores_used} of {chip.n_cores} cores, "
              f"mapping {sim.mapping.strategy})")
        for note in run.notes:
            print(f"note: {note}")
        print(res.summary())
        if latency is not None:
            print(format_latency(latency.stats()))
        for name, counts in outputs.items():
            print(format_output(name, counts, run.labels))
        if spec.out:
            print(f"trace written to {args.out}")
    plots_dir = args.plots or (str(Path(DEFAULT_OUT).parent / "plots")
                               if args.out == DEFAULT_OUT else None)
    if spec.out and plots_dir and not args.no_plots:
        from aersim.traces import read_trace
        from aersim.traces.output.plots import plot_all
        paths = plot_all(read_trace(args.out), plots_dir)
        if not args.json:
            print(f"plots written to {plots_dir}/ ({len(paths)} files)")
    return 0


def parse_probes(specs) -> dict:
    """``["L1", "L2:0,5,7"]`` -> ``{"L1": None, "L2": [0, 5, 7]}``."""
    from aersim.simcore.errors import ConfigError
    probes = {}
    for spec in specs:
        name, _, idx = spec.partition(":")
        try:
            probes[name] = [int(i) for i in idx.split(",")] if idx else None
        except ValueError:
            raise ConfigError(f"--probe {spec!r}: give POP or POP:I,J,... with integer "
                              "indices") from None
    return probes


def output_counts(res, network, labels) -> dict:
    """Spike counts of each output neuron, for output populations of at most 64 neurons."""
    import numpy as np
    out = {}
    for name in network.outputs:
        pop = network.population(name)
        if pop.size > 64:
            continue
        lo = network.offset(name)
        sel = (res.spikes_neuron >= lo) & (res.spikes_neuron < lo + pop.size)
        out[name] = np.bincount(res.spikes_neuron[sel] - lo, minlength=pop.size).tolist()
    return out


def format_output(name: str, counts: list, labels: tuple) -> str:
    names = labels if len(labels) == len(counts) else [str(i) for i in range(len(counts))]
    winner = max(range(len(counts)), key=lambda i: counts[i]) if any(counts) else None
    cells = ", ".join(f"{n} {c}" for n, c in zip(names, counts, strict=True))
    verdict = f" -> {names[winner]}" if winner is not None else " -> no output spikes"
    return f"output {name} spikes: {cells}{verdict}"


def format_latency(stats: dict) -> str:
    if not stats.get("responded"):
        return f"latency: no output followed any of {stats['events']} input events"
    return (f"latency input event -> first output spike: {stats['responded']} of "
            f"{stats['events']} events answered, mean {stats['mean_s'] * 1e3:.3f} ms, "
            f"p50 {stats['p50_s'] * 1e3:.3f} ms, p95 {stats['p95_s'] * 1e3:.3f} ms "
            "(hardware time)")


def result_dict(res, network, chip, args, latency, outputs, run) -> dict:
    return {
        "network": args.network, "chip": chip.name, "mode": res.mode,
        "neurons": network.n_neurons, "synapses": network.n_synapses,
        "simulated_s": (res.t_stop_ps - res.t_start_ps) / 1e12, "steps": run.n_steps
        if res.mode == "timestep" else None, "dt_s": run.dt_ps / 1e12, "wall_s": res.wall_s,
        "spikes": res.n_spikes, "operations": res.op_totals(),
        "hardware_time_s": res.hardware_time_ps / 1e12,
        "energy_j": {"total": res.ledger.total_j, "dynamic": res.ledger.dynamic_j,
                     "static": res.ledger.static_j, "barrier": res.ledger.barrier_j,
                     "by_operation": res.ledger.by_op_j()},
        "latency": latency.stats() if latency is not None else None,
        "outputs": outputs, "trace": args.out or None, "notes": list(run.notes),
    }
