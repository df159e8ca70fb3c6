"""The result table of a sweep: its columns, and its storage in HDF5 or Parquet.

One row per point, stored as it arrives, so that an interruption at any moment (Ctrl-C, SIGTERM,
SIGKILL, a full disk) loses no finished row and never pairs a point with another's results:

- HDF5 (``.h5``): the file itself is only ever replaced whole (written to a temporary file, then
  renamed), so it always holds a complete table. Rows that arrive in between go to a journal
  beside it, ``<out>.journal``: one line per row (``<crc32> <json>``, the point id inside the
  record), appended with a single write and synced. The table is rewritten from both every few
  seconds and when the sweep ends, after which the journal is removed. A line cut short by a kill
  fails its checksum and is dropped (and cut off when the sweep resumes).
- Parquet (``.parquet``, a folder): one file per row, written under a temporary name and renamed,
  merged when the sweep ends (a Parquet file is unreadable until its footer is written).

Each file stores its spec, its columns and its *sweep key* (a hash of the base run, the axes and
the reference); a resume with another key is refused instead of merging two sweeps.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import zlib
from pathlib import Path

import numpy as np

from aersim.hardware.energy import OP_KINDS
from aersim.simcore.errors import ConfigError, SimulationError
from aersim.simcore.sweep.spec import SweepSpec

#: Result-file layout version, stored in every file (2: whole-file replacement plus a journal;
#: 1 wrote column by column in place and is read, but never resumed).
SWEEP_FORMAT_VERSION = 2
#: Seconds between rewrites of an HDF5 table from its journal.
SNAPSHOT_EVERY_S = 10.0
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
#: Columns of a sweep whose base chip is a system of chips (``hardware.system``): chips holding
#: neurons, and the chip-to-chip links' packets, bits (overhead included), links that carried
#: any, and the busy time and utilisation (busy / hardware time) of the busiest directed link.
#: Their energy is ``energy_chip_link_j``.
SYSTEM_COLUMNS = (
    ("chips_used", "i8"), ("chip_link_packets", "i8"), ("chip_link_bits", "i8"),
    ("chip_links_used", "i8"), ("chip_link_busiest_ps", "i8"), ("chip_link_busiest_util", "f8"),
)
HEAD_COLUMNS = (("point", "i8"), ("point_id", "str"))
TAIL_COLUMNS = (("status", "str"), ("error", "str"))


def missing_value(kind):
    """The value of an absent cell of a column of ``kind`` (``i8``, ``f8`` or ``str``)."""
    return -1 if kind == "i8" else (math.nan if kind == "f8" else "")


def table_columns(spec: SweepSpec) -> list[tuple[str, str]]:
    """Columns of a sweep's table: ``point``, ``point_id``, one per axis, the metrics (with
    :data:`SYSTEM_COLUMNS` when the base chip is a system), status."""
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
    return cols + list(METRIC_COLUMNS) + list(SYSTEM_COLUMNS if spec.system else ()) \
        + list(TAIL_COLUMNS)


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


def sweep_key(spec: SweepSpec) -> str:
    """Identity of a sweep: a hash of its base run, its axes and its reference point.

    Two specs with one key differ at most in the values of their axes (extending a sweep with
    more points keeps its key); rows of either can share a result file.
    """
    text = json.dumps({"base": spec.base, "axes": list(spec.axes),
                       "reference": None if spec.reference is None else
                       spec.ids[spec.reference]}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def latest_rows(rows: list[dict]) -> list[dict]:
    """The last row of every point, in point order (a resumed point supersedes its old row)."""
    last = {}
    for r in rows:
        last[r["point_id"]] = r
    return sorted(last.values(), key=lambda r: r["point"])


def journal_path(path: Path) -> Path:
    """The journal of the HDF5 result ``path``: ``<path>.journal``."""
    return path.with_name(path.name + ".journal")


def _journal_line(row: dict) -> bytes:
    body = json.dumps(row, separators=(",", ":"), allow_nan=True, default=str).encode("utf-8")
    return b"%08x %s\n" % (zlib.crc32(body), body)


def read_journal(path: Path) -> tuple[list[dict], int]:
    """Rows of a journal and the byte length of its valid prefix (a torn last line is not)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    rows, good = [], 0
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n") or len(line) < 10 or line[8:9] != b" ":
            break
        body = line[9:-1]
        try:
            if int(line[:8], 16) != zlib.crc32(body):
                break
            row = json.loads(body)
        except ValueError:
            break
        if not isinstance(row, dict) or "point_id" not in row:
            break
        rows.append(row)
        good += len(line)
    return rows, good


