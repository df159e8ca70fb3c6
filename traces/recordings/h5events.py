"""HDF5 event files: DSEC-style layout (read and write), MVSEC and Prophesee (read).

DSEC layout (also this package's export format, readable with plain h5py):

* ``/events/t`` int64 µs relative to ``/t_offset``; ``/events/x``, ``/events/y`` uint16;
  ``/events/p`` uint8 (1 = ON); 1-D, chunked and compressed (gzip or lzf);
* ``/t_offset`` int64 scalar, µs added to every ``t``;
* ``/ms_to_idx`` uint64, entry ``k`` = index of the first event with relative ``t >= 1000 k``,
  used to start a time-window read without scanning;
* root attributes ``width`` and ``height`` (our addition; DSEC files are 640x480 and have none,
  pass ``sensor_size``).

MVSEC: ``/davis/left/events`` float64 ``(N, 4)`` = x, y, t in seconds, polarity -1/+1 (346x260).
Prophesee ``/CD/events`` is read when h5py can decode it (its ECF codec is an HDF5 plugin that must
be installed separately); otherwise the error says so.
"""

from __future__ import annotations

import warnings

import numpy as np

from aersim.traces.errors import TraceError, TraceWarning
from aersim.traces.recordings.recording_base import (
    C_LAST_T,
    C_REGRESSIONS,
    EventSource,
    RecordingMeta,
    check_events,
    check_in_sensor,
    format_error,
    header_int,
    header_size,
    header_time_offset,
    sensor_size_arg,
)
from aersim.traces.recordings.textio import columns_to_events

MVSEC_SIZE = (346, 260)
#: What h5py raises on damaged files, datasets of an unexpected shape or type, missing filters.
_H5_ERRORS = (OSError, KeyError, ValueError, RuntimeError, TypeError, IndexError, AttributeError)


def h5py_dataset():
    import h5py

    return h5py.Dataset


def _byte_offset(dset, index):
    """File offset of the chunk holding element ``index`` (0 when HDF5 cannot say)."""
    try:
        if dset.chunks is None:
            return int(dset.id.get_offset() or 0)
        return int(
            dset.id.get_chunk_info_by_coord(
                (index - index % dset.chunks[0],) + (0,) * (dset.ndim - 1)
            ).byte_offset
            or 0
        )
    except Exception:  # h5py raises assorted types on damaged metadata
        return 0


