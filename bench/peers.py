"""The Brunel network of ``bench/engine.py`` in NEST and in Brian2: same graph, drive, duration.

    python bench/peers.py {nest,brian2} NETWORK.npz DURATION_S [--threads N] [--seed S]

``NETWORK.npz`` (written by ``bench/engine.py``) holds the graph as global ``pre``/``post`` ids
(int32), ``weight_mv`` (float64) and one ``delay_ms``; the neurons' ``v_init_mv``; the LIF
parameters (``tau_ms``, ``v_th_mv``, ``v_reset_mv``, ``t_ref_ms``, resting at 0 mV, delta
synapses, inputs during refractoriness discarded); the Poisson drive of every neuron
(``drive_hz``, ``drive_mv``); and the step ``dt_ms``. Prints one JSON line: simulator, version,
threads, spikes, synaptic_events (each spike times its neuron's out-degree), wall_s (the
simulation loop only: NEST's ``Run``, Brian2's own run timer), syn_events_per_s, cpu_s and
syn_events_per_cpu_s (CPU time of NEST's ``Run``; of Brian2's whole simulation binary, loading
included), rate_hz, setup_s (network construction, and Brian2's code generation and C++ build).

Only NumPy and the simulator are imported (not aersim), so the script can run under another
Python than aersim's: Brian2 2.11 needs Python >= 3.13 and 2.9, the last release for 3.11,
does not import with NumPy >= 2.4 (``bench/engine.py --brian2-python``).
"""

import argparse
import json
import resource
import sys
import tempfile
import time

import numpy as np


def _out_degree(net) -> np.ndarray:
    return np.bincount(net["pre"], minlength=int(net["n"]))


def _result(sim, version, threads, senders, net, duration_s, wall_s, cpu_s, setup_s) -> dict:
    n = int(net["n"])
    syn = int(_out_degree(net)[senders].sum())
    return {"simulator": sim, "version": version, "threads": threads,
            "spikes": int(senders.size), "synaptic_events": syn, "wall_s": round(wall_s, 3),
            "syn_events_per_s": round(syn / wall_s), "cpu_s": round(cpu_s, 3),
            "syn_events_per_cpu_s": round(syn / cpu_s),
            "rate_hz": round(senders.size / n / duration_s, 2), "setup_s": round(setup_s, 2)}


def run_nest(net, duration_s: float, threads: int, seed: int) -> dict:
    """``iaf_psc_delta`` neurons, one ``poisson_generator`` (independent trains per target)."""
    import nest

    t0 = time.perf_counter()
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": float(net["dt_ms"]), "local_num_threads": threads,
                          "rng_seed": seed + 1, "print_time": False})
    n = int(net["n"])
    pop = nest.Create("iaf_psc_delta", n, params={
        "tau_m": float(net["tau_ms"]), "V_th": float(net["v_th_mv"]),
        "V_reset": float(net["v_reset_mv"]), "E_L": 0.0, "t_ref": float(net["t_ref_ms"]),
        "I_e": 0.0, "refractory_input": False})
    pop.V_m = net["v_init_mv"].tolist()
    first = pop[0].global_id
    nest.Connect(net["pre"].astype(np.int64) + first, net["post"].astype(np.int64) + first,
                 "one_to_one", {"synapse_model": "static_synapse",
                                "weight": net["weight_mv"].astype(np.float64),
                                "delay": np.full(net["pre"].size, float(net["delay_ms"]))})
    drive = nest.Create("poisson_generator", params={"rate": float(net["drive_hz"])})
    nest.Connect(drive, pop, syn_spec={"weight": float(net["drive_mv"]),
                                       "delay": float(net["dt_ms"])})
    rec = nest.Create("spike_recorder")
    nest.Connect(pop, rec)
    nest.Prepare()
    setup = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    nest.Run(duration_s * 1e3)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    nest.Cleanup()
    senders = np.asarray(rec.get("events")["senders"], dtype=np.int64) - first
    return _result("nest", nest.__version__, threads, senders, net, duration_s, wall, cpu,
                   setup)


def run_brian2(net, duration_s: float, threads: int, seed: int) -> dict:
    """C++ standalone; synaptic and Poisson input before the threshold test (NEST's order),
    discarded while refractory; ``PoissonInput`` draws each step's count of the drive."""
    import brian2 as b2

    t0 = time.perf_counter()
    workdir = tempfile.mkdtemp(prefix="brian2_bench_")
    b2.set_device("cpp_standalone", directory=workdir, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = threads
    b2.prefs.logging.console_log_level = "WARNING"
    b2.defaultclock.dt = float(net["dt_ms"]) * b2.ms
    b2.seed(seed + 1)
    ms, mv = b2.ms, b2.mV
    ns = {"tau": float(net["tau_ms"]) * ms, "theta": float(net["v_th_mv"]) * mv,
          "v_reset": float(net["v_reset_mv"]) * mv}
    pop = b2.NeuronGroup(int(net["n"]), "dv/dt = -v / tau : volt (unless refractory)",
                         threshold="v > theta", reset="v = v_reset",
                         refractory=float(net["t_ref_ms"]) * ms, method="exact", namespace=ns)
    pop.v = net["v_init_mv"] * mv
    syn = b2.Synapses(pop, pop, "w : volt", on_pre="v_post += w * int(not_refractory_post)",
                      delay=float(net["delay_ms"]) * ms)
    syn.connect(i=net["pre"], j=net["post"])
    syn.w = net["weight_mv"] * mv
    syn.pre.when = "before_thresholds"
    # 20 kHz of +J per neuron as N sources at drive_hz / N each (Brian2 draws a binomial count).
    n_src = 800
    drive = b2.PoissonInput(pop, "v", N=n_src, rate=float(net["drive_hz"]) / n_src * b2.Hz,
                            weight=f"{float(net['drive_mv'])}*mV * int(not_refractory)",
                            when="before_thresholds")
    mon = b2.SpikeMonitor(pop)
    b2.Network(pop, syn, drive, mon).run(duration_s * b2.second)
    b2.device.build(directory=workdir, compile=True, run=False)
    setup = time.perf_counter() - t0
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    b2.device.run(workdir, with_output=False, run_args=[])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = float(b2.device._last_run_time)
    # CPU time of the whole simulation binary, loading its arrays included (the loop alone
    # is not timed in CPU seconds by Brian2): an upper bound of the loop's.
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    senders = np.asarray(mon.i[:], dtype=np.int64)
    return _result("brian2", b2.__version__, threads, senders, net, duration_s, wall, cpu,
                   setup)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("simulator", choices=("nest", "brian2"))
    ap.add_argument("network", help=".npz written by bench/engine.py")
    ap.add_argument("duration", type=float, help="simulated seconds")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    net = dict(np.load(args.network))
    module = "nest" if args.simulator == "nest" else "brian2"
    try:
        __import__(module)
    except Exception as exc:  # not installed, or installed but broken (Brian2 2.9, NumPy 2.4)
        print(json.dumps({"simulator": args.simulator, "skipped": f"{module} does not import "
                          f"on Python {sys.version.split()[0]} ({sys.executable}): "
                          f"{type(exc).__name__}: {exc}"}), flush=True)
        return
    run = run_nest if args.simulator == "nest" else run_brian2
    print(json.dumps(run(net, args.duration, args.threads, args.seed)), flush=True)


if __name__ == "__main__":
    main()
