"""SRAM banks: CACTI 7 numbers at table points, interpolation, synapse-memory sizing, errors."""

import numpy as np
import pytest

from aersim.hardware.errors import ChipSpecError, HardwareError
from aersim.hardware.sram import (
    FLAVOURS,
    SIZES_KB,
    SramSpec,
    sram_from_cacti,
    synapse_memory_bytes,
    synapse_reads_per_op,
)

# (node, flavour, size KB, word bits) -> (read pJ, leakage mW, access ns), copied by hand from
# the CACTI 7 tables of the hardware-numbers note §3.1.
TABLE_POINTS = {
    (22, "lop", 64, 32): (2.78, 3.17, 0.64),
    (22, "hp", 4, 64): (1.09, 0.423, 0.10),
    (22, "lstp", 1024, 64): (23.47, 0.126, 2.57),
    (32, "lstp", 1024, 64): (52.03, 0.0888, 3.31),
    (32, "lop", 128, 32): (5.15, 9.36, 1.00),
    (45, "hp", 8, 32): (4.66, 6.78, 0.29),
    (45, "lop", 256, 64): (20.31, 2.21, 1.87),
}


@pytest.mark.parametrize("key", sorted(TABLE_POINTS))
def test_table_points_are_exact(key):
    node, flavour, size, bits = key
    s = sram_from_cacti(size, bits, flavour, node)
    read, leak, t_ns = TABLE_POINTS[key]
    assert s.read_energy_pj == pytest.approx(read, rel=1e-12)
    assert s.write_energy_pj == pytest.approx(read, rel=1e-12)      # write_factor 1
    assert s.leakage_mw == pytest.approx(leak, rel=1e-12)
    assert s.access_latency_ns == pytest.approx(t_ns, rel=1e-12)
    assert s.size_bytes == size * 1024 and s.word_bits == bits
    assert s.words == size * 1024 * 8 // bits


SWEEP = np.geomspace(4, 1024, 41)


@pytest.mark.parametrize("node", [22, 28, 32, 45])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_monotone_in_size(node, flavour):
    for bits in (32, 48, 64):
        banks = [sram_from_cacti(kb, bits, flavour, node) for kb in SWEEP]
        for attr in ("read_energy_pj", "leakage_mw", "access_latency_ns"):
            values = np.array([getattr(b, attr) for b in banks])
            assert np.all(np.diff(values) > 0), (attr, bits)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_28nm_lies_between_22_and_32(flavour):
    for kb in list(SIZES_KB) + [5.0, 100.0, 700.0]:
        for bits in (32, 64):
            a, m, b = (sram_from_cacti(kb, bits, flavour, n) for n in (22, 28, 32))
            for attr in ("read_energy_pj", "leakage_mw", "access_latency_ns"):
                lo, hi = sorted((getattr(a, attr), getattr(b, attr)))
                assert lo <= getattr(m, attr) <= hi
    # 28 nm is 60 % of the way from 22 to 32 nm (linear in node, as the note says)
    a, m, b = (sram_from_cacti(64, 32, flavour, n) for n in (22, 28, 32))
    assert m.read_energy_pj == pytest.approx(0.4 * a.read_energy_pj + 0.6 * b.read_energy_pj)


def test_headline_numbers_of_the_note():
    # "64 KB, 32-bit read, 22 nm ≈ 2.8–4.4 pJ (lop–lstp); 28 nm ≈ 3.5–8 pJ (interpolated)"
    assert sram_from_cacti(64, 32, "lop", 22).read_energy_pj == pytest.approx(2.78)
    assert sram_from_cacti(64, 32, "lstp", 22).read_energy_pj == pytest.approx(4.36)
    lop28 = sram_from_cacti(64, 32, "lop", 28).read_energy_pj
    lstp28 = sram_from_cacti(64, 32, "lstp", 28).read_energy_pj
    assert 3.5 <= lop28 <= 3.8 and 7.5 <= lstp28 <= 8.0


def test_word_width_interpolates_and_energy_helpers():
    a, m, b = (sram_from_cacti(128, w, "lop", 22) for w in (32, 48, 64))
    assert m.read_energy_pj == pytest.approx((a.read_energy_pj + b.read_energy_pj) / 2)
    assert a.dynamic_energy_pj(10, 2) == pytest.approx(12 * a.read_energy_pj)
    assert a.leakage_energy_j(1_000_000_000_000) == pytest.approx(a.leakage_mw * 1e-3)
    assert a.access_latency_ps == 820
    assert a.fits(128 * 1024) and not a.fits(128 * 1024 + 1)
    assert sram_from_cacti(64, 32, "lop", 22, write_factor=1.5).write_energy_pj == \
        pytest.approx(1.5 * 2.78)


