"""The HDF5 trace: one file per run, written incrementally, readable with plain ``h5py``.

Layout (version :data:`traces.schema.TRACE_FORMAT_VERSION`; see ``docs/trace-format.md``)::

    /                       attrs: format="aersim-trace", version, complete (bool), created
    /run                    attrs: metadata as JSON text (network, chip, mapping, seed, …)
    /run/core_of            int32 (n_neurons,)  core of every neuron
    /spikes/t_ps            int64 (n_spikes,)   spike times, picoseconds, non-decreasing
    /spikes/neuron          int32 (n_spikes,)   global neuron ids
    /steps/duration_ps      int64 (n_steps,)    hardware duration of every step (timestep mode)
    /counters/per_core      int64 (n_cores, n_ops); attrs: columns (operation kinds)
    /energy/by_core_op_j    float64 (n_cores, n_ops); attrs: static_j, barrier_j, dynamic_j,
                            total_j, duration_ps

Datasets that grow are chunked and compressed (gzip level 1 with byte shuffle, which any HDF5
reader understands) and flushed every ``flush_every_s`` seconds, so a run that is killed leaves a
file readable up to its last flush, with ``complete`` still false.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from traces.errors import TraceError, TraceFormatError
from traces.schema import TRACE_FORMAT_VERSION

_GROWING = {"spikes/t_ps": np.int64, "spikes/neuron": np.int32, "steps/duration_ps": np.int64}
_CHUNK = 1 << 16


class TraceWriter:
    """Write one run's trace. Use as a context manager or call :meth:`close`.

    Parameters
    ----------
    path : str or Path
        File to create (overwritten if it exists). Its folder must exist.
    metadata : dict
        JSON-serialisable description of the run, stored in ``/run``.
    flush_every_s : float
        Wall-clock interval between flushes to disk.
    """

    def __init__(self, path, metadata: dict | None = None, flush_every_s: float = 5.0):
        self.path = Path(path)
        if not self.path.parent.exists():
            raise TraceError(f"cannot write trace {self.path}: folder {self.path.parent} does "
                             "not exist; create it or choose another output path")
        try:
            self._file = h5py.File(self.path, "w")
        except OSError as exc:
            raise TraceError(f"cannot create trace {self.path}: {exc}") from None
        f = self._file
        f.attrs["format"] = "aersim-trace"
        f.attrs["version"] = TRACE_FORMAT_VERSION
        f.attrs["complete"] = False
        f.attrs["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        run = f.create_group("run")
        run.attrs["metadata"] = json.dumps(metadata or {}, default=_jsonable, sort_keys=True)
        for name, dtype in _GROWING.items():
            f.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype, chunks=(_CHUNK,),
                             compression="gzip", compression_opts=1, shuffle=True)
        self._flush_every_s = flush_every_s
        self._last_flush = time.monotonic()

    def _append(self, name: str, values: np.ndarray) -> None:
        ds = self._file[name]
        n = ds.shape[0]
        ds.resize((n + values.shape[0],))
        ds[n:] = values
        if time.monotonic() - self._last_flush > self._flush_every_s:
            self.flush()

    def append_spikes(self, t_ps: np.ndarray, neuron: np.ndarray) -> None:
        """Append spikes (``t_ps`` int64, ``neuron`` int32 global ids), in time order."""
        if t_ps.shape != neuron.shape:
            raise TraceError(f"spike times and neurons differ in length: {t_ps.shape} vs "
                             f"{neuron.shape}")
        if t_ps.size:
            self._append("spikes/t_ps", t_ps.astype(np.int64, copy=False))
            self._append("spikes/neuron", neuron.astype(np.int32, copy=False))

    def append_step_durations(self, duration_ps: np.ndarray) -> None:
        """Append the hardware duration of consecutive steps (int64 ps)."""
        if duration_ps.size:
            self._append("steps/duration_ps", duration_ps.astype(np.int64, copy=False))

    def write_array(self, name: str, values: np.ndarray, **attrs) -> None:
        """Write a whole dataset (e.g. ``run/core_of``) with optional attributes."""
        if name in self._file:
            del self._file[name]
        ds = self._file.create_dataset(name, data=values)
        for key, value in attrs.items():
            ds.attrs[key] = value

    def write_counters(self, counts: np.ndarray, columns) -> None:
        """Per-core operation counts, int64 ``(n_cores, n_ops)``, with their column names."""
        self.write_array("counters/per_core", np.asarray(counts, dtype=np.int64),
                         columns=np.array(list(columns), dtype="S"))

    def write_energy(self, by_core_op_j: np.ndarray, columns, *, static_j: float,
                     barrier_j: float, duration_ps: int) -> None:
        """The priced energy ledger (joules) and its totals."""
        dyn = float(np.sum(by_core_op_j))
        self.write_array("energy/by_core_op_j", np.asarray(by_core_op_j, dtype=np.float64),
                         columns=np.array(list(columns), dtype="S"), static_j=static_j,
                         barrier_j=barrier_j, dynamic_j=dyn, total_j=dyn + static_j + barrier_j,
                         duration_ps=int(duration_ps))

    def set_metadata(self, **items) -> None:
        """Merge ``items`` into the run's JSON metadata."""
        run = self._file["run"]
        meta = json.loads(run.attrs["metadata"])
        meta.update(items)
        run.attrs["metadata"] = json.dumps(meta, default=_jsonable, sort_keys=True)

    def flush(self) -> None:
        """Push buffered data to disk."""
        self._file.flush()
        self._last_flush = time.monotonic()

    def close(self, complete: bool = True) -> None:
        """Mark the trace complete (or not) and close the file."""
        if self._file.id.valid:
            self._file.attrs["complete"] = bool(complete)
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(complete=exc_type is None)


