"""``aersim run``: a network on a chip, with its input, to a printed summary and a trace."""

from __future__ import annotations

import argparse
import json
import platform
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
    run.add_argument("--chip", help="chip preset or chip .yaml (default: the network's, or "
                                    "loihi_like)")
    run.add_argument("--mode", choices=("timestep", "async"),
                     help="execution mode (default: the chip's)")
    run.add_argument("--duration", type=float,
                     help="simulated seconds (default: the built-in's, or the recording's "
                          "length, or 1 s)")
    run.add_argument("--dt", type=float, help="time step in ms (default: the profile's, else "
                                              "0.1)")
    run.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    run.add_argument("--strategy", help="mapping strategy (sequential, layer)")
    inp = run.add_argument_group("input")
    inp.add_argument("--input", metavar="RECORDING",
                     help="event-camera recording to replay into the network's input")
    inp.add_argument("--format", help="recording format, when detection is not enough")
    inp.add_argument("--rate", type=float, default=20.0,
                     help="Poisson rate of every input neuron (Hz) without --input (default 20)")
    inp.add_argument("--time-scale", type=float, default=1.0,
                     help="simulated seconds per recorded second (default 1)")
    inp.add_argument("--bin-us", type=float,
                     help="timestep mode: recorded microseconds per step (sets --time-scale)")
    inp.add_argument("--crop", metavar="X,Y,W,H", help="keep a region of the sensor")
    inp.add_argument("--downsample", metavar="W,H", help="sum-pool the sensor to W x H")
    inp.add_argument("--refractory-us", type=int, help="drop events closer than this per pixel")
    inp.add_argument("--denoise-us", type=int,
                     help="background-activity filter: keep events with a neighbour this recent")
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
                     help="probe sampling period (default: every step, or 0.1 ms in async)")
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


def resolve(args):
    """Network, stimuli, chip name, duration (s), dt (ps) and strategy for ``args``."""
    from aersim.models import load_network
    from aersim.simcore.errors import ConfigError
    from aersim.simcore.run.catalog import BUILTIN_RUNS
    from aersim.simcore.run.replay import EventReplay, recording_span_s
    from aersim.simcore.run.stimulus import PoissonInput

    labels = ()
    if args.network in BUILTIN_RUNS:
        entry = BUILTIN_RUNS[args.network]
        network, stimuli = entry.build(args.seed)
        chip, duration, strategy, labels = entry.chip, entry.duration_s, entry.strategy, \
            entry.labels
    elif Path(args.network).suffix:
        network = load_network(args.network, profile=args.profile)
        if not network.inputs:
            raise ConfigError(f"network {args.network} has no input population to drive")
        stimuli = [PoissonInput(name, args.rate) for name in network.inputs]
        chip, duration, strategy = "loihi_like", None, "sequential"
    else:
        raise ConfigError(f"unknown network {args.network!r}: built-ins are "
                          f"{', '.join(BUILTIN_RUNS)}, or give a .nir or .npz file")
    profile = network.metadata.get("profile") or {}
    dt_ps = int(round(args.dt * 1e9)) if args.dt is not None else \
        int(round(profile.get("dt_s", 1e-4) * 1e12))
    if dt_ps <= 0:
        raise ConfigError(f"--dt must be a positive number of ms, got {args.dt}")
    transforms = _transforms(args)
    if transforms and not args.input:
        raise ConfigError("--crop, --downsample, --refractory-us and --denoise-us filter a "
                          "recording: give it with --input")
    time_scale = args.time_scale
    if args.bin_us:
        time_scale = dt_ps * 1e-12 / (args.bin_us * 1e-6)
    if args.input:
        stimuli = [EventReplay(network.inputs[0], args.input, transforms=transforms,
                               time_scale=time_scale, format=args.format)]
        if args.duration is None:
            duration = recording_span_s(args.input, args.format) * time_scale
    if args.duration is not None:
        duration = args.duration
    if duration is None:
        duration = 1.0
    steps = max(1, int(round(duration * 1e12 / dt_ps)))
    return network, stimuli, args.chip or chip, steps * dt_ps, dt_ps, \
        args.strategy or strategy, labels


