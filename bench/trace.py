"""Trace writing throughput and memory: spikes per second into a compressed HDF5 trace.

    python bench/trace.py                       # every case at 10^7 spikes, the default at 10^8
    python bench/trace.py --spikes 20000000 --case gzip

Each case runs in its own process (so that its peak RSS, read from ``VmHWM``, is its own) and
writes synthetic spikes in blocks of 2^20 through ``traces.TraceWriter``: 10,000 spikes per
0.1 ms step among 100,000 neurons, in (time, neuron) order as the engines record them. The
data of a block are made from one template by shifting its times, so that the benchmark holds
one block in memory whatever the count. Prints one JSON line per case with case, compression,
spikes, wall_s, spikes_per_s, peak_rss_mb, bytes_per_spike.

Cases: ``gzip`` (the default: gzip level 1 + shuffle, compressed on up to two threads, direct
chunk writes), ``gzip-1thread`` (the same in the writer's thread), ``h5py-gzip`` (h5py's own
filter pipeline with the same filters, as the trace writer did before), ``lzf`` (shuffle + LZF,
h5py only), ``none`` (uncompressed).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
from measure import peak_rss_mb

from aersim.traces import TraceWriter

BLOCK = 1 << 20
DT_PS = 100_000_000
PER_STEP = 10_000
N_NEURONS = 100_000

CASES = {"gzip": {}, "gzip-1thread": {"threads": 0}, "h5py-gzip": None,
         "lzf": {"compression": "lzf"}, "none": {"compression": "none"}}



def template(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One block of spikes: ``PER_STEP`` distinct neurons per step, sorted by (time, neuron)."""
    rng = np.random.default_rng(seed)
    steps = BLOCK // PER_STEP + 1
    t = np.repeat(np.arange(steps, dtype=np.int64) * DT_PS, PER_STEP)[:BLOCK]
    n = np.concatenate([np.sort(rng.choice(N_NEURONS, PER_STEP, replace=False))
                        for _ in range(steps)]).astype(np.int32)[:BLOCK]
    return t, n


def run_case(case: str, n_spikes: int, path: str) -> dict:
    t, n = template()
    span = (int(t[-1]) // DT_PS + 1) * DT_PS
    t0 = time.perf_counter()
    if CASES[case] is None:
        with h5py.File(path, "w") as f:
            ds_t = f.create_dataset("spikes/t_ps", (0,), maxshape=(None,), dtype=np.int64,
                                    chunks=(1 << 16,), compression="gzip",
                                    compression_opts=1, shuffle=True)
            ds_n = f.create_dataset("spikes/neuron", (0,), maxshape=(None,), dtype=np.int32,
                                    chunks=(1 << 16,), compression="gzip",
                                    compression_opts=1, shuffle=True)
            for i, lo in enumerate(range(0, n_spikes, BLOCK)):
                k = min(BLOCK, n_spikes - lo)
                for ds, values in ((ds_t, t[:k] + i * span), (ds_n, n[:k])):
                    ds.resize((lo + k,))
                    ds[lo:] = values
    else:
        with TraceWriter(path, **CASES[case]) as w:
            for i, lo in enumerate(range(0, n_spikes, BLOCK)):
                k = min(BLOCK, n_spikes - lo)
                w.append_spikes(t[:k] + i * span, n[:k])
    wall = time.perf_counter() - t0
    return {"case": case, "compression": case.split("-")[0] if case != "h5py-gzip" else "gzip",
            "spikes": n_spikes, "wall_s": round(wall, 3),
            "spikes_per_s": round(n_spikes / wall), "peak_rss_mb": round(peak_rss_mb(), 1),
            "bytes_per_spike": round(os.path.getsize(path) / n_spikes, 3)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=sorted(CASES), action="append",
                    help="case to run (repeatable; default: all)")
    ap.add_argument("--spikes", type=float, help="spikes per case (default 1e7, and 1e8 for "
                                                  "the default case)")
    ap.add_argument("--one", nargs=3, metavar=("CASE", "SPIKES", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(run_case(args.one[0], int(args.one[1]), args.one[2])), flush=True)
        return
    runs = [(c, int(args.spikes or 1e7)) for c in (args.case or CASES)]
    if args.spikes is None and (not args.case or "gzip" in args.case):
        runs.append(("gzip", 10**8))
    with tempfile.TemporaryDirectory() as tmp:
        for case, count in runs:
            path = str(Path(tmp) / f"{case}.h5")
            out = subprocess.run([sys.executable, __file__, "--one", case, str(count), path],
                                 capture_output=True, text=True, check=True)
            print(out.stdout.strip(), flush=True)
            os.remove(path)


if __name__ == "__main__":
    main()
