"""Import profiles: registry, validation, detection, translation of NIR parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aersim.models.errors import ModelError, ParameterError
from aersim.models.loaders.profiles import PROFILES, ImportProfile, detect_profile, get_profile

nir = pytest.importorskip("nir")


def test_all_profiles_present():
    assert sorted(PROFILES) == ["exact", "lava", "lava-dl", "norse", "rockpool", "sinabs",
                                "sinabs-reset", "sinabs-single", "snntorch", "snntorch-none",
                                "snntorch-zero", "spyx"]
    for p in PROFILES.values():
        assert p.description and p.dt_ps >= 1


def test_get_profile():
    assert get_profile("SNNTorch") is PROFILES["snntorch"]
    custom = PROFILES["norse"].with_(dt_s=1e-4)
    assert get_profile(custom) is custom and custom.dt_ps == 100_000_000
    with pytest.raises(ModelError, match=r"unknown import profile 'nest'.*\['exact', 'lava-dl'"):
        get_profile("nest")


@pytest.mark.parametrize("field,value,msg", [
    ("dt_s", -1e-3, "dt_s must be a finite number > 0"),
    ("dt_s", math.nan, "dt_s must be a finite number > 0"),
    ("integrator", "rk4", r"integrator='rk4' is not one of \('exact', 'euler'\)"),
    ("reset", "zero", "reset='zero' is not one of"),
    ("layer_delay_steps", -1, "layer_delay_steps must be an integer >= 0"),
    ("cuba_order", "both", "cuba_order='both'"),
])
def test_profile_validation(field, value, msg):
    with pytest.raises(ParameterError, match=msg):
        PROFILES["exact"].with_(**{field: value})


def _graph(neuron, n=3):
    return nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([n])}),
                               "n": neuron, "output": nir.Output(output_type={"output":
                                                                              np.array([n])})},
                        edges=[("input", "n"), ("n", "output")])


def test_detect_snntorch_norse_sinabs_rockpool():
    tau = np.full(3, 5e-4)
    lif = dict(v_leak=np.zeros(3), v_threshold=np.ones(3), v_reset=np.zeros(3))
    assert detect_profile(_graph(nir.LIF(tau=tau, r=tau / 1e-4, **lif)))[0].name == "snntorch"
    assert detect_profile(_graph(nir.LIF(tau=tau, r=np.ones(3), **lif)))[0].name == "norse"
    assert detect_profile(_graph(nir.IF(r=np.ones(3), v_threshold=np.ones(3),
                                        v_reset=np.zeros(3))))[0].name == "sinabs"
    tau = np.full(3, 2.5e-3)
    prof, reason = detect_profile(_graph(nir.LIF(tau=tau, r=tau * np.exp(-0.04) / 1e-4, **lif)))
    assert prof.name == "rockpool" and math.isclose(prof.dt_s, 1e-4, rel_tol=1e-4)
    assert "Rockpool" in reason


def test_detect_from_metadata():
    g = _graph(nir.LIF(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3),
                       v_threshold=np.ones(3), v_reset=np.zeros(3)))
    g.metadata = {"exporter": "lava_dl", "dt": 0.5}
    prof, reason = detect_profile(g)
    assert prof.name == "lava-dl" and prof.dt_s == 0.5 and "exporter" in reason


def test_translation_euler_and_exact():
    """input_gain = r*A/tau for LIF, w_in*A/tau_syn for CubaLIF, r*A for IF."""
    from aersim.models.loaders.nir_io import load_nir

    tau = np.array([1e-3, 2e-3, 4e-3])
    g = _graph(nir.LIF(tau=tau, r=np.array([2.0, 3.0, 4.0]), v_leak=np.zeros(3),
                       v_threshold=np.ones(3), v_reset=np.zeros(3)))
    for name in ("snntorch", "exact", "lava-dl"):
        prof = PROFILES[name]
        p = load_nir(g, profile=prof).populations["n"].params
        np.testing.assert_allclose(p.input_gain, np.array([2.0, 3, 4]) * prof.spike_area / tau)
        assert p.integrator == prof.integrator and p.reset == prof.reset
    cuba = nir.CubaLIF(tau_syn=np.full(3, 2e-4), tau_mem=np.full(3, 1e-3), r=np.full(3, 10.0),
                       v_leak=np.zeros(3), v_threshold=np.ones(3), v_reset=np.zeros(3),
                       w_in=np.full(3, 2.0))
    p = load_nir(_graph(cuba), profile="snntorch").populations["n"].params
    assert p.kind == "cuba_lif" and p.order == "current_first"
    assert math.isclose(p.input_gain, 2.0 * 1e-4 / 2e-4)
    p = load_nir(_graph(nir.IF(r=np.full(3, 2.0), v_threshold=np.ones(3), v_reset=np.zeros(3))),
                 profile="sinabs").populations["n"].params
    assert p.kind == "if" and p.input_gain == 2.0 and p.reset == "subtract"


def test_profile_is_frozen():
    with pytest.raises(AttributeError):
        PROFILES["exact"].dt_s = 1.0
    assert isinstance(PROFILES["exact"], ImportProfile)
    assert PROFILES["exact"].as_dict()["integrator"] == "exact"
