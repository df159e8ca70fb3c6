"""Saturation throughput of the network-on-chip model against the channel-load bound.

Uniform random unicast traffic (every core sends to uniformly random other cores) is injected
far above capacity. The run lasts until the last packet is delivered; the busiest link's
utilisation over that time is the fraction of the channel-load bound the network sustains
(1.0 = the busiest link never idles). Head-of-line blocking in single-FIFO input ports keeps
it well below 1; virtual channels (``noc.virtual_channels``) relieve it.

    python bench/noc_saturation.py [--chip loihi_like] [--vcs 1 2 4] [--packets 20000]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np

from aersim.hardware import load_chip
from aersim.simcore.engine.hardware_model import simulate_noc


def saturation(chip, n_packets: int, seed: int = 1) -> dict:
    """Busiest-link utilisation with ``n_packets`` random packets injected at twice the
    channel-load bound."""
    rng = np.random.default_rng(seed)
    n = chip.n_cores
    src = rng.integers(0, n, n_packets)
    dest = (src + rng.integers(1, n, n_packets)) % n
    # Offered load: twice what the busiest link can carry (estimated from a first run's flits).
    probe = simulate_noc(chip, np.zeros(min(n_packets, 2000), np.int64), src[:2000], dest[:2000])
    per_packet = probe.links.busy_ps.max() / min(n_packets, 2000)
    t = np.sort(rng.uniform(0, n_packets * per_packet / 2.0, n_packets)).astype(np.int64)
    run = simulate_noc(chip, t, src, dest)
    span = int(run.t_ps.max() - t.min())
    return {"vcs": getattr(chip.noc, "virtual_channels", 1),
            "busiest_link_utilisation": float(run.links.busy_ps.max() / span),
            "mean_latency_ns": float((run.t_ps - t[run.packet]).mean() / 1000.0)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chip", default="loihi_like")
    ap.add_argument("--vcs", type=int, nargs="+", default=[1])
    ap.add_argument("--packets", type=int, default=20000)
    ap.add_argument("--flit-bits", type=int, default=8)
    args = ap.parse_args(argv)
    base = load_chip(args.chip)
    for v in args.vcs:
        extra = {"virtual_channels": v} if v > 1 else {}
        chip = dataclasses.replace(base, noc=dataclasses.replace(
            base.noc, contention=True, flit_bits=args.flit_bits, **extra))
        r = saturation(chip, args.packets)
        print(f"{args.chip} VCs {v}: busiest link busy {r['busiest_link_utilisation']:.1%} of "
              f"the run at saturation; mean latency {r['mean_latency_ns']:.0f} ns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
