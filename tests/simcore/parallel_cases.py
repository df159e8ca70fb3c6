"""Small runs for the parallel-run tests: ``python -m tests.simcore.parallel_cases CASE OUT``.

Run plainly it is the one-process reference; under ``mpiexec -n N`` every rank runs its part
and rank 0 writes the results (spikes, counts, energy, step durations, message log, probes) to
``OUT`` (.npz).
"""

import dataclasses
import sys
import tempfile
from pathlib import Path

import numpy as np

from aersim.hardware import load_chip
from aersim.models import (
    InputParams,
    LIFParams,
    LIParams,
    Network,
    SigmaDeltaParams,
    brunel_network,
)
from aersim.simcore import PoissonDrive, RunConfig, Simulation, SpikeTrains
from aersim.simcore.run.mpi import launched_world
from aersim.simcore.run.stimulus import GradedInput
from tests.simcore.helpers import SMALL_CHIP, SYSTEM, small_core_chip

MS = 1_000_000_000


def brunel_case():
    """A small Brunel network with its Poisson drive on ``loihi_like`` (which prices idle
    neurons), 1.5 ms delays."""
    net = brunel_network(n_exc=400, n_inh=100, epsilon=0.1, seed=3)
    stimuli = [PoissonDrive("exc", 20_000.0, 0.1), PoissonDrive("inh", 20_000.0, 0.1)]
    return net, small_core_chip(32, "loihi_like"), stimuli, {"exc": [0, 7, 399], "inh": [3]}, \
        0.05