def run_command(args) -> int:
    from aersim.hardware import load_chip
    from aersim.hardware.energy import OP_KINDS
    from aersim.simcore.run.latency import response_latencies
    from aersim.simcore.run.simulation import RunConfig, Simulation
    from aersim.traces import TraceWriter

    network, stimuli, chip_name, duration_ps, dt_ps, strategy, labels = resolve(args)
    chip = load_chip(chip_name)
    config = RunConfig(mode=args.mode, dt_ps=dt_ps, seed=args.seed,
                       record_messages=bool(args.messages and args.out),
                       probe_period_ps=int(round(args.probe_period_ms * 1e9))
                       if args.probe_period_ms else None)
    sim = Simulation(network, chip, config=config, stimuli=stimuli, strategy=strategy,
                     probes=parse_probes(args.probe))
    trace = None
    if args.out:
        out = Path(args.out)
        if args.out == DEFAULT_OUT:
            out.parent.mkdir(exist_ok=True)
        trace = TraceWriter(out, metadata=run_metadata(args, network, chip, sim))
        trace.write_array("run/core_of", sim.mapping.core_of)
    try:
        res = sim.run(duration_ps=duration_ps, trace=trace,
                      progress=not (args.no_progress or args.json))
    except BaseException:
        if trace is not None:
            trace.close(complete=False)
        raise
    latency = response_latencies(res, network) if network.inputs and network.outputs else None
    if trace is not None:
        trace.set_metadata(t_start_ps=res.t_start_ps, t_stop_ps=res.t_stop_ps,
                           hardware_time_ps=res.hardware_time_ps)
        trace.write_counters(res.counts, OP_KINDS)
        e = res.ledger
        trace.write_energy(e.by_core_op_j, OP_KINDS, static_j=e.static_j, barrier_j=e.barrier_j,
                           duration_ps=e.duration_ps)
        if latency is not None:
            trace.write_latency(latency.t_in_ps, latency.latency_ps, latency.algorithmic_ps)
        if res.links is not None:
            trace.write_links(res.links, duration_ps=res.hardware_time_ps)
        if res.messages is not None:
            write_messages(trace, res.messages, sim, chip)
        trace.close()
    outputs = output_counts(res, network, labels)
    if args.json:
        print(json.dumps(result_dict(res, network, chip, args, latency, outputs), indent=2))
    else:
        print(f"network {args.network}: {network.n_neurons} neurons, {network.n_synapses} "
              f"synapses on {chip.name} ({sim.mapping.cores_used} of {chip.n_cores} cores, "
              f"mapping {sim.mapping.strategy})")
        print(res.summary())
        if latency is not None:
            print(format_latency(latency.stats()))
        for name, counts in outputs.items():
            print(format_output(name, counts, labels))
        if trace is not None:
            print(f"trace written to {args.out}")
    plots_dir = args.plots or (str(Path(DEFAULT_OUT).parent / "plots")
                               if args.out == DEFAULT_OUT else None)
    if trace is not None and plots_dir and not args.no_plots:
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


def write_messages(trace, log, sim, chip) -> None:
    """Message log rows (message, arrival, start, end) with their source, destination, hops."""
    import numpy as np

    from aersim.hardware.noc import route_table
    hops = route_table(chip).sum(axis=2)
    for lo in range(0, log.shape[0], 1 << 20):
        m = log[lo:lo + (1 << 20)]
        src = sim.mapping.core_of[np.searchsorted(sim.syn.msg_ptr, m[:, 0], side="right") - 1]
        dst = sim.syn.msg_core[m[:, 0]]
        trace.append_messages(m[:, 0], src, dst, m[:, 1], m[:, 2], m[:, 3], hops=hops[src, dst])


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


def run_metadata(args, network, chip, sim) -> dict:
    import numba
    import numpy

    from aersim.simcore.cli.main import version
    return {
        "command": " ".join(["aersim"] + sys.argv[1:]), "network": args.network,
        "network_summary": network.summary(), "network_metadata": network.metadata,
        "input": args.input, "chip": chip.name, "chip_path": chip.path, "mode": sim.mode,
        "chip_width": chip.width, "chip_height": chip.height,
        "cores_per_tile": chip.cores_per_tile, "n_cores": chip.n_cores,
        "populations": [{"name": p.name, "size": p.size, "kind": p.kind,
                         "offset": network.offset(p.name)} for p in network.populations.values()],
        "dt_ps": sim.config.dt_ps, "seed": args.seed, "mapping": sim.mapping.strategy,
        "stimuli": [repr(s)[:200] for s in sim.stimuli],
        "versions": {"aersim": version(), "numpy": numpy.__version__,
                     "numba": numba.__version__, "python": platform.python_version()},
    }


def result_dict(res, network, chip, args, latency, outputs) -> dict:
    return {
        "network": args.network, "chip": chip.name, "mode": res.mode,
        "neurons": network.n_neurons, "synapses": network.n_synapses,
        "simulated_s": (res.t_stop_ps - res.t_start_ps) / 1e12, "wall_s": res.wall_s,
        "spikes": res.n_spikes, "operations": res.op_totals(),
        "hardware_time_s": res.hardware_time_ps / 1e12,
        "energy_j": {"total": res.ledger.total_j, "dynamic": res.ledger.dynamic_j,
                     "static": res.ledger.static_j, "barrier": res.ledger.barrier_j,
                     "by_operation": res.ledger.by_op_j()},
        "latency": latency.stats() if latency is not None else None,
        "outputs": outputs, "trace": args.out or None,
    }
