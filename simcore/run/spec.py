"""``RunSpec``: one description of a run, shared by the command line, sweeps and Python.

A run is a network (a built-in name, a network file with its import profile, or a ``Network``),
a chip, a mapping strategy, what drives the input (stimuli, or a recording with its transforms),
a time step, a duration, an execution mode, a seed and where the trace goes. ``aersim run`` builds
a ``RunSpec`` from its arguments, a sweep from each point of its spec, a user in Python; all three
then go through the one :func:`resolve` (defaults, the profile's time step, whole steps) and the
one :func:`execute` (simulate, measure latency, write the trace), so the same description gives the
same spikes, counts and energy whichever way it was given.

Defaults, in the order they are applied:

- time step: ``dt_s`` if given, else the import profile's ``dt`` (what the network was trained
  with), else 0.1 ms. A ``dt_s`` that differs from the profile's warns: the network will not
  behave as trained.
- duration: ``duration_s`` if given, else the recording's span (first to last event, times the
  time scale), else the built-in run's, else 1 s; always rounded to a whole number of steps.
- time scale: ``bin_us`` (recorded microseconds per step) sets it to ``dt / bin``; otherwise
  ``time_scale`` (simulated seconds per recorded second, default 1).
- stimuli: ``stimuli`` if given; else the recording replayed into the first input population;
  else the built-in run's; else Poisson spikes at ``rate_hz`` on every input population.
"""

from __future__ import annotations

import math
import sys
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from aersim.simcore.errors import ConfigError, RunWarning
from aersim.simcore.run.config import PS_PER_S

DEFAULT_DT_S = 1e-4


