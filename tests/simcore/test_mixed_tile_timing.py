"""Timing by core type on chips with mixed tiles: every core updates, sends and receives at its
own type's latencies.

The fast engines are checked against the SimPy reference engine (which reads each core's type
from the chip file itself) in both modes, on a chip whose types differ in every latency, and a
tiny case against step lengths and arrival times written by hand from the chip file's numbers.
"""

import json

import numpy as np
import pytest
import yaml

from aersim.hardware import load_chip, map_network
from aersim.hardware.energy import OP_KINDS
from aersim.models import InputParams, LIFParams, Network
from aersim.models.generators import random_network
from aersim.simcore import RunConfig, Simulation, SpikeTrains
from aersim.simcore.engine.reference import run_reference
from tests.simcore.helpers import SMALL_CHIP

MS = 1_000_000_000

# Three core types on a 3 x 2 mesh of two-core tiles: `core` (minimal's Loihi figures) on
# column 0, `slow` on column 1 and `quick` on column 2, differing in every latency.
MIXED = yaml.safe_load(SMALL_CHIP)
MIXED.update(name="mixed_timing", core_types={
    "slow": {"latency_ns": {"synaptic_op": 7.0, "neuron_update": 50.0, "spike_out": 40.0,
                            "message_out": 20.0, "message_in": 25.0}},
    "quick": {"latency_ns": {"synaptic_op": 1.0, "neuron_update": 2.0, "spike_out": 3.0,
                             "message_out": 1.5, "message_in": 4.0}}},
    regions=[{"type": "slow", "x": [1, 1], "y": [0, 1]},
             {"type": "quick", "x": [2, 2], "y": [0, 1]}])
MIXED["mesh"].update(width=3, height=2, cores_per_tile=2)
MIXED["core"]["neurons"] = 24
N_INPUTS = 20


@pytest.fixture
def chip(tmp_path):
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump(MIXED))
    return load_chip(path)


def test_core_latency_table_follows_the_regions(chip):
    table = chip.core_latency_ps(("neuron_update", "spike_out", "message_out", "neuron_idle"))
    xs, _ = chip.core_xy()
    want = {0: [5300, 30000, 5100, 5300], 1: [50000, 40000, 20000, 50000],
            2: [2000, 3000, 1500, 2000]}
    for c in range(chip.n_cores):
        assert table[c].tolist() == want[int(xs[c])]


@pytest.mark.parametrize("mode", ["timestep", "async"])
def test_fast_engine_agrees_with_the_reference_on_mixed_tiles(chip, mode):
    net = random_network(n_neurons=200, n_inputs=N_INPUTS, p_connect=0.1, w_exc=0.35,
                         reset="subtract", t_ref_ms=0.5, seed=3)
    mapping = map_network(net, chip, "balanced")
    kind = chip.core_type_of()[mapping.core_of]
    assert set(kind[N_INPUTS:].tolist()) == {0, 1, 2}
    rng = np.random.default_rng(11)
    duration = 20 * MS
    k = int(N_INPUTS * 200.0 * duration * 1e-12)
    stim = SpikeTrains("input", rng.integers(0, duration, k), rng.integers(0, N_INPUTS, k))
    cfg = RunConfig(mode=mode, seed=0, record_messages=True)
    sim = Simulation(net, chip, mapping=mapping, config=cfg, stimuli=[stim])
    fast = sim.run(duration_ps=duration)
    ref = run_reference(net, chip, mapping, cfg, [stim], duration)
    assert fast.n_spikes > 500 and fast.messages.shape[0] > 1000
    # Every type sends and receives.
    senders = fast.counts[:, OP_KINDS.index("spike_out")] > 0
    receivers = fast.counts[:, OP_KINDS.index("message_in")] > 0
    types = chip.core_type_of()
    assert set(types[senders].tolist()) == set(types[receivers].tolist()) == {0, 1, 2}
    np.testing.assert_array_equal(fast.spikes_t_ps, ref.spikes_t_ps)
    np.testing.assert_array_equal(fast.spikes_neuron, ref.spikes_neuron)
    np.testing.assert_array_equal(fast.messages, ref.messages)
    np.testing.assert_array_equal(fast.counts, ref.counts)
    np.testing.assert_array_equal(fast.step_duration_ps, ref.step_duration_ps)
    np.testing.assert_array_equal(sim.v, ref.v)


