"""Load time and peak memory of ``models.load_network`` on NIR files.

Cases: ``cnn`` (the NIR paper's N-MNIST CNN from ``../shared/data/nir/cnn_sinabs.nir``, skipped
when absent) and ``dense_1m`` (a generated Input(1000) -> Linear(1000 x 1000) -> LIF(1000) graph,
one million synapses, written to a temporary directory). Each case runs in a fresh process so
that its peak resident set size is its own. Prints one JSON line per case::

    {"case": ..., "synapses": ..., "wall_s": ..., "peak_rss_mb": ..., "base_rss_mb": ...}

``wall_s`` times the ``load_network`` call alone; ``base_rss_mb`` is the resident size after
the imports, before loading. Run: ``python bench/load.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measure import peak_rss_mb

REPO = Path(__file__).resolve().parents[1]
CNN = REPO.parent / "shared" / "data" / "nir" / "cnn_sinabs.nir"



def write_dense(path: Path, n: int = 1000) -> None:
    """Write a dense n x n Linear between an Input and a LIF layer."""
    import nir
    import numpy as np

    rng = np.random.default_rng(0)
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([n])}),
               "fc": nir.Linear(weight=rng.normal(0, 0.1, (n, n)).astype(np.float32)),
               "lif": nir.LIF(tau=np.full(n, 1e-3), r=np.full(n, 10.0), v_leak=np.zeros(n),
                              v_threshold=np.ones(n), v_reset=np.zeros(n)),
               "output": nir.Output(output_type={"output": np.array([n])})},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")])
    nir.write(str(path), graph)


def run_case(case: str, path: str, profile: str) -> dict:
    """Load ``path`` in this process and measure it."""
    from aersim.models.loaders.loading import load_network

    base = peak_rss_mb()
    t0 = time.perf_counter()
    net = load_network(path, profile=profile)
    wall = time.perf_counter() - t0
    return {"case": case, "synapses": int(net.n_synapses), "wall_s": round(wall, 4),
            "peak_rss_mb": round(peak_rss_mb(), 1), "base_rss_mb": round(base, 1)}


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(run_case(sys.argv[2], sys.argv[3], sys.argv[4])))
        return
    with tempfile.TemporaryDirectory() as tmp:
        dense = Path(tmp) / "dense_1m.nir"
        write_dense(dense)
        cases = [("dense_1m", dense, "snntorch")]
        if CNN.is_file():
            cases.insert(0, ("cnn", CNN, "sinabs"))
        for case, path, profile in cases:
            out = subprocess.run([sys.executable, __file__, "--child", case, str(path), profile],
                                 capture_output=True, text=True, check=True)
            print(out.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
