"""The same network on a digital SRAM chip and on a PCM crossbar chip, side by side.

A small feed-forward network (``models.ff_network``) driven by Poisson input runs

- ``digital``: ideal weights on ``crossbar_cim`` with its crossbar section removed, so the
  synapses live in each core's SRAM (one word read per synapse, a 32-bit add per synaptic op);
- ``crossbar``: the weights a PCM crossbar computes (``apply_crossbar``: programming noise,
  drift, read noise, 8-bit converters) at several times after programming, on ``crossbar_cim``.

Every case uses the same input spikes (same run seed). Printed, one JSON line per case: spikes,
agreement of the output layer's spike counts with the digital run (cosine similarity), the
weight error, and the energy split into its parts, including the ADC, DAC and SRAM lines that
``hardware.energy.price`` derives from the operation counts.

    python examples/crossbar_side_by_side.py [--duration-s 0.1] [--seed 0]
"""

import argparse
import json
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from aersim.hardware import apply_crossbar, chip_from_dict, load_chip
from aersim.models import ff_network
from aersim.simcore import PoissonInput, RunConfig, Simulation

ROOT = Path(__file__).resolve().parents[1]
DRIFT_TIMES_S = (20.0, 3600.0, 86400.0, 3.15e7)    # t0, one hour, one day, one year


def digital_twin():
    """``crossbar_cim`` with SRAM synapses instead of crossbar tiles."""
    text = (resources.files("aersim.hardware") / "presets" / "crossbar_cim.yaml").read_text()
    d = yaml.safe_load(text)
    core = d["core"]
    del core["crossbar"], core["crossbars_per_core"]
    core.update(synapse_format="sparse", weight_bits=8)
    core["energy_pj"]["synaptic_op"] = 0.1     # one 32-bit add (hardware-numbers §6); reads apart
    core["latency_ns"]["synaptic_op"] = 1.0    # one 1 GHz cycle per synapse
    d["name"] = "crossbar_cim_digital"
    return chip_from_dict(d, "crossbar_cim (digital twin)")


def run(net, chip, args):
    sim = Simulation(net, chip, config=RunConfig(mode="timestep", seed=args.seed),
                     stimuli=[PoissonInput("input", args.rate_hz)])
    res = sim.run(args.duration_s)
    lo, size = net.offset(net.outputs[0]), net.population(net.outputs[0]).size
    out = res.spikes_neuron[(res.spikes_neuron >= lo) & (res.spikes_neuron < lo + size)] - lo
    return res, np.bincount(out, minlength=size).astype(np.float64)


def cosine(a, b):
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else float("nan")


def line(case, t_s, res, counts, ideal_counts, weight_err):
    e = res.ledger
    by_op = e.by_op_j()
    ops = e.by_op_count()
    return {
        "case": case, "t_since_program_s": t_s, "spikes": res.n_spikes,
        "output_spikes": int(counts.sum()), "agreement": round(cosine(counts, ideal_counts), 4),
        "weight_rms_error": weight_err,
        "hardware_time_us": round(res.hardware_time_ps * 1e-6, 2),
        "energy_total_uj": round(e.total_j * 1e6, 4),
        "synaptic_op_uj": round(by_op["synaptic_op"] * 1e6, 4),
        "adc_uj": round(by_op["adc_conversion"] * 1e6, 4),
        "dac_uj": round(by_op["dac_activation"] * 1e6, 4),
        "sram_uj": round((by_op["sram_read"] + by_op["sram_write"]) * 1e6, 4),
        "noc_uj": round(sum(by_op[k] for k in ("router", "hop_east", "hop_west", "hop_north",
                                               "hop_south")) * 1e6, 4),
        "static_uj": round(e.static_j * 1e6, 4),
        "sram_leakage_uj": round(e.sram_leakage_j * 1e6, 4),
        "adc_conversions": int(ops["adc_conversion"]),
        "dac_activations": int(ops["dac_activation"]),
        "sram_reads": round(ops["sram_read"], 1), "derived": list(e.derived),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration-s", type=float, default=0.1)
    ap.add_argument("--rate-hz", type=float, default=100.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    net = ff_network(n_input=256, layer_size=256, n_layers=2, fan_in=64, w_mean_mv=1.5,
                     w_std_mv=1.0, seed=args.seed)
    digital = digital_twin()
    res, ideal = run(net, digital, args)
    print(json.dumps(line("digital", None, res, ideal, ideal, 0.0)))
    chip = load_chip("crossbar_cim")
    for t_s in DRIFT_TIMES_S:
        cim_net, report = apply_crossbar(net, chip.core.crossbar, t_s, seed=args.seed)
        err = float(np.mean([r["relative_rms_error"] for r in report.values()]))
        res, counts = run(cim_net, chip, args)
        print(json.dumps(line("crossbar", t_s, res, counts, ideal, round(err, 4))))


if __name__ == "__main__":
    main()
