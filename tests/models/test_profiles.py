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
    with pytest.raises(ModelError,
                       match=r"unknown import profile 'nest'.*\['exact', 'lava', 'lava-dl'"):
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


# -- what the frameworks do, pinned without them (tests/conformance checks against them) ----------

def _one_neuron(node, profile, inputs, steps=12, weight=1.0):
    """Spike steps and the lowered neuron's parameters for ``Input -> Linear(w) -> node``."""
    import nir

    from aersim.models.loaders.nir_io import load_nir
    from aersim.simcore import RunConfig, Simulation, SpikeTrains

    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([1])}),
               "fc": nir.Affine(weight=np.full((1, 1), weight, np.float32),
                                bias=np.zeros(1, np.float32)),
               "n": node, "output": nir.Output(output_type={"output": np.array([1])})},
        edges=[("input", "fc"), ("fc", "n"), ("n", "output")])
    net = load_nir(graph, profile=profile)
    dt = round(net.metadata["profile"]["dt_s"] * 1e12)
    sim = Simulation(net, "minimal", config=RunConfig(mode="timestep"),
                     stimuli=[SpikeTrains("input", np.array(inputs) * dt, np.zeros(len(inputs)))])
    res = sim.run(duration_ps=steps * dt)
    return (res.spikes_t_ps[res.spikes_neuron == net.offset("n")] // dt).tolist(), \
        net.population("n").params


def _snntorch_lif(beta, thr):
    import nir
    tau = 1e-4 / (1 - beta)
    return nir.LIF(tau=np.array([tau]), r=np.array([tau / 1e-4]), v_leak=np.zeros(1),
                   v_threshold=np.array([thr]), v_reset=np.zeros(1))


def test_snntorch_resets_in_the_step_after_the_spike():
    # beta 0.5, threshold 1, input 1.25 every step. snnTorch subtracts the threshold of step
    # t's spike in step t + 1: v = 1.25 (s), 0.625 + 1.25 - 1 = 0.875, 1.6875 (s),
    # 0.84375 + 1.25 - 1 = 1.09375 (s), 0.796875, 1.6484375 (s), ... A reset at the spike
    # (v = 0.25, 1.375, 1.4375, ...) would fire in every step.
    spikes, params = _one_neuron(_snntorch_lif(0.5, 1.0), "snntorch", range(12), weight=1.25)
    assert params.reset_timing == "next_step"
    assert spikes == [0, 2, 3, 5, 6, 8, 9, 11]


def test_snntorch_zero_reset_of_a_feedforward_leaky_keeps_the_input():
    # Leaky zeroes only the old membrane: after a spike the next step starts from 0 with its
    # input (1.25 -> spike, then 1.25 again -> spike, every step).
    spikes, params = _one_neuron(_snntorch_lif(0.5, 1.0), "snntorch-zero", range(12),
                                 weight=1.25)
    assert params.reset_timing == "immediate" and params.reset == "value"
    assert spikes == list(range(12))


def test_norse_tau_is_dt_times_tau_and_membranes_start_at_v_leak():
    import nir
    # Norse 1.1 writes tau = dt * tau_true: 1e-3 * 0.01 = 1e-5 for a 10 ms membrane.
    node = nir.LIF(tau=np.array([1e-5]), r=np.ones(1), v_leak=np.array([0.3]),
                   v_threshold=np.array([0.5]), v_reset=np.zeros(1))
    _, params = _one_neuron(node, "norse", [])
    assert float(params.tau_s) == pytest.approx(0.01)
    assert float(params.v_init) == pytest.approx(0.3)
    assert float(params.input_gain) == pytest.approx(0.1)      # dt / tau


def test_norse_if_jumps_by_the_weight():
    import nir
    # Norse's IAFCell adds the input itself: two inputs of 0.6 cross a threshold of 1.
    node = nir.IF(r=np.ones(1), v_threshold=np.ones(1), v_reset=np.zeros(1))
    spikes, _ = _one_neuron(node, "norse", [2, 5], weight=0.6)
    assert spikes == [5]


def test_sinabs_counts_spikes_on_reaching_the_threshold():
    import nir
    # Sinabs' IAF with MultiSpike: an input of exactly the threshold fires (>=), 2.5 thresholds
    # fire with count 2 and leave 0.5.
    node = nir.IF(r=np.ones(1), v_threshold=np.ones(1), v_reset=np.zeros(1))
    spikes, params = _one_neuron(node, "sinabs", [1], weight=1.0)
    assert spikes == [1] and params.spike_rule.test == ">="
    spikes, params = _one_neuron(node, "sinabs", [1, 3], weight=2.5)
    assert spikes == [1, 3] and params.spike_rule.count


def test_spyx_is_refused_not_silently_different():
    node = _snntorch_lif(0.5, 1.0)
    with pytest.raises(ModelError, match="'spyx' is not supported: Spyx's neurons emit"):
        _one_neuron(node, "spyx", [])


def test_saving_what_nir_cannot_hold_warns(tmp_path):
    from aersim.models import LIFParams, Network, save_network
    from aersim.models.errors import ModelWarning
    from aersim.models.neurons.source import InputParams

    net = Network()
    net.add_population("in", 2, InputParams())
    net.add_population("n", 2, LIFParams(reset="subtract", reset_timing="next_step",
                                         integrator="euler"))
    net.connect("in", "n", [0, 1], [0, 1], 1.0, 0)
    with pytest.warns(ModelWarning, match="reset_timing = 'next_step' is not stored in NIR"):
        save_network(net, tmp_path / "a.nir", profile="exact")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelWarning)
        save_network(net, tmp_path / "b.nir", profile="snntorch")


def test_a_recorded_profile_is_rebuilt_with_its_spike_rule():
    from aersim.models.loaders.profiles import profile_from_dict

    prof = PROFILES["rockpool"].with_(dt_s=5e-4)
    assert profile_from_dict(prof.as_dict()) == prof
