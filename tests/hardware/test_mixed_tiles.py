"""Chips with mixed tiles: core types by region, placement by type, prices by each core's type."""

import copy

import numpy as np
import pytest
import yaml

from aersim.hardware import ChipSpecError, MappingError, load_chip, map_network
from aersim.hardware.energy import OP_INDEX
from aersim.models import InputParams, LIFParams, Network
from aersim.simcore import PoissonInput, RunConfig, Simulation
from aersim.simcore.engine.synapse_tables import message_synapses
from tests.simcore.helpers import SMALL_CHIP

#: The small test chip on a 4 x 2 mesh of 64-neuron cores with SRAM, crossbar tiles on the
#: two right columns and one tile of a bigger-memory core type.
HYBRID_DATA = yaml.safe_load(SMALL_CHIP)
HYBRID_DATA.update(name="hybrid", mesh={"width": 4, "height": 2, "cores_per_tile": 1})
HYBRID_DATA["core"].update(neurons=64, sram={"size_kb": 64, "word_bits": 32,
                                             "read_energy_pj": 5.0, "leakage_mw": 0.5})
HYBRID_DATA["core_types"] = {
    "xbar": {"crossbar": {"preset": "pcm_aihwkit"}, "crossbars_per_core": 4,
             "energy_pj": {"synaptic_op": 0.041, "neuron_update": 0.3},
             "latency_ns": {"synaptic_op": 0.026, "message_in": 16.7}},
    "bigmem": {"neurons": 256, "sram": {"size_kb": 512, "word_bits": 32,
                                        "read_energy_pj": 12.0, "leakage_mw": 2.0}}}
HYBRID_DATA["regions"] = [{"type": "xbar", "x": [2, 3], "y": [0, 1]},
                          {"type": "bigmem", "x": [0, 0], "y": [1, 1]}]
HYBRID = yaml.safe_dump(HYBRID_DATA, sort_keys=False)
PRICE = {"core": {"synaptic_op": 23.6, "neuron_update": 52.0, "sram_read": 5.0},
         "xbar": {"synaptic_op": 0.041, "neuron_update": 0.3, "sram_read": 5.0},
         "bigmem": {"synaptic_op": 23.6, "neuron_update": 52.0, "sram_read": 12.0}}


@pytest.fixture
def chip(tmp_path):
    path = tmp_path / "hybrid.yaml"
    path.write_text(HYBRID)
    return load_chip(path)


def network() -> Network:
    """Input -> sparse -> a spiking hidden layer -> dense (all-to-all) -> an output layer."""
    rng = np.random.default_rng(0)
    net = Network()
    net.add_population("input", 40, InputParams())
    net.add_population("hidden", 200, LIFParams(tau_s=0.02, v_th=1.0))
    net.add_population("out", 30, LIFParams(tau_s=0.02, v_th=1.0))
    pre, post = np.nonzero(rng.random((40, 200)) < 0.2)
    net.connect("input", "hidden", pre, post, rng.uniform(0.2, 0.6, pre.size), 10**8)
    pre, post = np.nonzero(np.ones((200, 30)))
    net.connect("hidden", "out", pre, post, rng.normal(0.02, 0.05, pre.size), 10**8)
    net.inputs, net.outputs = ["input"], ["out"]
    return net


def test_core_types_by_region(chip):
    assert chip.core_type_names() == ("core", "xbar", "bigmem")
    assert chip.core_type_of().tolist() == [0, 0, 1, 1, 2, 0, 1, 1]
    xbar = chip.core_specs()[1]
    assert xbar.crossbar is not None and xbar.neurons == 64 and xbar.sram is not None
    assert xbar.energy_pj["synaptic_op"] == 0.041 and xbar.energy_pj["spike_out"] == 69.3
    assert xbar.latency_ps["message_in"] == 16_700
    assert chip.core_specs()[2].neurons == 256
    assert "core type xbar: 4 tiles" in chip.summary()