@pytest.mark.parametrize("kwargs,match", [
    ({"flavour": "ulp"}, r"flavour = 'ulp' is not allowed; expected one of \('hp', 'lop', "
                         r"'lstp'\)"),
    ({"size_kb": 2}, r"size_kb = 2.0 is not allowed; expected 4 .. 1024 KB"),
    ({"size_kb": -8}, r"size_kb = -8.0 is not allowed"),
    ({"word_bits": 16}, r"word_bits = 16 is not allowed; expected an integer in 32 .. 64"),
    ({"node_nm": 14}, r"node_nm = 14.0 is not allowed; expected 22 .. 45 nm"),
    ({"write_factor": -1}, r"write_factor = -1.0 is not allowed"),
])
def test_cacti_errors_name_field_value_and_rule(kwargs, match):
    args = {"size_kb": 64, "word_bits": 32, "flavour": "lop", "node_nm": 22} | kwargs
    with pytest.raises(ChipSpecError, match=match):
        sram_from_cacti(**args)


@pytest.mark.parametrize("field,value,match", [
    ("size_bytes", -1, r"size_bytes = -1 is not allowed; expected an integer >= 1"),
    ("word_bits", 0, r"word_bits = 0 is not allowed"),
    ("read_energy_pj", -0.5, r"read_energy_pj = -0.5 is not allowed; expected a finite "
                             r"number >= 0"),
    ("leakage_mw", float("nan"), r"leakage_mw = nan is not allowed"),
])
def test_sram_spec_validates(field, value, match):
    args = {"size_bytes": 1024, "word_bits": 32, "read_energy_pj": 1.0, "write_energy_pj": 1.0,
            "access_latency_ns": 0.5, "leakage_mw": 0.1} | {field: value}
    with pytest.raises(ChipSpecError, match=match):
        SramSpec(**args)


def test_synapse_memory_formats():
    # dense: 1024 8-bit weights pack 4 per 32-bit word -> 256 words
    assert synapse_memory_bytes(1024, 8, format="dense") == 1024
    # sparse: 8-bit weight + 16-bit index = 24 bits, one entry per 32-bit word
    assert synapse_memory_bytes(1000, 8, 16, "sparse") == 4000
    assert synapse_reads_per_op(8, 16, "sparse") == 1.0
    # Loihi-like 9-bit weights: three per 32-bit word (no straddling)
    assert synapse_memory_bytes(10, 9, format="dense") == 4 * 4
    assert synapse_reads_per_op(9, 0, "dense") == pytest.approx(1 / 3)
    # conv: only the shared kernel is stored; the index is not
    assert synapse_memory_bytes(3 * 3 * 16 * 32, 8, 16, "conv") == 3 * 3 * 16 * 32
    # an entry wider than a word spans several words
    assert synapse_memory_bytes(5, 48, 32, "sparse", word_bits=64) == 5 * 2 * 8
    assert synapse_reads_per_op(48, 32, "sparse", word_bits=64) == 2.0
    assert synapse_memory_bytes(0, 8) == 0
    # does a Loihi core's 128 KB of synaptic state hold 64 k sparse 8+16-bit synapses?
    bank = sram_from_cacti(128, 32, "lop", 22)
    assert bank.fits(synapse_memory_bytes(32 * 1024, 8, 16, "sparse"))
    assert not bank.fits(synapse_memory_bytes(32 * 1024 + 1, 8, 16, "sparse"))


@pytest.mark.parametrize("args,match", [
    ((10, 8, 16, "csr"), r"synapse format 'csr' is unknown; expected one of \('dense', "
                         r"'sparse', 'conv'\)"),
    ((-1, 8, 16, "sparse"), r"n_synapses = -1 is not allowed; expected an integer >= 0"),
    ((10, 0, 16, "sparse"), r"weight_bits = 0 is not allowed; expected >= 1"),
    ((10, 8, -2, "sparse"), r"index_bits = -2 is not allowed"),
])
def test_synapse_memory_errors(args, match):
    with pytest.raises(HardwareError, match=match):
        synapse_memory_bytes(*args)
