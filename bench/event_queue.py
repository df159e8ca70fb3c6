"""Event-queue throughput: push+pop pairs per second at several queue sizes (the hold model).

    python bench/event_queue.py [--pairs 5000000]

One JSON line per size: case, size, pairs, wall_s, pairs_per_s.
"""

import argparse
import json
import time

import numpy as np

from aersim.simcore.engine.queue import heap_push, make_key, new_heap, queue_throughput_kernel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pairs", type=int, default=5_000_000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    for size in (1_000, 10_000, 100_000):
        heap = new_heap(2 * size)
        for i in range(size):
            heap_push(heap, np.int64(rng.integers(0, 10**9)), make_key(1, i), np.int64(i),
                      np.int64(0))
        queue_throughput_kernel(heap, 10, 10**9, 1)      # compile / load from cache
        t0 = time.perf_counter()
        queue_throughput_kernel(heap, args.pairs, 10**9, 1)
        wall = time.perf_counter() - t0
        print(json.dumps({"case": "hold", "size": size, "pairs": args.pairs,
                          "wall_s": round(wall, 3), "pairs_per_s": round(args.pairs / wall)}))


if __name__ == "__main__":
    main()
