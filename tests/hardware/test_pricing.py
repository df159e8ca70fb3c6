"""Prices and timelines by what a core does: idle neurons, input spikes, synapse storage, the
barrier by tiles in use, concurrent receiving, power gating and paced static energy, and the
per-tick versus per-event neuron price of spinnaker2_like. No outside program needed."""

from dataclasses import replace
from importlib import resources

import numpy as np
import pytest
import yaml

from aersim.hardware import Mapping, chip_from_dict, load_chip
from aersim.hardware.energy import N_OPS, OP_INDEX, paced_duration_ps, price, price_vector_pj
from aersim.hardware.errors import ChipSpecError
from aersim.models import InputParams, LIFParams, Network
from aersim.simcore.run.config import RunConfig
from aersim.simcore.run.simulation import Simulation
from aersim.simcore.run.stimulus import SpikeTrains

DT_PS = 1_000_000


def minimal(**changes):
    d = yaml.safe_load((resources.files("aersim.hardware") / "presets" / "minimal.yaml")
                       .read_text())
    for path, value in changes.items():
        *keys, last = path.split(".")
        node = d
        for k in keys:
            node = node.setdefault(k, {})
        node[last] = value
    return d


def _run(chip, net, core_of, steps, stimuli=()):
    core_of = np.asarray(core_of, dtype=np.int32)
    per_core = np.bincount(core_of, minlength=chip.n_cores).astype(np.int32)
    mapping = Mapping("given", core_of, per_core, np.zeros(chip.n_cores, dtype=np.int64))
    sim = Simulation(net, chip, mapping=mapping, stimuli=stimuli,
                     config=RunConfig(mode="timestep", dt_ps=DT_PS))
    return sim.run(duration_ps=steps * DT_PS)


def _lif(v_inf):
    return LIFParams(tau_s=2 * DT_PS * 1e-12, v_th=1.0, bias=v_inf, integrator="euler")


def test_barrier_table_validation_and_lookup():
    chip = chip_from_dict(minimal(**{"barrier": {"latency_by_tiles_ns": {1: 100, 4: 300},
                                                 "energy_by_tiles_pj": {2: 5.0}}}))
    assert [chip.barrier_for_tiles(n) for n in (1, 2, 3, 4, 9)] == [
        (100_000, 5.0), (100_000, 5.0), (100_000, 5.0), (300_000, 5.0), (300_000, 5.0)]
    with pytest.raises(ChipSpecError, match="latency_by_tiles_ns"):
        chip_from_dict(minimal(**{"barrier": {"latency_by_tiles_ns": {0: 100}}}))
    with pytest.raises(ChipSpecError, match="not both"):
        chip_from_dict(minimal(**{"barrier.latency_by_tiles_ns": {1: 100}}))


def test_flow_congestion_needs_concurrent_receive():
    with pytest.raises(ChipSpecError, match="concurrent"):
        chip_from_dict(minimal(**{"noc.congestion": "flow", "noc.buffer_flits": 4}))


def test_idle_neurons_pay_the_idle_price_and_time():
    chip = chip_from_dict(minimal(**{"core.energy_pj.neuron_idle": 1.0,
                                     "core.latency_ns.neuron_idle": 1.0}))
    net = Network()
    net.add_population("driven", 3, _lif(0.5))      # bias: updated, never fire
    net.add_population("quiet", 5, _lif(0.0))       # no bias, no input: idle every step
    res = _run(chip, net, [0] * 8, steps=4)
    ops = res.op_totals()
    assert ops["neuron_update"] == 12 and ops["neuron_idle"] == 20
    e = chip.core.energy_pj
    assert res.ledger.by_op_j()["neuron_idle"] == pytest.approx(20 * 1e-12)
    assert res.ledger.by_op_j()["neuron_update"] == pytest.approx(12 * e["neuron_update"] * 1e-12)
    lat = chip.core.latency_ps
    assert np.all(res.step_duration_ps == 3 * lat["neuron_update"] + 5 * 1000
                  + chip.barrier_latency_ps)


