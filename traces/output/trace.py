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
    /noc/links/<column>     (n_links,) one dataset per field of LINK_DTYPE; attr duration_ps
    /system/chip_links/<column>  (n,) one dataset per field of CHIP_LINK_DTYPE; attr duration_ps
    /messages/<column>      (n_messages,) one growing dataset per field of MESSAGE_DTYPE
    /latency/<column>       (n_events,) input_t_ps, latency_ps, algorithmic_ps (int64)

Datasets that grow are chunked and compressed with gzip level 1 after byte shuffle — the
filters every HDF5 reader has built in. The writer does the shuffle and the deflate itself, on a
small pool of threads (zlib releases the GIL), with deflate limited to run-length matches (still
plain deflate), and stores finished chunks with HDF5's direct chunk write: about 28 million
spikes per second on one core, where h5py's own filter pipeline manages about 19
(``bench/trace.py``). Memory stays bounded: one chunk buffer per growing dataset plus a few
chunks in flight.

What an interruption leaves (see ``docs/trace-format.md``):

- The file appears complete-but-empty: its structure and the run description are written to a
  temporary file that is renamed into place, so there is never a half-created trace.
- Everything is flushed every ``flush_every_s`` seconds (and SIGINT/SIGTERM are held back while
  a flush runs), so a run killed at any moment leaves a file that opens, marked incomplete, with
  everything up to its last flush. A chunk is never moved once a flush has recorded it: a
  partly filled chunk is stored unfiltered (the chunk's filter mask says so, which every HDF5
  reader honours) and rewritten in place as it fills, because a chunk that changed size would be
  moved and its old space reused while the file on disk still points at it.
- ``<path>.lock`` keeps a second writer away and holds some disk space in reserve; when the
  disk fills, the reserve is given back so that the file can be closed consistently. If even
  that fails, the file is removed, and the error says which of the two happened.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np

from aersim.traces.errors import TraceError
from aersim.traces.output.lock import LockError, OutputLock, signals_deferred
from aersim.traces.output.trace_reader import FILL, Trace, read_trace
from aersim.traces.schema import (
    CHIP_LINK_DTYPE,
    LATENCY_DTYPE,
    LINK_DTYPE,
    MESSAGE_DTYPE,
    TRACE_FORMAT_VERSION,
)

__all__ = ["CHUNK", "COMPRESSIONS", "Trace", "TraceWriter", "read_trace"]

_SPIKES = {"spikes/t_ps": np.int64, "spikes/neuron": np.int32}
_STEPS = {"steps/duration_ps": np.int64}

#: Entries per chunk of every growing dataset (512 KiB of int64).
CHUNK = 1 << 16

#: Compression of growing datasets: codec names accepted by :class:`TraceWriter`.
COMPRESSIONS = ("gzip", "lzf", "none")
#: Disk space the lock file holds in reserve for closing the trace on a full disk.
RESERVE_BYTES = 2 << 20
#: Filter mask of a chunk stored without its filters.
_UNFILTERED = 0xFFFFFFFF


def _shuffle(values: np.ndarray) -> np.ndarray:
    """HDF5's byte shuffle: all first bytes of the elements, then all second bytes, …"""
    size = values.dtype.itemsize
    return np.ascontiguousarray(values.view(np.uint8).reshape(values.size, size).T)


def _deflate(values: np.ndarray, level: int) -> bytes:
    # Run-length matching only (Z_RLE): after the shuffle, the bytes of sorted times and ids
    # come in runs, so it compresses almost as well as a full match search at twice the speed.
    # The stream is ordinary deflate; every HDF5 reader inflates it.
    z = zlib.compressobj(level, zlib.DEFLATED, 15, 8, zlib.Z_RLE)
    return z.compress(_shuffle(values)) + z.flush()


