"""NumPy event files (``.npy``, ``.npz``): readers with bounded memory, and writers.

``.npy`` holds a 1-D structured array (fields matched by alias: ``t|ts|timestamp|time``,
``p|pol|polarity|on``) or a 2-D ``(N, len(columns))`` numeric array whose columns ``columns``
names. ``.npz`` holds 1-D ``t, x, y, p`` arrays (same aliases) or one structured ``events`` array,
and optionally ``sensor_size`` (2 or 3 integers).

Both are read in slices of ``block_events`` rows: the ``.npy`` file from disk, each ``.npz`` member
by streaming decompression, so a member that inflates to gigabytes costs one slice of memory at
a time. The header of every array is checked before any data is read: object arrays, Fortran
order, 0-d or extra dimensions, and data whose length differs from what the shape declares
(a truncated file, or a header that lies) are errors naming the file and byte offset. Values go
through the same checks as text (finite, whole pixels on the sensor, times within +-2**62 µs).
"""

from __future__ import annotations

import math
import zipfile
import zlib

import numpy as np
from numpy.lib import format as npformat

from aersim.traces.errors import TraceError
from aersim.traces.recordings.recording_base import (
    EventSource,
    RecordingMeta,
    check_events,
    check_in_sensor,
    file_size,
    format_error,
    header_size,
    open_binary,
    sensor_size_arg,
)
from aersim.traces.recordings.textio import (
    _columns_arg,
    _count_regressions,
    _t_scale_arg,
    columns_to_events,
)

_ALIASES = {
    "t": ("t", "ts", "timestamp", "time"),
    "x": ("x",),
    "y": ("y",),
    "p": ("p", "pol", "polarity", "on"),
}
#: Largest row (structured element) accepted, bytes; a bigger one is a damaged header.
MAX_ITEM_BYTES = 4096
#: Largest slice read at once, bytes.
MAX_BLOCK_BYTES = 64 << 20
#: Errors that zipfile and zlib raise on a damaged archive or member.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)


def _field_name(names, key):
    for alias in _ALIASES[key]:
        if alias in names:
            return alias
    return None


def read_npy_header(f, path, offset: int, where: str):
    """Parse the ``.npy`` header at the start of stream ``f``; return ``(dtype, shape, length)``.

    ``length`` is the header's size in bytes. Damage of any kind is a :class:`TraceFormatError`.
    """
    try:
        version = npformat.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npformat.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npformat.read_array_header_2_0(f)
        else:
            raise ValueError(f"version {version}")
    except Exception as exc:  # the header goes through ast.literal_eval: any error type
        raise format_error(
            path,
            offset,
            f"an unreadable .npy header in {where} ({type(exc).__name__}: {exc})",
            "a NumPy array header",
        ) from None
    if dtype.hasobject or dtype.itemsize > MAX_ITEM_BYTES or dtype.itemsize == 0:
        raise format_error(path, offset, f"{where} of dtype {dtype}", "a plain numeric dtype")
    if fortran and len(shape) > 1:
        raise format_error(path, offset, f"{where} in Fortran order", "a C-order array")
    # read_array_header_* consumed exactly the header: the stream position is its length
    return dtype, tuple(int(n) for n in shape), f.tell()


def _layout(dtype, shape, columns, path, offset, where):
    """Field names (structured) or column names (2-D) for an array; errors name the problem."""
    if dtype.names:
        if len(shape) != 1:
            raise format_error(path, offset, f"{where} of shape {shape}", "a 1-D structured array")
        fields = [_field_name(dtype.names, k) for k in "txyp"]
        if None in fields:
            raise format_error(
                path, offset, f"fields {dtype.names}", "fields t, x, y, p (or aliases)"
            )
        for f in fields:
            if dtype.fields[f][0].kind not in "fiub" or dtype.fields[f][0].shape:
                raise format_error(
                    path, offset, f"field {f!r} of dtype {dtype.fields[f][0]}", "numbers"
                )
        return fields, None
    cols = _columns_arg(columns)
    if len(shape) != 2 or shape[1] != len(cols) or dtype.kind not in "fiub":
        raise format_error(
            path,
            offset,
            f"{where} of shape {shape} and dtype {dtype}",
            f"a structured array or a numeric array of shape (N, {len(cols)})",
            "pass columns=",
        )
    return None, cols