def three_chips():
    """Three small chips in a row, joined by board links (``tests.simcore.helpers.SYSTEM``)."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "small.yaml").write_text(SMALL_CHIP)
        (Path(folder) / "three.yaml").write_text(SYSTEM)
        return load_chip(Path(folder) / "three.yaml")


def feedforward_case(contention: bool = False, chip=None):
    """An input and three layers joined by zero-delay synapses (as a NIR graph runs them),
    plus a delayed recurrent projection; weights not dyadic, so sums depend on their order.
    On ``small_core_chip(16)`` unless ``chip`` is given."""
    rng = np.random.default_rng(5)
    net = Network()
    net.add_population("input", 40, InputParams())
    sizes = {"L1": 60, "L2": 50, "L3": 12}
    for name, n in sizes.items():
        net.add_population(name, n, LIFParams(tau_s=0.01, v_th=1.0))
    prev = "input"
    for name, n in sizes.items():
        n_pre = net.population(prev).size
        pre, post = np.nonzero(rng.random((n_pre, n)) < 0.4)
        net.connect(prev, name, pre, post, rng.normal(0.35, 0.3, pre.size), 0)
        prev = name
    pre, post = np.nonzero(rng.random((50, 60)) < 0.1)
    net.connect("L2", "L1", pre, post, rng.normal(-0.2, 0.1, pre.size), 2 * MS)
    net.inputs, net.outputs = ["input"], ["L3"]
    t = rng.integers(0, 40, size=900) * MS
    i = rng.integers(0, 40, size=900)
    chip = chip or small_core_chip(16, "minimal")
    if contention:
        chip = dataclasses.replace(chip, noc=dataclasses.replace(chip.noc, contention=True))
    return net, chip, [SpikeTrains("input", t, i)], {"L1": [0, 59], "L3": None}, 0.04


def graded_case():
    """Graded input spikes into sigma-delta neurons (graded spikes) and a leaky readout."""
    rng = np.random.default_rng(7)
    net = Network()
    net.add_population("x", 24, InputParams())
    net.add_population("sd", 30, SigmaDeltaParams(threshold=0.05))
    net.add_population("out", 8, LIParams(tau_s=0.005))
    pre, post = np.nonzero(rng.random((24, 30)) < 0.5)
    net.connect("x", "sd", pre, post, rng.normal(0.0, 0.4, pre.size), 0)
    pre, post = np.nonzero(rng.random((30, 8)) < 0.5)
    net.connect("sd", "out", pre, post, rng.normal(0.0, 0.4, pre.size), MS)
    net.inputs, net.outputs = ["x"], ["out"]
    x = rng.normal(0.0, 1.0, (30, 24))
    x[rng.random(x.shape) < 0.3] = 0.0
    return net, small_core_chip(8, "minimal"), [GradedInput("x", x, MS)], {"out": None}, 0.03


def concurrent_chip(chip):
    """``chip`` with cores that serve messages beside their update pass."""
    return dataclasses.replace(chip, core=dataclasses.replace(chip.core, receive="concurrent"))


def concurrent_case():
    """The Brunel case (on a chip that prices idle neurons) with concurrent receive."""
    net, chip, stimuli, probes, duration_s = brunel_case()
    return net, concurrent_chip(chip), stimuli, probes, duration_s


def brunel_contention_case():
    """The Brunel case with packets contending for links: every step's timeline is held for
    the contention model, in batches of 15 steps (the feed-forward case has one step a batch)."""
    net, chip, stimuli, probes, duration_s = brunel_case()
    chip = dataclasses.replace(chip, noc=dataclasses.replace(chip.noc, contention=True))
    return net, chip, stimuli, probes, duration_s


CASES = {"brunel": brunel_case, "feedforward": feedforward_case,
         "contention": lambda: feedforward_case(True), "graded": graded_case,
         "concurrent": concurrent_case, "noc": brunel_contention_case,
         "ffidle": lambda: feedforward_case(chip=small_core_chip(16, "loihi_like")),
         "ffconcurrent": lambda: feedforward_case(chip=concurrent_chip(small_core_chip(16))),
         "system": lambda: feedforward_case(chip=three_chips())}


def run_case(name: str, comm=None):
    """``(Results, Simulation)`` of case ``name``, partitioned over ``comm`` when given.

    ``CASE-nolog`` runs ``CASE`` without the message log, so that ranks split the hardware
    timeline by step (with the log, every rank computes all of it); ``CASE-long``
    runs three times as long, so that the message log fills and is drained between steps of
    a batch; ``CASE-inplace`` builds synapse tables that read the network's arrays in place
    (``simcore.engine.synapse_tables``; the same results as ``CASE``); ``CASE-overflow``
    starts the ranks' exchange with room for one row each, so that the rest of every batch
    goes by the overflow exchange (the same results as ``CASE``); ``CASE-early`` runs each
    rank's kept timelines after every batch instead of at the chunk's end (``CASE-nolog``'s
    results)."""
    base, _, variant = name.partition("-")
    net, chip, stimuli, probes, duration_s = CASES[base]()
    if variant == "long":
        duration_s *= 3
    cfg = RunConfig(mode="timestep",
                    dt_ps=MS // 10 if base in ("brunel", "concurrent", "noc") else MS,
                    seed=11,
                    record_messages=variant not in ("nolog", "early"), chunk_ps=100 * MS // 10,
                    recorder_capacity=64, synapses="in_place" if variant == "inplace" else "copy")
    sim = Simulation(net, chip, config=cfg, stimuli=stimuli, probes=probes, comm=comm)
    if variant == "inplace":
        assert sim.syn.target is net.projections[0].indices.base
    if variant == "overflow" and sim.parallel is not None:
        sim.parallel.cap = 1
    if variant == "early" and sim.parallel is not None:
        sim.parallel.MAX_PENDING_BYTES = 0
    return sim.run(duration_s), sim


def results_arrays(res, sim) -> dict:
    """Everything a run produces, and the state it leaves ``sim`` in, as arrays (compared
    byte for byte)."""
    out = {"spikes_t": res.spikes_t_ps, "spikes_n": res.spikes_neuron, "counts": res.counts,
           "step_duration": res.step_duration_ps, "hardware_time": res.hardware_time_ps,
           "energy": res.energy_table(), "energy_total": res.ledger.total_j,
           "messages": res.messages if res.messages is not None else np.zeros((0, 4), np.int64),
           "probe_t": res.probes["t_ps"], "probe_v": res.probes["v"],
           "probe_c": res.probes["state2"], "v": sim.v, "cur": sim.cur,
           "ref_count": sim.state.ref_count, "noc_packets": res.info["noc_packets"]}
    if res.links is not None:
        out.update({f"link_{k}": getattr(res.links, k) for k in
                    ("packets", "flits", "busy_ps", "max_queue_flits", "blocked_ps")})
    if res.chip_links is not None:
        out["chip_links"] = res.chip_links
    return {k: np.asarray(v) for k, v in out.items()}


if __name__ == "__main__":
    comm = launched_world()
    result, simulation = run_case(sys.argv[1], comm)
    if comm is None or comm.Get_rank() == 0:
        part = simulation.parallel
        np.savez(sys.argv[2], **results_arrays(result, simulation),
                 work=part.part.work if part is not None else np.zeros(0, np.int64),
                 levels=part.levels if part is not None else np.zeros(0, np.int64),
                 lookahead=part.lookahead if part is not None else -1,
                 split=part.split if part is not None else False,
                 cap=part.cap if part is not None else 0)