def _write_h5(path: Path, columns, rows: list[dict], attrs: dict) -> None:
    """Write the whole table to ``path`` atomically: a temporary file, synced, then renamed."""
    import h5py

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with h5py.File(tmp, "w") as f:
            g = f.create_group("sweep")
            for k, v in attrs.items():
                g.attrs[k] = v
            g.attrs["format_version"] = SWEEP_FORMAT_VERSION
            g.attrs["columns"] = json.dumps(columns)
            rg = g.create_group("rows")
            for name, kind in columns:
                values = [r.get(name, missing_value(kind)) for r in rows]
                if kind == "str":
                    data = np.array([str(v) for v in values], dtype=object)
                    dt = h5py.string_dtype("utf-8")
                else:
                    data = np.array(values, dtype=kind)
                    dt = kind
                rg.create_dataset(name, data=data, dtype=dt, maxshape=(None,),
                                  chunks=(max(1, min(256, len(rows))),))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def _h5_header(path: Path) -> dict:
    """Attributes of the ``sweep`` group of an HDF5 result (``ConfigError`` if unreadable)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if "sweep" not in f:
                raise ConfigError(f"{path} is not a sweep result (no 'sweep' group)")
            return {k: (v.decode() if isinstance(v, bytes) else v)
                    for k, v in f["sweep"].attrs.items()}
    except OSError as exc:
        raise ConfigError(f"cannot read sweep result {path}: not an HDF5 file, or damaged "
                          f"({exc})") from None


def check_resumable(path: Path, columns, key: str, attrs: dict) -> None:
    """Refuse to add rows to a result of another layout version, columns or sweep."""
    version = int(attrs.get("format_version", 1))
    if version != SWEEP_FORMAT_VERSION:
        raise ConfigError(f"{path} was written in sweep format {version}; this aersim resumes "
                          f"format {SWEEP_FORMAT_VERSION} only; write to a new file")
    have = attrs.get("columns")
    _check_same_columns(path, json.loads(have) if have else [], columns)
    if attrs.get("sweep_key") != key:
        raise ConfigError(f"{path} holds another sweep (sweep key {attrs.get('sweep_key')}, "
                          f"this spec's is {key}): its base run, axes or reference differ. "
                          "Resume it with its own spec, or write to a new file")


class H5Writer:
    """An HDF5 table replaced whole, with a journal of the rows that arrived since."""

    def __init__(self, path: Path, columns, spec: SweepSpec, append: bool):
        self.path, self.columns = path, columns
        self.journal = journal_path(path)
        self.attrs = {"spec": spec.text, "name": spec.name, "sweep_key": sweep_key(spec)}
        for tmp in path.parent.glob(f".{path.name}.*.tmp"):
            tmp.unlink(missing_ok=True)  # a rewrite whose process was killed before its rename
        if append and path.exists():
            check_resumable(path, columns, self.attrs["sweep_key"], _h5_header(path))
            _, good = read_journal(self.journal)
            if self.journal.exists() and self.journal.stat().st_size > good:
                # A row cut short by a kill: drop it, its point runs again.
                with open(self.journal, "r+b") as fh:
                    fh.truncate(good)
        else:
            _write_h5(path, columns, [], self.attrs)
            if self.journal.exists():
                self.journal.unlink()
        self._fd = os.open(self.journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._last_snapshot = time.monotonic()

    def append(self, row: dict) -> None:
        line = _journal_line(row)
        end = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            if os.write(self._fd, line) != len(line):
                raise OSError(28, "No space left on device (short write to the sweep journal)")
            os.fsync(self._fd)
        except OSError:
            # Cut off the torn line, so that rows appended later are not hidden behind it.
            try:
                os.ftruncate(self._fd, end)
            except OSError:
                pass
            raise
        if time.monotonic() - self._last_snapshot > SNAPSHOT_EVERY_S:
            self.snapshot()

    def snapshot(self) -> None:
        """Rewrite the table from the file and the journal, then empty the journal."""
        _, rows = read_rows(self.path)
        _write_h5(self.path, self.columns, rows, self.attrs)
        os.ftruncate(self._fd, 0)
        self._last_snapshot = time.monotonic()

    def close(self) -> None:
        if self._fd is None:
            return
        try:
            self.snapshot()
        finally:
            os.close(self._fd)
            self._fd = None
        self.journal.unlink(missing_ok=True)


class ParquetWriter:
    """A folder of Parquet files: one small file per arriving row (a Parquet file is readable
    only once its footer is written), merged into one file when the sweep ends."""

    def __init__(self, path: Path, columns, spec: SweepSpec, append: bool):
        pa = _pyarrow()
        self.pa, self.path, self.columns = pa, path, columns
        types = {"i8": pa.int64(), "f8": pa.float64(), "str": pa.string()}
        key = sweep_key(spec)
        self.schema = pa.schema([(n, types[k]) for n, k in columns], metadata={
            "aersim_sweep_columns": json.dumps(columns), "aersim_sweep_spec": spec.text,
            "aersim_sweep_format_version": str(SWEEP_FORMAT_VERSION),
            "aersim_sweep_key": key})
        path.mkdir(parents=True, exist_ok=True)
        for tmp in path.glob("*.tmp"):
            tmp.unlink()  # a part whose writer was killed before its rename
        parts = parquet_parts(path)
        if parts:
            check_resumable(path, columns, key, _parquet_header(path))
        self.seq = _part_seq(parts[-1]) + 1 if parts else 0
        if not parts:
            self._write([], f"part-{self.seq:08d}.parquet")  # records spec and key at once
            self.seq += 1

    def _write(self, rows: list[dict], name: str) -> None:
        cols = {n: [r.get(n, missing_value(k)) for r in rows] for n, k in self.columns}
        table = self.pa.table(cols, schema=self.schema)
        tmp = self.path / (name + ".tmp")
        parquet_module().write_table(table, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.path / name)  # a reader never sees a half-written part

    def append(self, row: dict) -> None:
        self._write([row], f"part-{self.seq:08d}.parquet")
        self.seq += 1

    def close(self) -> None:
        parts = parquet_parts(self.path)
        if len(parts) > 1:
            rows = _read_parquet_rows(self.path)
            self._write(rows, f"part-{self.seq:08d}.parquet")
            # Killed here, the old parts repeat rows of the merged one: readers keep one.
            for p in parts:
                p.unlink()


def result_header(path: Path) -> dict:
    """Stored attributes of a result file: ``format_version``, ``columns`` (JSON), ``spec``,
    ``sweep_key`` (absent in format 1), as text or numbers."""
    return _parquet_header(path) if is_parquet(path) else _h5_header(path)


def _parquet_header(path: Path) -> dict:
    try:
        meta = parquet_module().read_schema(parquet_parts(path)[0]).metadata or {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read sweep result {path}: {exc}") from None
    out = {k.decode()[len("aersim_sweep_"):]: v.decode() for k, v in meta.items()
           if k.startswith(b"aersim_sweep_")}
    if "key" in out:
        out["sweep_key"] = out.pop("key")
    return out


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
        try:
            rows.extend(parquet_module().read_table(p).to_pylist())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read sweep result {path}: part {p.name} is damaged "
                              f"({exc})") from None
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
    """``(columns, rows as dicts in the order written)`` of a result file, journal included.

    Raises
    ------
    ConfigError
        The file is missing, not a sweep result, or damaged: columns of unequal length (format 1
        written by an interrupted sweep), a row without a point id, or unreadable parts.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"sweep result {path} does not exist")
    if is_parquet(path):
        parts = parquet_parts(path)
        if not parts:
            raise ConfigError(f"{path} holds no sweep rows (no part-*.parquet files)")
        header = _parquet_header(path)
        if "columns" not in header:
            raise ConfigError(f"{path} is not a sweep result (no aersim_sweep_columns)")
        columns = [tuple(c) for c in json.loads(header["columns"])]
        return columns, _checked(path, columns, _read_parquet_rows(path))
    import h5py

    header = _h5_header(path)
    if "columns" not in header:
        raise ConfigError(f"{path} is not a sweep result (its 'sweep' group has no columns)")
    try:
        columns = [tuple(c) for c in json.loads(header["columns"])]
        with h5py.File(path, "r") as f:
            g = f["sweep/rows"]
            data = {}
            for name, kind in columns:
                ds = g[name]
                data[name] = ds.asstr()[()] if kind == "str" else ds[()].tolist()
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise ConfigError(f"cannot read sweep result {path}: damaged ({exc})") from None
    lengths = {name: len(v) for name, v in data.items()}
    if len(set(lengths.values())) > 1:
        raise ConfigError(f"{path} is damaged: its columns have unequal lengths "
                          f"({min(lengths.values())} to {max(lengths.values())} rows), so rows "
                          "cannot be matched to points; it was written by an interrupted sweep "
                          "of an older aersim. Run the sweep again into a new file")
    n = next(iter(lengths.values()), 0)
    rows = [{name: data[name][i] for name, _ in columns} for i in range(n)]
    journal, _ = read_journal(journal_path(path))
    return columns, _checked(path, columns, rows + journal)


def _checked(path, columns, rows: list[dict]) -> list[dict]:
    for i, r in enumerate(rows):
        if not r.get("point_id") or r.get("status") not in STATUSES:
            raise ConfigError(f"{path} is damaged: row {i} has point_id {r.get('point_id')!r} "
                              f"and status {r.get('status')!r}; run the sweep into a new file")
    return rows
