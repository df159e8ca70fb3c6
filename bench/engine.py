"""Engine throughput on the two workloads of performance.md §2, in both execution modes.

    python bench/engine.py                      # brunel and ff, both modes, 1 s simulated
    python bench/engine.py --case ff --mode async --duration 0.2
    python bench/engine.py --case brunel --mode timestep --contention   # NoC contention on
    python bench/engine.py --case brunel --peer-threads 1,2 --brian2-python ~/b2/bin/python

Prints a readable line and then one JSON line per (case, mode) with: case, mode, spikes,
synaptic_events (recurrent, i.e. delivered through synapses), external_events (Poisson drive),
wall_s, syn_events_per_s, cpu_s and syn_events_per_cpu_s (process CPU time, steadier than
wall time on a shared machine), rate_hz, peak_rss_mb, bytes_per_synapse (engine tables),
compile_s (first-call cost in this process: Numba cache load, or compilation with
``--cold``), build_s.
A first line reports the set-up time of the 128-core ``loihi_like`` chip.

With the ``brunel`` case, NEST and Brian2 (``--peers``) run the same network (graph, initial
potentials, drive, delay, duration) in subprocesses (``bench/peers.py``), each printing its JSON
line (or one saying why it was skipped), followed by one ``ratio`` line per (aersim mode, peer
run): aersim's synaptic events per wall second over the peer's (``value``) and per CPU second
(``value_cpu``). ``pip install aersim[bench]`` installs NEST; Brian2 2.11 needs Python >= 3.13,
so give ``--brian2-python`` an interpreter that has it.
"""

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from measure import peak_rss_mb

from aersim.hardware import load_chip
from aersim.hardware.energy import OP_INDEX
from aersim.models.generators import brunel_network, ff_network
from aersim.simcore import PoissonDrive, PoissonInput, RunConfig, Simulation


def workload(case: str, seed: int):
    if case == "brunel":
        net = brunel_network(seed=seed)
        # 20 kHz of +J per neuron: nu_ext * C_E = 2 * 12.5 Hz * 800 (performance.md §2A).
        stimuli = [PoissonDrive("exc", 20_000.0, 0.1), PoissonDrive("inh", 20_000.0, 0.1)]
        lif = ("exc", "inh")
    elif case == "ff":
        net = ff_network(seed=seed)
        stimuli = [PoissonInput("input", 20.0)]
        lif = ("L1", "L2", "L3")
    else:
        raise SystemExit(f"unknown case {case!r}; use brunel or ff")
    return net, stimuli, lif