def test_input_spikes_priced_as_inputs():
    chip = chip_from_dict(minimal(**{"core.energy_pj.input_spike": 0.0,
                                     "core.latency_ns.input_spike": 0.0}))
    net = Network()
    net.add_population("in", 2, InputParams())
    net.add_population("out", 2, _lif(0.0))
    net.connect("in", "out", [0, 1], [0, 1], 0.1, DT_PS)
    stim = SpikeTrains("in", np.array([0, DT_PS, DT_PS]), np.array([0, 0, 1]))
    res = _run(chip, net, [0, 0, 1, 1], steps=3, stimuli=[stim])
    ops = res.op_totals()
    assert ops["input_spike"] == 3 and ops["spike_out"] == 0
    assert res.ledger.by_op_j()["input_spike"] == 0.0


def test_synapse_prices_by_storage_kind():
    chip = chip_from_dict(minimal(**{"core.energy_pj.synaptic_op_dense": 2.0,
                                     "core.energy_pj.synaptic_op_conv": 3.0,
                                     "core.latency_ns.synaptic_op_dense": 1.0}))
    net = Network()
    net.add_population("a", 2, _lif(4.0))           # fire every step
    net.add_population("b", 3, _lif(0.0))
    net.add_population("c", 3, _lif(0.0))
    net.connect("a", "b", [0, 0, 0, 1, 1, 1], [0, 1, 2, 0, 1, 2], 0.0, DT_PS)   # dense
    net.connect("a", "c", [0, 1], [0, 2], 0.0, DT_PS)                          # sparse
    res = _run(chip, net, [0, 0, 1, 1, 1, 2, 2, 2], steps=2)   # runs price by storage
    ops = res.op_totals()
    assert ops["synaptic_op_dense"] == 12 and ops["synaptic_op"] == 4
    by = res.ledger.by_op_j()
    assert by["synaptic_op_dense"] == pytest.approx(12 * 2.0e-12)


def test_barrier_follows_tiles_in_use():
    chip = chip_from_dict(minimal(**{"barrier": {"latency_by_tiles_ns": {1: 100, 2: 700}},
                                     "mesh.cores_per_tile": 2}))
    net = Network()
    net.add_population("p", 2, _lif(0.0))
    one = _run(chip, net, [0, 1], steps=1)
    two = _run(chip, net, [0, chip.cores_per_tile], steps=1)
    assert one.step_duration_ps[0] - 100_000 == two.step_duration_ps[0] - 700_000


def test_concurrent_receive_overlaps_the_update_pass():
    serial = chip_from_dict(minimal())
    conc = chip_from_dict(minimal(**{"core.receive": "concurrent"}))
    net = Network()
    net.add_population("src", 1, _lif(4.0))
    net.add_population("dst", 50, _lif(0.0))
    net.connect("src", "dst", [0] * 50, np.arange(50), 0.0, 0)
    core_of = [0] + [1] * 50
    a = _run(serial, net, core_of, steps=1).step_duration_ps[0]
    b = _run(conc, net, core_of, steps=1).step_duration_ps[0]
    lat = serial.core.latency_ps
    pass_1 = 50 * lat["neuron_update"]
    assert b < a and a - b == pytest.approx(min(pass_1, a - serial.barrier_latency_ps), abs=pass_1)


def test_power_gating_and_paced_static():
    chip = chip_from_dict(minimal(static_power_w=0.16))
    counts = np.zeros((chip.n_cores, N_OPS), dtype=np.int64)
    counts[[0, 5], OP_INDEX["neuron_update"]] = 10
    gated = price(counts, chip, 1_000_000, paced_ps=paced_duration_ps([400_000, 600_000],
                                                                         2_000_000))
    assert gated.static_power_w == pytest.approx(0.16 * 2 / chip.n_cores)
    assert gated.static_j == pytest.approx(gated.static_power_w * 1e-6)
    assert gated.static_paced_j == pytest.approx(gated.static_power_w * 4e-6)
    whole = price(counts, replace(chip, power_gating=False), 1_000_000)
    assert whole.static_j == pytest.approx(0.16e-6)
    assert paced_duration_ps([5, 20, 1], 10) == 40


def test_spinnaker2_prices_ticks_in_timestep_and_events_in_async():
    chip = load_chip("spinnaker2_like")
    assert price_vector_pj(chip, "timestep")[OP_INDEX["neuron_update"]] == 2190.0
    assert price_vector_pj(chip, "async")[OP_INDEX["neuron_update"]] == 450.0
    assert chip.noc.routing_table_entries == 16384
    assert chip.noc.hop_energy_pj == {"east_west": 1.5, "north_south": 1.5}
