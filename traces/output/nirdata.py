"""Spikes of a trace in NIR's data layout (NIRData), for comparison with other simulators.

NIRData is the HDF5 file that the ``nir`` package writes with ``nir.write_data`` and reads with
``nir.read_data``: recorded activity of the nodes of a NIR graph. The layout, written here with
plain ``h5py`` (``traces`` does not depend on ``nir``)::

    /                                   attr __type__ = "NIRGraphData"
    /nodes/<population>                 attr __type__ = "NIRNodeData"
    /nodes/<population>/observables/spikes
        EventData (default):            attrs __type__ = "EventData", n_neurons, t_max (s)
            idx   int64   (1, n_spikes) neuron index inside the population
            time  float64 (1, n_spikes) spike time, seconds from the start of the run
        TimeGriddedData (``dt_s``):     attrs __type__ = "TimeGriddedData", dt (s)
            data  bool    (1, n_steps, n_neurons) spike of neuron n in step k

The leading axis is NIR's sample axis: a run is one sample. Node names are population names,
which NIR matches with the nodes of the network's graph. Each node group also carries
``aersim_offset``, the population's first global neuron id, which :func:`import_nirdata` uses to
rebuild global ids; NIR readers ignore it.
"""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np

from aersim.traces.errors import TraceError, TraceFormatError
from aersim.traces.output import report as _report

_PS_PER_S = 1e12

#: Steps × neurons of one population above which a binned export is refused (bool bytes).
MAX_GRID_CELLS = 1 << 31


def _node_populations(trace) -> list[dict]:
    pops = _report.populations(trace)
    if pops:
        return pops
    if trace.core_of is not None:
        n = int(trace.core_of.size)
    else:
        n = int(trace.spikes_neuron.max()) + 1 if trace.spikes_neuron.size else 0
    return [{"name": "network", "start": 0, "size": n}]