def run_case(case: str, mode: str, duration_s: float, chip_name: str, seed: int,
             contention: bool = False, synapses: str = "auto") -> dict:
    net, stimuli, lif = workload(case, seed)
    chip = load_chip(chip_name)
    if contention:
        # Packets queue at links and buffers; numbers from the chip's noc section.
        chip = dataclasses.replace(chip, noc=dataclasses.replace(chip.noc, contention=True))
    sim = Simulation(net, chip, config=RunConfig(mode=mode, seed=seed, synapses=synapses),
                     stimuli=stimuli)
    # First call pays compilation (or the cache load): measure it on a short run.
    t0 = time.perf_counter()
    sim.run(duration_ps=sim.config.dt_ps)
    compile_s = time.perf_counter() - t0
    cpu0 = time.process_time()
    res = sim.run(duration_s)
    cpu_s = time.process_time() - cpu0
    ops = res.counts.sum(axis=0)
    syn = int(ops[OP_INDEX["synaptic_op"]])
    ext = int(ops[OP_INDEX["stim_in"]])
    n_lif = sum(net.population(p).size for p in lif)
    lif_lo = min(net.offset(p) for p in lif)
    lif_spikes = int(((res.spikes_neuron >= lif_lo) & (res.spikes_neuron < lif_lo + n_lif)).sum())
    out = {
        "case": case, "mode": mode, "chip": chip_name, "duration_s": duration_s,
        "spikes": res.n_spikes, "synaptic_events": syn, "external_events": ext,
        "wall_s": round(res.wall_s, 3), "syn_events_per_s": round(syn / res.wall_s),
        # CPU time of this process: on a shared machine less disturbed by others than wall time.
        "cpu_s": round(cpu_s, 3), "syn_events_per_cpu_s": round(syn / cpu_s),
        "rate_hz": round(lif_spikes / n_lif / duration_s, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "bytes_per_synapse": round(res.info["engine_bytes"] / max(res.info["n_synapses"], 1), 2),
        "compile_s": round(compile_s, 2), "build_s": round(sim.build_s, 3),
        "hardware_time_s": res.hardware_time_ps / 1e12, "energy_j": res.ledger.total_j,
    }
    if contention:
        out["contention"] = True
        out["noc_packets"] = res.info["noc_packets"]
        out["packets_per_s"] = round(res.info["noc_packets"] / res.wall_s)
        out["max_link_utilisation"] = round(float(res.links.utilisation(
            res.hardware_time_ps).max()), 4)
        out["link_blocked_ps"] = int(res.links.blocked_ps.sum())
    return out


def chip_setup_case() -> dict:
    """Loading the 128-core loihi_like preset, mapping a 10,000-neuron network, building."""
    from aersim.models.generators import random_network
    net = random_network(n_neurons=10_000, n_inputs=100, p_connect=0.001)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        chip = load_chip("loihi_like")
        Simulation(net, chip, config=RunConfig(mode="timestep"))
        best = min(best, time.perf_counter() - t0)
    return {"case": "setup_loihi_like", "cores": chip.n_cores, "neurons": net.n_neurons,
            "synapses": net.n_synapses, "setup_s": round(best, 4)}


def main() -> None:
    if "--cold" in sys.argv and "NUMBA_CACHE_DIR" not in os.environ:
        # Measure compilation from scratch: run again with an empty Numba cache.
        with tempfile.TemporaryDirectory() as cache:
            argv = [a for a in sys.argv if a != "--cold"]
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            raise SystemExit(subprocess.call([sys.executable] + argv, env=env))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--case", choices=("brunel", "ff", "all"), default="all")
    ap.add_argument("--mode", choices=("timestep", "async", "both"), default="both")
    ap.add_argument("--duration", type=float, default=1.0, help="simulated seconds")
    ap.add_argument("--chip", default="minimal")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--synapses", choices=("auto", "in_place", "copy"), default="auto",
                    help="layout of the synapse tables (RunConfig.synapses)")
    ap.add_argument("--contention", action="store_true",
                    help="switch on the chip's network-on-chip contention model "
                         "(reports packets per second too)")
    ap.add_argument("--cold", action="store_true",
                    help="compile with an empty Numba cache (compile_s is then the full cost)")
    ap.add_argument("--peers", default="nest,brian2",
                    help="peer simulators to run on the same Brunel network (comma-separated: "
                         "nest, brian2; 'none' for none); each is skipped with a JSON line "
                         "saying why when it is not installed")
    ap.add_argument("--peer-threads", default="1", help="thread counts of the peers, e.g. 1,2")
    ap.add_argument("--brian2-python", default=sys.executable,
                    help="Python that has brian2 (Brian2 2.11 needs Python >= 3.13; "
                         "default: this one)")
    ap.add_argument("--no-setup", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.no_setup:
        setup = chip_setup_case()
        print(f"# chip set-up (load loihi_like, map and build 10k neurons): {setup['setup_s']} s",
              flush=True)
        print(json.dumps(setup), flush=True)
    cases = ("brunel", "ff") if args.case == "all" else (args.case,)
    modes = ("timestep", "async") if args.mode == "both" else (args.mode,)
    results = []
    if len(cases) * len(modes) > 1:
        # One process per case, so that each peak RSS is that case's own.
        argv = sys.argv[1:]
        base = [a for i, a in enumerate(argv) if a not in ("--case", "--mode", "--peers")
                and (i == 0 or argv[i - 1] not in ("--case", "--mode", "--peers"))]
        for case in cases:
            for mode in modes:
                out = subprocess.run([sys.executable, __file__, *base, "--case", case, "--mode",
                                      mode, "--no-setup", "--peers", "none"],
                                     stdout=subprocess.PIPE, text=True).stdout
                sys.stdout.write(out)
                sys.stdout.flush()
                results += [json.loads(line) for line in out.splitlines()
                            if line.startswith("{")]
    else:
        for case in cases:
            for mode in modes:
                r = run_case(case, mode, args.duration, args.chip, args.seed, args.contention,
                             args.synapses)
                print(f"# {case} {mode}: {r['spikes']} spikes ({r['rate_hz']} Hz), "
                      f"{r['synaptic_events']:.3g} synaptic events in {r['wall_s']} s = "
                      f"{r['syn_events_per_s'] / 1e6:.1f} M/s "
                      f"({r['syn_events_per_cpu_s'] / 1e6:.1f} M per CPU s); "
                      f"{r['bytes_per_synapse']} B/synapse, peak {r['peak_rss_mb']} MB, "
                      f"compile {r['compile_s']} s"
                      + (f"; {r['noc_packets']} packets = {r['packets_per_s'] / 1e6:.2f} M/s"
                         if args.contention else ""), flush=True)
                print(json.dumps(r), flush=True)
                results.append(r)
    peers = [p for p in args.peers.split(",") if p and p != "none"]
    if peers and "brunel" in cases:
        threads = [int(t) for t in args.peer_threads.split(",")]
        run_peers(peers, threads, args, [r for r in results if r["case"] == "brunel"])


def brunel_file(path: str, seed: int) -> None:
    """Write the Brunel network and drive of :func:`workload` as ``bench/peers.py`` reads it."""
    net, stimuli, _ = workload("brunel", seed)
    pre, post, weight, delays = [], [], [], set()
    for proj in net.projections:
        indptr, indices, weights, delay = proj.to_csr_arrays()
        pre.append(net.offset(proj.pre) + np.repeat(np.arange(indptr.size - 1), np.diff(indptr)))
        post.append(net.offset(proj.post) + indices)
        weight.append(np.asarray(weights, dtype=np.float64))
        delays.update(np.unique(delay).tolist())
    if len(delays) != 1 or len({(s.rate_hz, s.weight) for s in stimuli}) != 1:
        raise SystemExit("the peer comparison assumes one delay and one drive for all neurons")
    p = net.population("exc").params
    v_init = np.concatenate([net.population(name).params.per_neuron(net.population(name).size)
                             ["v_init"] for name in ("exc", "inh")])
    np.savez(path, n=net.n_neurons, pre=np.concatenate(pre).astype(np.int32),
             post=np.concatenate(post).astype(np.int32), weight_mv=np.concatenate(weight),
             delay_ms=delays.pop() / 1e9, v_init_mv=v_init, tau_ms=p.tau_s * 1e3,
             v_th_mv=p.v_th, v_reset_mv=p.v_reset, t_ref_ms=p.t_ref_s * 1e3,
             drive_hz=stimuli[0].rate_hz, drive_mv=stimuli[0].weight,
             dt_ms=RunConfig().for_network(net).dt_ps / 1e9)


def run_peers(peers, threads, args, ours) -> None:
    """Run ``bench/peers.py`` for every peer and thread count on the same network and print
    their JSON lines, then one line per peer run with aersim's speed relative to it."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers.py")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "brunel.npz")
        brunel_file(path, args.seed)
        for peer in peers:
            python = args.brian2_python if peer == "brian2" else sys.executable
            for n_threads in threads:
                cmd = [python, script, peer, path, str(args.duration), "--threads",
                       str(n_threads), "--seed", str(args.seed)]
                try:
                    proc = subprocess.run(cmd, capture_output=True, text=True)
                    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
                    why = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
                except OSError as exc:
                    lines, why = [], [f"cannot start {python}: {exc}"]
                r = json.loads(lines[-1]) if lines else {"simulator": peer,
                                                          "skipped": why[0]}
                r["case"] = "brunel"
                if "skipped" in r:
                    print(f"# {peer}: skipped ({r['skipped']})", flush=True)
                    print(json.dumps(r), flush=True)
                    break
                print(f"# brunel {peer} {r['version']}, {r['threads']} thread(s): "
                      f"{r['spikes']} spikes ({r['rate_hz']} Hz), {r['synaptic_events']:.3g} "
                      f"synaptic events in {r['wall_s']} s = "
                      f"{r['syn_events_per_s'] / 1e6:.1f} M/s; set-up {r['setup_s']} s",
                      flush=True)
                print(json.dumps(r), flush=True)
                for o in ours if r["syn_events_per_s"] > 0 else ():
                    ratio = {"case": "brunel", "ratio": f"aersim {o['mode']} / {peer} "
                             f"{r['threads']} thread(s)",
                             "aersim_syn_events_per_s": o["syn_events_per_s"],
                             "peer_syn_events_per_s": r["syn_events_per_s"],
                             "value": round(o["syn_events_per_s"] / r["syn_events_per_s"], 2),
                             "value_cpu": round(o["syn_events_per_cpu_s"]
                                                / r["syn_events_per_cpu_s"], 2)}
                    print(json.dumps(ratio), flush=True)


if __name__ == "__main__":
    main()
