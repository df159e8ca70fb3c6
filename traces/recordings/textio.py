"""Text/CSV and NumPy (``.npy``/``.npz``) event files: readers and writers.

Text: one event per line, columns named by ``columns`` (a string or sequence over ``t``, ``x``,
``y``, ``p`` and ``_`` for a column to ignore), separated by commas or whitespace. Times are
multiplied by ``t_scale`` to get µs (``t_scale=1e6`` for the Event Camera Dataset's seconds).
Polarity is ON when the value equals ``on_value`` (default: when it is > 0, so 1/0 and 1/-1 both
work). Lines starting with ``#`` or ``%`` are comments; ``%geometry:W,H`` (Prophesee CSV) gives the
sensor size and implies columns ``xypt``; ``# columns: <cols>`` and ``# t_scale: <s>`` (written by
:func:`write_text`) set the defaults. A first line with letters is a column header and is skipped.
A line that does not parse is an error naming its byte offset; a last line without a newline is
accepted (text editors drop it).

NumPy: ``.npy`` holds a structured array (fields matched by alias: ``t|ts|timestamp``,
``p|pol|polarity|on``) or an ``(N, 4)`` array whose columns ``columns`` names; it is memory-mapped
and read in slices. ``.npz`` holds ``t, x, y, p`` arrays (or one structured ``events`` array) and
optionally ``sensor_size``; it is loaded whole (zip members cannot be memory-mapped).
"""

from __future__ import annotations

import re

import numpy as np

from aersim.traces.errors import TraceError
from aersim.traces.recordings.recording_base import (
    C_LAST_T,
    C_REGRESSIONS,
    DEFAULT_BLOCK_BYTES,
    EventSource,
    RecordingMeta,
    check_events,
    check_in_sensor,
    format_error,
    open_binary,
    sensor_size_arg,
)
from aersim.traces.schema import EVENT_DTYPE

_ALIASES = {
    "t": ("t", "ts", "timestamp", "time"),
    "x": ("x",),
    "y": ("y",),
    "p": ("p", "pol", "polarity", "on"),
}


def _columns_arg(columns) -> tuple[str, ...]:
    cols = tuple(columns)
    if sorted(c for c in cols if c != "_") != ["p", "t", "x", "y"]:
        raise TraceError(
            f"columns must name t, x, y, p once each (and '_' to skip), got {columns!r}"
        )
    return cols


def _to_events(values, cols, t_scale, on_value, meta, path, offset):
    """Turn an (n, ncols) float or int array into events, checking the sensor bounds."""
    idx = {c: k for k, c in enumerate(cols) if c != "_"}
    t = values[:, idx["t"]]
    if t_scale != 1:
        t = np.rint(t * t_scale)
    x, y, pv = values[:, idx["x"]], values[:, idx["y"]], values[:, idx["p"]]
    bad = (x < 0) | (x >= meta.width) | (y < 0) | (y >= meta.height)
    if bad.any():
        k = int(np.argmax(bad))
        raise format_error(
            path,
            offset,
            f"event {k} of a block at x={x[k]}, y={y[k]}",
            f"a {meta.width}x{meta.height} sensor",
            "pass sensor_size= or columns=",
        )
    out = np.empty(len(values), dtype=EVENT_DTYPE)
    out["t"] = t
    out["x"] = x
    out["y"] = y
    out["p"] = (pv == on_value) if on_value is not None else (pv > 0)
    return out


def _count_regressions(counters, events):
    if len(events):
        counters[C_REGRESSIONS] += int(np.count_nonzero(np.diff(events["t"]) < 0)) + int(
            events["t"][0] < counters[C_LAST_T]
        )
        counters[C_LAST_T] = events["t"][-1]