def _jsonable(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)


@dataclass(eq=False)
class Trace:
    """A trace read back into memory (see the module doc for the meaning of each array)."""

    path: str
    version: str
    complete: bool
    metadata: dict
    spikes_t_ps: np.ndarray
    spikes_neuron: np.ndarray
    step_duration_ps: np.ndarray
    core_of: np.ndarray | None = None
    counters: np.ndarray | None = None
    counter_columns: tuple = ()
    energy_by_core_op_j: np.ndarray | None = None
    energy: dict = field(default_factory=dict)


def read_trace(path) -> Trace:
    """Read a trace written by :class:`TraceWriter`.

    Raises
    ------
    TraceError
        The file is missing, is not an aersim trace, or has a newer major version.
    """
    path = Path(path)
    if not path.exists():
        raise TraceError(f"trace {path} does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise TraceFormatError(f"{path} is not an HDF5 file (or is truncated before its "
                               "superblock); expected a trace written by aersim") from None
    with f:
        if f.attrs.get("format") != "aersim-trace":
            raise TraceFormatError(f"{path} is HDF5 but not an aersim trace (no "
                                   "format='aersim-trace' attribute)")
        version = str(f.attrs["version"])
        if version.split(".")[0] != TRACE_FORMAT_VERSION.split(".")[0]:
            raise TraceFormatError(f"{path} has trace format {version}; this aersim reads "
                                   f"{TRACE_FORMAT_VERSION.split('.')[0]}.x; upgrade aersim")
        trace = Trace(str(path), version, bool(f.attrs["complete"]),
                      json.loads(f["run"].attrs["metadata"]),
                      f["spikes/t_ps"][:], f["spikes/neuron"][:], f["steps/duration_ps"][:])
        if "run/core_of" in f:
            trace.core_of = f["run/core_of"][:]
        if "counters/per_core" in f:
            ds = f["counters/per_core"]
            trace.counters = ds[:]
            trace.counter_columns = tuple(c.decode() for c in ds.attrs["columns"])
        if "energy/by_core_op_j" in f:
            ds = f["energy/by_core_op_j"]
            trace.energy_by_core_op_j = ds[:]
            trace.energy = {k: (int(ds.attrs[k]) if k == "duration_ps" else float(ds.attrs[k]))
                            for k in ("static_j", "barrier_j", "dynamic_j", "total_j",
                                      "duration_ps")}
    return trace