def _check_length(path, offset, where, dtype, shape, header, have):
    want = header + math.prod(shape) * dtype.itemsize
    if want != have:
        raise format_error(
            path,
            offset + min(want, have),
            f"{have - header} bytes of data in {where}",
            f"{want - header} bytes for shape {shape} of {dtype}",
            "the file is truncated or its header is corrupt",
        )


class NpySource(EventSource):
    """Reader of a ``.npy`` event array, in slices of ``block_events`` rows."""

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
        f = self._file = open_binary(path)
        self.dtype, self.shape, self.data_start = read_npy_header(f, path, 0, "the array")
        _check_length(path, 0, "the file", self.dtype, self.shape, self.data_start, file_size(f))
        size = sensor_size_arg(sensor_size)
        if size is None:
            raise TraceError(
                f"{path}: a .npy file carries no sensor size; pass sensor_size=(width, height)"
            )
        self.meta = RecordingMeta(width=size[0], height=size[1], format="npy", path=str(path))
        self._setup(columns, t_scale, on_value, block_events)

    def _setup(self, columns, t_scale, on_value, block_events):
        self.fields, self.cols = _layout(self.dtype, self.shape, columns, self.path, 0, "the array")
        self.t_scale = _t_scale_arg(t_scale, None, 0)
        self.on_value = on_value
        row = self.dtype.itemsize * (1 if self.fields else self.shape[1])
        self.block_events = max(1, min(int(block_events), MAX_BLOCK_BYTES // row))

    def _columns(self, part):
        if self.fields:
            return [part[f] for f in self.fields]
        idx = {c: k for k, c in enumerate(self.cols)}
        return [part[:, idx[c]] for c in "txyp"]

    def _emit(self, columns, offset):
        events = columns_to_events(
            *columns, self.t_scale, self.on_value, self.meta, self.path, offset
        )
        _count_regressions(self.counters, events)
        self.block_offset = offset
        return events

    def blocks(self, t_start=None, t_stop=None):
        f = self._file
        f.seek(self.data_start)
        n = self.shape[0]
        per_row = 1 if self.fields else self.shape[1]
        row_bytes = self.dtype.itemsize * per_row
        for s in range(0, n, self.block_events):
            count = min(self.block_events, n - s)
            part = np.fromfile(f, dtype=self.dtype, count=count * per_row)
            if len(part) != count * per_row:
                raise format_error(
                    self.path,
                    self.data_start + s * row_bytes,
                    "end of file",
                    f"{count} more rows",
                    "the file changed while being read",
                )
            if not self.fields:
                part = part.reshape(count, per_row)
            yield self._emit(self._columns(part), self.data_start + s * row_bytes)


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
        self._file = open_binary(path)
        try:
            self.zip = zipfile.ZipFile(self._file)
            members = {
                i.filename[:-4]: i for i in self.zip.infolist() if i.filename.endswith(".npy")
            }
        except _ZIP_ERRORS as exc:
            raise format_error(
                path, 0, f"an unreadable .npz ({type(exc).__name__}: {exc})", "a NumPy zip archive"
            ) from None
        self.members = members
        size = sensor_size_arg(sensor_size)
        if size is None and "sensor_size" in members:
            size = self._sensor_size(members["sensor_size"])
        if size is None:
            raise TraceError(
                f"{path}: no sensor_size array in the .npz; pass sensor_size=(width, height)"
            )
        self.meta = RecordingMeta(width=size[0], height=size[1], format="npz", path=str(path))
        if "events" in members:
            self.names = ["events"]
        else:
            keys = [_field_name(members, k) for k in "txyp"]
            if None in keys:
                raise format_error(
                    path, 0, f"arrays {sorted(members)}", "t, x, y, p arrays or 'events'"
                )
            self.names = keys
        heads = [self._open(name) for name in self.names]
        for stream, *_ in heads:
            stream.close()
        if len(heads) == 1:
            _, self.dtype, self.shape = heads[0]
        else:
            for name, (_, dtype, shape) in zip(self.names, heads, strict=True):
                if len(shape) != 1 or dtype.names or dtype.kind not in "fiub":
                    raise format_error(
                        path,
                        members[name].header_offset,
                        f"array {name!r} of shape {shape} and dtype {dtype}",
                        "a 1-D numeric array",
                    )
            lengths = sorted({shape[0] for _, _, shape in heads})
            if len(lengths) != 1:
                raise format_error(
                    path, 0, f"t, x, y, p arrays of lengths {lengths}", "equal lengths"
                )
            self.dtype = np.dtype([(k, d) for k, (_, d, _) in zip("txyp", heads, strict=True)])
            self.shape = (lengths[0],)
        self._setup(columns, t_scale, on_value, block_events)
        if len(heads) > 1:
            self.block_events = max(1, min(int(block_events), MAX_BLOCK_BYTES // 8))

    def _open(self, name):
        """Open member ``name``: return (stream positioned at its data, dtype, shape)."""
        info = self.members[name]
        where = f"member {info.filename!r}"
        try:
            stream = self.zip.open(info)
        except _ZIP_ERRORS as exc:
            raise format_error(
                self.path, info.header_offset, f"an unreadable {where} ({exc})", "a zip member"
            ) from None
        dtype, shape, header = read_npy_header(stream, self.path, info.header_offset, where)
        _check_length(self.path, info.header_offset, where, dtype, shape, header, info.file_size)
        return stream, dtype, shape

    def _sensor_size(self, info):
        stream, dtype, shape = self._open("sensor_size")
        with stream:
            if shape not in ((2,), (3,)) or dtype.kind not in "iu":
                raise format_error(
                    self.path,
                    info.header_offset,
                    f"sensor_size of shape {shape} and dtype {dtype}",
                    "2 or 3 integers",
                )
            values = self._read(stream, dtype, shape[0], info)
        return header_size(values[0], values[1], self.path, info.header_offset, "sensor_size")

    def _read(self, stream, dtype, count, info):
        try:
            raw = stream.read(count * dtype.itemsize)
        except _ZIP_ERRORS as exc:
            raise format_error(
                self.path,
                info.header_offset,
                f"member {info.filename!r} that does not decompress ({type(exc).__name__}: {exc})",
                "an intact zip member",
                "the file is corrupt",
            ) from None
        if len(raw) != count * dtype.itemsize:
            raise format_error(
                self.path,
                info.header_offset,
                f"member {info.filename!r} ending early",
                f"{count} more values",
                "the file is truncated",
            )
        return np.frombuffer(raw, dtype=dtype)

    def blocks(self, t_start=None, t_stop=None):
        streams = [self._open(name) for name in self.names]
        infos = [self.members[name] for name in self.names]
        try:
            n = self.shape[0]
            for s in range(0, n, self.block_events):
                count = min(self.block_events, n - s)
                parts = [
                    self._read(stream, dtype, count, info)
                    for (stream, dtype, _), info in zip(streams, infos, strict=True)
                ]
                columns = self._columns(parts[0]) if len(parts) == 1 else parts
                yield self._emit(columns, infos[0].header_offset)
        finally:
            for stream, *_ in streams:
                stream.close()

    def close(self):
        if getattr(self, "zip", None) is not None:
            self.zip.close()
            self.zip = None
        super().close()


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