def _number(name: str, value, *, positive: bool = True, allow_none: bool = True):
    """``value`` as a finite float (> 0 when ``positive``), or a ConfigError naming it."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or (positive and value <= 0):
        raise ConfigError(f"{name} must be a finite number{' > 0' if positive else ''}, "
                          f"got {value!r}")
    return value


@dataclass(frozen=True)
class RunSpec:
    """What to run. Times in seconds unless a name carries its unit.

    Attributes
    ----------
    network : str, Path or models.Network
        A built-in run (``demo``, ``layers``, ``brunel``, ``ff``, ``random``), a network file
        (``.nir``, ``.npz``, ``.net``) or a ``Network``.
    chip : str, Path, hardware.ChipSpec or None
        A preset name, a chip ``.yaml`` or a ``ChipSpec``; None takes the built-in run's chip or
        ``loihi_like``.
    profile : str or models.ImportProfile or None
        Import profile of a network file (None: detected from the file, with a warning).
    network_seed : int or None
        Seed of a built-in network's generator (None: ``seed``).
    recording : str, Path or None
        Event-camera recording replayed into the first input population.
    recording_format : str or None
        The recording's format, when detection from its first bytes is not enough.
    transforms : tuple
        ``aersim.traces.transforms`` applied to the recording, in order.
    stimuli : tuple or None
        Explicit stimuli (``PoissonInput``, ``PoissonDrive``, ``SpikeTrains``, ``EventReplay``).
    rate_hz : float or None
        Poisson rate of every input neuron when nothing else drives the inputs (default 20 Hz);
        with a built-in run it replaces the rate of the run's own Poisson stimuli.
    time_scale : float
        Simulated seconds per recorded second.
    bin_us : float or None
        ``timestep`` mode: recorded microseconds per step (sets ``time_scale``).
    dt_s : float or None
        Time step in seconds (None: the profile's, else 0.1 ms).
    duration_s : float or None
        Simulated seconds (None: see the module's defaults).
    mode : str or None
        ``"timestep"`` or ``"async"`` (None: the chip's).
    seed : int
        Seed of every random stream of the run.
    strategy : str or None
        Mapping strategy (None: the built-in's, else the chip's default,
        ``hardware.mapping.default_strategy``).
    probes : dict or None
        ``{population: None or local indices}`` whose state is sampled.
    probe_period_s : float or None
        Probe sampling period (None: every step, or 0.1 ms in async mode).
    record_messages : bool
        Log every network-on-chip message into the trace.
    out : str, Path or None
        Trace file to write (None: no trace).
    """

    network: object = "demo"
    chip: object = None
    profile: object = None
    network_seed: int | None = None
    recording: object = None
    recording_format: str | None = None
    transforms: tuple = ()
    stimuli: tuple | None = None
    rate_hz: float | None = None
    time_scale: float = 1.0
    bin_us: float | None = None
    dt_s: float | None = None
    duration_s: float | None = None
    mode: str | None = None
    seed: int = 0
    strategy: str | None = None
    probes: dict | None = None
    probe_period_s: float | None = None
    record_messages: bool = False
    out: object = None

    def __post_init__(self):
        for name in ("dt_s", "duration_s", "bin_us", "probe_period_s", "rate_hz"):
            _number(name, getattr(self, name), positive=name != "rate_hz")
        if self.rate_hz is not None and self.rate_hz < 0:
            raise ConfigError(f"rate_hz must be >= 0, got {self.rate_hz!r}")
        _number("time_scale", self.time_scale, allow_none=False)
        for name in ("seed", "network_seed"):
            value = getattr(self, name)
            if value is None and name == "network_seed":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                    or not 0 <= int(value) < 2**63:
                raise ConfigError(f"{name} must be an integer in [0, 2**63), got {value!r}")
        if self.mode is not None and self.mode not in ("timestep", "async"):
            raise ConfigError(f"mode {self.mode!r} is not one of ('timestep', 'async')")
        if self.stimuli is not None:
            if not isinstance(self.stimuli, (list, tuple)):
                raise ConfigError("stimuli must be a list or tuple of stimulus objects (e.g. "
                                  f"[PoissonInput('input', 20.0)]), got {type(self.stimuli)!r}")
            object.__setattr__(self, "stimuli", tuple(self.stimuli))
        if not isinstance(self.transforms, (list, tuple)):
            raise ConfigError("transforms must be a list or tuple of transforms, got "
                              f"{type(self.transforms)!r}")
        object.__setattr__(self, "transforms", tuple(self.transforms))
        if self.transforms and self.recording is None:
            raise ConfigError("transforms filter a recording: give it with recording=")

    def with_(self, **changes) -> RunSpec:
        """A copy with some fields changed."""
        return replace(self, **changes)


@dataclass
class ResolvedRun:
    """A ``RunSpec`` with every default applied: the objects a ``Simulation`` is built from.

    ``duration_ps`` is a whole number of ``dt_ps`` steps; ``notes`` says what was assumed.
    """

    spec: RunSpec
    network: object
    chip: object
    stimuli: list
    config: object
    duration_ps: int
    strategy: str | None
    labels: tuple = ()
    notes: list = field(default_factory=list)

    @property
    def dt_ps(self) -> int:
        return int(self.config.dt_ps)

    @property
    def n_steps(self) -> int:
        return self.duration_ps // self.dt_ps


def _load_network(spec: RunSpec, root: Path):
    """``(network, builtin entry or None)``."""
    from aersim.models import Network, load_network
    from aersim.simcore.run.catalog import BUILTIN_RUNS

    if isinstance(spec.network, Network):
        return spec.network, None
    name = str(spec.network)
    if name in BUILTIN_RUNS:
        if spec.profile is not None:
            raise ConfigError(f"profile {spec.profile!r} applies to network files; the "
                              f"built-in network {name!r} has no import profile")
        return name, BUILTIN_RUNS[name]
    path = Path(name) if Path(name).is_absolute() else root / name
    if not path.suffix and not path.exists():
        raise ConfigError(f"unknown network {name!r}: built-ins are {', '.join(BUILTIN_RUNS)}, "
                          "or give a network file (.nir, .npz, .net)")
    return load_network(path, profile=spec.profile), None


def _chip(spec: RunSpec, default: str, root: Path):
    from aersim.hardware import ChipSpec, load_chip

    chip = spec.chip if spec.chip is not None else default
    if isinstance(chip, ChipSpec):
        return chip
    if isinstance(chip, (str, Path)):
        text = str(chip)
        candidate = root / text
        if not Path(text).is_absolute() and text.endswith((".yaml", ".yml")) \
                and candidate.exists():
            text = str(candidate)
        return load_chip(text)
    raise ConfigError(f"chip must be a preset name, a chip .yaml path or a ChipSpec, got "
                      f"{type(chip).__name__} {chip!r}")


def profile_dt_s(network) -> float | None:
    """The time step the network was trained with (its import profile's), or None."""
    profile = (getattr(network, "metadata", None) or {}).get("profile") or {}
    dt = profile.get("dt_s") if isinstance(profile, dict) else None
    return float(dt) if dt else None


def resolve(spec: RunSpec, root: str | Path = ".") -> ResolvedRun:
    """Apply every default of ``spec`` (see the module's docstring) and load what it names.

    Parameters
    ----------
    root : str or Path
        Folder that relative file names are resolved against (a sweep spec's folder).

    Raises
    ------
    ConfigError
        On anything inconsistent; the message names the field and the fix.
    """
    from aersim.simcore.run.config import RunConfig
    from aersim.simcore.run.replay import EventReplay, recording_span_s
    from aersim.simcore.run.stimulus import PoissonInput

    root = Path(root)
    notes = []
    network, entry = _load_network(spec, root)
    stimuli, labels, default_chip, strategy = [], (), "loihi_like", None
    default_duration = None
    if entry is not None:
        seed = spec.seed if spec.network_seed is None else spec.network_seed
        network, stimuli = entry.build(int(seed))
        stimuli = list(stimuli)
        labels, default_chip, strategy = entry.labels, entry.chip, entry.strategy
        default_duration = entry.duration_s
        if spec.rate_hz is not None:
            rated = [s for s in stimuli if hasattr(s, "rate_hz")]
            if not rated:
                raise ConfigError(f"rate_hz applies to Poisson stimuli; the built-in run "
                                  f"{spec.network!r} is driven by "
                                  f"{', '.join(type(s).__name__ for s in stimuli)}")
            stimuli = [replace(s, rate_hz=float(spec.rate_hz)) if hasattr(s, "rate_hz") else s
                       for s in stimuli]
    trained_dt = profile_dt_s(network)
    if spec.dt_s is not None:
        dt_s = spec.dt_s
        if trained_dt is not None and not math.isclose(dt_s, trained_dt, rel_tol=1e-9):
            msg = (f"dt = {dt_s:g} s differs from the import profile's dt = {trained_dt:g} s: "
                   "the network will not behave as it did where it was trained")
            warnings.warn(msg, RunWarning, stacklevel=3)
            notes.append(msg)
    else:
        dt_s = trained_dt if trained_dt is not None else DEFAULT_DT_S
    dt_ps = int(round(dt_s * PS_PER_S))
    if dt_ps < 1:
        raise ConfigError(f"dt = {dt_s!r} s is below one picosecond")
    time_scale = spec.time_scale
    if spec.bin_us is not None:
        time_scale = dt_ps / PS_PER_S / (spec.bin_us * 1e-6)
    if spec.stimuli is not None:
        stimuli = list(spec.stimuli)
    elif spec.recording is not None:
        if not network.inputs:
            raise ConfigError("the network has no input population to replay the recording "
                              "into")
        stimuli = [EventReplay(network.inputs[0], spec.recording, transforms=spec.transforms,
                               time_scale=time_scale, format=spec.recording_format)]
        span = recording_span_s(spec.recording, spec.recording_format)
        if spec.duration_s is None:
            default_duration = span * time_scale if span > 0 else None
        if span > 0 and not 0.1 <= time_scale <= 10:
            msg = (f"the recording's {span:.4g} s become {span * time_scale:.4g} s of simulated "
                   f"time (time scale {time_scale:.4g}, steps of {dt_s:g} s): energy and static "
                   "power are for the simulated time")
            warnings.warn(msg, RunWarning, stacklevel=3)
            notes.append(msg)
    elif entry is None:
        if not network.inputs:
            raise ConfigError("the network has no input population to drive; give stimuli= "
                              "(e.g. PoissonDrive on a population)")
        rate = 20.0 if spec.rate_hz is None else spec.rate_hz
        stimuli = [PoissonInput(name, rate) for name in network.inputs]
        notes.append(f"inputs driven by Poisson spikes at {rate:g} Hz")
    duration_s = spec.duration_s or default_duration or 1.0
    steps = max(1, int(round(duration_s * PS_PER_S / dt_ps)))
    if steps * dt_ps != int(round(duration_s * PS_PER_S)):
        notes.append(f"duration {duration_s:g} s rounded to {steps} steps of {dt_s:g} s")
    chip = _chip(spec, default_chip, root)
    config = RunConfig(mode=spec.mode, dt_ps=dt_ps, seed=int(spec.seed),
                       record_messages=bool(spec.record_messages and spec.out),
                       probe_period_ps=int(round(spec.probe_period_s * PS_PER_S))
                       if spec.probe_period_s else None)
    return ResolvedRun(spec=spec, network=network, chip=chip, stimuli=stimuli, config=config,
                       duration_ps=steps * dt_ps, strategy=spec.strategy or strategy,
                       labels=tuple(labels), notes=notes)


@dataclass
class RunOutcome:
    """What :func:`execute` returns: the run, its results and the latency analysis."""

    run: ResolvedRun
    simulation: object
    results: object
    latency: object = None

    def __repr__(self):
        return f"RunOutcome({self.results!r})"


def execute(spec: RunSpec | ResolvedRun, *, root: str | Path = ".", progress: bool = False,
            metadata: dict | None = None, threads: int = 1,
            compile_ahead: bool = False) -> RunOutcome:
    """Resolve (if needed), build, run, and write the trace of ``spec.out``.

    The trace is created before anything is resolved or built (:func:`open_trace`): a second
    run on the same path is refused at once, and the file is removed if building fails. It
    gets the run description once the network, chip and mapping are built. Started as several
    ranks by an MPI launcher, the run is partitioned over them (``simcore.run.parallel``) and
    rank 0 writes the trace.

    Parameters
    ----------
    metadata : dict, optional
        Extra entries for the trace's run description (e.g. the command line).
    threads : int
        Partition the run over this many threads of this process (``simcore.run.threads``;
        ``timestep`` mode, bit-identical to one thread); the network is resolved once and
        shared, thread 0 writes the trace.
    compile_ahead : bool
        On a fresh Numba cache, compile the engine kernel in a second process while this one
        builds the tables (``simcore.run.compile_ahead``; runs in one process and one thread
        only).
    """
    from aersim.simcore.run.compile_notice import compile_notice
    from aersim.simcore.run.mpi import launched_world
    from aersim.simcore.run.parallel import open_on_rank0

    # Under an MPI launcher every rank runs its part of the same run; rank 0 writes the trace.
    comm = launched_world()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads must be a whole number >= 1, got {threads!r}")
    if threads > 1 and comm is not None:
        raise ConfigError("a run is split over MPI ranks or over threads, not both: drop "
                          "--threads (or --ranks)")
    trace = open_on_rank0(comm, lambda: open_trace(
        spec.spec if isinstance(spec, ResolvedRun) else spec, metadata))
    with compile_notice(progress and (comm is None or comm.Get_rank() == 0)):
        if threads > 1:
            return _run_threads(spec, root, progress, metadata, trace, threads)
        return _build_and_run(spec, root, progress, metadata, trace, comm,
                              compile_ahead=compile_ahead)


def _run_threads(spec, root, progress, metadata, trace, threads: int) -> RunOutcome:
    """:func:`execute` over ``threads`` threads: the network resolved once and shared, each
    thread's share built and run as a rank (``simcore.run.threads``); thread 0's outcome."""
    from aersim.simcore.run.threads import run_threads

    try:
        run = spec if isinstance(spec, ResolvedRun) else resolve(spec, root)
    except BaseException:
        if trace is not None:
            trace.discard()
        raise
    return run_threads(threads, lambda comm: _build_and_run(
        run, root, progress, metadata, trace if comm.Get_rank() == 0 else None, comm))[0]


def _stderr_line(line: str) -> None:
    print(f"aersim: {line}", file=sys.stderr, flush=True)


def _build_and_run(spec, root, progress, metadata, trace, comm, *,
                   compile_ahead: bool = False) -> RunOutcome:
    """:func:`execute` once its trace exists (``comm``: the ranks of a parallel run)."""
    from aersim.simcore.run.compile_ahead import AheadCompile
    from aersim.simcore.run.compile_notice import background
    from aersim.simcore.run.latency import response_latencies
    from aersim.simcore.run.simulation import Simulation
    from aersim.simcore.run.trace_out import run_metadata, write_results

    shown = progress and (comm is None or comm.Get_rank() == 0)    # rank 0 alone reports
    ahead = None
    try:
        run = spec if isinstance(spec, ResolvedRun) else resolve(spec, root)
        if compile_ahead and comm is None:
            ahead = AheadCompile.start(run.network, run.chip, run.config, run.stimuli,
                                       run.strategy, run.spec.probes)
            if ahead is not None:
                background()
        sim = Simulation(run.network, run.chip, config=run.config, stimuli=run.stimuli,
                         strategy=run.strategy, probes=run.spec.probes, comm=comm,
                         announce=_stderr_line if shown else None)
        sim.ahead = ahead
    except BaseException:
        if ahead is not None:
            ahead.stop()
        if trace is not None:
            trace.discard()
        raise
    if trace is not None:
        trace.describe(**run_metadata(run, sim, metadata or {}))
        trace.write_array("run/core_of", sim.mapping.core_of)
    try:
        res = sim.run(duration_ps=run.duration_ps, trace=trace, progress=shown)
    except BaseException:
        if trace is not None:
            trace.close(complete=False)
        raise
    finally:
        if ahead is not None:
            ahead.stop()
    net = run.network
    latency = response_latencies(res, net) if net.inputs and net.outputs else None
    if trace is not None:
        write_results(trace, res, sim, latency)
        trace.close()
    return RunOutcome(run=run, simulation=sim, results=res, latency=latency)


def open_trace(spec: RunSpec, metadata: dict | None = None):
    """Create the trace of ``spec.out`` before anything is built (None without ``out``).

    The file exists, complete-but-empty, from the start, so a run killed while building still
    leaves a file that says what it was.
    """
    if not spec.out:
        return None
    from aersim.traces import TraceWriter

    name = spec.network if isinstance(spec.network, (str, Path)) else "network"
    chip = spec.chip if isinstance(spec.chip, (str, Path)) or spec.chip is None else \
        getattr(spec.chip, "name", "chip")
    return TraceWriter(Path(spec.out), metadata={
        "network": str(name), "chip": None if chip is None else str(chip),
        "seed": int(spec.seed), **(metadata or {})})


def run(network="demo", chip=None, **fields) -> RunOutcome:
    """Run in one call: ``aersim.run("net.nir", "loihi_like", profile="snntorch")``.

    Takes the fields of :class:`RunSpec` as keywords.
    """
    return execute(RunSpec(network=network, chip=chip, **fields))
