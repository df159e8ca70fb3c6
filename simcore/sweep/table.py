"""The result table of a sweep: its columns, and its storage in HDF5 or Parquet.

One row per point, appended as rows arrive (HDF5 flushed per row; Parquet as one file per row,
merged when the sweep ends, because a Parquet file is unreadable until its footer is written).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from aersim.hardware.energy import OP_KINDS
from aersim.simcore.errors import ConfigError, SimulationError
from aersim.simcore.sweep.spec import SweepSpec

#: Result-file layout version, stored in every file.
SWEEP_FORMAT_VERSION = 1
#: Statuses of a row. ``lost``: the point's worker died or the task was cancelled (the point
#: itself may be fine); ``resume`` reruns lost and missing points, and failed ones on request.
STATUSES = ("ok", "error", "lost")

#: Result columns after the axes: (name, kind) with kind ``i8``, ``f8`` or ``str``.
METRIC_COLUMNS = (
    ("energy_total_j", "f8"), ("energy_dynamic_j", "f8"), ("energy_static_j", "f8"),
    ("energy_barrier_j", "f8"),
    *((f"energy_{k}_j", "f8") for k in OP_KINDS),
    *((f"ops_{k}", "i8") for k in OP_KINDS),
    ("messages", "i8"), ("hops", "i8"),
    ("hardware_time_ps", "i8"), ("step_mean_ps", "f8"), ("step_p95_ps", "f8"),
    ("step_max_ps", "f8"), ("n_steps", "i8"),
    ("spikes", "i8"), ("output_spikes", "i8"), ("output_rate_hz", "f8"),
    ("agree_spikes", "f8"), ("agree_count_corr", "f8"),
    ("neurons", "i8"), ("synapses", "i8"), ("cores_used", "i8"),
    ("simulated_s", "f8"), ("wall_s", "f8"), ("build_s", "f8"), ("point_wall_s", "f8"),
    ("worker", "str"),
)
HEAD_COLUMNS = (("point", "i8"), ("point_id", "str"))
TAIL_COLUMNS = (("status", "str"), ("error", "str"))


def missing_value(kind):
    """The value of an absent cell of a column of ``kind`` (``i8``, ``f8`` or ``str``)."""
    return -1 if kind == "i8" else (math.nan if kind == "f8" else "")


def table_columns(spec: SweepSpec) -> list[tuple[str, str]]:
    """Columns of a sweep's table: ``point``, ``point_id``, one per axis, the metrics, status."""
    cols = list(HEAD_COLUMNS)
    for axis in spec.axes:
        values = [p[axis] for p in spec.points if axis in p]
        if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            kind = "i8"
        elif values and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                            for v in values):
            kind = "f8"
        else:
            kind = "str"
        cols.append((axis, kind))
    return cols + list(METRIC_COLUMNS) + list(TAIL_COLUMNS)


def axis_cell(value, kind):
    if value is None:
        return missing_value(kind)
    return str(value) if kind == "str" else value


def to_table(rows: list[dict], columns) -> np.ndarray:
    """Rows (dicts) to a numpy structured array with one field per column."""
    dtype = []
    for name, kind in columns:
        if kind == "str":
            width = max([len(str(r.get(name, ""))) for r in rows] + [1])
            dtype.append((name, f"U{width}"))
        else:
            dtype.append((name, "<i8" if kind == "i8" else "<f8"))
    table = np.zeros(len(rows), dtype=dtype)
    for i, r in enumerate(rows):
        table[i] = tuple(r.get(name, missing_value(kind)) for name, kind in columns)
    return table


def latest_rows(rows: list[dict]) -> list[dict]:
    """The last row of every point, in point order (a resumed point supersedes its old row)."""
    last = {}
    for r in rows:
        last[r["point_id"]] = r
    return sorted(last.values(), key=lambda r: r["point"])


class H5Writer:
    """Rows appended to resizable one-dimensional datasets, flushed after every row."""

    def __init__(self, path: Path, columns, spec: SweepSpec, append: bool):
        import h5py

        self.columns = columns
        self.f = h5py.File(path, "a" if append else "w")
        g = self.f.require_group("sweep")
        if "columns" in g.attrs:
            _check_same_columns(path, json.loads(g.attrs["columns"]), columns)
        else:
            g.attrs["format_version"] = SWEEP_FORMAT_VERSION
            g.attrs["columns"] = json.dumps(columns)
            g.attrs["spec"] = spec.text
            g.attrs["name"] = spec.name
            rows = g.create_group("rows")
            for name, kind in columns:
                dt = h5py.string_dtype("utf-8") if kind == "str" else kind
                rows.create_dataset(name, shape=(0,), maxshape=(None,), chunks=(256,), dtype=dt)
        self.rows = g["rows"]

    def append(self, row: dict) -> None:
        for name, kind in self.columns:
            ds = self.rows[name]
            n = ds.shape[0]
            ds.resize((n + 1,))
            ds[n] = row.get(name, missing_value(kind))
        self.f.flush()

    def close(self) -> None:
        self.f.close()


