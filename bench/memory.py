"""Peak memory of generating a large network and building its engine tables.

    python bench/memory.py                          # 100,000 neurons, 100 M synapses
    python bench/memory.py --epsilon 0.001          # 100,000 neurons, 10 M synapses
    python bench/memory.py --neurons 20000 --epsilon 0.05

Prints one JSON line for the Brunel network on ``loihi_like``: the resident memory of the
process before generating (``base_gb``: interpreter and libraries), then for generation and for
the build (``Simulation(net, chip)``: mapping, neuron, synapse and chip tables) apart, the
seconds and the peak resident memory (Linux ``VmHWM``, reset between the two) in GB and in bytes
per synapse. ``build_added_bytes_per_synapse`` is the build's peak minus the memory held before
it (the network), per synapse: what ``models.memory.build_bytes`` projects.

Measured on a 2-core machine shared with other work (times are noisy), Brunel on
``loihi_like``, 100,000 neurons, the commands above (``--epsilon 0.01``: 100 M synapses, 9.8 M
messages; ``--epsilon 0.001``: 10 M synapses, 6.3 M messages). Before: coordinate lists sorted
by ``Network.connect``, the build's int64 delay list and the mapping's sorted pair lists;
streamed: streamed generation and per-row sorts (``simcore.engine.synapse_tables``); int32:
the chip tables' storage counts and send order and the delays in steps int32, filled without
temporaries the size of the message list; narrow: int32 segment pointers, one int32 delay
index per segment into the distinct delays, one storage count per message when all synapses
are sparse, no stored send order on row-major chips, int32 receive work; in place: the engine
reads the generator's synapse arena instead of copying it (each row ran side by side with the
one above it)::

    synapses  code      generate          build             build added  base
    100 M     before    15.2 s  24.9 B    99.8 s  48.7 B    38.9 B       0.12 GB
    100 M     streamed   4.3 s  10.1 B    11.3 s  27.4 B    17.3 B       0.12 GB
    100 M     int32      1.7 s  10.1 B     3.7 s  23.9 B    13.8 B       0.12 GB
    100 M     narrow     2.7 s  10.1 B     4.6 s  21.1 B    11.0 B       0.12 GB
    100 M     in place   3.4 s  10.1 B     2.9 s  13.9 B     3.8 B       0.12 GB
     10 M     before     1.8 s  41.3 B    34.2 s  99.6 B    69.1 B       0.12 GB
     10 M     streamed   1.0 s  27.6 B     3.0 s  96.2 B    68.5 B       0.12 GB
     10 M     int32      0.4 s  27.5 B     0.9 s  74.2 B    46.8 B       0.12 GB
     10 M     narrow     0.4 s  27.5 B     0.8 s  56.2 B    28.8 B       0.12 GB
     10 M     in place   0.4 s  28.0 B     0.9 s  53.6 B    25.6 B       0.12 GB

B: peak bytes per synapse of the whole process (the base included); build added: the build's
peak minus the network held before it. The network keeps 8 bytes per synapse, the engine
nothing more at 100 M (it reads the network's arrays in place: docs/engine.md, Memory); at
10 M, 80 MB of copy, the default copies them (8 more per synapse, for faster delivery: 56.6 B
at the peak), and the row above is ``--synapses in_place``. Every message (neuron, destination
core) keeps about 32 bytes (synapse, chip and time-step tables): at 10 M synapses the messages
dominate. Figures with the Numba cache warm (a first run that compiles adds about 40 MB).
"""

import argparse
import json
import resource
import time


def _status_bytes(field: str) -> int | None:
    """``VmHWM`` or ``VmRSS`` of this process in bytes, or None where /proc is missing."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def peak_bytes() -> int:
    """Peak resident memory since the last :func:`reset_peak` (or since the start)."""
    hwm = _status_bytes("VmHWM")
    return hwm if hwm is not None else \
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # Linux: KiB


def reset_peak() -> None:
    """Start a new peak from the current resident memory (Linux ``clear_refs``; elsewhere the
    peak stays cumulative, so the build's peak is at least the generation's)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=100_000)
    parser.add_argument("--epsilon", type=float, default=0.01)
    parser.add_argument("--chip", default="loihi_like")
    parser.add_argument("--synapses", choices=("auto", "in_place", "copy"), default="auto",
                        help="layout of the synapse tables (RunConfig.synapses)")
    args = parser.parse_args()

    from aersim.models.generators import brunel_network
    from aersim.simcore import RunConfig, Simulation

    n_exc = args.neurons * 4 // 5
    base = _status_bytes("VmRSS") or 0
    reset_peak()
    t0 = time.perf_counter()
    net = brunel_network(n_exc=n_exc, n_inh=args.neurons - n_exc, epsilon=args.epsilon)
    gen_s, gen_peak = time.perf_counter() - t0, peak_bytes()
    held = _status_bytes("VmRSS") or gen_peak
    reset_peak()
    t0 = time.perf_counter()
    Simulation(net, args.chip, config=RunConfig(synapses=args.synapses))
    build_s, build_peak = time.perf_counter() - t0, peak_bytes()
    n = net.n_synapses
    print(json.dumps({"case": "brunel_memory", "neurons": args.neurons, "synapses": n,
                      "base_gb": round(base / 1e9, 2),
                      "generate_s": round(gen_s, 2), "generate_peak_gb": round(gen_peak / 1e9, 2),
                      "generate_bytes_per_synapse": round(gen_peak / n, 1),
                      "build_s": round(build_s, 2), "build_peak_gb": round(build_peak / 1e9, 2),
                      "build_bytes_per_synapse": round(build_peak / n, 1),
                      "build_added_bytes_per_synapse": round((build_peak - held) / n, 1)}))


if __name__ == "__main__":
    main()
