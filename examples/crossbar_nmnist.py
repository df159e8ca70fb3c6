"""Does the NIR paper's N-MNIST CNN still answer right once its weights sit in memristors?

Runs the network on a real N-MNIST recording with ideal weights, then with the weights a PCM
crossbar would compute (programming noise, drift, read noise, quantisation) at several times
after programming, and prints the output spike counts, the predicted digit and the agreement of
the output with the ideal run. Needs ``../shared/data`` (the NIR file and the recording).

    python examples/crossbar_nmnist.py [--preset pcm_aihwkit] [--seed 0]

One JSON line per case: case, t_since_program_s, predicted, agreement (cosine similarity of the
output spike counts with the ideal run), weight_rms_error (mean over projections).
"""

import argparse
import json
from pathlib import Path

import numpy as np

from aersim.hardware import apply_crossbar, crossbar_preset, load_chip
from aersim.models import load_network
from aersim.simcore import RunConfig, Simulation
from aersim.simcore.run.replay import EventReplay

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def output_counts(net, rec, steps=320):
    dt_ps = int(round(net.metadata["profile"]["dt_s"] * 1e12))
    sim = Simulation(net, load_chip("loihi_like"), config=RunConfig(mode="timestep", dt_ps=dt_ps),
                     stimuli=[EventReplay(net.inputs[0], str(rec), time_scale=1000.0)])
    res = sim.run(duration_ps=steps * dt_ps)
    lo = net.offset(net.outputs[0])
    return np.bincount(res.spikes_neuron[res.spikes_neuron >= lo] - lo, minlength=10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="pcm_aihwkit")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    net = load_network(DATA / "nir" / "cnn_sinabs.nir", profile="sinabs")
    rec = DATA / "events" / "sample_nmnist.bin"
    ideal = output_counts(net, rec)
    print(json.dumps({"case": "ideal", "counts": ideal.tolist(),
                      "predicted": int(ideal.argmax())}))
    spec = crossbar_preset(args.preset)
    for t in (20.0, 3600.0, 86400.0, 30 * 86400.0):
        noisy, report = apply_crossbar(net, spec, t, seed=args.seed)
        counts = output_counts(noisy, rec)
        cos = float(counts @ ideal / (np.linalg.norm(counts) * np.linalg.norm(ideal) + 1e-12))
        rms = float(np.mean([r["rms_error"] for r in report.values() if "rms_error" in r]))
        print(json.dumps({"case": args.preset, "t_since_program_s": t,
                          "counts": counts.tolist(), "predicted": int(counts.argmax()),
                          "agreement": round(cos, 4), "weight_rms_error": rms}))


if __name__ == "__main__":
    main()
