"""A network three times larger than one chip, on the 8-chip ``loihi2_board_like`` board.

    python bench/system.py                    # both modes, 3 ms simulated
    python bench/system.py --mode async --duration 0.01 --board spinnaker2_board_like

``ff_network`` with 8,192 inputs and three layers of 131,072 LIF neurons (401,408 neurons,
3.06 times one ``loihi_like`` chip), Poisson input at 200 Hz. Prints the chips the mapper used,
the chip-to-chip traffic per used link and the energy, then one JSON line per mode.
"""

import argparse
import json
import time

import numpy as np

from aersim.models.generators import ff_network
from aersim.simcore import PoissonInput, RunConfig, Simulation


def run(mode: str, duration_s: float, board: str, fan_in: int) -> dict:
    net = ff_network(n_input=8192, layer_size=131_072, n_layers=3, fan_in=fan_in,
                     w_mean_mv=3.0, seed=1)
    t0 = time.perf_counter()
    sim = Simulation(net, board, config=RunConfig(mode=mode, seed=3),
                     stimuli=[PoissonInput("input", 200.0)])
    build_s = time.perf_counter() - t0
    res = sim.run(duration_s)
    chips = sim.chip.chip_of_core(sim.mapping.core_of)
    per_chip = {sim.chip.chip_labels[c]: int(n) for c, n in
                enumerate(np.bincount(chips, minlength=sim.chip.n_chips)) if n}
    cl = res.chip_links
    print(f"# {mode}: {net.n_neurons} neurons on {board}, neurons per chip {per_chip}")
    for row in cl[cl["packets"] > 0]:
        print(f"#   {sim.chip.link_label(int(row['link'])):28s} {int(row['packets']):9d} packets "
              f"{int(row['bits']):11d} bits {row['energy_j'] * 1e6:9.2f} uJ")
    print("# " + res.summary().replace("\n", "\n# "))
    return {"mode": mode, "board": board, "neurons": net.n_neurons,
            "chips_used": len(per_chip), "spikes": res.n_spikes,
            "chip_link_packets": int(cl["packets"].sum()),
            "chip_link_energy_j": float(cl["energy_j"].sum()),
            "energy_j": res.ledger.total_j, "hardware_time_s": res.hardware_time_ps / 1e12,
            "build_s": round(build_s, 2), "wall_s": round(res.wall_s, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mode", choices=("timestep", "async", "both"), default="both")
    ap.add_argument("--duration", type=float, default=0.003, help="simulated seconds")
    ap.add_argument("--board", default="loihi2_board_like")
    ap.add_argument("--fan-in", type=int, default=12)
    args = ap.parse_args()
    for mode in (("timestep", "async") if args.mode == "both" else (args.mode,)):
        print(json.dumps(run(mode, args.duration, args.board, args.fan_in)))


if __name__ == "__main__":
    main()
