"""Decoding throughput and peak memory of every event-file reader, beside other decoders.

Generates one synthetic recording per format with the package's own encoders (in a temporary
directory), then decodes each in a fresh subprocess per reader and prints one JSON line per
(format, reader): ``format``, ``reader``, ``events``, ``wall_s``, ``cpu_s``, ``events_per_s``,
``peak_rss_mb``. Readers: ``aersim-stream`` (chunk by chunk), ``aersim-read`` (``read_events``,
the whole file into one array), ``aersim-read-1thread`` (AEDAT4 only: the same with
``threads=1``, where ``aersim-read`` uses two threads on a machine with two cores),
``aersim-read-baseline`` (with ``--baseline DIR``: ``aersim-read`` of another version of the
package, imported from ``DIR/aersim``, e.g. a ``git worktree`` of the main branch, so that old
and new code are timed in the same run) and, when installed, ``expelliarmus`` (EVT 2.0/3.0, DAT),
``faery`` (EVT 2.0/3.0, DAT, AEDAT4), ``tonic`` (N-MNIST), ``dv-processing`` and ``aedat``
(AEDAT4; they stream packet by packet and only count the events, so they never hold the whole
file as ``aersim-read`` does) and ``dv-processing-array`` and ``aedat-array`` (the same, with the
packets joined into one array: the whole-file result ``read_events`` gives). Every reader is
warmed up on a small file first, so Numba compilation is not counted. After each format a
``summary`` line gives ``ratio`` = aersim-read events/s divided by each peer's (above 1: aersim
is faster), ``cpu_ratio`` the same from the CPU time each process spent (each peer's CPU time
over aersim-read's; less disturbed by other work on a shared machine), ``stream_ratio`` the
events/s ratio for aersim-stream, and whether the peers decoded the same number of events.

Usage::

    python bench/decode.py                  # 20 million events
    python bench/decode.py --events 5000000 --formats evt3,dat --readers aersim-read,expelliarmus
    git worktree add /tmp/base/aersim main && python bench/decode.py --baseline /tmp/base
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from measure import peak_rss_mb

from aersim.traces.recordings.recording import open_events, read_events, write_events
from aersim.traces.schema import EVENT_DTYPE

ROOT = Path(__file__).resolve().parents[1]
#: name -> (registry format, file suffix, sensor size, writer options)
BENCH_FORMATS = {
    "evt2": ("evt2", ".raw", (640, 480), {}),
    "evt21": ("evt21", ".raw", (640, 480), {}),
    "evt3": ("evt3", ".raw", (1280, 720), {}),
    "nmnist": ("nmnist", ".bin", (34, 34), {}),
    "dat": ("dat", ".dat", (640, 480), {}),
    "aedat2": ("aedat2", ".aedat", (346, 260), {}),
    "aedat31": ("aedat31", ".aedat", (346, 260), {}),
    "aedat4_lz4": ("aedat4", ".aedat4", (640, 480), {"compression": "lz4", "packet_events": 16384}),
    "aedat4_zstd": (
        "aedat4",
        ".aedat4",
        (640, 480),
        {"compression": "zstd", "packet_events": 16384},
    ),
    "hdf5": ("hdf5", ".h5", (640, 480), {"compression": "lzf"}),
}


def synthetic(n, size, seed=0, t0=0):
    """Events at ~10 Mev/s with bursts along rows (what vectorised encodings compress)."""
    rng = np.random.default_rng(seed)
    ev = np.empty(n, dtype=EVENT_DTYPE)
    ev["t"] = t0 + np.cumsum(rng.random(n) < 0.1)
    row = rng.integers(0, size[1], n // 8 + 1).repeat(8)[:n]
    ev["y"] = row
    ev["x"] = (
        rng.integers(0, size[0] // 8, n // 8 + 1).repeat(8)[:n] * 8 + np.arange(n) % 8
    ) % size[0]
    ev["p"] = rng.integers(0, 2, n // 8 + 1).repeat(8)[:n]
    return ev


def generate(name, path, n, chunk=10_000_000):
    """Write ``n`` events; formats are written from one array (the encoders take whole arrays)."""
    fmt, _, size, opts = BENCH_FORMATS[name]
    events = synthetic(n, size)
    write_events(path, events, size, format=fmt, **opts)


def _aersim_stream(path, fmt):
    return sum(len(chunk) for chunk in open_events(path, fmt))


def _aersim_read(path, fmt):
    return len(read_events(path, fmt)[0])


def _aersim_read_1thread(path, fmt):
    return len(read_events(path, fmt, threads=1)[0])


def _expelliarmus(path, fmt):
    from expelliarmus import Wizard

    return len(Wizard(encoding={"evt2": "evt2", "evt3": "evt3", "dat": "dat"}[fmt]).read(path))


def _faery(path, fmt):
    import faery

    return len(faery.events_stream_from_file(path).to_array())


def _dv_processing(path, fmt):
    import dv_processing as dv

    recording = dv.io.MonoCameraRecording(str(path))
    n = 0
    while recording.isRunning():
        batch = recording.getNextEventBatch()
        if batch is None:
            break
        n += len(batch.numpy())
    return n


def _aedat(path, fmt):
    import aedat

    return sum(len(p["events"]) for p in aedat.Decoder(str(path)) if "events" in p)


def _dv_processing_array(path, fmt):
    """dv-processing's packets joined into one array: the whole file, as ``read_events`` gives."""
    import dv_processing as dv

    recording = dv.io.MonoCameraRecording(str(path))
    parts = []
    while recording.isRunning():
        batch = recording.getNextEventBatch()
        if batch is None:
            break
        parts.append(batch.numpy())
    return len(np.concatenate(parts))


