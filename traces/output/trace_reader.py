"""Reading a trace back: :func:`read_trace`, which validates the file before it allocates.

Every dataset is checked for presence, shape and type, and its claimed size against the file's
size, before it is read; every id (neuron, core, tile) is checked against the counts the trace
itself gives, so that a damaged or hostile file is one :class:`TraceFormatError` that names the
file and the dataset, never a crash or a many-gigabyte allocation downstream. A trace that a
killed run left incomplete is read up to its last completed flush.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from aersim.traces.errors import TraceError, TraceFormatError
from aersim.traces.schema import (
    CHIP_LINK_DTYPE,
    LATENCY_DTYPE,
    LINK_DTYPE,
    MESSAGE_DTYPE,
    TRACE_FORMAT_VERSION,
)

#: Fill value of the growing datasets: entries whose size a flush recorded but not their data
#: (a run killed mid-flush) read as this, and are cut off.
FILL = -1


@dataclass(eq=False)
class Trace:
    """A trace read back into memory (see the module doc for the meaning of each array).

    ``probes`` (or None) holds sampled state: ``neuron`` (k,), ``t_ps`` (m,), ``v`` and
    ``state2`` (m, k). ``links``, ``messages`` and ``latency`` are structured arrays of
    :data:`~traces.schema.LINK_DTYPE`, :data:`~traces.schema.MESSAGE_DTYPE` and
    :data:`~traces.schema.LATENCY_DTYPE` (index them by column name), or None when the run did
    not record them; ``links_duration_ps`` is the hardware time the link counters cover.
    """

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
    links: np.ndarray | None = None
    links_duration_ps: int | None = None
    messages: np.ndarray | None = None
    latency: np.ndarray | None = None
    probes: dict | None = None
    #: Traffic per directed chip-to-chip link of a system (``CHIP_LINK_DTYPE``), or None.
    chip_links: np.ndarray | None = None


#: Largest neuron id or core id a trace may hold when it does not say how many there are.
MAX_IDS = 1 << 26
#: Data a dataset may claim per byte of file: deflate expands at most ~1032 to 1.
_MAX_EXPANSION = 1100


class _Check:
    """Validation of one trace file: every message names the file and the dataset."""

    def __init__(self, f: h5py.File, path: Path):
        self.f, self.path = f, path
        self.file_bytes = max(path.stat().st_size, 1)

    def fail(self, what: str) -> TraceFormatError:
        return TraceFormatError(f"{self.path}: {what}; the trace is damaged or was not written "
                                "by aersim")

    def dataset(self, name: str, ndim: int = 1, kind: str = "iu", required: bool = True):
        """The dataset ``name`` (or None if absent and optional), its shape, kind and claimed
        size checked before anything is read."""
        obj = self.f.get(name)
        if obj is None:
            if required:
                raise self.fail(f"dataset /{name} is missing")
            return None
        if not isinstance(obj, h5py.Dataset):
            raise self.fail(f"/{name} is a {type(obj).__name__}, expected a dataset")
        if len(obj.shape or ()) != ndim or obj.dtype.kind not in kind:
            raise self.fail(f"/{name} has shape {obj.shape} and type {obj.dtype}; expected "
                            f"{ndim}-D {'integers' if kind == 'iu' else 'numbers'}")
        raw = int(np.prod(obj.shape, dtype=np.float64)) * obj.dtype.itemsize
        if raw > _MAX_EXPANSION * self.file_bytes + (64 << 20):
            raise self.fail(f"/{name} claims {raw} bytes of data in a file of {self.file_bytes}")
        return obj

    def attr(self, obj, key: str, kinds=None):
        if key not in obj.attrs:
            raise self.fail(f"{obj.name} lacks the attribute {key!r}")
        value = obj.attrs[key]
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if kinds is not None and not isinstance(value, kinds):
            raise self.fail(f"attribute {key!r} of {obj.name} is {value!r}")
        return value

    def ids(self, name: str, values: np.ndarray, bound: int, what: str) -> None:
        if values.size and (values.min() < 0 or values.max() >= bound):
            bad = int(values.min()) if values.min() < 0 else int(values.max())
            raise self.fail(f"/{name} holds {what} {bad}, outside 0..{bound - 1}")


def _valid_prefix(t: np.ndarray, n: np.ndarray) -> int:
    """Length of the spikes a flush completed: a run killed mid-flush may leave entries whose
    size was recorded but not their data (read as the fill value)."""
    bad = np.flatnonzero((t == FILL) | (n == FILL))
    return int(bad[0]) if bad.size else t.size


def _table(c: _Check, name: str, dtype: np.dtype, defaults: dict | None = None) -> np.ndarray:
    """Columns of group ``name`` as one structured array; missing columns take ``defaults``."""
    defaults = defaults or {}
    group = c.f[name]
    if not isinstance(group, h5py.Group):
        raise c.fail(f"/{name} is not a group")
    present = {col: c.dataset(f"{name}/{col}", kind="iuf") for col in dtype.names
               if col in group}
    for col in dtype.names:
        if col not in present and col not in defaults:
            raise TraceFormatError(f"{c.path}: /{name} lacks column {col!r}")
    n = min((ds.shape[0] for ds in present.values()), default=0)
    out = np.empty(n, dtype=dtype)
    for col in dtype.names:
        out[col] = present[col][:n] if col in present else defaults[col]
    return out


def read_trace(path) -> Trace:
    """Read a trace written by :class:`TraceWriter` (any format version 1.x).

    Raises
    ------
    TraceError
        The file is missing, is not an aersim trace, or has a newer major version.
    """
    path = Path(path)
    if not path.exists():
        raise TraceError(f"trace {path} does not exist")
    if not path.is_file():
        raise TraceError(f"trace {path} is not a file")
    try:
        f = h5py.File(path, "r")
    except BlockingIOError:
        raise TraceError(f"trace {path} is being written by a running process; wait until "
                         "it finishes") from None
    except OSError:
        raise TraceFormatError(f"{path} is not an HDF5 file (or is truncated before its "
                               "superblock); expected a trace written by aersim") from None
    try:
        with f:
            return _read(f, path)
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
        if isinstance(exc, TraceError):
            raise
        raise TraceFormatError(f"{path}: cannot read the trace ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else ''}); the file is "
                               "damaged") from None


def _read(f: h5py.File, path: Path) -> Trace:
    c = _Check(f, path)
    fmt = f.attrs.get("format")
    if isinstance(fmt, bytes):
        fmt = fmt.decode("utf-8", "replace")
    if fmt != "aersim-trace":
        raise TraceFormatError(f"{path} is HDF5 but not an aersim trace (no "
                               "format='aersim-trace' attribute)")
    version = str(c.attr(f, "version", (str, np.str_)))
    if version.split(".")[0] != TRACE_FORMAT_VERSION.split(".")[0]:
        raise TraceFormatError(f"{path} has trace format {version}; this aersim reads "
                               f"{TRACE_FORMAT_VERSION.split('.')[0]}.x; upgrade aersim")
    complete = c.attr(f, "complete", (bool, np.bool_, int, np.integer))
    if "run" not in f or not isinstance(f["run"], h5py.Group):
        raise c.fail("group /run is missing")
    text = c.attr(f["run"], "metadata", (str, np.str_))
    try:
        metadata = json.loads(text)
    except ValueError:
        raise c.fail("attribute 'metadata' of /run is not valid JSON") from None
    if not isinstance(metadata, dict):
        raise c.fail("attribute 'metadata' of /run is not a JSON object")
    t_ds, n_ds = c.dataset("spikes/t_ps"), c.dataset("spikes/neuron")
    steps = c.dataset("steps/duration_ps")[:]
    core_ds = c.dataset("run/core_of", required=False)
    counters_ds = c.dataset("counters/per_core", ndim=2, required=False)
    energy_ds = c.dataset("energy/by_core_op_j", ndim=2, kind="iuf", required=False)

    # How many neurons and cores there are bounds every id read below.
    core_of = core_ds[:] if core_ds is not None else None
    n_neurons = core_of.size if core_of is not None else _population_total(metadata)
    n_cores = (counters_ds.shape[0] if counters_ds is not None else
               metadata.get("n_cores") if isinstance(metadata.get("n_cores"), int) else None)
    if core_of is not None:
        c.ids("run/core_of", core_of, n_cores or MAX_IDS, "core")

    # A killed run may have stored more spike times than neurons: keep whole spikes only.
    n_spikes = min(t_ds.shape[0], n_ds.shape[0])
    if complete and t_ds.shape[0] != n_ds.shape[0]:
        raise c.fail(f"/spikes/t_ps has {t_ds.shape[0]} entries but /spikes/neuron "
                     f"{n_ds.shape[0]}")
    t, neuron = t_ds[:n_spikes], n_ds[:n_spikes]
    if not complete:
        keep = _valid_prefix(t, neuron)
        t, neuron = t[:keep], neuron[:keep]
    c.ids("spikes/neuron", neuron, n_neurons or MAX_IDS, "neuron id")
    trace = Trace(str(path), version, bool(complete), metadata, t, neuron, steps)
    trace.core_of = core_of
    if counters_ds is not None:
        cols = c.attr(counters_ds, "columns")
        if np.ndim(cols) != 1 or len(cols) != counters_ds.shape[1]:
            raise c.fail(f"/counters/per_core has {counters_ds.shape[1]} columns but its "
                         f"'columns' attribute names {np.size(cols)}")
        trace.counters = counters_ds[:]
        trace.counter_columns = tuple(x.decode() if isinstance(x, bytes) else str(x)
                                      for x in cols)
    if energy_ds is not None:
        if counters_ds is not None and energy_ds.shape != counters_ds.shape:
            raise c.fail(f"/energy/by_core_op_j has shape {energy_ds.shape} but "
                         f"/counters/per_core {counters_ds.shape}")
        trace.energy_by_core_op_j = energy_ds[:]
        trace.energy = {k: (int(c.attr(energy_ds, k, (int, float, np.number)))
                            if k == "duration_ps"
                            else float(c.attr(energy_ds, k, (int, float, np.number))))
                        for k in ("static_j", "barrier_j", "dynamic_j", "total_j",
                                  "duration_ps")}
    if "noc/links" in f:
        trace.links = _table(c, "noc/links", LINK_DTYPE)
        trace.links_duration_ps = int(c.attr(f["noc/links"], "duration_ps",
                                             (int, np.integer)))
        c.ids("noc/links/tile", trace.links["tile"], MAX_IDS, "tile")
    if "system/chip_links" in f:
        trace.chip_links = _table(c, "system/chip_links", CHIP_LINK_DTYPE)
    if "messages" in f:
        trace.messages = _table(c, "messages", MESSAGE_DTYPE)
        if not complete:
            bad = np.flatnonzero(trace.messages["message"] == FILL)
            trace.messages = trace.messages[:bad[0]] if bad.size else trace.messages
        for col in ("src_core", "dst_core"):
            c.ids(f"messages/{col}", trace.messages[col], n_cores or MAX_IDS, "core")
    if "latency/input_t_ps" in f:
        # Format 1.0 wrote input times and latencies only.
        trace.latency = _table(c, "latency", LATENCY_DTYPE, {"algorithmic_ps": -1})
    if "probes/neuron" in f:
        pn = c.dataset("probes/neuron")
        pt = c.dataset("probes/t_ps")
        pv = {name: c.dataset(f"probes/{name}", ndim=2, kind="iuf")
              for name in ("v", "state2")}
        m = pt.shape[0]
        for name, ds in pv.items():
            if ds.shape[1] != pn.shape[0] or ds.shape[0] < m:
                raise c.fail(f"/probes/{name} has shape {ds.shape}; expected ({m}, "
                             f"{pn.shape[0]})")
        trace.probes = {"neuron": pn[:], "t_ps": pt[:m],
                        **{name: ds[:m] for name, ds in pv.items()}}
        c.ids("probes/neuron", trace.probes["neuron"], n_neurons or MAX_IDS, "neuron id")
    return trace


def _population_total(metadata: dict):
    pops = metadata.get("populations")
    if not isinstance(pops, list):
        return None
    try:
        total = sum(int(p["size"]) for p in pops)
    except (TypeError, KeyError, ValueError):
        return None
    return total if 0 <= total <= MAX_IDS else None