class TextSource(EventSource):
    """Streaming reader of a text/CSV event file."""

    def __init__(
        self,
        path,
        sensor_size=None,
        columns=None,
        t_scale=None,
        on_value=None,
        separator=None,
        block_bytes=DEFAULT_BLOCK_BYTES,
        **_,
    ):
        super().__init__(path)
        f = self._file = open_binary(path)
        head = f.read(65536).decode("utf-8", "replace")
        size = sensor_size_arg(sensor_size)
        m = re.match(r"%geometry:\s*(\d+)\s*,\s*(\d+)", head)
        if m and size is None:
            size = int(m.group(1)), int(m.group(2))
        if columns is None:
            m2 = re.search(r"^# columns:\s*(\S+)", head, re.M)
            columns = m2.group(1).replace(",", "") if m2 else ("xypt" if m else "txyp")
        if t_scale is None:
            m3 = re.search(r"^# t_scale:\s*(\S+)", head, re.M)
            t_scale = float(m3.group(1)) if m3 else 1.0
        if size is None:
            raise format_error(
                path,
                0,
                "a text file without %geometry",
                "a sensor size",
                "pass sensor_size=(width, height)",
            )
        self.cols = _columns_arg(columns)
        self.t_scale = float(t_scale)
        self.on_value = on_value
        self.separator = separator
        self.block_bytes = block_bytes
        self.meta = RecordingMeta(width=size[0], height=size[1], format="csv", path=str(path))

    def blocks(self, t_start=None, t_stop=None):
        f = self._file
        f.seek(0)
        carry = b""
        offset = 0  # file offset of carry[0]
        first = True
        while True:
            chunk = f.read(self.block_bytes)
            data = carry + chunk
            if not chunk:
                if data.strip():
                    data += b"\n"  # accept a last line without newline
                else:
                    return
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry = data
                continue
            events = self._parse(data[:cut], offset, first)
            first = False
            _count_regressions(self.counters, events)
            if len(events):
                yield events
            carry = data[cut:]
            offset += cut
            if not chunk:
                return

    def _parse(self, text: bytes, offset: int, first: bool):
        lines = text.split(b"\n")[:-1]
        keep, starts, pos = [], [], offset
        for k, line in enumerate(lines):
            s = line.strip()
            if (
                s
                and s[:1] not in (b"#", b"%")
                and not (
                    first
                    and k == len(keep) == 0
                    and re.search(rb"[a-zA-Z]", s)
                    and not re.fullmatch(rb"[-+0-9.eE,\s]+", s)
                )
            ):
                keep.append(s)
                starts.append(pos)
            pos += len(line) + 1
        if not keep:
            return np.empty(0, dtype=EVENT_DTYPE)
        ncol = len(self.cols)
        body = b"\n".join(keep).decode("ascii", "replace")
        sep = self.separator or ("," if "," in keep[0].decode("ascii", "replace") else None)
        if sep:
            body = body.replace(sep, " ")
        try:
            values = np.fromstring(body, sep=" ")
            ok = values.size == len(keep) * ncol
        except ValueError:
            ok = False
        if not ok:
            for s, start in zip(keep, starts, strict=True):
                fields = s.decode("ascii", "replace").replace(sep or " ", " ").split()
                try:
                    if len(fields) != ncol:
                        raise ValueError
                    [float(v) for v in fields]
                except ValueError:
                    raise format_error(
                        self.path,
                        start,
                        f"the line {s[:60]!r}",
                        f"{ncol} numeric columns {''.join(self.cols)!r}",
                        "pass columns= or separator=",
                    ) from None
            raise format_error(self.path, offset, "unparseable text", "numeric columns")
        return _to_events(
            values.reshape(-1, ncol),
            self.cols,
            self.t_scale,
            self.on_value,
            self.meta,
            self.path,
            offset,
        )


def _field_name(names, key):
    for alias in _ALIASES[key]:
        if alias in names:
            return alias
    return None


class NpySource(EventSource):
    """Reader of a ``.npy`` event array (memory-mapped, read in slices)."""

    def __init__(
        self,
        path,
        sensor_size=None,
        columns="txyp",
        t_scale=1.0,
        on_value=None,
        block_events=1 << 20,
        **_,
    ):
        super().__init__(path)
        try:
            self.array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise format_error(
                path, 0, f"an unreadable .npy ({exc})", "a NumPy array file"
            ) from None
        size = sensor_size_arg(sensor_size)
        if size is None:
            raise TraceError(
                f"{path}: a .npy file carries no sensor size; pass sensor_size=(width, height)"
            )
        self.meta = RecordingMeta(width=size[0], height=size[1], format="npy", path=str(path))
        self._setup(self.array, columns, t_scale, on_value)
        self.block_events = block_events

    def _setup(self, array, columns, t_scale, on_value):
        self.t_scale, self.on_value = float(t_scale), on_value
        names = array.dtype.names
        if names:
            fields = [_field_name(names, k) for k in "txyp"]
            if None in fields:
                raise format_error(
                    self.path, 0, f"fields {names}", "fields t, x, y, p (or aliases)"
                )
            self.fields = fields
        else:
            if array.ndim != 2 or array.shape[1] != len(_columns_arg(columns)):
                raise format_error(
                    self.path,
                    0,
                    f"an array of shape {array.shape}",
                    f"a structured array or shape (N, {len(columns)})",
                    "pass columns=",
                )
            self.fields = None
            self.cols = _columns_arg(columns)

    def blocks(self, t_start=None, t_stop=None):
        a = self.array
        for s in range(0, len(a), self.block_events):
            part = np.asarray(a[s : s + self.block_events])
            if self.fields:
                values = np.stack(
                    [
                        part[f].astype(np.float64 if self.t_scale != 1 else np.int64)
                        for f in self.fields
                    ],
                    axis=1,
                )
                cols = ("t", "x", "y", "p")
            else:
                values, cols = part, self.cols
            events = _to_events(values, cols, self.t_scale, self.on_value, self.meta, self.path, s)
            _count_regressions(self.counters, events)
            yield events


