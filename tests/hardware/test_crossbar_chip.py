"""Crossbar cores in chip descriptions: schema, ADC/DAC pricing, tile capacity, a whole run."""

import math
from importlib import resources

import numpy as np
import pytest
import yaml

from aersim.hardware import (
    OP_KINDS,
    ChipSpecError,
    MappingError,
    apply_crossbar,
    chip_from_dict,
    crossbar_preset,
    load_chip,
    map_network,
    price,
    tile_projection,
)
from aersim.hardware.energy import N_COUNTED, cores_in_use
from aersim.hardware.mapping import crossbars_per_core
from aersim.models import ff_network
from aersim.simcore import PoissonInput, RunConfig, Simulation


def cim_dict():
    text = (resources.files("aersim.hardware") / "presets" / "crossbar_cim.yaml").read_text()
    return yaml.safe_load(text)


def cim_with(**core):
    d = cim_dict()
    d["core"].update(core)
    return chip_from_dict(d, "cim.yaml")


def test_preset_loads_with_pcm_tiles_and_sram():
    chip = load_chip("crossbar_cim")
    core = chip.core
    assert core.crossbar == crossbar_preset("pcm_aihwkit")
    assert (core.crossbar.rows, core.crossbar.columns, core.crossbar.adc_bits) == (256, 256, 8)
    assert core.crossbars_per_core == 8 and core.sram.size_bytes == 64 * 1024
    assert chip.n_cores == 64
    assert "crossbar pcm_aihwkit: 256x256" in chip.summary()


def test_crossbar_overrides_round_trip():
    chip = cim_with(crossbar={"preset": "rram_neurosim", "adc_bits": 6, "adc_energy_pj": 1.2})
    assert chip.core.crossbar == crossbar_preset("rram_neurosim", adc_bits=6, adc_energy_pj=1.2)
    ideal = cim_with(crossbar={})
    assert ideal.core.crossbar == crossbar_preset("ideal")


@pytest.mark.parametrize("core, match", [
    ({"crossbar": {"preset": "pcm_aihwkit", "adc_bitz": 6}},
     r"cim.yaml: core.crossbar: crossbar 'pcm_aihwkit': unknown key 'adc_bitz'; did you mean "
     r"'adc_bits'\?"),
    ({"crossbar": {"preset": "pcm_aihwkit", "dac_bits": 1}},
     r"cim.yaml: core.crossbar: crossbar 'pcm_aihwkit': dac_bits = 1 is not allowed; expected "
     r"0 \(ideal\) or an integer in 2..16"),
    ({"crossbar": {"preset": "memristor"}}, r"cim.yaml: core.crossbar: unknown crossbar preset "
                                            r"'memristor'"),
    ({"crossbar": "pcm_aihwkit"}, r"cim.yaml: core.crossbar = 'pcm_aihwkit' is not valid; "
                                  r"expected a mapping"),
    ({"synapse_format": "dense"}, r"cim.yaml: core.synapse_format = 'dense' is not allowed with "
                                  r"core.crossbar"),
    ({"crossbars_per_core": -1}, r"core.crossbars_per_core = -1 is not allowed"),
])
def test_crossbar_schema_errors(core, match):
    with pytest.raises(ChipSpecError, match=match):
        cim_with(**core)


def test_price_derives_adc_dac_and_sram_by_hand():
    chip = load_chip("crossbar_cim")
    counts = np.zeros((chip.n_cores, N_COUNTED), dtype=np.int64)
    k = {name: OP_KINDS.index(name) for name in OP_KINDS}
    counts[0, k["synaptic_op"]], counts[0, k["message_in"]], counts[0, k["neuron_update"]] = \
        600, 2, 10
    counts[5, k["synaptic_op"]], counts[5, k["message_in"]] = 20, 5
    ledger = price(counts, chip, duration_ps=2_000_000, n_barriers=4)
    # core 0: 600 synapses from 2 messages need >= ceil(600/256) = 3 tile rows driven.
    dac = 3 + 5
    adc = 600 + 20
    reads = (2 + 10) + 5                             # crossbar core: lookup + state read only
    writes = 10
    by_op = ledger.by_op_j()
    assert by_op["dac_activation"] == pytest.approx(dac * 0.417e-12)
    assert by_op["adc_conversion"] == pytest.approx(adc * 1.67e-12)
    assert by_op["sram_read"] == pytest.approx(reads * 2.78e-12)
    assert by_op["sram_write"] == pytest.approx(writes * 2.78e-12)
    counted = 620 * 0.041 + 10 * 0.3
    assert ledger.dynamic_j == pytest.approx(
        (counted + dac * 0.417 + adc * 1.67 + (reads + writes) * 2.78) * 1e-12)
    used = int(cores_in_use(counts, chip).sum())     # power gating: only cores with neurons
    assert ledger.static_j == pytest.approx(used * 3.17e-3 * 2e-6)
    assert ledger.barrier_j == 0.0
    assert set(ledger.derived) == {"sram_read", "sram_write", "adc_conversion", "dac_activation"}


