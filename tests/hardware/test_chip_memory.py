"""SRAM banks and per-core limits in chip descriptions: schema, pricing, mapper checks."""

import copy
from dataclasses import replace
from importlib import resources

import numpy as np
import pytest
import yaml

from aersim.hardware import (
    OP_KINDS,
    ChipSpecError,
    MappingError,
    chip_from_dict,
    load_chip,
    map_network,
    price,
    sram_from_cacti,
)
from aersim.hardware.energy import N_COUNTED, price_vector_pj
from aersim.hardware.mapping import fan_in_out
from aersim.models import InputParams, LIFParams, Network


def minimal_dict():
    text = (resources.files("aersim.hardware") / "presets" / "minimal.yaml").read_text()
    return yaml.safe_load(text)


def chip_with(**core):
    d = minimal_dict()
    d["core"].update(core)
    return chip_from_dict(d, "test.yaml")


def two_layer(n_in=6, n_out=4, conn=None):
    """``n_in`` inputs -> ``n_out`` LIF neurons with the given (pre, post) pairs (default: all)."""
    net = Network()
    net.add_population("in", n_in, InputParams())
    net.add_population("out", n_out, LIFParams())
    if conn is None:
        conn = [(i, j) for i in range(n_in) for j in range(n_out)]
    pre, post = np.array(conn).T
    net.connect("in", "out", pre, post, np.ones(len(conn)), 1_000_000)
    net.inputs, net.outputs = ["in"], ["out"]
    return net


# -- schema ----------------------------------------------------------------------------------

def test_absent_sections_keep_todays_core():
    chip = load_chip("minimal")
    c = chip.core
    assert (c.crossbar, c.sram, c.crossbars_per_core, c.max_fan_in, c.max_fan_out) == \
        (None, None, 0, 0, 0)


def test_sram_cacti_form_round_trip():
    chip = chip_with(sram={"size_kb": 64, "word_bits": 32, "flavour": "lop", "node_nm": 22},
                     synapse_format="dense", weight_bits=4, index_bits=7,
                     max_fan_in=100, max_fan_out=200)
    assert chip.core.sram == sram_from_cacti(64, 32, "lop", 22)
    assert chip.core.sram.read_energy_pj == 2.78 and chip.core.sram.leakage_mw == 3.17
    assert (chip.core.synapse_format, chip.core.weight_bits, chip.core.index_bits,
            chip.core.max_fan_in, chip.core.max_fan_out) == ("dense", 4, 7, 100, 200)
    assert "sram 64 KB" in chip.summary()


def test_sram_explicit_form_and_default_index_bits():
    chip = chip_with(sram={"size_kb": 2, "word_bits": 64, "read_energy_pj": 1.5,
                           "leakage_mw": 0.25})
    s = chip.core.sram
    assert (s.size_bytes, s.word_bits, s.read_energy_pj, s.write_energy_pj, s.leakage_mw) == \
        (2048, 64, 1.5, 1.5, 0.25)
    assert chip.core.index_bits == 10          # log2(1024 neurons per core)


@pytest.mark.parametrize("core, match", [
    ({"sram": {"size_kb": 64, "flavour": "fast"}},
     r"test.yaml: core.sram: flavour = 'fast' is not allowed; expected one of \('hp', 'lop', "
     r"'lstp'\)"),
    ({"sram": {"size_kb": 64, "flavour": "lop", "read_energy_pj": 1.0}},
     r"test.yaml: core.sram mixes CACTI keys \(flavour\) with explicit costs \(read_energy_pj\)"),
    ({"sram": {"size_kb": 64, "word_bits": 32, "read_energy_pj": 1.0}},
     r"test.yaml: missing key 'core.sram.leakage_mw'"),
    ({"sram": {"sise_kb": 64}}, r"unknown key 'core.sram.sise_kb'; did you mean 'size_kb'\?"),
    ({"sram": {"size_kb": -1}}, r"core.sram.size_kb = -1 is not allowed; expected a size in KB"),
    ({"synapse_format": "csr"},
     r"test.yaml: core.synapse_format = 'csr' is not allowed; expected one of \('dense', "
     r"'sparse', 'conv'\)"),
    ({"weight_bits": 0}, r"core.weight_bits = 0 is not allowed; expected an integer in 1 .. 64"),
    ({"max_fan_in": -5}, r"core.max_fan_in = -5 is not allowed; expected an integer >= 0"),
    ({"max_fan_out": 1.5}, r"core.max_fan_out = 1.5 is not valid"),
    ({"crossbars_per_core": 4}, r"core.crossbars_per_core = 4 needs a core.crossbar section"),
])
def test_schema_errors_name_file_key_value_and_rule(core, match):
    with pytest.raises(ChipSpecError, match=match):
        chip_with(**core)


