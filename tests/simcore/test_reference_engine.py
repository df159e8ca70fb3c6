"""The fast engine against the SimPy reference engine: same spikes, messages, counts, timing.

Every scenario runs through ``Simulation`` (the Numba kernels) and ``run_reference`` (plain
SimPy processes) and must agree exactly: spike trains, message arrival and service times,
per-core operation counts, step durations and, bit for bit, the final membrane potentials (which
catches a different order of floating-point additions that happens not to change a spike).
The networks span several cores on several tiles, so messages hop east-west and north-south.
"""

from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import yaml

from aersim.hardware.chip import chip_from_dict
from aersim.hardware.energy import OP_KINDS
from aersim.models.generators import random_network
from aersim.models.network import Network
from aersim.models.neurons.lif import LIFParams
from aersim.models.neurons.source import InputParams
from aersim.simcore.engine.reference import run_reference
from aersim.simcore.errors import ConfigError
from aersim.simcore.run.config import RunConfig
from aersim.simcore.run.simulation import Simulation
from aersim.simcore.run.stimulus import PoissonDrive, PoissonInput, SpikeTrains

MS = 1_000_000_000
N_INPUTS = 20
REPO = Path(__file__).resolve().parents[2]


def make_chip(neurons=32, width=3, height=3, cores_per_tile=2, topology="mesh",
              zero_latency=False):
    """The minimal preset, resized so that a few hundred neurons fill several tiles."""
    text = (resources.files("aersim.hardware") / "presets" / "minimal.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    data["core"]["neurons"] = neurons
    data["mesh"].update(width=width, height=height, cores_per_tile=cores_per_tile,
                        topology=topology)
    if zero_latency:
        # Every message is served the instant it is sent, so inputs on a 0.1 ms grid reach
        # their targets in batches of simultaneous deliveries.
        data["core"]["latency_ns"] = {k: 0.0 for k in data["core"]["latency_ns"]}
        data["noc"]["hop_latency_ns"] = {"east_west": 0.0, "north_south": 0.0}
        data["noc"]["router_latency_ns"] = 0.0
    return chip_from_dict(data, "test chip")


def input_trains(seed, duration_ps, rate_hz=200.0, grid_ps=1):
    """Random spikes of the input population, drawn with numpy from ``seed``."""
    rng = np.random.default_rng(seed + 1000)
    k = int(N_INPUTS * rate_hz * duration_ps * 1e-12)
    t = rng.integers(0, duration_ps // grid_ps, k) * grid_ps
    return SpikeTrains("input", t, rng.integers(0, N_INPUTS, k))


def run_both(net, chip, mode, stimuli, duration_ps, seed=0):
    cfg = RunConfig(mode=mode, seed=seed, record_messages=True)
    sim = Simulation(net, chip, config=cfg, stimuli=stimuli)
    fast = sim.run(duration_ps=duration_ps)
    ref = run_reference(net, chip, sim.mapping, cfg, stimuli, duration_ps)
    return sim, fast, ref


def assert_same(sim, fast, ref):
    assert fast.n_spikes > 0 and fast.messages.shape[0] > 0, "a scenario must be active"
    np.testing.assert_array_equal(fast.spikes_t_ps, ref.spikes_t_ps)
    np.testing.assert_array_equal(fast.spikes_neuron, ref.spikes_neuron)
    np.testing.assert_array_equal(fast.messages, ref.messages)
    for k, name in enumerate(OP_KINDS):
        np.testing.assert_array_equal(fast.counts[:, k], ref.counts[:, k], err_msg=name)
    np.testing.assert_array_equal(fast.step_duration_ps, ref.step_duration_ps)
    np.testing.assert_array_equal(sim.v, ref.v)


# Random recurrent networks: inputs, 20 % inhibitory neurons, delays 0.5-3 ms.
SCENARIOS = {
    "value-reset": dict(w_exc=0.3, reset="value", t_ref_ms=2.0),
    "subtract-reset": dict(w_exc=0.4, reset="subtract", t_ref_ms=0.5),
    "bias-self-firing": dict(bias=1.3, reset="value", t_ref_ms=1.0),
    "bias-subtract": dict(bias=1.3, w_exc=0.4, reset="subtract", t_ref_ms=1.0),
}


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("mode", ["timestep", "async"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_random_network_agrees(scenario, mode, seed):
    net = random_network(n_neurons=200, n_inputs=N_INPUTS, seed=seed, **SCENARIOS[scenario])
    duration = 20 * MS
    sim, fast, ref = run_both(net, make_chip(), mode, [input_trains(seed, duration)], duration)
    assert_same(sim, fast, ref)
    assert len(np.unique(sim.mapping.core_of)) >= 7    # 220 neurons on 7 cores, 4 tiles
    if scenario.startswith("bias") and mode == "async":
        # Neurons fire on their own: some spikes are not caused by any delivery.
        assert fast.counts[:, OP_KINDS.index("neuron_update")].sum() > 0
        assert np.isin(np.arange(N_INPUTS, 220), fast.spikes_neuron).sum() > 150


@pytest.mark.parametrize("seed", [1, 2])
def test_simultaneous_deliveries_agree(seed):
    """Zero-latency chip, inputs on the 0.1 ms grid: many inputs share one instant."""
    net = random_network(n_neurons=200, n_inputs=N_INPUTS, seed=seed, w_exc=0.4,
                         reset="subtract", t_ref_ms=0.5)
    duration = 20 * MS
    trains = input_trains(seed, duration, grid_ps=MS // 10)
    sim, fast, ref = run_both(net, make_chip(zero_latency=True), "async", [trains], duration)
    assert_same(sim, fast, ref)


@pytest.mark.parametrize("mode", ["timestep", "async"])
def test_poisson_input_and_drive_on_torus_agree(mode):
    """Random inputs and a background drive, drawn from the run's seed, on a torus."""
    net = random_network(n_neurons=150, n_inputs=N_INPUTS, seed=3, w_exc=0.3, t_ref_ms=1.0)
    chip = make_chip(neurons=20, width=3, height=2, topology="torus")
    stimuli = [PoissonInput("input", 100.0), PoissonDrive("neurons", 200.0, 0.3)]
    sim, fast, ref = run_both(net, chip, mode, stimuli, 20 * MS, seed=7)
    assert_same(sim, fast, ref)
    assert fast.counts[:, OP_KINDS.index("stim_in")].sum() > 0
    assert fast.counts[:, OP_KINDS.index("hop_west")].sum() > 0     # wrapped the short way


def test_euler_timestep_agrees():
    net = random_network(n_neurons=150, n_inputs=N_INPUTS, seed=4, w_exc=0.3,
                         integrator="euler", t_ref_ms=1.0)
    duration = 20 * MS
    sim, fast, ref = run_both(net, make_chip(), "timestep", [input_trains(4, duration)],
                              duration)
    assert_same(sim, fast, ref)


def test_zero_delay_feed_forward_timestep_agrees():
    """A zero-delay synapse reaches a later population within the same step."""
    rng = np.random.default_rng(5)
    net = Network()
    net.add_population("input", N_INPUTS, InputParams())
    net.add_population("hidden", 60, LIFParams(tau_s=0.01, v_th=1.0, t_ref_s=0.0005))
    net.add_population("out", 40, LIFParams(tau_s=0.01, v_th=1.0, reset="subtract"))
    for pre, post, n_pre, n_post, delay in (("input", "hidden", N_INPUTS, 60, 0),
                                            ("hidden", "out", 60, 40, 0),
                                            ("out", "hidden", 40, 60, MS // 10)):
        src, dst = np.nonzero(rng.random((n_pre, n_post)) < 0.2)
        net.connect(pre, post, src, dst, rng.uniform(0.2, 0.6, src.size), delay)
    duration = 20 * MS
    sim, fast, ref = run_both(net, make_chip(), "timestep", [input_trains(5, duration)],
                              duration)
    assert_same(sim, fast, ref)


def test_reference_rejects_what_it_cannot_order():
    net = random_network(n_neurons=20, n_inputs=4, seed=0)
    with pytest.raises(ConfigError, match="not a whole number of steps"):
        run_reference(net, make_chip(), None, RunConfig(mode="timestep"), [], MS // 20 + 1)
    euler = random_network(n_neurons=20, n_inputs=4, seed=0, integrator="euler")
    with pytest.raises(ConfigError, match="Euler"):
        run_reference(euler, make_chip(), None, RunConfig(mode="async"), [], MS)


# -- bursts larger than the event queue's initial capacity --------------------------------------
# The fast engine must grow its queue (between events, or in the middle of a step) and agree
# with the reference; these scenarios once overflowed it.


def overflow_case(name):
    """Scenarios that push more events at once than the fast engine reserves room for."""
    chip = make_chip(neurons=64, width=5, height=4, cores_per_tile=1)
    net = Network()
    if name == "timestep-message-burst":
        # 400 input spikes in one step, each one message to each of 14 cores: 5600 messages
        # in the step's event queue, whose initial capacity is 4096.
        net.add_population("input", 400, InputParams())
        net.add_population("neurons", 880, LIFParams(tau_s=0.01, v_th=1.0))
        src, dst = np.repeat(np.arange(400), 880), np.tile(np.arange(880), 400)
        net.connect("input", "neurons", src, dst, 0.001, MS // 10)
        stimuli = [SpikeTrains("input", np.zeros(400, np.int64), np.arange(400))]
        return net, chip, "timestep", stimuli, MS // 10
    if name == "async-batch-checks":
        # 3500 self-driven neurons hold 3500 pending checks; one delivery touches 1000 of them
        # and each touched neuron queues a new check: 1000 pushes in one batch.
        net.add_population("input", 1, InputParams())
        net.add_population("neurons", 3500, LIFParams(
            tau_s=0.01, v_th=1.0, bias=1.05,
            v_init=np.random.default_rng(0).uniform(0.0, 0.5, 3500)))
        net.connect("input", "neurons", np.zeros(1000, np.int64), np.arange(1000), 0.1, MS // 10)
        chip = make_chip(neurons=1024, width=2, height=2, cores_per_tile=1)
        return net, chip, "async", [SpikeTrains("input", [0], [0])], MS
    if name == "async-many-self-driven":
        # The first crossing of each of 5000 self-driven neurons is queued at set-up, without
        # a capacity check, into a queue of 4096 entries.
        net.add_population("input", 1, InputParams())
        net.add_population("neurons", 5000, LIFParams(tau_s=0.01, v_th=1.0, bias=1.05))
        net.connect("input", "neurons", [0], [0], 0.1, MS // 10)
        chip = make_chip(neurons=1024, width=3, height=2, cores_per_tile=1)
        return net, chip, "async", [SpikeTrains("input", [0], [0])], MS
    raise KeyError(name)


@pytest.mark.parametrize("name", ["timestep-message-burst", "async-batch-checks",
                                  "async-many-self-driven"])
def test_event_queue_growth_agrees(name):
    net, chip, mode, stimuli, duration = overflow_case(name)
    sim = Simulation(net, chip, config=RunConfig(mode=mode, record_messages=True),
                     stimuli=stimuli)
    r = sim.run(duration_ps=duration)
    fast = {"t": r.spikes_t_ps, "n": r.spikes_neuron, "m": r.messages, "c": r.counts,
            "s": r.step_duration_ps, "v": sim.v}
    net, chip, mode, stimuli, duration = overflow_case(name)
    ref = run_reference(net, chip, None, RunConfig(mode=mode), stimuli, duration)
    np.testing.assert_array_equal(fast["t"], ref.spikes_t_ps)
    np.testing.assert_array_equal(fast["n"], ref.spikes_neuron)
    np.testing.assert_array_equal(fast["m"], ref.messages)
    np.testing.assert_array_equal(fast["c"], ref.counts)
    np.testing.assert_array_equal(fast["s"], ref.step_duration_ps)
    np.testing.assert_array_equal(fast["v"], ref.v)