class H5Source(EventSource):
    """Reader of an HDF5 event file, in slices of ``block_events`` events."""

    def __init__(self, path, sensor_size=None, block_events=1 << 20, **_):
        super().__init__(path)
        import h5py

        try:
            self.h5 = h5py.File(path, "r")
        except OSError as exc:
            raise format_error(
                path, 0, f"an unreadable HDF5 file ({exc})", "an HDF5 event file"
            ) from None
        try:
            self._setup(path, sensor_size, block_events)
        except TraceError:
            self.h5.close()
            raise
        except _H5_ERRORS as exc:
            self.h5.close()
            raise format_error(
                path, 0, f"a damaged HDF5 structure ({exc})", "an HDF5 event file"
            ) from None

    def _setup(self, path, sensor_size, block_events):
        import h5py

        h5 = self.h5
        size = sensor_size_arg(sensor_size)
        self.t_offset = 0
        if "events" in h5 and isinstance(h5["events"], h5py.Group):
            self.layout = "dsec"
            g = h5["events"]
            missing = [k for k in "txyp" if k not in g]
            if missing:
                raise format_error(path, 0, f"/events without {missing}", "/events/{t,x,y,p}")
            self.cols = [g[k] for k in "txyp"]
            for k, c in zip("txyp", self.cols, strict=True):
                if not isinstance(c, h5py.Dataset) or c.ndim != 1 or c.dtype.kind not in "fiub":
                    raise format_error(
                        path,
                        _byte_offset(c, 0) if isinstance(c, h5py.Dataset) else 0,
                        f"/events/{k} of shape {getattr(c, 'shape', None)} "
                        f"and type {getattr(c, 'dtype', type(c).__name__)}",
                        "a 1-D numeric dataset",
                    )
            if len({len(c) for c in self.cols}) != 1:
                raise format_error(
                    path, 0, "/events datasets of different lengths", "equal lengths"
                )
            if "t_offset" in h5:
                value = np.asarray(h5["t_offset"])
                if value.size != 1 or value.dtype.kind not in "iu":
                    raise format_error(
                        path,
                        0,
                        f"/t_offset of shape {value.shape} and type {value.dtype}",
                        "one integer (µs)",
                    )
                self.t_offset = header_time_offset(int(value.ravel()[0]), path, "/t_offset")
            if size is None and "width" in h5.attrs and "height" in h5.attrs:
                size = header_size(h5.attrs["width"], h5.attrs["height"], path, 0, "attribute")
            self.n = len(self.cols[0])
        elif "davis/left/events" in h5:
            self.layout = "mvsec"
            self.table = h5["davis/left/events"]
            shape = getattr(self.table, "shape", None)
            if shape is None or len(shape) != 2 or shape[1] < 4:
                raise format_error(
                    path, 0, f"/davis/left/events of shape {shape}", "an (N, 4) table"
                )
            size = size or MVSEC_SIZE
            self.n = self.table.shape[0]
        elif "CD/events" in h5:
            self.layout = "prophesee"
            self.table = h5["CD/events"]
            names = getattr(getattr(self.table, "dtype", None), "names", None) or ()
            if getattr(self.table, "ndim", 0) != 1 or not {"x", "y", "p", "t"} <= set(names):
                raise format_error(
                    path, 0, f"/CD/events with fields {names}", "a table of x, y, p, t"
                )
            geometry = h5.attrs.get("geometry")
            if size is None and geometry is not None:
                w, _, hh = str(
                    geometry.decode() if isinstance(geometry, bytes) else geometry
                ).partition("x")
                size = header_size(
                    header_int(w, path, "geometry"), header_int(hh, path, "geometry"), path
                )
            self.n = self.table.shape[0]
        else:
            raise format_error(
                path,
                0,
                f"groups {sorted(h5)}",
                "/events (DSEC), /davis/left/events (MVSEC) or /CD/events (Prophesee)",
                "this HDF5 file holds no events",
            )
        if size is None:
            raise TraceError(
                f"{path}: the HDF5 file gives no sensor size; pass sensor_size=(width, height)"
            )
        self.block_events = block_events
        self.meta = RecordingMeta(
            width=size[0],
            height=size[1],
            format="hdf5",
            path=str(path),
            t0_us=self.t_offset,
            header=(("layout", self.layout),),
        )

    def _first_index(self, t_start):
        """Index to start reading from for ``t >= t_start`` (DSEC ``ms_to_idx``), else 0.

        The index is trusted only when the events on either side of the entry agree with it
        (the one before is earlier than the entry's millisecond, the entry is in range);
        otherwise a :class:`TraceWarning` says so and reading starts from the first event.
        """
        if t_start is None or self.layout != "dsec" or "ms_to_idx" not in self.h5:
            return 0
        ms = (t_start - self.t_offset) // 1000
        if ms <= 0:
            return 0
        index = None
        try:
            index = self.h5["ms_to_idx"]
            if not isinstance(index, h5py_dataset()) or index.ndim != 1 or len(index) == 0:
                raise ValueError(f"shape {getattr(index, 'shape', None)}")
            if index.dtype.kind not in "iu":
                raise ValueError(f"type {index.dtype}")
            k = min(ms, len(index) - 1)
            first = int(index[k])
            if not 0 <= first <= self.n:
                raise ValueError(f"entry {k} = {first} for {self.n} events")
            t = self.cols[0]
            if first > 0 and int(t[first - 1]) >= 1000 * k:
                raise ValueError(f"entry {k} = {first} but event {first - 1} is later")
        except (ValueError, TypeError, OverflowError, *_H5_ERRORS) as exc:
            warnings.warn(
                f"{self.path}: at byte {_byte_offset(index, 0) if index is not None else 0}: "
                f"unusable /ms_to_idx ({exc}); reading from the first event",
                TraceWarning,
                stacklevel=4,
            )
            return 0
        return first

    def _slice(self, lo, hi):
        scale = 1.0
        try:
            if self.layout == "dsec":
                t, x, y, p = (c[lo:hi] for c in self.cols)
            elif self.layout == "mvsec":
                rows = self.table[lo:hi]
                x, y, t, p = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
                scale = 1e6
            else:
                rows = self.table[lo:hi]
                x, y, p, t = rows["x"], rows["y"], rows["p"], rows["t"]
        except _H5_ERRORS as exc:
            dset = self.cols[0] if self.layout == "dsec" else self.table
            fix = (
                "a Prophesee file needs the ECF HDF5 plugin (HDF5_PLUGIN_PATH)"
                if self.layout == "prophesee"
                else "the file is corrupt"
            )
            raise format_error(
                self.path,
                _byte_offset(dset, lo),
                f"unreadable events {lo}..{hi} ({exc})",
                "readable HDF5 chunks",
                fix,
            ) from None
        dset = self.cols[0] if self.layout == "dsec" else self.table
        out = columns_to_events(
            t, x, y, p, scale, None, self.meta, self.path, _byte_offset(dset, lo)
        )
        if self.t_offset:
            out["t"] += self.t_offset  # both below 2**62 in magnitude: cannot overflow
        return out

    def blocks(self, t_start=None, t_stop=None):
        for lo in range(self._first_index(t_start), self.n, self.block_events):
            events = self._slice(lo, min(lo + self.block_events, self.n))
            c = self.counters
            self.block_offset = _byte_offset(
                self.cols[0] if self.layout == "dsec" else self.table, lo
            )
            if len(events):
                c[C_REGRESSIONS] += int(np.count_nonzero(np.diff(events["t"]) < 0)) + int(
                    events["t"][0] < c[C_LAST_T]
                )
                c[C_LAST_T] = events["t"][-1]
                yield events

    def close(self):
        if getattr(self, "h5", None) is not None:
            self.h5.close()
            self.h5 = None


