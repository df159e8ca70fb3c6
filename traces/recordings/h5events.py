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

import numpy as np

from aersim.traces.errors import TraceError
from aersim.traces.recordings.recording_base import (
    C_LAST_T,
    C_REGRESSIONS,
    EventSource,
    RecordingMeta,
    check_events,
    check_in_sensor,
    format_error,
    sensor_size_arg,
)
from aersim.traces.schema import EVENT_DTYPE

MVSEC_SIZE = (346, 260)


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
        except (OSError, KeyError, ValueError, RuntimeError, TypeError) as exc:
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
            if len({len(c) for c in self.cols}) != 1:
                raise format_error(
                    path, 0, "/events datasets of different lengths", "equal lengths"
                )
            if "t_offset" in h5:
                self.t_offset = int(np.asarray(h5["t_offset"]))
            if size is None and "width" in h5.attrs and "height" in h5.attrs:
                size = int(h5.attrs["width"]), int(h5.attrs["height"])
            self.n = len(self.cols[0])
        elif "davis/left/events" in h5:
            self.layout = "mvsec"
            self.table = h5["davis/left/events"]
            size = size or MVSEC_SIZE
            self.n = self.table.shape[0]
        elif "CD/events" in h5:
            self.layout = "prophesee"
            self.table = h5["CD/events"]
            geometry = h5.attrs.get("geometry")
            if size is None and geometry is not None:
                w, _, hh = str(
                    geometry.decode() if isinstance(geometry, bytes) else geometry
                ).partition("x")
                size = int(w), int(hh)
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
        """Index to start reading from for ``t >= t_start`` (DSEC ``ms_to_idx``), else 0."""
        if t_start is None or self.layout != "dsec" or "ms_to_idx" not in self.h5:
            return 0
        ms = (t_start - self.t_offset) // 1000
        index = self.h5["ms_to_idx"]
        if ms <= 0 or len(index) == 0:
            return 0
        return int(index[min(ms, len(index) - 1)]) if ms < len(index) else int(index[-1])

    def _slice(self, lo, hi):
        out = np.empty(hi - lo, dtype=EVENT_DTYPE)
        try:
            if self.layout == "dsec":
                t, x, y, p = (c[lo:hi] for c in self.cols)
                out["t"] = t.astype(np.int64) + self.t_offset
            elif self.layout == "mvsec":
                rows = self.table[lo:hi]
                x, y, p = rows[:, 0], rows[:, 1], rows[:, 3]
                out["t"] = np.rint(rows[:, 2] * 1e6)
            else:
                rows = self.table[lo:hi]
                x, y, p = rows["x"], rows["y"], rows["p"]
                out["t"] = rows["t"]
        except (OSError, ValueError, RuntimeError) as exc:
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
        bad = (x < 0) | (x >= self.meta.width) | (y < 0) | (y >= self.meta.height)
        if np.any(bad):
            k = int(np.argmax(bad))
            raise format_error(
                self.path,
                0,
                f"event {lo + k} at x={x[k]}, y={y[k]}",
                f"a {self.meta.width}x{self.meta.height} sensor",
                "pass sensor_size=",
            )
        out["x"] = x
        out["y"] = y
        out["p"] = p > 0
        return out

    def blocks(self, t_start=None, t_stop=None):
        for lo in range(self._first_index(t_start), self.n, self.block_events):
            events = self._slice(lo, min(lo + self.block_events, self.n))
            c = self.counters
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