def test_dense_layer_on_crossbar_tiles_spiking_layers_on_digital_cores(chip):
    net = network()
    sim = Simulation(net, chip, config=RunConfig(mode="timestep", record_messages=True),
                     stimuli=[PoissonInput("input", 300.0)])
    kind = chip.core_type_of()[sim.mapping.core_of]
    lo = {name: net.offset(name) for name in net.populations}
    assert set(kind[lo["out"]:lo["out"] + 30]) == {1}            # crossbar cores
    assert set(kind[lo["hidden"]:lo["hidden"] + 200]) <= {0, 2}   # digital cores
    assert set(kind[:40]) <= {0, 2}
    res = sim.run(0.05)
    assert res.spike_counts("out").sum() > 0 and res.spike_counts("hidden").sum() > 0
    # Every core priced by its own type, from the YAML numbers.
    names = chip.core_type_names()
    ops = res.ledger.ops
    for core in np.flatnonzero(ops.sum(axis=1)):
        price = PRICE[names[chip.core_type_of()[core]]]
        for op, pj in price.items():
            k = OP_INDEX[op]
            assert res.ledger.by_core_op_j[core, k] == pytest.approx(ops[core, k] * pj * 1e-12)
    adc = ops[:, OP_INDEX["adc_conversion"]]
    xbar_cores = chip.core_type_of() == 1
    assert adc[xbar_cores].sum() == ops[xbar_cores, OP_INDEX["synaptic_op"]].sum() > 0
    assert adc[~xbar_cores].sum() == 0
    # Receiving takes each type's own time: message_in + synapses x synaptic_op.
    log = res.messages
    dest = sim.syn.msg_core[log[:, 0]]
    n_syn = message_synapses(sim.syn)[log[:, 0]]
    on_xbar = xbar_cores[dest]
    assert on_xbar.any() and (~on_xbar).any()
    service = log[:, 3] - log[:, 2]
    np.testing.assert_array_equal(service[on_xbar], 16_700 + 26 * n_syn[on_xbar])
    np.testing.assert_array_equal(service[~on_xbar], 16_000 + 3_500 * n_syn[~on_xbar])


def test_limits_are_per_type(chip, tmp_path):
    net = Network()
    net.add_population("input", 10, InputParams())
    net.add_population("wide", 200, LIFParams())   # fits whole only on the 256-neuron core
    net.connect("input", "wide", np.zeros(200, int), np.arange(200), 1.0, 0)
    mapping = map_network(net, chip)
    assert set(chip.core_type_of()[mapping.core_of[10:]]) == {2}
    placement = tmp_path / "p.json"
    placement.write_text('{"input": 0, "wide": 1}')
    with pytest.raises(MappingError, match=r"core 1 gets 200 neurons .* holds 64 per core by "
                                           r"core\.neurons"):
        map_network(net, chip, str(placement))
    placement.write_text('{"input": 0, "wide": 4}')
    assert map_network(net, chip, str(placement)).neurons_per_core[4] == 200


@pytest.mark.parametrize("edit", [
    lambda d: d["regions"][0].update(type="xbr"),
    lambda d: d["regions"][0].update(x=[2, 4]),
    lambda d: d["core_types"]["xbar"].update(crossbars_per_core=-1),
    lambda d: d["core_types"]["bigmem"].update(synapse_format="dense",
                                               crossbar={"preset": "pcm_aihwkit"}),
])
def test_bad_core_types(tmp_path, edit):
    data = copy.deepcopy(HYBRID_DATA)
    edit(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ChipSpecError) as info:
        load_chip(path)
    msg = str(info.value)
    assert str(path) in msg and ("regions[0]" in msg or "core_types." in msg), msg


def test_hybrid_preset_puts_the_dense_layer_on_its_crossbar_columns():
    chip = load_chip("hybrid_cim_like")
    kind = chip.core_type_of()
    assert chip.core_type_names() == ("core", "crossbar") and int((kind == 1).sum()) == 32
    xs, _ = chip.core_xy()
    assert set(xs[kind == 1]) == {6, 7}
    sim = Simulation(network(), chip, config=RunConfig(mode="timestep"),
                     stimuli=[PoissonInput("input", 300.0)])
    on = kind[sim.mapping.core_of]
    assert set(on[-30:]) == {1} and set(on[:-30]) == {0}
    res = sim.run(0.02)
    assert res.spike_counts("out").sum() > 0
    assert res.ledger.by_op_j()["adc_conversion"] > 0