def write_h5(
    path, events, meta: RecordingMeta, compression: str = "gzip", chunk_events: int = 1 << 16
):
    """Write ``events`` in the DSEC-style layout described in the module docstring.

    ``compression`` is ``"gzip"``, ``"lzf"`` or ``None``; ``t_offset`` is the first event's time.
    """
    import h5py

    events = check_events(events)
    check_in_sensor(events, meta, path)
    if compression not in ("gzip", "lzf", None):
        raise TraceError(f"compression must be 'gzip', 'lzf' or None, got {compression!r}")
    t_offset = int(events["t"][0]) if len(events) else 0
    rel = events["t"] - t_offset
    with h5py.File(path, "w") as h5:
        h5.attrs["width"] = meta.width
        h5.attrs["height"] = meta.height
        g = h5.create_group("events")
        chunks = (max(1, min(chunk_events, len(events))),) if len(events) else None
        for name, data in (("t", rel), ("x", events["x"]), ("y", events["y"]), ("p", events["p"])):
            g.create_dataset(
                name,
                data=np.ascontiguousarray(data),
                chunks=chunks,
                compression=compression if len(events) else None,
            )
        h5["t_offset"] = np.int64(t_offset)
        n_ms = int(rel.max()) // 1000 + 2 if len(events) else 0
        # First index with t >= 1000 k; a running maximum keeps it monotonic when time goes back.
        h5["ms_to_idx"] = np.searchsorted(
            np.maximum.accumulate(rel) if len(rel) else rel, np.arange(n_ms) * 1000, side="left"
        ).astype(np.uint64)
