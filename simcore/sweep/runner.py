"""Design-space exploration: run every point of a sweep spec on Dask and tabulate the results.

    from aersim.simcore.sweep.runner import sweep
    table = sweep("examples/sweep_cores.yaml", out="cores.h5")
    table["energy_total_j"], table["hardware_time_ps"], table["status"]

Each point is one Dask task that builds its network, chip and stimuli from a small run
description (a dict), runs it and returns a row of numbers; nothing large crosses the wire. Rows
are appended to the result file (HDF5, or Parquet when the path ends in ``.parquet``) as they
arrive, so a sweep interrupted by a lost worker or a killed client keeps every finished row, and
``resume=True`` runs only the points that are missing. A point that raises is recorded with its
error text; it never stops the others.

Dask is an optional dependency (``pip install -e '.[sweep]'`` from a checkout), imported on
first use.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import os
import socket
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from aersim.simcore.errors import ConfigError, SimulationError
from aersim.simcore.run.config import PS_PER_S
from aersim.simcore.run.progress import progress_bar
from aersim.simcore.sweep.spec import (
    SweepSpec,
    SweepSpecError,
    chip_dict,
    load_spec,
    make_chip,
)
from aersim.simcore.sweep.table import (
    HEAD_COLUMNS,
    METRIC_COLUMNS,
    H5Writer,
    ParquetWriter,
    axis_cell,
    check_resumable,
    is_parquet,
    latest_rows,
    missing_value,
    parquet_parts,
    read_rows,
    read_sweep,
    result_header,
    sweep_key,
    table_columns,
    to_table,
)
from aersim.traces.output.lock import LockError, OutputLock, lock_path, signals_deferred

log = logging.getLogger(__name__)

__all__ = ["SweepSpec", "SweepSpecError", "load_spec", "read_sweep", "run_point", "sweep",
           "table_columns"]

_HOPS = ("hop_east", "hop_west", "hop_north", "hop_south")


# ----------------------------------------------------------------------------------------------
# One point, on a worker.

_WARM = {"done": False}


def warm_up() -> float:
    """Load (or compile) the engines' Numba kernels in this process with one tiny run per mode.

    Idempotent per process; returns the seconds it took (0 after the first call). Runs on every
    worker before its first point, so that no point's wall time includes compilation.
    """
    if _WARM["done"]:
        return 0.0
    from aersim.hardware.chip import load_chip
    from aersim.models.generators import random_network
    from aersim.simcore.run.config import RunConfig
    from aersim.simcore.run.simulation import Simulation
    from aersim.simcore.run.stimulus import PoissonInput

    t0 = time.perf_counter()
    net = random_network(n_neurons=24, n_inputs=4, seed=0)
    chip = load_chip("minimal")
    chip = dataclasses.replace(chip, core=dataclasses.replace(chip.core, neurons=8))
    for mode in ("timestep", "async"):
        Simulation(net, chip, config=RunConfig(mode=mode), stimuli=[PoissonInput("input", 200.0)]
                   ).run(duration_ps=2 * 10**9)
    _WARM["done"] = True
    return time.perf_counter() - t0


@functools.lru_cache(maxsize=8)
def _chip_yaml(name: str, root: str) -> dict:
    return chip_dict(name, root)


def build_run(run: dict, root: str = "."):
    """Turn a sweep point's run description into a resolved run (``simcore.run.spec``).

    Parameters
    ----------
    run : dict
        A resolved run description (``SweepSpec.run_of(i)``).
    root : str
        Folder that relative file names are resolved against (the spec's folder).

    Returns
    -------
    simcore.run.spec.ResolvedRun
        The same objects ``aersim run`` and ``RunSpec`` in Python build from the same inputs.
    """
    from aersim.simcore.run.spec import RunSpec, resolve

    chip = make_chip(run, root, read=_chip_yaml)
    stim = run.get("stimulus") or {}
    stimuli = None
    if stim.get("population") and not stim.get("recording"):
        from aersim.simcore.run.stimulus import PoissonInput

        rate = 20.0 if stim.get("rate_hz") is None else stim["rate_hz"]
        stimuli = (PoissonInput(stim["population"], float(rate)),)
    recording = Path(root) / stim["recording"] if stim.get("recording") else None
    if recording is not None and stim.get("population"):
        from aersim.simcore.run.replay import EventReplay

        stimuli = (EventReplay(stim["population"], str(recording)),)
    dt_ms = run.get("dt_ms")
    spec = RunSpec(
        network=run["network"], chip=chip, profile=run.get("profile"),
        network_seed=run.get("network_seed"), recording=recording, stimuli=stimuli,
        rate_hz=stim.get("rate_hz") if stimuli is None else None,
        dt_s=dt_ms * 1e-3 if dt_ms is not None else None, duration_s=run.get("duration_s"),
        mode=run.get("mode"), seed=run["seed"], strategy=run.get("strategy"))
    return resolve(spec, root)


def _output_slices(net):
    names = net.outputs or list(net.populations)
    return [(net.offset(n), net.population(n).size) for n in names]


def _output_spikes(res, net):
    """Output-population spikes ``(t_ps int64, neuron int64)`` and counts per output neuron."""
    parts_t, parts_n, counts = [], [], []
    n_all = res.spikes_neuron.astype(np.int64)
    for lo, size in _output_slices(net):
        sel = (n_all >= lo) & (n_all < lo + size)
        parts_t.append(res.spikes_t_ps[sel])
        parts_n.append(n_all[sel])
        counts.append(np.bincount(n_all[sel] - lo, minlength=size))
    return (np.concatenate(parts_t), np.concatenate(parts_n),
            np.concatenate(counts).astype(np.int64))


def agreement(t, n, counts, ref) -> tuple[float, float]:
    """Agreement of output spikes with a reference run.

    Parameters
    ----------
    t, n : ndarray, int64, (k,)
        Output spike times (ps) and neuron ids.
    counts : ndarray, int64, (n_out,)
        Spikes per output neuron.
    ref : tuple
        The same three arrays of the reference run.

    Returns
    -------
    identical : float
        Spikes present in both runs (same neuron, same picosecond) divided by the larger spike
        count; 1 when both are silent.
    count_corr : float
        Pearson correlation of per-neuron spike counts; NaN when the output sizes differ or a
        run's counts are constant.
    """
    rt, rn, rc = ref

    def pairs(a, b):
        out = np.empty(a.size, dtype=[("t", "<i8"), ("n", "<i8")])
        out["t"], out["n"] = a, b
        return np.unique(out)

    k = max(t.size, rt.size)
    identical = 1.0 if k == 0 else np.intersect1d(pairs(t, n), pairs(rt, rn)).size / k
    corr = math.nan
    if counts.size == rc.size and counts.size > 1 and counts.std() > 0 and rc.std() > 0:
        corr = float(np.corrcoef(counts, rc)[0, 1])
    return float(identical), corr


def run_point(run: dict, root: str = ".", reference=None, want_reference: bool = False):
    """Run one point and measure it. Never raises for a problem of the point itself.

    Parameters
    ----------
    run : dict
        A resolved run description (``SweepSpec.run_of(i)``).
    root : str
        Folder for relative file names.
    reference : tuple or None
        ``(t, n, counts)`` output spikes of the reference point (see :func:`agreement`), or the
        ``(metrics, reference)`` pair returned by the reference point's own task.
    want_reference : bool
        Also return this point's output spikes, for use as the reference.

    Returns
    -------
    metrics : dict
        Values of :data:`METRIC_COLUMNS` plus ``status`` and ``error``.
    reference : tuple or None
        This point's ``(t, n, counts)`` if ``want_reference``.
    """
    from aersim.simcore.run.spec import execute

    warm_up()
    if isinstance(reference, tuple) and len(reference) == 2 and isinstance(reference[0], dict):
        reference = reference[1]
    row = {name: missing_value(kind) for name, kind in METRIC_COLUMNS}
    row.update(status="ok", error="", worker=f"{socket.gethostname()}:{os.getpid()}")
    t0 = time.perf_counter()
    ref_out = None
    try:
        resolved = build_run(run, root)
        net, duration_ps = resolved.network, resolved.duration_ps
        outcome = execute(resolved)
        res = outcome.results
        row.update(_metrics(res, net, duration_ps, outcome.simulation))
        t, n, counts = _output_spikes(res, net)
        if want_reference and reference is None:
            reference = (t, n, counts)  # the reference row shows the metric's best value
        if reference is not None:
            row["agree_spikes"], row["agree_count_corr"] = agreement(t, n, counts, reference)
        if want_reference:
            ref_out = (t, n, counts)
    except Exception as exc:  # a failing point is a result, recorded with its error
        log.debug("point failed:\n%s", traceback.format_exc())
        row.update(status="error", error=f"{type(exc).__name__}: {exc}")
    row["point_wall_s"] = time.perf_counter() - t0
    return row, ref_out


def _metrics(res, net, duration_ps, sim) -> dict:
    ops = res.op_totals()
    e = res.ledger
    out = {"energy_total_j": e.total_j, "energy_dynamic_j": e.dynamic_j,
           "energy_static_j": e.static_j, "energy_barrier_j": e.barrier_j}
    out.update({f"energy_{k}_j": v for k, v in e.by_op_j().items()})
    out.update({f"ops_{k}": v for k, v in ops.items()})
    out["messages"] = ops["message_out"]
    out["hops"] = sum(ops[h] for h in _HOPS)
    out["hardware_time_ps"] = int(res.hardware_time_ps)
    d = res.step_duration_ps
    if d.size:
        out.update(step_mean_ps=float(d.mean()), step_p95_ps=float(np.percentile(d, 95)),
                   step_max_ps=float(d.max()), n_steps=int(d.size))
    else:
        out["n_steps"] = 0
    n_out = sum(size for _, size in _output_slices(net))
    out_spikes = int(sum(np.count_nonzero((res.spikes_neuron >= lo)
                                          & (res.spikes_neuron < lo + size))
                         for lo, size in _output_slices(net)))
    sim_s = duration_ps / PS_PER_S
    out.update(spikes=res.n_spikes, output_spikes=out_spikes,
               output_rate_hz=out_spikes / (n_out * sim_s) if n_out else math.nan,
               neurons=net.n_neurons, synapses=int(res.info["n_synapses"]),
               cores_used=int(res.info["cores_used"]), simulated_s=sim_s, wall_s=res.wall_s,
               build_s=float(res.info["build_s"]))
    if res.chip_links is not None:
        out.update(_link_metrics(res, sim))
    return out


def _link_metrics(res, sim) -> dict:
    """The ``SYSTEM_COLUMNS`` of a run on a system of chips (``sim``: its Simulation)."""
    links = res.chip_links
    busiest = int(links["busy_ps"].max(initial=0))
    return {"chips_used": int(np.unique(sim.chip.chip_of_core(sim.mapping.core_of)).size),
            "chip_link_packets": int(links["packets"].sum()),
            "chip_link_bits": int(links["bits"].sum()),
            "chip_links_used": int(np.count_nonzero(links["packets"])),
            "chip_link_busiest_ps": busiest,
            "chip_link_busiest_util": busiest / max(int(res.hardware_time_ps), 1)}


# ----------------------------------------------------------------------------------------------
# The table.

def sweep_spec_text(path) -> str:
    """The spec stored with a sweep result (YAML text)."""
    return str(result_header(Path(path)).get("spec", ""))


# ----------------------------------------------------------------------------------------------
# Dask.

def _distributed():
    try:
        import distributed
    except ImportError:
        raise SimulationError("sweeps run on Dask, which is not installed: "
                              "pip install -e '.[sweep]' from a checkout, or "
                              "pip install 'aersim[sweep]'") from None
    return distributed


#: Seconds to wait for a Dask scheduler given by address before giving up.
SCHEDULER_TIMEOUT_S = 10.0


@contextmanager
def _client(client, scheduler, n_workers, n_points, timeout_s=SCHEDULER_TIMEOUT_S):
    """The given client, a client of ``scheduler``, or a local cluster sized to the machine."""
    if client is not None:
        yield client
        return
    distributed = _distributed()
    if scheduler:
        try:
            c = distributed.Client(scheduler, timeout=timeout_s)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler!r} within "
                              f"{timeout_s:g} s ({type(exc).__name__}: {exc}); check the address "
                              "(tcp://host:8786) and that the scheduler is running, or leave "
                              "out --scheduler to start a local cluster") from None
        with c:
            yield c
        return
    n = n_workers or max(1, min(os.cpu_count() or 1, n_points))
    # Processes with one thread each: the engine holds the GIL inside Numba, so threads would
    # serialise; processes also isolate a point that crashes its interpreter.
    # Ctrl-C in a terminal reaches the whole process group; the workers leave it to this
    # process to stop them, instead of each dying with a traceback of its own. SIGINT is
    # blocked while the cluster starts, so the processes it spawns (which inherit the mask)
    # never see one, even before they could ignore it; a Ctrl-C meanwhile is delivered here
    # once the cluster is up.
    blocked = _block_sigint()
    try:
        cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
    finally:
        _unblock_sigint(blocked)
    with cluster, distributed.Client(cluster) as c:
        c.run(_ignore_sigint)
        yield c


def _block_sigint() -> bool:
    """Block SIGINT in this thread (and the threads and processes it starts); True if done."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() \
            or not hasattr(signal, "pthread_sigmask"):
        return False
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    return True


def _unblock_sigint(blocked: bool) -> None:
    """Undo :func:`_block_sigint`; a SIGINT that arrived meanwhile is delivered now."""
    import signal

    if blocked:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _ignore_sigint() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _kept_rows(out: Path, spec: SweepSpec, columns, retry_failed: bool) -> dict[str, dict]:
    """Rows of an existing result worth keeping on resume, by point id, re-indexed to ``spec``.

    Refuses a result of another sweep (its sweep key differs) or of other columns.
    """
    if is_parquet(out) and not parquet_parts(out):
        return {}
    check_resumable(out, columns, sweep_key(spec), result_header(out))
    redo = {"lost", "error"} if retry_failed else {"lost"}
    index = {pid: i for i, pid in enumerate(spec.ids)}
    kept = {}
    for row in latest_rows(read_rows(out)[1]):
        if row["point_id"] in index and row["status"] not in redo:
            kept[row["point_id"]] = dict(row, point=index[row["point_id"]])
    return kept


def _lock(out: Path) -> OutputLock:
    try:
        return OutputLock(out)
    except LockError as exc:
        raise ConfigError(f"sweep result {out} {exc.strerror}") from None
    except OSError as exc:
        raise ConfigError(f"cannot write sweep result {out}: {exc.strerror or exc} (lock file "
                          f"{lock_path(out)}); choose a writable folder with --out") from None


def sweep(spec, client=None, out=None, resume: bool = False, *, scheduler: str | None = None,
          n_workers: int | None = None, progress: bool = False, retry_failed: bool = False,
          on_row=None, scheduler_timeout_s: float = SCHEDULER_TIMEOUT_S) -> np.ndarray:
    """Run every point of a sweep on Dask.

    Parameters
    ----------
    spec : str, Path, dict or SweepSpec
        The sweep (see :mod:`simcore.sweep.spec`).
    client : distributed.Client, optional
        Where to run. Default: a client of ``scheduler`` if given, else a ``LocalCluster`` of
        one single-threaded process per core (at most one per point), closed at the end.
    out : str or Path, optional
        Result file, ``.h5`` (HDF5) or ``.parquet`` (a folder of Parquet files). Rows are
        stored as they arrive (see :mod:`simcore.sweep.table`). An existing file is an error
        unless ``resume``; ``<out>.lock`` keeps a second sweep from writing it meanwhile.
    resume : bool
        Keep the rows already in ``out`` and run only the points that have none, or whose row
        is ``lost`` (its worker died); identity is the point's hash of its run description. The
        spec must be the same sweep (same base run, axes and reference; it may add points).
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``).
    n_workers : int, optional
        Worker processes of the local cluster.
    progress : bool
        Show a progress bar of points done.
    retry_failed : bool
        With ``resume``, also rerun points recorded with status ``error``.
    on_row : callable, optional
        Called with each row (a dict) right after it is written.
    scheduler_timeout_s : float
        Seconds to wait for ``scheduler``.

    Returns
    -------
    ndarray
        Structured array, one row per point in spec order; fields from :func:`table_columns`.

    Raises
    ------
    SweepSpecError
        Invalid spec.
    ConfigError
        ``out`` exists without ``resume``, holds another sweep, is damaged or locked by another
        sweep, or cannot be written; the scheduler cannot be reached.
    SimulationError
        Dask is not installed.
    """
    spec = load_spec(spec)
    columns = table_columns(spec)
    out = Path(out) if out is not None else None
    kept: dict[str, dict] = {}
    lock = None
    if out is not None:
        if not out.parent.exists():
            raise ConfigError(f"folder {out.parent} does not exist; create it or choose another "
                              "result file")
        lock = _lock(out)
    try:
        if out is not None and out.exists():
            if not resume:
                raise ConfigError(f"sweep result {out} exists already; pass resume=True "
                                  "(aersim sweep --resume) to continue it, or choose another "
                                  "file")
            kept = _kept_rows(out, spec, columns, retry_failed)
        todo = [i for i, pid in enumerate(spec.ids) if pid not in kept]
        new_rows = _run_todo(spec, todo, columns, client, scheduler, n_workers, progress, out,
                             resume, on_row, scheduler_timeout_s) if todo else []
    finally:
        if lock is not None:
            lock.release()
    rows = latest_rows(list(kept.values()) + new_rows)
    return to_table(rows, columns)


def _run_todo(spec, todo, columns, client, scheduler, n_workers, progress, out, resume, on_row,
              scheduler_timeout_s) -> list[dict]:
    new_rows = []
    with _client(client, scheduler, n_workers, len(todo), scheduler_timeout_s) as c:
        # The file is opened once the cluster is up, so a cluster that fails to start
        # leaves no empty result behind.
        writer = None
        if out is not None:
            make = ParquetWriter if is_parquet(out) else H5Writer
            writer = _guard_io(out, lambda: make(out, columns, spec,
                                                 append=resume and out.exists()))
        try:
            for row in _run_on_dask(c, spec, todo, progress):
                if writer is not None:
                    with signals_deferred():
                        _guard_io(out, lambda row=row: writer.append(row))
                new_rows.append(row)
                if on_row is not None:
                    on_row(row)
        finally:
            if writer is not None:
                with signals_deferred():
                    _guard_io(out, writer.close)
    return new_rows


def _guard_io(out: Path, fn):
    """Run a write to the result file; an ``OSError`` (full disk, read-only folder) becomes one
    ``ConfigError`` that says what is kept."""
    try:
        return fn()
    except OSError as exc:
        raise ConfigError(f"cannot write sweep result {out}: {exc.strerror or exc}; every row "
                          "stored before this one is kept (resume with --resume once the "
                          "problem is fixed)") from None


def _run_on_dask(client, spec: SweepSpec, todo: list[int], progress: bool):
    """Submit one task per point and yield complete rows as tasks finish."""
    distributed = _distributed()
    # One tiny run per worker up front; workers that join later warm up in their first task.
    client.run(warm_up)
    root = str(Path(spec.root).resolve()) if spec.root else "."
    ref_i = spec.reference
    futures = {}
    ref_future = None
    if ref_i is not None:
        # The reference runs first; every other point takes its output spikes as an input.
        ref_future = client.submit(run_point, spec.run_of(ref_i), root, None, True,
                                   priority=10, pure=False)
        if ref_i in todo:
            futures[ref_future] = ref_i
    for i in todo:
        if i == ref_i:
            continue
        futures[client.submit(run_point, spec.run_of(i), root, ref_future, False,
                              pure=False)] = i
    bar = progress_bar(progress, total=len(todo), unit="point", desc="sweep")
    n_bad = 0
    try:
        for fut in distributed.as_completed(list(futures)):
            i = futures.pop(fut)
            try:
                metrics, _ = fut.result()
            except Exception as exc:  # the worker died or the task was cancelled
                metrics = {name: missing_value(kind) for name, kind in METRIC_COLUMNS}
                metrics.update(status="lost", error=f"{type(exc).__name__}: {exc}")
            fut.release()
            row = _row(spec, i, metrics)
            n_bad += row["status"] != "ok"
            if bar is not None:
                bar.update(1)
                if n_bad:
                    bar.set_postfix(failed=n_bad)
            yield row
    finally:
        if bar is not None:
            bar.close()
        for fut in futures:
            fut.cancel()


def _row(spec: SweepSpec, i: int, metrics: dict) -> dict:
    row = {"point": i, "point_id": spec.ids[i]}
    kinds = dict(table_columns(spec)[:len(HEAD_COLUMNS) + len(spec.axes)])
    for axis in spec.axes:
        row[axis] = axis_cell(spec.points[i].get(axis), kinds[axis])
    row.update(metrics)
    return row
