"""How a network's output drifts away as the weights in a volatile crossbar fade.

A small feed-forward network (``models.ff_network``) driven by Poisson input runs on
``crossbar_cim`` whose crossbar is a volatile memristive device (``ag_diffusive``: an Ag diffusive
memristor, retention of about a millisecond; ``stm_wox``: a short-term-memory oxide device,
retention of about a minute). ``apply_crossbar`` programs the weights once and reads them back
``t`` seconds later: each device has relaxed toward its rest state with its own time constant,
and devices whose programming pulse did not switch them hold no weight at all.

Every case uses the same input spikes (same run seed). Printed, one row per case: the read time
in units of the device's median retention, the mean fraction of the programmed conductance left
(closed form, averaged over the lognormal spread), the relative rms weight error, and the
agreement of the output layer's spike counts with the ideal-weight run (cosine similarity).

    python examples/volatile_weights.py [--duration-s 0.1] [--seed 0]
"""

import argparse
from importlib import resources

import numpy as np
import yaml

from aersim.hardware import apply_crossbar, chip_from_dict
from aersim.hardware.crossbar.devices import mean_retained_fraction
from aersim.models import ff_network
from aersim.simcore import PoissonInput, RunConfig, Simulation

#: Read times as multiples of each device's median retention time constant.
TIMES_IN_TAU = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0)


def volatile_chip(preset):
    """``crossbar_cim`` with its PCM crossbar replaced by the volatile ``preset``."""
    text = (resources.files("aersim.hardware") / "presets" / "crossbar_cim.yaml").read_text()
    d = yaml.safe_load(text)
    d["core"]["crossbar"] = {"preset": preset}
    d["core"]["crossbars_per_core"] = 0          # tile counts differ with the array size
    d["name"] = f"crossbar_cim_{preset}"
    return chip_from_dict(d, f"crossbar_cim ({preset})")


def run(net, chip, args):
    sim = Simulation(net, chip, config=RunConfig(mode="timestep", seed=args.seed),
                     stimuli=[PoissonInput("input", args.rate_hz)])
    res = sim.run(args.duration_s)
    lo, size = net.offset(net.outputs[0]), net.population(net.outputs[0]).size
    out = res.spikes_neuron[(res.spikes_neuron >= lo) & (res.spikes_neuron < lo + size)] - lo
    return np.bincount(out, minlength=size).astype(np.float64)


def cosine(a, b):
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration-s", type=float, default=0.1)
    ap.add_argument("--rate-hz", type=float, default=100.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    net = ff_network(n_input=256, layer_size=256, n_layers=2, fan_in=64, w_mean_mv=1.5,
                     w_std_mv=1.0, seed=args.seed)
    header = (f"{'device':<13} {'t (s)':>9} {'t/tau':>6} {'G left':>7} {'w rms err':>10} "
              f"{'out spikes':>10} {'agreement':>9}")
    print(header)
    print("-" * len(header))
    for preset in ("ag_diffusive", "stm_wox"):
        chip = volatile_chip(preset)
        spec = chip.core.crossbar
        ideal = run(net, chip, args)
        print(f"{preset:<13} {'ideal':>9} {'':>6} {'':>7} {'':>10} {int(ideal.sum()):>10} "
              f"{1.0:>9.3f}")
        for k in TIMES_IN_TAU:
            t = k * spec.retention_tau_s
            faded, report = apply_crossbar(net, spec, t, seed=args.seed)
            err = float(np.mean([r["relative_rms_error"] for r in report.values()]))
            left = mean_retained_fraction(t, spec.retention_tau_s, spec.retention_sigma)
            counts = run(faded, chip, args)
            print(f"{preset:<13} {t:>9.3g} {k:>6.1f} {left:>7.3f} {err:>10.3f} "
                  f"{int(counts.sum()):>10} {cosine(counts, ideal):>9.3f}")


if __name__ == "__main__":
    main()
