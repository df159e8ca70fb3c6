"""Crossbar benchmark: MVM throughput, and weight/output error against ADC bits and drift time.

Programs one random Gaussian weight matrix on a crossbar preset, then prints one JSON line per
case:

- ``kind = "mvm"``: MVMs per second (batch of inputs, compiled kernels warmed up first), ADC
  conversions and DAC activations per MVM, and the output error against ``W x`` for each ADC
  resolution;
- ``kind = "drift"``: :func:`weight_error_stats` of the effective weights at each read time, with
  and without global drift compensation.

Usage::

    python bench/crossbar.py                         # pcm_aihwkit, 512 x 512, batch 64
    python bench/crossbar.py --preset rram_neurosim --n-in 256 --n-out 256
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from aersim.hardware.crossbar.array import crossbar_preset, mvm, program, read_weights
from aersim.hardware.crossbar.network import weight_error_stats

ROOT = Path(__file__).resolve().parents[1]

def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="pcm_aihwkit")
    ap.add_argument("--n-in", type=int, default=512)
    ap.add_argument("--n-out", type=int, default=512)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--adc-bits", default="4,6,8,10")
    ap.add_argument("--times", default="20,3600,86400,2592000",
                    help="read times after programming, seconds")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    w = rng.normal(size=(args.n_out, args.n_in))
    x = rng.normal(size=(args.batch, args.n_in))
    ideal_y = x @ w.T
    base = crossbar_preset(args.preset)
    state = program(w, base, args.seed)
    mvm(state, x[:1], base, 0)                             # compile the kernels

    for bits in (int(b) for b in args.adc_bits.split(",")):
        spec = base.replace(adc_bits=bits)
        t0 = time.perf_counter()
        res = mvm(state, x, spec, 1, t_since_program_s=spec.drift_t0_s)
        wall = time.perf_counter() - t0
        err = weight_error_stats(ideal_y, res.y)
        print(json.dumps({
            "kind": "mvm", "preset": args.preset, "shape": [args.n_out, args.n_in],
            "adc_bits": bits, "batch": args.batch, "wall_s": round(wall, 4),
            "mvm_per_s": round(args.batch / wall, 1),
            "adc_conversions_per_mvm": res.adc_conversions / args.batch,
            "dac_activations_per_mvm": res.dac_activations / args.batch,
            "adc_energy_pj_per_mvm": res.adc_conversions / args.batch * spec.adc_energy_pj,
            "array_energy_pj_per_mvm": res.array_energy_pj / args.batch,
            "output_relative_rms_error": round(err["relative_rms_error"], 5),
            "output_correlation": round(err["correlation"], 5)}))

    for t in (float(v) for v in args.times.split(",")):
        for comp in (False, True):
            spec = base.replace(drift_compensation=comp)
            stats = weight_error_stats(w, read_weights(state, spec, t, 2), state)
            print(json.dumps({"kind": "drift", "preset": args.preset, "t_s": t,
                              "drift_compensation": comp,
                              **{k: (round(v, 5) if isinstance(v, float) else v)
                                 for k, v in stats.items()}}))


if __name__ == "__main__":
    main()
