"""Peak memory of streaming a large recording through ``open_events``, one format at a time.

Writes a recording of about ``--mb`` MiB (default 1024) per format in a temporary directory,
then streams it chunk by chunk in a fresh subprocess and prints one JSON line per format:
``format``, ``file_mb``, ``events``, ``chunks``, ``largest_chunk``, ``baseline_rss_mb`` (after
imports and a warm-up read of a small file), ``peak_rss_mb`` (the whole process, ``VmHWM``),
``wall_s`` and ``bound_mb``/``within_bound`` (the issue's 300 MB for the whole process).

How the files are made: EVT 2.0, EVT 3.0 and DAT repeat the body of a recording of a few million
events written by aersim's own writer after its header until the size is reached (times restart
at each repetition, which the readers count as regressions); AEDAT4 is written by aersim's
writer from a memory-mapped event array generated block by block (it needs an index that lists
every packet, so its body cannot be repeated).

Usage::

    python bench/stream_memory.py                       # 1 GiB per format
    python bench/stream_memory.py --mb 256 --formats evt3,aedat4_lz4
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from decode import BENCH_FORMATS, synthetic
from measure import peak_rss_mb

from aersim.traces.recordings.recording import open_events, write_events
from aersim.traces.schema import EVENT_DTYPE

#: The issue's bound on the peak resident memory of a process streaming a 1 GB recording.
BOUND_MB = 300
#: Formats streamed by default; ``aedat4_zstd`` (same reader, another codec) on request, as a
#: 1 GiB ZSTD file needs a 7 GiB event array to write it.
FORMATS = ("evt2", "evt3", "dat", "aedat4_lz4")
KNOWN = FORMATS + ("aedat4_zstd",)
#: Events in the recording whose body is repeated, and per block of a generated AEDAT4 file.
BASE_EVENTS = 4_000_000


def _repeat_body(name, path, target_bytes, tmp):
    """A file of about ``target_bytes``: the header of an empty recording, then the body of a
    recording of :data:`BASE_EVENTS` events repeated."""
    fmt, suffix, size, opts = BENCH_FORMATS[name]
    empty, base = Path(tmp) / f"empty{suffix}", Path(tmp) / f"base{suffix}"
    write_events(empty, np.zeros(0, dtype=EVENT_DTYPE), size, format=fmt, **opts)
    write_events(base, synthetic(BASE_EVENTS, size), size, format=fmt, **opts)
    header = empty.read_bytes()
    data = base.read_bytes()
    if not data.startswith(header):
        raise RuntimeError(f"{name}: the header of an empty file does not start the full one")
    body = data[len(header) :]
    with open(path, "wb") as f:
        f.write(header)
        for _ in range(max(1, round((target_bytes - len(header)) / len(body)))):
            f.write(body)
    empty.unlink()
    base.unlink()


def _write_generated(name, path, target_bytes, tmp):
    """A file of about ``target_bytes`` written by the writer from a memory-mapped event array."""
    fmt, suffix, size, opts = BENCH_FORMATS[name]
    probe = Path(tmp) / f"probe{suffix}"
    write_events(probe, synthetic(BASE_EVENTS // 4, size), size, format=fmt, **opts)
    n = int(target_bytes / (probe.stat().st_size / (BASE_EVENTS // 4)))
    probe.unlink()
    store = Path(tmp) / "events.npy"
    events = np.lib.format.open_memmap(store, mode="w+", dtype=EVENT_DTYPE, shape=(n,))
    t0 = 0
    for start in range(0, n, BASE_EVENTS):
        part = synthetic(min(BASE_EVENTS, n - start), size, seed=start, t0=t0)
        events[start : start + len(part)] = part
        t0 = int(part["t"][-1]) + 1
    events.flush()
    write_events(path, events, size, format=fmt, **opts)
    del events
    store.unlink()


def build(name, path, target_bytes, tmp):
    if BENCH_FORMATS[name][0] == "aedat4":
        _write_generated(name, path, target_bytes, tmp)
    else:
        _repeat_body(name, path, target_bytes, tmp)


def stream_one(name, path, warm):
    """Child process: warm up on ``warm``, then stream ``path``; print the JSON line."""
    fmt = BENCH_FORMATS[name][0]
    for _ in open_events(warm, fmt):
        pass
    baseline = peak_rss_mb()
    events = chunks = largest = 0
    start = time.perf_counter()
    for chunk in open_events(path, fmt):
        events += len(chunk)
        chunks += 1
        largest = max(largest, len(chunk))
    wall = time.perf_counter() - start
    peak = peak_rss_mb()
    print(
        json.dumps(
            {
                "format": name,
                "file_mb": round(Path(path).stat().st_size / 2**20, 1),
                "events": events,
                "chunks": chunks,
                "largest_chunk": largest,
                "baseline_rss_mb": round(baseline, 1),
                "peak_rss_mb": round(peak, 1),
                "wall_s": round(wall, 2),
                "bound_mb": BOUND_MB,
                "within_bound": peak < BOUND_MB,
            }
        )
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=1024.0, help="file size per format, MiB")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument(
        "--stream-one", nargs=3, metavar=("FORMAT", "PATH", "WARM"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.stream_one:
        stream_one(*args.stream_one)
        return
    names = [n for n in args.formats.split(",") if n]
    unknown = sorted(set(names) - set(KNOWN))
    if unknown:
        parser.error(f"unknown formats {unknown}; choose from {list(KNOWN)}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            fmt, suffix, size, opts = BENCH_FORMATS[name]
            path, warm = Path(tmp) / f"{name}{suffix}", Path(tmp) / f"warm_{name}{suffix}"
            write_events(warm, synthetic(10_000, size), size, format=fmt, **opts)
            build(name, path, int(args.mb * 2**20), tmp)
            out = subprocess.run(
                [sys.executable, __file__, "--stream-one", name, str(path), str(warm)],
                capture_output=True,
                text=True,
            )
            if out.returncode or not out.stdout.strip():
                row = {
                    "format": name,
                    "error": (out.stderr.strip().splitlines() or ["crashed"])[-1][:300],
                }
            else:
                row = json.loads(out.stdout.strip().splitlines()[-1])
            print(json.dumps(row), flush=True)
            path.unlink()
            warm.unlink()


if __name__ == "__main__":
    main()