def _aedat_array(path, fmt):
    """aedat's packets joined into one array."""
    import aedat

    return len(np.concatenate([p["events"] for p in aedat.Decoder(str(path)) if "events" in p]))


def _tonic(path, fmt):
    """tonic's N-MNIST reader (the whole file into one structured array)."""
    import tonic.io

    dtype = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])
    return len(tonic.io.read_mnist_file(str(path), dtype=dtype))


#: reader name -> (function(path, registry format) -> number of events, formats it reads)
READERS = {
    "aersim-stream": (_aersim_stream, None),
    "aersim-read": (_aersim_read, None),
    "aersim-read-1thread": (_aersim_read_1thread, ("aedat4",)),
    "aersim-read-baseline": (_aersim_read, None),
    "expelliarmus": (_expelliarmus, ("evt2", "evt3", "dat")),
    "faery": (_faery, ("evt2", "evt3", "dat", "aedat4")),
    "dv-processing": (_dv_processing, ("aedat4",)),
    "aedat": (_aedat, ("aedat4",)),
    "dv-processing-array": (_dv_processing_array, ("aedat4",)),
    "aedat-array": (_aedat_array, ("aedat4",)),
    "tonic": (_tonic, ("nmnist",)),
}


def decode_one(name, reader, path, warm_path, repeat=3):
    """Child process: warm up, then decode ``path`` with ``reader``; print the JSON line."""
    fmt = BENCH_FORMATS[name][0]
    run = READERS[reader][0]
    row = {"format": name, "reader": reader}
    try:
        run(warm_path, fmt)
        wall = cpu = float("inf")
        for _ in range(repeat):  # best of a few: the machine may be shared
            start, start_cpu = time.perf_counter(), time.process_time()
            n = run(path, fmt)
            wall = min(wall, time.perf_counter() - start)
            cpu = min(cpu, time.process_time() - start_cpu)
    except Exception as exc:  # a peer that cannot read the file is a result, not a crash
        row["error"] = f"{type(exc).__name__}: {exc}"[:300]
        print(json.dumps(row))
        return
    row.update(
        events=n,
        wall_s=round(wall, 3),
        cpu_s=round(cpu, 3),
        events_per_s=round(n / wall),
        peak_rss_mb=round(peak_rss_mb(), 1),
    )
    print(json.dumps(row))