def _tiles_by_reference(net, core_of, n_cores, spec):
    """Tiles per core by calling tile_projection on each core's sub-matrix."""
    out = np.zeros(n_cores, dtype=np.int64)
    for proj in net.projections:
        indptr, indices, weights = proj.to_csr_arrays()[:3]
        n_pre = net.population(proj.pre).size
        post_core = core_of[net.offset(proj.post) + np.arange(net.population(proj.post).size)]
        pre = np.repeat(np.arange(n_pre), np.diff(indptr))
        for c in np.unique(post_core):
            posts = np.flatnonzero(post_core == c)
            local = np.full(post_core.size, -1)
            local[posts] = np.arange(posts.size)
            keep = post_core[indices] == c
            if not keep.any():
                continue
            p, q = pre[keep], local[indices[keep]]
            sub_ptr = np.r_[0, np.cumsum(np.bincount(p, minlength=n_pre))]
            order = np.argsort(p, kind="stable")
            out[c] += tile_projection(sub_ptr, q[order], weights[keep][order], n_pre,
                                      posts.size, spec).n_crossbars
    return out


@pytest.mark.parametrize("strategy", ["sequential", "balanced"])
def test_crossbar_count_matches_tile_projection(strategy):
    net = ff_network(n_input=300, layer_size=200, n_layers=2, fan_in=20, seed=3)
    spec = crossbar_preset("ideal", rows=64, columns=32)
    chip = cim_with(neurons=100, crossbar={"rows": 64, "columns": 32}, crossbars_per_core=0)
    m = map_network(net, chip, strategy)
    expected = _tiles_by_reference(net, m.core_of, chip.n_cores, spec)
    assert np.array_equal(crossbars_per_core(net, m.core_of, chip.n_cores, spec), expected)
    assert np.array_equal(m.crossbars_used, expected)
    assert m.sram_bytes_per_core is None              # synapses live in the crossbars


def test_crossbar_capacity_error():
    net = ff_network(n_input=300, layer_size=200, n_layers=1, fan_in=20, seed=3)
    # 300 inputs over 64-row tiles = 5 row blocks; 100 outputs per core over 32 columns = 4.
    chip = cim_with(neurons=100, crossbar={"rows": 64, "columns": 32}, crossbars_per_core=8)
    with pytest.raises(MappingError, match=r"core \d+ needs 20 64x32 crossbar tiles but chip "
                       r"'crossbar_cim' allows 8 per core by core.crossbars_per_core \(12 too "
                       r"many\) \(2 cores over the limit\); spread the post-synaptic neurons"):
        map_network(net, chip)
    assert map_network(net, cim_with(neurons=100, crossbar={"rows": 64, "columns": 32},
                                     crossbars_per_core=20)).crossbars_used.max() == 20


def test_tiny_network_runs_on_crossbar_cim():
    chip = load_chip("crossbar_cim")
    net = ff_network(n_input=64, layer_size=48, n_layers=2, fan_in=16, w_mean_mv=4.0, seed=1)
    cim_net, report = apply_crossbar(net, chip.core.crossbar, t_since_program_s=3600.0, seed=2)
    assert all(r["n_crossbars"] >= 1 for r in report.values())
    sim = Simulation(cim_net, chip, config=RunConfig(seed=5),
                     stimuli=[PoissonInput("input", 200.0)])
    res = sim.run(0.02)
    assert res.n_spikes > 0
    c = res.counts.sum(axis=0)
    k = {name: OP_KINDS.index(name) for name in OP_KINDS}
    ops = res.ledger.by_op_count()
    assert ops["adc_conversion"] == c[k["synaptic_op"]]
    assert ops["sram_write"] == c[k["neuron_update"]]
    assert ops["sram_read"] == c[k["neuron_update"]] + c[k["message_in"]]
    per_core = res.counts
    dac = np.maximum(per_core[:, k["message_in"]],
                     np.ceil(per_core[:, k["synaptic_op"]] / 256)).sum()
    assert ops["dac_activation"] == dac
    assert res.ledger.static_j == pytest.approx(
        int(cores_in_use(res.counts, chip).sum()) * 3.17e-3 * res.hardware_time_ps * 1e-12)
    assert res.ledger.by_op_j()["adc_conversion"] == pytest.approx(c[k["synaptic_op"]] * 1.67e-12)
    assert math.isclose(res.ledger.total_j, res.ledger.dynamic_j + res.ledger.static_j
                        + res.ledger.barrier_j)