class _Column:
    """One growing 1-D dataset: a one-chunk buffer in front of direct chunk writes."""

    def __init__(self, ds: h5py.Dataset, chunk: int):
        self.ds = ds
        self.chunk = chunk
        self.buf = np.zeros(chunk, dtype=ds.dtype)
        self.base = ds.shape[0]          # file offset of buf[0]; a multiple of chunk
        self.fill = 0                    # entries of buf in use
        self.unfiltered = set()          # offsets of chunks stored unfiltered (rewritten in place)


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
    compression : {"gzip", "lzf", "none"}
        Filter of the growing datasets. ``gzip`` (level ``gzip_level``, byte shuffle) is readable
        by any HDF5 tool; ``lzf`` is faster but built into h5py only.
    gzip_level : int
        Deflate level 1..9 (1 is fastest).
    threads : int or None
        Threads that compress gzip chunks (None: up to 2, as CPUs allow; 0: in the caller's
        thread).
    chunk : int
        Entries per chunk of the growing datasets.
    lock : bool
        Hold ``<path>.lock`` while writing, so that a second writer of the same path fails
        at once (before a run builds anything).

    Raises
    ------
    TraceError
        The folder is missing or not writable, another live process writes the same path, or
        (from any method) the disk is full: the message says whether the file was kept,
        readable and marked incomplete, or removed.
    """

    def __init__(self, path, metadata: dict | None = None, flush_every_s: float = 5.0, *,
                 compression: str = "gzip", gzip_level: int = 1, threads: int | None = None,
                 chunk: int = CHUNK, lock: bool = True):
        if compression not in COMPRESSIONS:
            raise TraceError(f"compression {compression!r} is not supported; use one of "
                             f"{', '.join(COMPRESSIONS)}")
        if not 1 <= int(gzip_level) <= 9:
            raise TraceError(f"gzip_level must be 1..9, got {gzip_level}")
        if int(chunk) < 1:
            raise TraceError(f"chunk must be a positive number of entries, got {chunk}")
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise TraceError(f"cannot write trace {self.path}: folder {self.path.parent} does "
                             "not exist; create it or choose another output path")
        self._compression = compression
        self._level = int(gzip_level)
        self._chunk = int(chunk)
        self._file = None
        self._pool = None
        self._failed = None
        self._lock = None
        if lock:
            try:
                self._lock = OutputLock(self.path, reserve_bytes=RESERVE_BYTES)
            except LockError as exc:
                raise TraceError(f"trace {self.path} {exc.strerror}") from None
            except OSError as exc:
                raise TraceError(f"cannot write trace {self.path}: {exc.strerror or exc}; "
                                 "choose a writable folder with free space") from None
        try:
            self._create(metadata)
            self._file = h5py.File(self.path, "r+")
            self._vfd = self._file.id.get_vfd_handle()
        except (OSError, RuntimeError) as exc:
            self._release_lock()
            raise TraceError(f"cannot create trace {self.path}: {_reason(exc)}") from None
        self._columns: dict[str, _Column] = {
            name: _Column(self._file[name], self._chunk) for name in {**_SPIKES, **_STEPS}}
        if threads is None:
            threads = min(2, os.cpu_count() or 1)
        self._pool = (ThreadPoolExecutor(int(threads), thread_name_prefix="trace-deflate")
                      if compression == "gzip" and threads > 0 else None)
        self._max_pending = 2 * int(threads) + 2
        self._pending = collections.deque()
        self._flush_every_s = flush_every_s
        self._last_flush = time.monotonic()
        self._closing = False

    def _create(self, metadata) -> None:
        """Write the empty trace to a temporary file and rename it into place: a trace is never
        seen half-created."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with h5py.File(tmp, "w") as f:
                f.attrs["format"] = "aersim-trace"
                f.attrs["version"] = TRACE_FORMAT_VERSION
                f.attrs["complete"] = False
                f.attrs["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
                run = f.create_group("run")
                run.attrs["metadata"] = json.dumps(metadata or {}, default=_jsonable,
                                                   sort_keys=True)
                for name, dtype in {**_SPIKES, **_STEPS}.items():
                    self._create_growing_in(f, name, dtype)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    # -- growing datasets -----------------------------------------------------------------

    def _create_growing_in(self, f: h5py.File, name: str, dtype) -> h5py.Dataset:
        filters = {"gzip": {"compression": "gzip", "compression_opts": self._level,
                            "shuffle": True},
                   "lzf": {"compression": "lzf", "shuffle": True}, "none": {}}[self._compression]
        return f.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype,
                                chunks=(self._chunk,), fillvalue=FILL, **filters)

    def _create_growing(self, name: str, dtype) -> None:
        self._columns[name] = _Column(self._create_growing_in(self._file, name, dtype),
                                      self._chunk)

    def _append(self, name: str, values: np.ndarray) -> None:
        col = self._columns[name]
        values = np.ascontiguousarray(values, dtype=col.buf.dtype)
        pos, n, c = 0, values.shape[0], col.chunk
        while pos < n:
            if col.fill == 0 and n - pos >= c:
                # Whole chunks straight from the caller's array, without the buffer.
                self._emit(col, col.base, values[pos:pos + c].copy(), c)
                col.base += c
                pos += c
                continue
            take = min(c - col.fill, n - pos)
            col.buf[col.fill:col.fill + take] = values[pos:pos + take]
            col.fill += take
            pos += take
            if col.fill == c:
                self._emit(col, col.base, col.buf.copy(), c)
                col.base += c
                col.fill = 0

    def _maybe_flush(self) -> None:
        """Flush once ``flush_every_s`` has passed; called after whole records are appended, so
        a flush never separates the columns of one record."""
        if time.monotonic() - self._last_flush > self._flush_every_s:
            self.flush()

    def _emit(self, col: _Column, offset: int, block: np.ndarray, valid: int) -> None:
        """Queue a full chunk (``block``, of which ``valid`` entries are data) at ``offset``."""
        if (valid < col.chunk and not self._closing) or offset in col.unfiltered \
                or self._compression == "none":
            # Stored unfiltered, at a fixed size, so that rewriting it never moves it.
            col.unfiltered.add(offset)
            self._write_chunk(col, offset, block.tobytes(), valid,
                              0 if self._compression == "none" else _UNFILTERED)
            return
        if self._compression == "lzf":
            self._write_plain(col, offset, block[:valid])
            return
        if self._pool is None:
            self._write_chunk(col, offset, _deflate(block, self._level), valid)
            return
        while len(self._pending) >= self._max_pending:
            self._retire()
        self._pending.append((col, offset, valid,
                              self._pool.submit(_deflate, block, self._level)))

    def _retire(self) -> None:
        # Dequeued only once written: an interrupt while waiting for the deflate leaves the
        # chunk queued, for the close to write.
        col, offset, valid, future = self._pending[0]
        self._write_chunk(col, offset, future.result(), valid)
        self._pending.popleft()

    def _write_chunk(self, col: _Column, offset: int, data: bytes, valid: int,
                     mask: int = 0) -> None:
        ds = col.ds
        with self._io("writing"):
            if ds.shape[0] < offset + valid:
                ds.resize((offset + valid,))
            ds.id.write_direct_chunk((offset,), data, mask)

    def _write_plain(self, col: _Column, offset: int, values: np.ndarray) -> None:
        ds = col.ds
        with self._io("writing"):
            if ds.shape[0] < offset + values.shape[0]:
                ds.resize((offset + values.shape[0],))
            ds[offset:offset + values.shape[0]] = values

    def _drain(self) -> None:
        """Write every queued chunk and the partly filled one of every dataset."""
        while self._pending:
            self._retire()
        for col in self._columns.values():
            if col.fill:
                # The partial chunk is stored now and written again once it fills up.
                col.buf[col.fill:] = 0
                self._emit(col, col.base, col.buf.copy(), col.fill)
        while self._pending:
            self._retire()

    # -- what a run writes ----------------------------------------------------------------

    def append_spikes(self, t_ps: np.ndarray, neuron: np.ndarray) -> None:
        """Append spikes (``t_ps`` int64, ``neuron`` int32 global ids), in time order."""
        if t_ps.shape != neuron.shape:
            raise TraceError(f"spike times and neurons differ in length: {t_ps.shape} vs "
                             f"{neuron.shape}")
        if t_ps.size:
            self._append("spikes/t_ps", t_ps)
            self._append("spikes/neuron", neuron)
            self._maybe_flush()

    def append_step_durations(self, duration_ps: np.ndarray) -> None:
        """Append the hardware duration of consecutive steps (int64 ps)."""
        if duration_ps.size:
            self._append("steps/duration_ps", duration_ps)
            self._maybe_flush()

    def append_messages(self, message, src_core, dst_core, arrival_ps, start_ps, end_ps, *,
                        send_ps=None, hops=None) -> None:
        """Append network-on-chip messages to ``/messages`` (one row per message served).

        Parameters
        ----------
        message : int64 (n,)
            Index of each message in the simulator's message table (one entry per source
            neuron and destination core).
        src_core, dst_core : int32 (n,)
            Core of the sending neuron and core that decoded the message.
        arrival_ps, start_ps, end_ps : int64 (n,), ps
            Arrival at the destination core (after the network-on-chip), start and end of its
            service there. Hardware time in ``timestep`` mode, simulated time in ``async``.
        send_ps : int64 (n,), ps, optional
            Time the message left its source core; -1 where not recorded.
        hops : int32 (n,), optional
            Tile-to-tile hops of its route; -1 where not recorded.

        The queueing delay ``queue_ps = start_ps - arrival_ps`` (time waiting for the busy
        destination core) is stored beside them.
        """
        cols = {"message": message, "src_core": src_core, "dst_core": dst_core,
                "arrival_ps": arrival_ps, "start_ps": start_ps, "end_ps": end_ps}
        cols = {k: np.asarray(v) for k, v in cols.items()}
        n = cols["message"].shape[0]
        for key in ("send_ps", "hops"):
            value = send_ps if key == "send_ps" else hops
            cols[key] = (np.full(n, -1, dtype=MESSAGE_DTYPE[key]) if value is None
                         else np.asarray(value))
        bad = {k: v.shape for k, v in cols.items() if v.shape != (n,)}
        if bad:
            raise TraceError(f"message columns must all have shape ({n},) like 'message'; got "
                             + ", ".join(f"{k} {s}" for k, s in bad.items()))
        cols["queue_ps"] = cols["start_ps"].astype(np.int64) - cols["arrival_ps"]
        if "messages/message" not in self._columns:
            for name in MESSAGE_DTYPE.names:
                self._create_growing(f"messages/{name}", MESSAGE_DTYPE[name])
        if n:
            for name in MESSAGE_DTYPE.names:
                self._append(f"messages/{name}", cols[name])
            self._maybe_flush()

    def append_probes(self, neuron, t_ps, v, state2) -> None:
        """Append state samples of probed neurons.

        ``neuron`` int (k,) global ids (the same on every call), ``t_ps`` int64 (m,) sample
        times, ``v`` and ``state2`` float64 (m, k): membrane and second state variable.
        """
        neuron = np.asarray(neuron, dtype=np.int32)
        t_ps = np.asarray(t_ps, dtype=np.int64)
        k = neuron.shape[0]
        f = self._file
        # Unfiltered chunks: a sample appended to a stored chunk rewrites it in place.
        with self._io("writing"):
            if "probes/neuron" not in f:
                f.create_dataset("probes/neuron", data=neuron)
                f.create_dataset("probes/t_ps", shape=(0,), maxshape=(None,), dtype=np.int64,
                                 chunks=(4096,), fillvalue=FILL)
                for name in ("v", "state2"):
                    f.create_dataset(f"probes/{name}", shape=(0, k), maxshape=(None, k),
                                     dtype=np.float64, chunks=(max(1, 65536 // max(k, 1)), k))
            elif not np.array_equal(f["probes/neuron"][:], neuron):
                raise TraceError("probe samples must keep the same neurons throughout a trace")
            n0 = f["probes/t_ps"].shape[0]
            m = t_ps.shape[0]
            for name, values in (("t_ps", t_ps), ("v", v), ("state2", state2)):
                ds = f[f"probes/{name}"]
                ds.resize((n0 + m,) + ds.shape[1:])
                ds[n0:n0 + m] = values

    def write_links(self, links, duration_ps: int) -> None:
        """Per-link counters of the network-on-chip into ``/noc/links``.

        Parameters
        ----------
        links : object or mapping
            Has (as attributes or keys) the int arrays ``tile``, ``port``, ``packets``,
            ``flits``, ``busy_ps``, ``max_queue_flits``, ``blocked_ps`` of equal shape
            ``(n_links,)`` — a ``LinkStats`` of the simulator, or a dict.
        duration_ps : int
            Hardware time the counters cover; utilisation is ``busy_ps / duration_ps``.
        """
        def get(name):
            try:
                value = links[name] if isinstance(links, dict) else getattr(links, name)
            except (KeyError, AttributeError):
                raise TraceError(f"link table has no column {name!r}; expected "
                                 f"{', '.join(LINK_DTYPE.names)}") from None
            return np.asarray(value, dtype=LINK_DTYPE[name])

        cols = {name: get(name) for name in LINK_DTYPE.names}
        shapes = {a.shape for a in cols.values()}
        if len(shapes) != 1 or len(next(iter(shapes))) != 1:
            raise TraceError("link columns must be 1-D of one length; got "
                             + ", ".join(f"{k} {v.shape}" for k, v in cols.items()))
        with self._io("writing"):
            if "noc/links" in self._file:
                del self._file["noc/links"]
            group = self._file.require_group("noc").create_group("links")
            group.attrs["duration_ps"] = int(duration_ps)
            for name, values in cols.items():
                group.create_dataset(name, data=values)

    def write_chip_links(self, table, duration_ps: int, labels=None) -> None:
        """Traffic of every directed chip-to-chip link of a system into ``/system/chip_links``
        (one dataset per field of ``CHIP_LINK_DTYPE``; attribute ``duration_ps``)."""
        table = np.asarray(table)
        if table.dtype.names is None or set(table.dtype.names) != set(CHIP_LINK_DTYPE.names) \
                or table.ndim != 1:
            raise TraceError(f"chip-link table must be a 1-D structured array with fields "
                             f"{', '.join(CHIP_LINK_DTYPE.names)}")
        with self._io("writing"):
            if "system/chip_links" in self._file:
                del self._file["system/chip_links"]
            group = self._file.require_group("system").create_group("chip_links")
            group.attrs["duration_ps"] = int(duration_ps)
            for name in CHIP_LINK_DTYPE.names:
                group.create_dataset(name, data=table[name].astype(CHIP_LINK_DTYPE[name]))

    def write_latency(self, input_t_ps, latency_ps, algorithmic_ps=None) -> None:
        """Per-input-event latencies into ``/latency`` (int64 ps, -1: no output followed).

        ``algorithmic_ps`` (whole steps in ``timestep`` mode) defaults to -1 (not recorded).
        """
        t = np.asarray(input_t_ps, dtype=np.int64)
        lat = np.asarray(latency_ps, dtype=np.int64)
        alg = (np.full(t.shape, -1, dtype=np.int64) if algorithmic_ps is None
               else np.asarray(algorithmic_ps, dtype=np.int64))
        if not t.ndim == 1 or lat.shape != t.shape or alg.shape != t.shape:
            raise TraceError(f"latency columns must be 1-D of one length; got input_t_ps "
                             f"{t.shape}, latency_ps {lat.shape}, algorithmic_ps {alg.shape}")
        for name, values in zip(LATENCY_DTYPE.names, (t, lat, alg), strict=True):
            self.write_array(f"latency/{name}", values)

    def write_array(self, name: str, values: np.ndarray, **attrs) -> None:
        """Write a whole dataset (e.g. ``run/core_of``) with optional attributes."""
        with self._io("writing"):
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
        with self._io("writing"):
            run = self._file["run"]
            meta = json.loads(run.attrs["metadata"])
            meta.update(items)
            run.attrs["metadata"] = json.dumps(meta, default=_jsonable, sort_keys=True)

    def describe(self, **items) -> None:
        """Merge ``items`` into the run description and flush, so that a run killed later still
        says what it was (call it as soon as the network, chip and mapping are known)."""
        self.set_metadata(**items)
        self.flush()

    def flush(self) -> None:
        """Push buffered data to disk (SIGINT and SIGTERM wait until it is done)."""
        with signals_deferred():
            self._drain()
            with self._io("flushing"):
                self._file.flush()
        self._last_flush = time.monotonic()

    def close(self, complete: bool = True) -> None:
        """Mark the trace complete (or not) and close the file."""
        if self._file is None or not self._file.id.valid:
            self._release_lock()
            return
        self._closing = True   # a last partial chunk is final: it may be compressed
        with signals_deferred():
            try:
                self._drain()
            finally:
                if self._pool is not None:
                    self._pool.shutdown(wait=True)
                with self._io("closing"):
                    self._file.attrs["complete"] = bool(complete)
                    self._file.close()
                self._release_lock()

    def discard(self) -> None:
        """Close and remove the trace (for a run that failed before it started: bad input)."""
        if self._file is not None and self._file.id.valid:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
            self._pending.clear()
            try:
                self._file.close()
            except (OSError, RuntimeError):
                _detach(self._vfd)
        self.path.unlink(missing_ok=True)
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()

    @contextlib.contextmanager
    def _io(self, doing: str):
        """Turn a failed write (full disk, lost device) into one ``TraceError``, leaving the file
        readable and marked incomplete, or removed; never a crash when HDF5 closes later."""
        if self._failed is not None:
            raise TraceError(self._failed)
        try:
            yield
        except (OSError, RuntimeError) as exc:
            self._failed = f"{doing} trace {self.path} failed: {_reason(exc)}; " + \
                self._salvage()
            raise TraceError(self._failed) from None

    def _salvage(self) -> str:
        """After a failed write: close the file consistently if possible; say what is left."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()
        if self._lock is not None:
            self._lock.release_reserve()   # room for the metadata the close writes
        kept = False
        try:
            self._file.attrs["complete"] = False
            self._file.flush()
            kept = True
        except (OSError, RuntimeError):
            pass
        if not kept:
            # HDF5 still holds metadata it cannot write and would retry when it closes the file
            # (a failed close there crashes the interpreter): let it write them to /dev/null.
            _detach(self._vfd)
        try:
            self._file.close()
        except (OSError, RuntimeError):
            _detach(self._vfd)
            kept = False
        if kept:
            try:
                with h5py.File(self.path, "r"):
                    pass
            except (OSError, RuntimeError):
                kept = False
        self._release_lock()
        if kept:
            return ("the file keeps the data up to this point and is marked incomplete "
                    "(free some space and run again for a complete trace)")
        try:
            self.path.unlink()
            return "the file could not be left readable and was removed"
        except OSError as exc:
            return f"the file is unreadable and could not be removed ({exc.strerror})"

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._failed is not None:
            self._release_lock()
            return
        self.close(complete=exc_type is None)


def _reason(exc: Exception) -> str:
    """The system's reason of an h5py error (``No space left on device``), else its text."""
    text = str(exc)
    if "error message = '" in text:
        return text.split("error message = '", 1)[1].split("'", 1)[0]
    return getattr(exc, "strerror", None) or text.splitlines()[0]


def _detach(fd: int) -> None:
    """Point HDF5's file descriptor ``fd`` at /dev/null: its later writes go nowhere."""
    try:
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, fd)
        os.close(null)
    except OSError:
        pass


def _jsonable(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)
