"""Sweep throughput on Dask against the same runs in one plain loop.

    python bench/sweep.py                       # 40 points, 1 and 2 local workers
    python bench/sweep.py --points 80 --duration 0.05 --workers 1 2

The sweep is ``random`` (220 neurons) on ``minimal`` with ``run.seed`` x ``run.mode`` x
``chip.core.neurons``, ``--duration`` simulated seconds per point. The loop runs the same points
with ``simcore.sweep.runner.run_point`` in this process after a warm-up (so neither side pays Numba
compilation). For each worker count one JSON line: workers, points, wall_s (submit to last row,
cluster start excluded), points_per_min, overhead_s_per_point (worker-seconds per point beyond
the loop's cost: ``(wall_s * workers - loop_s) / points``), cluster_start_s, loop_s. The first
line (workers 0) is the loop itself.
"""

import argparse
import json
import sys
import time

from aersim.simcore.sweep.runner import run_point, sweep, warm_up
from aersim.simcore.sweep.spec import load_spec


def make_spec(points: int, duration_s: float) -> dict:
    seeds = max(1, points // 4)
    return {"name": "bench", "base": {"network": "random", "chip": "minimal",
                                      "duration_s": duration_s},
            "axes": {"run.seed": list(range(seeds)), "run.mode": ["timestep", "async"],
                     "chip.core.neurons": [64, 256]}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=40, help="points (a multiple of 4)")
    ap.add_argument("--duration", type=float, default=0.02, help="simulated s per point")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args(argv)

    import distributed

    spec = load_spec(make_spec(args.points, args.duration))
    n = len(spec)
    warm_up()
    t0 = time.perf_counter()
    for i in range(n):
        row, _ = run_point(spec.run_of(i), ".")
        assert row["status"] == "ok", row["error"]
    loop_s = time.perf_counter() - t0
    print(json.dumps({"workers": 0, "points": n, "wall_s": round(loop_s, 3),
                      "points_per_min": round(n / loop_s * 60, 1), "overhead_s_per_point": 0.0,
                      "cluster_start_s": 0.0, "loop_s": round(loop_s, 3)}), flush=True)
    for w in args.workers:
        t0 = time.perf_counter()
        with distributed.LocalCluster(n_workers=w, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            client.run(warm_up)
            start_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            table = sweep(spec, client=client)
            wall = time.perf_counter() - t1
        assert set(table["status"]) == {"ok"}
        print(json.dumps({"workers": w, "points": n, "wall_s": round(wall, 3),
                          "points_per_min": round(n / wall * 60, 1),
                          "overhead_s_per_point": round((wall * w - loop_s) / n, 4),
                          "cluster_start_s": round(start_s, 3), "loop_s": round(loop_s, 3)}),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