def export_nirdata(trace, path, dt_s: float | None = None, compression: str | None = "gzip"):
    """Write the spikes of ``trace`` per population as a NIRData file.

    Parameters
    ----------
    trace : Trace
        The run (:func:`traces.read_trace`).
    path : str or Path
        File to create (overwritten). Its folder must exist.
    dt_s : float, optional
        None: event data (exact times). Otherwise spikes binned in steps of ``dt_s`` seconds
        (``TimeGriddedData``; step ``floor(t / dt_s)``, as NIR converts events to steps).
    compression : str or None
        HDF5 filter of the datasets (gzip by default, as ``nir.write_data``).

    Returns
    -------
    Path
        The written file. Times are seconds from the run's ``t_start_ps`` (0 if unknown);
        ``t_max`` is the simulated duration.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise TraceError(f"cannot write NIRData {path}: folder {path.parent} does not exist")
    if dt_s is not None and not dt_s > 0:
        raise TraceError(f"dt_s must be a positive number of seconds, got {dt_s}")
    pops = _node_populations(trace)
    for p in pops:
        if "/" in p["name"] or not p["name"]:
            raise TraceError(f"population name {p['name']!r} cannot name an HDF5 group; "
                             "rename it without '/'")
    t0 = int(trace.metadata.get("t_start_ps", 0))
    sim_ps, _ = _report.simulated_ps(trace)
    t_max = sim_ps / _PS_PER_S
    t, n = trace.spikes_t_ps, trace.spikes_neuron
    with h5py.File(path, "w") as f:
        f.attrs["__type__"] = "NIRGraphData"
        nodes = f.create_group("nodes")
        for p in pops:
            sel = (n >= p["start"]) & (n < p["start"] + p["size"])
            idx = (n[sel] - p["start"]).astype(np.int64)
            time_s = (t[sel] - t0) / _PS_PER_S
            g = nodes.create_group(p["name"])
            g.attrs["__type__"] = "NIRNodeData"
            g.attrs["aersim_offset"] = int(p["start"])
            obs = g.create_group("observables").create_group("spikes")
            if dt_s is None:
                obs.attrs["__type__"] = "EventData"
                obs.attrs["n_neurons"] = int(p["size"])
                obs.attrs["t_max"] = float(t_max)
                obs.create_dataset("idx", data=idx[None, :], compression=compression)
                obs.create_dataset("time", data=time_s[None, :].astype(np.float64),
                                   compression=compression)
            else:
                _write_grid(obs, idx, time_s, int(p["size"]), t_max, dt_s, compression)
    return path


def _write_grid(obs, idx, time_s, n_neurons, t_max, dt_s, compression) -> None:
    steps = np.floor(time_s / dt_s).astype(np.int64)
    n_steps = max(math.ceil(t_max / dt_s - 1e-9), int(steps.max()) + 1 if steps.size else 0)
    if n_steps * n_neurons > MAX_GRID_CELLS:
        raise TraceError(f"binning {n_neurons} neurons into {n_steps} steps of {dt_s} s needs "
                         f"{n_steps * n_neurons} cells; use a larger dt_s or event data "
                         "(dt_s=None)")
    obs.attrs["__type__"] = "TimeGriddedData"
    obs.attrs["dt"] = float(dt_s)
    if n_steps == 0 or n_neurons == 0:
        obs.create_dataset("data", shape=(1, n_steps, n_neurons), dtype=bool)
        return
    ds = obs.create_dataset("data", shape=(1, n_steps, n_neurons), dtype=bool,
                            compression=compression,
                            chunks=(1, max(1, min(n_steps, (1 << 20) // n_neurons)), n_neurons))
    # Written in blocks of steps, so that memory stays bounded for long runs.
    block = max(1, (1 << 24) // n_neurons)
    order = np.argsort(steps, kind="stable")
    steps, idx = steps[order], idx[order]
    for lo in range(0, n_steps, block):
        hi = min(lo + block, n_steps)
        a, b = np.searchsorted(steps, [lo, hi])
        grid = np.zeros((hi - lo, n_neurons), dtype=bool)
        grid[steps[a:b] - lo, idx[a:b]] = True
        ds[0, lo:hi] = grid


def import_nirdata(path, observable: str = "spikes") -> dict[str, dict]:
    """Read spikes of every node of a NIRData file (first sample).

    Returns
    -------
    dict
        ``{node: {"time_s": float64 (n,), "idx": int64 (n,), "n_neurons": int, "t_max_s":
        float, "dt_s": float or None, "offset": int or None}}``, events in time order (then
        index). Binned data give the start time of each step with a spike.
    """
    path = Path(path)
    if not path.exists():
        raise TraceError(f"NIRData file {path} does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise TraceFormatError(f"{path} is not an HDF5 file; expected NIRData") from None
    out = {}
    with f:
        if f.attrs.get("__type__") != "NIRGraphData" or "nodes" not in f:
            raise TraceFormatError(f"{path} is not NIRData (no __type__='NIRGraphData' root)")
        for name, g in f["nodes"].items():
            if g.attrs.get("__type__") != "NIRNodeData":
                raise TraceFormatError(f"{path}: node {name!r} is "
                                       f"{g.attrs.get('__type__')!r}; only flat graphs of "
                                       "NIRNodeData are read")
            if observable not in g.get("observables", {}):
                continue
            obs = g["observables"][observable]
            kind = obs.attrs.get("__type__")
            offset = int(g.attrs["aersim_offset"]) if "aersim_offset" in g.attrs else None
            if kind in ("EventData", "ValuedEventData"):
                idx, time_s = obs["idx"][0], obs["time"][0]
                keep = idx >= 0
                idx, time_s = idx[keep].astype(np.int64), time_s[keep].astype(np.float64)
                n_neurons, t_max, dt = int(obs.attrs["n_neurons"]), float(obs.attrs["t_max"]), None
            elif kind == "TimeGriddedData":
                data = obs["data"][0]
                dt = float(obs.attrs["dt"])
                step, idx = np.nonzero(data)
                idx, time_s = idx.astype(np.int64), step * dt
                n_neurons, t_max = int(data.shape[1]), data.shape[0] * dt
            else:
                raise TraceFormatError(f"{path}: observable {name}/{observable} has unknown "
                                       f"type {kind!r}")
            order = np.lexsort((idx, time_s))
            out[name] = {"time_s": time_s[order], "idx": idx[order], "n_neurons": n_neurons,
                         "t_max_s": t_max, "dt_s": dt, "offset": offset}
    return out


def nirdata_spikes(nodes: dict, t_start_ps: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Global spikes ``(t_ps int64, neuron int32)`` of :func:`import_nirdata`'s nodes, in time
    order; nodes without an ``offset`` follow each other in name order."""
    ts, ns, nxt = [], [], 0
    for name in sorted(nodes, key=lambda k: (nodes[k]["offset"] is None, nodes[k]["offset"] or 0,
                                             k)):
        node = nodes[name]
        offset = node["offset"] if node["offset"] is not None else nxt
        ts.append(np.round(node["time_s"] * _PS_PER_S).astype(np.int64) + int(t_start_ps))
        ns.append((node["idx"] + offset).astype(np.int32))
        nxt = offset + node["n_neurons"]
    if not ts:
        return np.zeros(0, np.int64), np.zeros(0, np.int32)
    t, n = np.concatenate(ts), np.concatenate(ns)
    order = np.lexsort((n, t))
    return t[order], n[order]
