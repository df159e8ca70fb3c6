"""Chip files: presets load, and every kind of mistake gives a precise error."""

import copy

import pytest
import yaml

from aersim.hardware import ChipSpecError, chip_from_dict, load_chip, preset_names
from aersim.hardware.chip import ns_to_ps


def test_presets_load_and_describe_themselves():
    assert {"minimal", "loihi_like", "spinnaker2_like"} <= set(preset_names())
    for name in preset_names():
        chip = load_chip(name)
        assert chip.name == name and chip.n_cores > 0
        assert name in chip.summary()


def test_loihi_numbers_are_the_published_ones():
    chip = load_chip("loihi_like")
    assert chip.n_cores == 128 and chip.core.neurons == 1024
    assert chip.core.energy_pj["synaptic_op"] == 23.6          # Davies 2018, Table 2
    assert chip.noc.hop_latency_ps == {"east_west": 4100, "north_south": 6500}
    assert chip.barrier_latency_ps == 465_000


def base_dict():
    import importlib.resources as r
    return yaml.safe_load((r.files("aersim.hardware") / "presets" / "minimal.yaml").read_text())


@pytest.mark.parametrize("mutate,match", [
    (lambda d: d["core"].update(neuron=5), r"unknown key 'core.neuron'; did you mean 'neurons'"),
    (lambda d: d["core"].pop("neurons"), r"missing key 'core.neurons'"),
    (lambda d: d["core"].update(neurons=-3), r"core.neurons = -3 is not allowed; expected an "
                                              r"integer >= 1"),
    (lambda d: d["core"].update(neurons=2.5), r"core.neurons = 2.5 is not valid"),
    (lambda d: d["noc"]["hop_energy_pj"].update(east_west="fast"),
     r"noc.hop_energy_pj.east_west = 'fast' is not valid; expected >= 0"),
    (lambda d: d.update(execution_mode="sync"), r"execution_mode = 'sync' is not allowed; "
                                                r"expected one of \('timestep', 'async'\)"),
    (lambda d: d.pop("noc"), r"missing section 'noc'"),
    (lambda d: d["mesh"].update(topology="ring"), r"mesh.topology = 'ring'"),
])
def test_invalid_descriptions_name_the_key(mutate, match):
    d = copy.deepcopy(base_dict())
    mutate(d)
    with pytest.raises(ChipSpecError, match=match):
        chip_from_dict(d, "my_chip.yaml")


def test_file_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncore: [1, 2\n")
    with pytest.raises(ChipSpecError, match=r"bad.yaml: not valid YAML at line \d+"):
        load_chip(bad)
    with pytest.raises(ChipSpecError, match="unknown chip 'loihi'; presets are"):
        load_chip("loihi")
    with pytest.raises(ChipSpecError, match="cannot read chip file"):
        load_chip(tmp_path / "missing.yaml")
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(base_dict()))
    assert load_chip(good).n_cores == 16


def test_ns_to_ps_rounds():
    assert ns_to_ps(4.1) == 4100 and ns_to_ps(0.0004) == 0


@pytest.mark.parametrize("change, match", [
    ({"width": -3}, "width must be an integer in 1..65536, got -3"),
    ({"cores_per_tile": 0}, "cores_per_tile must be an integer"),
    ({"execution_mode": "fast"}, "execution_mode 'fast' is not one of"),
    ({"static_power_w": float("nan")}, "static_power_w must be a finite number >= 0"),
])
def test_a_spec_changed_in_python_is_validated(change, match):
    import dataclasses

    from aersim.hardware import ChipSpecError
    with pytest.raises(ChipSpecError, match=match):
        dataclasses.replace(load_chip("loihi_like"), **change)