def _importable(reader):
    module = {
        "expelliarmus": "expelliarmus",
        "faery": "faery",
        "dv-processing": "dv_processing",
        "aedat": "aedat",
        "dv-processing-array": "dv_processing",
        "aedat-array": "aedat",
        "tonic": "tonic",
    }.get(reader)
    if module is None:
        return True
    import importlib.util

    return importlib.util.find_spec(module) is not None


def summary(name, rows):
    """Ratios of aersim's whole-file read to each peer, from the rows of one format."""
    ours = next((r for r in rows if r["reader"] == "aersim-read" and "events" in r), None)
    out = {"format": name, "summary": True}
    if ours is None:
        return out
    out["aersim_read_events_per_s"] = ours["events_per_s"]
    out["ratio"] = {
        r["reader"]: round(ours["events_per_s"] / r["events_per_s"], 2)
        for r in rows
        if r["reader"] not in ("aersim-read",) and "events" in r
    }
    # CPU time (all threads of the process): less disturbed by other work on a shared machine
    out["cpu_ratio"] = {
        r["reader"]: round(r["cpu_s"] / ours["cpu_s"], 2)
        for r in rows
        if r["reader"] != "aersim-read" and "events" in r and ours["cpu_s"] > 0
    }
    stream = next((r for r in rows if r["reader"] == "aersim-stream" and "events" in r), None)
    if stream is not None:
        out["stream_ratio"] = {
            r["reader"]: round(stream["events_per_s"] / r["events_per_s"], 2)
            for r in rows
            if not r["reader"].startswith("aersim") and "events" in r
        }
    out["same_count"] = {r["reader"]: r["events"] == ours["events"] for r in rows if "events" in r}
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--formats", default=",".join(BENCH_FORMATS))
    parser.add_argument("--readers", default=",".join(r for r in READERS if "baseline" not in r))
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        help="also time read_events of the aersim package in DIR/aersim (aersim-read-baseline)",
    )
    parser.add_argument(
        "--decode-one",
        nargs=4,
        metavar=("FORMAT", "READER", "PATH", "WARM"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args(argv)
    if args.decode_one:
        decode_one(*args.decode_one)
        return
    readers = [r for r in args.readers.split(",") if r]
    env = None
    if "aersim-read-baseline" in readers and not args.baseline:
        parser.error("aersim-read-baseline needs --baseline DIR")
    if args.baseline:
        if not (Path(args.baseline) / "aersim" / "__init__.py").is_file():
            parser.error(f"--baseline {args.baseline}: no aersim package in it")
        readers.append("aersim-read-baseline")
        env = {**os.environ, "PYTHONPATH": str(Path(args.baseline).resolve())}
    unknown = sorted(set(readers) - set(READERS))
    if unknown:
        parser.error(f"unknown readers {unknown}; choose from {sorted(READERS)}")
    names = [n for n in args.formats.split(",") if n]
    unknown = sorted(set(names) - set(BENCH_FORMATS))
    if unknown:
        parser.error(f"unknown formats {unknown}; choose from {sorted(BENCH_FORMATS)}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            suffix = BENCH_FORMATS[name][1]
            path, warm = Path(tmp) / f"{name}{suffix}", Path(tmp) / f"warm_{name}{suffix}"
            generate(name, warm, 10_000)
            generate(name, path, args.events)
            rows = []
            for reader in readers:
                formats = READERS[reader][1]
                if (formats is not None and BENCH_FORMATS[name][0] not in formats) or not (
                    _importable(reader)
                ):
                    continue
                out = subprocess.run(
                    [sys.executable, __file__, "--decode-one", name, reader, str(path), str(warm)],
                    capture_output=True,
                    text=True,
                    env=env if reader == "aersim-read-baseline" else None,
                )
                if out.returncode or not out.stdout.strip():
                    row = {
                        "format": name,
                        "reader": reader,
                        "error": (out.stderr.strip().splitlines() or ["crashed"])[-1][:300],
                    }
                else:
                    row = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append(row)
                print(json.dumps(row), flush=True)
            print(json.dumps(summary(name, rows)), flush=True)
            path.unlink()


if __name__ == "__main__":
    main()
