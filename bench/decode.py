"""Decoding throughput and peak memory of every event-file reader.

Generates one synthetic recording per format with the package's own encoders (in a temporary
directory), then decodes each in a fresh subprocess, streaming chunk by chunk, and prints one
JSON line per format: ``format``, ``events``, ``wall_s``, ``events_per_s``, ``peak_rss_mb``.
The decode is timed after a warm-up on a small file, so Numba compilation is not counted.

Usage::

    python bench/decode.py                  # 50 million events
    python bench/decode.py --events 5000000 --formats evt3,nmnist
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
from measure import peak_rss_mb

from aersim.traces.recordings.recording import open_events, write_events
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



def decode_one(name, path, warm_path):
    """Child process: warm up, then stream-decode ``path``; print the JSON line."""
    fmt = BENCH_FORMATS[name][0]
    for _ in open_events(warm_path, fmt):
        pass
    start = time.perf_counter()
    n = 0
    for chunk in open_events(path, fmt):
        n += len(chunk)
    wall = time.perf_counter() - start
    peak_mb = peak_rss_mb()
    print(
        json.dumps(
            {
                "format": name,
                "events": n,
                "wall_s": round(wall, 3),
                "events_per_s": round(n / wall),
                "peak_rss_mb": round(peak_mb, 1),
            }
        )
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000_000)
    parser.add_argument("--formats", default=",".join(BENCH_FORMATS))
    parser.add_argument(
        "--decode-one", nargs=3, metavar=("FORMAT", "PATH", "WARM"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.decode_one:
        decode_one(*args.decode_one)
        return
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
            out = subprocess.run(
                [sys.executable, __file__, "--decode-one", name, str(path), str(warm)],
                capture_output=True,
                text=True,
            )
            if out.returncode:
                sys.stderr.write(out.stderr)
                raise SystemExit(f"decoding {name} failed")
            sys.stdout.write(out.stdout)
            sys.stdout.flush()
            path.unlink()


if __name__ == "__main__":
    main()