class NpzSource(NpySource):
    """Reader of a ``.npz`` with ``t, x, y, p`` arrays or a structured ``events`` array."""

    def __init__(
        self,
        path,
        sensor_size=None,
        columns="txyp",
        t_scale=1.0,
        on_value=None,
        block_events=1 << 20,
        **_,
    ):
        EventSource.__init__(self, path)
        try:
            with np.load(path, allow_pickle=False) as z:
                files = {k: z[k] for k in z.files}
        except Exception as exc:  # zipfile raises many types on damaged archives
            raise format_error(
                path, 0, f"an unreadable .npz ({exc})", "a NumPy zip archive"
            ) from None
        size = sensor_size_arg(sensor_size)
        if size is None and "sensor_size" in files:
            size = sensor_size_arg(files["sensor_size"])
        if size is None:
            raise TraceError(
                f"{path}: no sensor_size array in the .npz; pass sensor_size=(width, height)"
            )
        self.meta = RecordingMeta(width=size[0], height=size[1], format="npz", path=str(path))
        if "events" in files:
            array = files["events"]
        else:
            keys = [_field_name(files, k) for k in "txyp"]
            if None in keys:
                raise format_error(
                    path, 0, f"arrays {sorted(files)}", "t, x, y, p arrays or 'events'"
                )
            lengths = {len(files[k]) for k in keys}
            if len(lengths) != 1:
                raise format_error(
                    path, 0, f"t, x, y, p arrays of lengths {sorted(lengths)}", "equal lengths"
                )
            fields = [(k, files[a].dtype) for k, a in zip("txyp", keys, strict=True)]
            array = np.empty(lengths.pop(), dtype=fields)
            for k, a in zip("txyp", keys, strict=True):
                array[k] = files[a]
        self.array = array
        self._setup(array, columns, t_scale, on_value)
        self.block_events = block_events


def write_text(path, events, meta: RecordingMeta, columns="txyp", t_scale=1.0, separator=","):
    """Write ``events`` as text with a ``%geometry`` line and ``# columns``/``# t_scale`` comments.

    Times are written as ``t / t_scale`` (integers when ``t_scale == 1``).
    """
    events = check_events(events)
    check_in_sensor(events, meta, path)
    cols = _columns_arg(columns)
    if "_" in cols:
        raise TraceError("write_text columns cannot contain '_'")
    fmt = {"t": "%d" if t_scale == 1 else "%.9f", "x": "%d", "y": "%d", "p": "%d"}
    with open(path, "w") as f:
        f.write(
            f"%geometry:{meta.width},{meta.height}\n"
            f"# columns: {''.join(cols)}\n# t_scale: {t_scale!r}\n"
        )
        for s in range(0, len(events), 1 << 20):
            part = events[s : s + (1 << 20)]
            data = {
                "t": part["t"] if t_scale == 1 else part["t"] / t_scale,
                "x": part["x"],
                "y": part["y"],
                "p": part["p"],
            }
            np.savetxt(
                f,
                np.column_stack([data[c] for c in cols]).astype(
                    np.float64 if t_scale != 1 else np.int64
                ),
                fmt=[fmt[c] for c in cols],
                delimiter=separator,
            )


def write_npy(path, events, meta: RecordingMeta):
    """Write ``events`` as a ``.npy`` structured array of EVENT_DTYPE (no sensor size stored)."""
    events = check_events(events)
    check_in_sensor(events, meta, path)
    with open(path, "wb") as f:
        np.save(f, events)


def write_npz(path, events, meta: RecordingMeta, compressed: bool = True):
    """Write ``events`` as a ``.npz`` with ``t, x, y, p`` arrays and ``sensor_size``."""
    events = check_events(events)
    check_in_sensor(events, meta, path)
    save = np.savez_compressed if compressed else np.savez
    with open(path, "wb") as f:
        save(
            f,
            t=events["t"],
            x=events["x"],
            y=events["y"],
            p=events["p"],
            sensor_size=np.array([meta.width, meta.height], dtype=np.int64),
        )
