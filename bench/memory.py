"""Peak memory of generating a large network and building its engine tables.

    python bench/memory.py                       # 100,000 neurons, 100 M synapses
    python bench/memory.py --neurons 20000 --epsilon 0.05

Prints one JSON line: synapses, seconds and peak resident memory (bytes per synapse) after
generating the Brunel network and after building the engine's tables on ``loihi_like``.
"""

import argparse
import json
import resource
import time


def peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=100_000)
    parser.add_argument("--epsilon", type=float, default=0.01)
    parser.add_argument("--chip", default="loihi_like")
    args = parser.parse_args()

    from aersim.models.generators import brunel_network
    from aersim.simcore import Simulation

    n_exc = args.neurons * 4 // 5
    t0 = time.perf_counter()
    net = brunel_network(n_exc=n_exc, n_inh=args.neurons - n_exc, epsilon=args.epsilon)
    gen_s, gen_peak = time.perf_counter() - t0, peak_bytes()
    t0 = time.perf_counter()
    Simulation(net, args.chip)
    build_s, build_peak = time.perf_counter() - t0, peak_bytes()
    n = net.n_synapses
    print(json.dumps({"case": "brunel_memory", "neurons": args.neurons, "synapses": n,
                      "generate_s": round(gen_s, 2), "generate_peak_gb": round(gen_peak / 1e9, 2),
                      "generate_bytes_per_synapse": round(gen_peak / n, 1),
                      "build_s": round(build_s, 2), "build_peak_gb": round(build_peak / 1e9, 2),
                      "build_bytes_per_synapse": round(build_peak / n, 1)}))


if __name__ == "__main__":
    main()
