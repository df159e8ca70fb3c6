"""Speed-up of a partitioned (MPI) timestep run over one process, on the Brunel workload.

    python bench/parallel.py                       # 1, 2 and 4 ranks, 0.5 s simulated
    python bench/parallel.py --ranks 1 2 --duration 1.0 --chip loihi_like

For each rank count N, the same run (``bench/engine.py``'s Brunel network and drive, timestep
mode) is started as ``mpiexec -n N`` (N = 1: a plain process, no MPI); each starts with a short
run that loads the compiled kernels, then times ``Simulation.run``. Prints one JSON line per N:
ranks, wall_s (the run, after the warm-up), speedup and efficiency against one process, spikes
and a digest of the spike list (equal digests: the ranks reproduced the one-process spikes bit
for bit), syn_events_per_s, and the partition's work per rank (synapses received + neurons).
On a machine with fewer cores than ranks the ranks share cores (oversubscribed): the figures
then measure that sharing, and other load on the machine slows the ranks that wait for it.
``cpu_s`` is the CPU time of all ranks together (MPI's busy waiting included).

With ``--peers brian2,nest`` the peers of ``bench/engine.py`` run the same network in the same
command (``--peer-threads 1,2``; Brian2 from ``--brian2-python``), each followed by one
``ratio`` line per rank count: aersim's synaptic events per wall second over the peer's.

    python bench/parallel.py --ranks 1 2 --duration 1.0 --peers brian2 --peer-threads 1,2 \
        --brian2-python ~/b2/bin/python

``--threads 2`` (the default; ``--threads`` alone: none) also runs the same ranks as threads of
one process (``simcore.run.threads``), one JSON line per thread count with ``threads`` set:
processes and threads compared in the same command.

``--repeat N`` runs the whole set N times in turn (each line gets its ``round``; speed-ups are
against the same round's one process), then prints one ``summary`` line per rank or thread
count with the median wall time and speed-up and every round's speed-up: on a shared machine
single runs differ by several per cent. Peers are compared with the medians.

    python bench/parallel.py --ranks 1 2 --repeat 5
"""

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def worker(args) -> None:
    """One rank (or the one process) of the measured run; rank 0 prints a JSON line."""
    sys.path.insert(0, str(HERE))
    from engine import workload

    from aersim.hardware import load_chip
    from aersim.hardware.energy import OP_INDEX
    from aersim.simcore import RunConfig, Simulation
    from aersim.simcore.run.mpi import launched_world
    from aersim.simcore.run.threads import run_threads

    net, stimuli, _ = workload("brunel", args.seed)
    chip = load_chip(args.chip)

    def timed(comm):
        sim = Simulation(net, chip, config=RunConfig(mode="timestep", seed=args.seed),
                         stimuli=stimuli, comm=comm)
        sim.run(duration_ps=10 * sim.config.dt_ps)   # compiled kernels loaded, buffers warm
        if comm is not None:
            comm.Barrier()
        t0, c0 = time.perf_counter(), time.process_time()
        res = sim.run(args.duration)
        if comm is not None:
            comm.Barrier()
        return sim, res, time.perf_counter() - t0, time.process_time() - c0

    comm = launched_world()
    n_threads = args.threads[0] if args.threads else 1     # a worker gets one count
    if n_threads > 1:
        # process_time covers every thread of the process.
        sim, res, wall, cpu = run_threads(n_threads, timed)[0]
    else:
        sim, res, wall, cpu = timed(comm)
    if comm is not None:
        cpu = comm.reduce(cpu, root=0)
        if comm.Get_rank() != 0:
            return
    digest = hashlib.sha256(res.spikes_t_ps.tobytes() + res.spikes_neuron.tobytes()
                            + res.counts.tobytes()).hexdigest()[:16]
    syn = int(res.counts[:, OP_INDEX["synaptic_op"]].sum())
    work = sim.parallel.part.work.tolist() if sim.parallel is not None else [None]
    print(json.dumps({"ranks": 1 if comm is None else comm.Get_size(),
                      "threads": n_threads, "chip": args.chip,
                      "duration_s": args.duration, "wall_s": round(wall, 3),
                      "cpu_s": round(cpu, 3), "spikes": res.n_spikes, "digest": digest,
                      "syn_events_per_s": round(syn / wall),
                      "syn_events_per_cpu_s": round(syn / cpu), "work_per_rank": work}),
          flush=True)