# -- pricing ---------------------------------------------------------------------------------

def test_price_derives_sram_counts_by_hand():
    # 8-bit weights + 10-bit index = 18 bits: one entry per 32-bit word, 1 read per synapse.
    chip = chip_with(sram={"size_kb": 2, "word_bits": 32, "read_energy_pj": 2.0,
                           "write_energy_pj": 3.0, "leakage_mw": 0.5},
                     weight_bits=8, index_bits=10, synapse_format="sparse")
    counts = np.zeros((chip.n_cores, N_COUNTED), dtype=np.int64)
    syn, upd, msg_in = OP_KINDS.index("synaptic_op"), OP_KINDS.index("neuron_update"), \
        OP_KINDS.index("message_in")
    counts[0, syn], counts[0, upd], counts[0, msg_in] = 100, 7, 5
    counts[3, syn], counts[3, upd] = 40, 2
    ledger = price(counts, chip, duration_ps=1_000_000, n_barriers=0)
    reads_0, reads_3 = 100 + 5 + 7, 40 + 2       # per synapse + per message + per update
    writes_0, writes_3 = 7, 2
    by_op = ledger.by_op_j()
    assert by_op["sram_read"] == pytest.approx((reads_0 + reads_3) * 2.0e-12)
    assert by_op["sram_write"] == pytest.approx((writes_0 + writes_3) * 3.0e-12)
    assert ledger.ops[0, OP_KINDS.index("sram_read")] == reads_0
    assert set(ledger.derived) == {"sram_read", "sram_write"}
    base = 100 * 23.6 + 7 * 52.0 + 40 * 23.6 + 2 * 52.0
    assert ledger.dynamic_j == pytest.approx((base + 154 * 2.0 + 9 * 3.0) * 1e-12)
    # Power gating (default): only the 2 cores with neuron work leak and draw static power.
    leak = 2 * 0.5e-3 * 1e-6                         # 2 cores x 0.5 mW x 1 us
    assert ledger.sram_leakage_j == pytest.approx(leak)
    assert ledger.static_j == pytest.approx(0.0065 * 2 / 16 * 1e-6 + leak)
    whole = price(counts, replace(chip, power_gating=False), duration_ps=1_000_000)
    leak = 16 * 0.5e-3 * 1e-6                        # 16 cores x 0.5 mW x 1 us
    assert whole.sram_leakage_j == pytest.approx(leak)
    assert whole.static_j == pytest.approx(0.0065 * 1e-6 + leak)


def test_packed_weights_read_fraction_of_a_word():
    # dense 4-bit weights: 8 per 32-bit word, so 1/8 word read per synaptic op.
    chip = chip_with(sram={"size_kb": 4, "word_bits": 32, "read_energy_pj": 1.0,
                           "leakage_mw": 0.0}, weight_bits=4, synapse_format="dense")
    counts = np.zeros((chip.n_cores, len(OP_KINDS)), dtype=np.int64)
    counts[1, OP_KINDS.index("synaptic_op")] = 80
    ledger = price(counts, chip, 0)
    assert ledger.by_op_count()["sram_read"] == 10.0


def test_engine_counts_win_over_derivation():
    chip = chip_with(sram={"size_kb": 4, "word_bits": 32, "read_energy_pj": 1.0,
                           "leakage_mw": 0.0})
    counts = np.zeros((chip.n_cores, len(OP_KINDS)), dtype=np.int64)
    counts[:, OP_KINDS.index("synaptic_op")] = 50
    counts[2, OP_KINDS.index("sram_read")] = 3
    ledger = price(counts, chip, 0)
    assert ledger.ops[:, OP_KINDS.index("sram_read")].sum() == 3
    assert "sram_read" not in ledger.derived and "sram_write" not in ledger.derived