def _tiny(chip, tmp_path, mode):
    """One input spike from a `slow` core (which also updates three neurons) to two neurons
    of a `core` core one tile west."""
    net = Network()
    net.add_population("input", 1, InputParams())
    net.add_population("busy", 3, LIFParams(v_th=100.0))
    net.add_population("target", 2, LIFParams(v_th=100.0))
    net.connect("input", "target", [0, 0], [0, 1], 1.0, MS // 10)
    placement = tmp_path / "placement.json"
    # Core 2 is tile (1, 0) (slow), core 0 tile (0, 0) (core).
    placement.write_text(json.dumps({"input": 2, "busy": 2, "target": 0}))
    mapping = map_network(net, chip, str(placement))
    cfg = RunConfig(mode=mode, dt_ps=MS // 10, record_messages=True)
    return Simulation(net, chip, mapping=mapping, config=cfg,
                      stimuli=[SpikeTrains("input", [0], [0])]).run(duration_ps=MS // 10)


def test_step_length_by_hand(chip, tmp_path):
    res = _tiny(chip, tmp_path, "timestep")
    # The input spike leaves the slow core at once (no neuron before it in the pass):
    # spike_out 40 + message_out 20; router 2.1 and one hop west 4.1 to core 0, which is
    # done with its own pass (2 x 5.3 ns) by then and serves it: message_in 16 + 2 x 3.5.
    arrive_ns = 40 + 20 + 2.1 + 4.1
    assert res.messages.tolist() == [[0, round(arrive_ns * 1000), round(arrive_ns * 1000),
                                      round((arrive_ns + 16 + 2 * 3.5) * 1000)]]
    # The slow core sends (60 ns) and then updates its three neurons (3 x 50 ns): it ends the
    # step, before the barrier of 113 ns.
    assert res.step_duration_ps.tolist() == [round((60 + 3 * 50 + 113) * 1000)]


def test_arrival_by_hand_async(chip, tmp_path):
    res = _tiny(chip, tmp_path, "async")
    arrive_ps = round((40 + 20 + 2.1 + 4.1) * 1000)
    assert res.messages.tolist() == [[0, arrive_ps, arrive_ps, arrive_ps + 23_000]]


def test_dense_synapses_priced_by_one_type_only(tmp_path):
    """A storage kind that only a non-default type prices is still counted apart, and that
    type's cores serve it at their own latency."""
    d = yaml.safe_load(yaml.safe_dump(MIXED))
    d["core_types"]["slow"]["latency_ns"]["synaptic_op_dense"] = 500.0
    d["core_types"]["slow"]["energy_pj"] = {"synaptic_op_dense": 50.0}
    path = tmp_path / "dense.yaml"
    path.write_text(yaml.safe_dump(d))
    chip = load_chip(path)
    net = Network()
    net.add_population("input", 1, InputParams())
    net.add_population("target", 2, LIFParams(v_th=100.0))
    net.connect("input", "target", [0, 0], [0, 1], 1.0, MS // 10)
    placement = tmp_path / "placement.json"
    placement.write_text(json.dumps({"input": 0, "target": 2}))     # core 2: a slow core
    cfg = RunConfig(mode="timestep", dt_ps=MS // 10, record_messages=True)
    res = Simulation(net, chip, mapping=map_network(net, chip, str(placement)), config=cfg,
                     stimuli=[SpikeTrains("input", [0], [0])]).run(duration_ps=MS // 10)
    ops = dict(zip(OP_KINDS, res.counts.sum(axis=0).tolist(), strict=True))
    assert ops["synaptic_op_dense"] == 2 and ops["synaptic_op"] == 0
    (_, _, start, end), = res.messages.tolist()
    assert end - start == (25 + 2 * 500) * 1000      # slow's message_in and dense synapses