def summarise(rounds: list) -> list:
    """One summary row per configuration of the rounds (lists of the same rows in the same
    order), printed: median wall time, speed-up and throughput, each round's speed-up, and
    whether every round reproduced the one-process spikes."""
    import statistics

    out = []
    for same in zip(*rounds, strict=True):
        first = same[0]
        row = {"summary": True, "ranks": first["ranks"], "threads": first["threads"],
               "rounds": len(same),
               "wall_s": round(statistics.median(r["wall_s"] for r in same), 3),
               "syn_events_per_s": round(statistics.median(r["syn_events_per_s"] for r in same)),
               "syn_events_per_cpu_s": round(statistics.median(r["syn_events_per_cpu_s"]
                                                               for r in same))}
        if "speedup" in first:
            row["speedup"] = round(statistics.median(r["speedup"] for r in same), 3)
            row["speedups"] = [r["speedup"] for r in same]
            row["same_as_one_process"] = all(r["same_as_one_process"] for r in same)
        print(json.dumps(row), flush=True)
        out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--duration", type=float, default=0.5, help="simulated seconds")
    ap.add_argument("--chip", default="minimal")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--peers", default="none",
                    help="peers to run on the same network: nest, brian2 (comma-separated)")
    ap.add_argument("--peer-threads", default="1,2", help="thread counts of the peers")
    ap.add_argument("--brian2-python", default=sys.executable,
                    help="a Python interpreter that has Brian2 (it needs Python >= 3.12)")
    ap.add_argument("--threads", type=int, nargs="*", default=[2],
                    help="thread counts to run as threads of one process (default 2)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the whole set this many times in turn and print medians")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error(f"--repeat must be at least 1, got {args.repeat}")
    if args.worker:
        worker(args)
        return
    from aersim.simcore.run.mpi import find_mpiexec

    own = [sys.executable, str(Path(__file__).resolve()), "--worker", "--duration",
           str(args.duration), "--chip", args.chip, "--seed", str(args.seed)]
    runs = [(n, own + ["--threads", "1"] if n == 1 else
             [find_mpiexec(), "-n", str(n), *own, "--threads", "1"]) for n in args.ranks]
    runs += [(t, own + ["--threads", str(t)]) for t in args.threads if t > 1]
    rounds = []
    for r in range(args.repeat):
        base = None
        rows = []
        for n, cmd in runs:
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            row = json.loads(out.strip().splitlines()[-1])
            if n == 1 and row["threads"] == 1:
                base = row
            if base is not None:
                row["speedup"] = round(base["wall_s"] / row["wall_s"], 3)
                row["efficiency"] = round(row["speedup"] / n, 3)
                row["same_as_one_process"] = row["digest"] == base["digest"]
            if args.repeat > 1:
                row["round"] = r
            print(json.dumps(row), flush=True)
            rows.append(row)
        rounds.append(rows)
    if args.repeat > 1:
        rows = summarise(rounds)
    peers = [p for p in args.peers.split(",") if p and p != "none"]
    if peers:
        sys.path.insert(0, str(HERE))
        from engine import run_peers

        ours = [dict(row, mode=f"timestep, {row['ranks']} rank(s)" if row["threads"] == 1
                     else f"timestep, {row['threads']} threads") for row in rows]
        run_peers(peers, [int(t) for t in args.peer_threads.split(",")], args, ours)


if __name__ == "__main__":
    main()
