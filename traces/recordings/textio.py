"""Text/CSV event files: reader and writer (NumPy files are in :mod:`npyio`).

One event per line, columns named by ``columns`` (a string or sequence over ``t``, ``x``, ``y``,
``p`` and ``_`` for a column to ignore), separated by commas or whitespace. Times are multiplied
by ``t_scale`` to get µs (``t_scale=1e6`` for the Event Camera Dataset's seconds) and rounded to
the nearest µs. Polarity is ON when the value equals ``on_value`` (default: when it is > 0, so
1/0 and 1/-1 both work). Lines starting with ``#`` or ``%`` are comments; ``%geometry:W,H``
(Prophesee CSV) gives the sensor size and implies columns ``xypt``; ``# columns: <cols>`` and
``# t_scale: <s>`` (written by :func:`write_text`) set the defaults. A first line with a field
that is not a number is a column header and is skipped; when it names all four columns
(``t|ts|timestamp|time``, ``x``, ``y``, ``p|pol|polarity|on``, others ignored), it sets their
order, and ``x@W,y@H`` (as faery writes) the sensor size. A line that does not parse, a value that
is not finite (``nan``, ``inf``), a coordinate that is not a whole pixel on the sensor and a time
beyond +-2**62 µs are errors naming the byte offset; a last line without a newline is accepted
(text editors drop it).
"""

from __future__ import annotations

import re
import warnings

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
    check_time_range,
    format_error,
    header_size,
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
    return columns_to_events(
        *(values[:, idx[c]] for c in "txyp"), t_scale, on_value, meta, path, offset
    )


def columns_to_events(t, x, y, p, t_scale, on_value, meta, path, offset) -> np.ndarray:
    """Check and pack four column arrays (any numeric dtypes, shape (n,)) into events.

    Times are scaled by ``t_scale`` and rounded to the nearest µs; every value must be finite,
    coordinates whole numbers inside the sensor and times within +-2**62 µs, otherwise a
    :class:`TraceFormatError` names the file, the byte ``offset`` of the block and the value.
    """
    for name, col in (("x", x), ("y", y), ("p", p)):
        if col.dtype.kind == "f" and not np.isfinite(col).all():
            k = int(np.argmax(~np.isfinite(col)))
            raise format_error(
                path, offset, f"event {k} of a block with {name}={col[k]}", "finite values"
            )
        if col.dtype.kind not in "fiub":
            raise format_error(path, offset, f"a {name} column of type {col.dtype}", "numbers")
    bad = (x < 0) | (x >= meta.width) | (y < 0) | (y >= meta.height)
    if x.dtype.kind == "f" or y.dtype.kind == "f":
        bad |= (x != np.floor(x)) | (y != np.floor(y))
    if bad.any():
        k = int(np.argmax(bad))
        raise format_error(
            path,
            offset,
            f"event {k} of a block at x={x[k]}, y={y[k]}",
            f"whole pixel coordinates on a {meta.width}x{meta.height} sensor",
            "pass sensor_size= or columns=",
        )
    if t.dtype.kind not in "fiub":
        raise format_error(path, offset, f"a t column of type {t.dtype}", "numbers")
    if t_scale != 1 or t.dtype.kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):
            t = np.rint(t.astype(np.float64) * t_scale)
    check_time_range(t, path, offset)
    out = np.empty(len(t), dtype=EVENT_DTYPE)
    out["t"] = t
    out["x"] = x
    out["y"] = y
    out["p"] = (p == on_value) if on_value is not None else (p > 0)
    return out


def _t_scale_arg(value, path, offset):
    """A time scale must be a finite positive number (from the header when ``path`` is given)."""
    try:
        scale = float(value)
    except (TypeError, ValueError):
        scale = float("nan")
    if not (np.isfinite(scale) and 0 < scale < 1e18):
        if path is None:
            raise TraceError(f"t_scale must be a finite positive number, got {value!r}")
        raise format_error(path, offset, f"# t_scale: {value}", "a finite positive number")
    return scale


_HEADER_NAMES = {
    "t": "t", "ts": "t", "timestamp": "t", "time": "t",
    "x": "x", "y": "y",
    "p": "p", "pol": "p", "polarity": "p", "on": "p",
}  # fmt: skip


def _header_columns(head: str):
    """Columns named by a first line such as ``t,x@320,y@240,on`` (faery): ``(columns, sizes)``
    with ``sizes`` the ``@`` values by column, or None when the first line names no columns."""
    first = head.split("\n", 1)[0].strip()
    names = [v.strip() for v in re.split(r"[,;\s]+", first) if v.strip()]
    if not names or all(_is_number(v.encode()) for v in names):
        return None
    cols, sizes = [], {}
    for name in names:
        key, _, at = name.partition("@")
        col = _HEADER_NAMES.get(key.lower(), "_")
        cols.append(col)
        if at.isdigit():
            sizes[col] = int(at)
    if sorted(c for c in cols if c != "_") != ["p", "t", "x", "y"]:
        return None
    return "".join(cols), (sizes if {"x", "y"} <= set(sizes) else {})


def _is_number(field: bytes) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


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
            size = header_size(m.group(1), m.group(2), path, 0, "%geometry")
        named = _header_columns(head)
        if named is not None:
            cols, sizes = named
            if size is None and sizes:
                size = header_size(sizes.get("x"), sizes.get("y"), path, 0, "column header")
            if columns is None:
                columns = cols
        if columns is None:
            m2 = re.search(r"^# columns:\s*(\S+)", head, re.M)
            columns = m2.group(1).replace(",", "") if m2 else ("xypt" if m else "txyp")
            try:
                _columns_arg(columns)
            except TraceError:
                raise format_error(
                    path, head.find("# columns"), f"# columns: {columns}", "t, x, y, p once each"
                ) from None
        if t_scale is None:
            m3 = re.search(r"^# t_scale:\s*(\S+)", head, re.M)
            t_scale = _t_scale_arg(m3.group(1), path, m3.start()) if m3 else 1.0
        else:
            t_scale = _t_scale_arg(t_scale, None, 0)
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
                self.block_offset = offset
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
                    # a first line with a field that is not a number ("nan" and "inf" are
                    # numbers, refused later) is a column header
                    first
                    and k == len(keep) == 0
                    and not all(_is_number(v) for v in re.split(rb"[,;\s]+", s) if v)
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
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
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