class ParquetWriter:
    """A folder of Parquet files: one small file per arriving row (a Parquet file is readable
    only once its footer is written), merged into one file when the sweep ends."""

    def __init__(self, path: Path, columns, spec: SweepSpec, append: bool):
        pa = _pyarrow()
        self.pa, self.path, self.columns = pa, path, columns
        types = {"i8": pa.int64(), "f8": pa.float64(), "str": pa.string()}
        self.schema = pa.schema([(n, types[k]) for n, k in columns], metadata={
            "aersim_sweep_columns": json.dumps(columns), "aersim_sweep_spec": spec.text,
            "aersim_sweep_format_version": str(SWEEP_FORMAT_VERSION)})
        path.mkdir(parents=True, exist_ok=True)
        parts = parquet_parts(path)
        if parts:
            meta = parquet_module().read_schema(parts[0]).metadata or {}
            _check_same_columns(path, json.loads(meta.get(b"aersim_sweep_columns", b"[]")),
                                columns)
        self.seq = _part_seq(parts[-1]) + 1 if parts else 0
        self.written = bool(parts)

    def _write(self, rows: list[dict], name: str) -> None:
        cols = {n: [r.get(n, missing_value(k)) for r in rows] for n, k in self.columns}
        table = self.pa.table(cols, schema=self.schema)
        tmp = self.path / (name + ".tmp")
        parquet_module().write_table(table, tmp)
        os.replace(tmp, self.path / name)  # a reader never sees a half-written part

    def append(self, row: dict) -> None:
        self._write([row], f"part-{self.seq:08d}.parquet")
        self.seq += 1
        self.written = True

    def close(self) -> None:
        parts = parquet_parts(self.path)
        if len(parts) > 1:
            rows = _read_parquet_rows(self.path)
            self._write(rows, f"part-{self.seq:08d}.parquet")
            for p in parts:
                p.unlink()


def _pyarrow():
    try:
        import pyarrow
    except ImportError:
        raise SimulationError("writing Parquet needs pyarrow: pip install pyarrow, or write "
                              "the results to an .h5 file") from None
    return pyarrow


def parquet_module():
    _pyarrow()
    import pyarrow.parquet as pq
    return pq


def parquet_parts(path: Path) -> list[Path]:
    return sorted(path.glob("part-*.parquet"))


def _part_seq(p: Path) -> int:
    return int(p.name[len("part-"):-len(".parquet")])


def _read_parquet_rows(path: Path) -> list[dict]:
    rows = []
    for p in parquet_parts(path):
        rows.extend(parquet_module().read_table(p).to_pylist())
    return rows


def _check_same_columns(path, have, want) -> None:
    have = [tuple(c) for c in have]
    if have != [tuple(c) for c in want]:
        raise ConfigError(f"{path} holds a sweep with other columns "
                          f"({', '.join(c for c, _ in have)}); resume it with its own spec or "
                          "write to a new file")


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() == ".parquet"


def read_sweep(path, latest: bool = True) -> np.ndarray:
    """Read a sweep result file (``.h5`` or a ``.parquet`` folder) as a structured array.

    Parameters
    ----------
    latest : bool
        Keep only the last row of every point (a resumed point supersedes an old row), sorted
        by point; False returns every row in the order written.
    """
    columns, rows = read_rows(Path(path))
    return to_table(latest_rows(rows) if latest else rows, columns)


def read_rows(path: Path):
    """``(columns, rows as dicts in the order written)`` of a result file."""
    if not path.exists():
        raise ConfigError(f"sweep result {path} does not exist")
    if is_parquet(path):
        parts = parquet_parts(path)
        if not parts:
            raise ConfigError(f"{path} holds no sweep rows (no part-*.parquet files)")
        meta = parquet_module().read_schema(parts[0]).metadata or {}
        columns = [tuple(c) for c in json.loads(meta[b"aersim_sweep_columns"])]
        return columns, _read_parquet_rows(path)
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ConfigError(f"cannot read sweep result {path}: {exc}") from None
    with f:
        if "sweep" not in f:
            raise ConfigError(f"{path} is not a sweep result (no 'sweep' group)")
        g = f["sweep"]
        columns = [tuple(c) for c in json.loads(g.attrs["columns"])]
        data = {}
        for name, kind in columns:
            ds = g["rows"][name]
            data[name] = ds.asstr()[()] if kind == "str" else ds[()].tolist()
        # Columns are resized one after another; a client killed mid-row leaves a short tail.
        n = min(len(v) for v in data.values())
    return columns, [{name: data[name][i] for name, _ in columns} for i in range(n)]