def test_chips_without_memory_price_as_before():
    chip = load_chip("loihi_like")
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 500, size=(chip.n_cores, N_COUNTED))
    ledger = price(counts, chip, 5_000_000, 3)
    expected = (counts * price_vector_pj(chip)[:N_COUNTED]).sum() * 1e-12
    assert ledger.dynamic_j == pytest.approx(expected)
    assert ledger.derived == () and ledger.sram_leakage_j == 0.0
    assert ledger.static_j == chip.static_power_w * 5_000_000 * 1e-12


# -- mapper ----------------------------------------------------------------------------------

def test_sram_capacity_error():
    # 64 synapses per core x 18-bit entries = 64 words = 256 bytes; the bank holds 128.
    chip = chip_with(neurons=4, sram={"size_kb": 0.125, "word_bits": 32, "read_energy_pj": 1.0,
                                      "leakage_mw": 0.0}, weight_bits=8, index_bits=10)
    net = two_layer(n_in=16, n_out=4)
    with pytest.raises(MappingError, match=r"core 4 needs 256 bytes of synapse memory but chip "
                       r"'minimal' allows 128 per core by core.sram.size_kb \(sparse format, "
                       r"8-bit weights, 32-bit words\) \(128 too many\); spread the "
                       r"post-synaptic neurons"):
        map_network(net, chip)
    # 4-bit dense weights: 16 x 4 = 64 entries, 8 per word = 8 words = 32 bytes: fits.
    small = chip_with(neurons=4, sram={"size_kb": 0.125, "word_bits": 32,
                                       "read_energy_pj": 1.0, "leakage_mw": 0.0},
                      weight_bits=4, synapse_format="dense")
    m = map_network(net, small)
    assert m.sram_bytes_per_core[4] == 32 and m.sram_bytes_per_core[:4].sum() == 0


def test_fan_in_and_fan_out_by_hand():
    # 6 inputs on core 0 (neurons=6), 4 outputs: out 0..3 on core 1. Inputs 0-2 -> out 0,
    # input 3 -> out 1 and 2, inputs 4, 5 -> nothing.
    conn = [(0, 0), (1, 0), (2, 0), (3, 1), (3, 2), (3, 1)]
    net = two_layer(6, 4, conn)
    core_of = np.array([0] * 6 + [1, 1, 2, 2], dtype=np.int32)
    fan_in, fan_out = fan_in_out(net, core_of, 4)
    assert fan_in.tolist() == [0, 4, 1, 0]       # core 1 hears 0..3; core 2 hears input 3
    assert fan_out.tolist() == [5, 0, 0, 0]       # (0,c1) (1,c1) (2,c1) (3,c1) (3,c2)


def test_fan_in_error():
    chip = chip_with(neurons=6, max_fan_in=3)
    net = two_layer(6, 4, [(0, 0), (1, 0), (2, 0), (3, 1), (3, 2)])
    with pytest.raises(MappingError, match=r"core 1 needs 4 distinct presynaptic neurons "
                       r"\(fan-in\) but chip 'minimal' allows 3 per core by core.max_fan_in "
                       r"\(1 too many\); spread the post-synaptic neurons"):
        map_network(net, chip)


def test_fan_out_error():
    chip = chip_with(neurons=2, max_fan_out=3)
    # inputs 0, 1 on core 0; each reaches outputs on cores 1 and 2: 4 edges.
    net = two_layer(2, 4, [(0, 0), (0, 2), (1, 1), (1, 3)])
    with pytest.raises(MappingError, match=r"core 0 needs 4 output edges \(fan-out: source "
                       r"neuron x destination core\) but chip 'minimal' allows 3 per core by "
                       r"core.max_fan_out \(1 too many\); place each neuron's targets"):
        map_network(net, chip)
    assert map_network(net, chip_with(neurons=2, max_fan_out=4)).fan_out_per_core[0] == 4


def test_loihi_calibrated_carries_axon_limits():
    core = load_chip("loihi_calibrated").core
    assert (core.max_fan_in, core.max_fan_out) == (4096, 4096)


def test_limits_do_not_change_mapping():
    net = two_layer(8, 8)
    plain = map_network(net, load_chip("minimal"))
    limited = map_network(net, chip_with(max_fan_in=8, max_fan_out=8))
    assert np.array_equal(plain.core_of, limited.core_of)
    assert copy.copy(limited.fan_in_per_core).max() == 8
