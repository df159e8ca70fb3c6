"""Volatile memristive devices: retention (relaxation to rest) and stochastic switching."""

import math
from importlib import resources

import numpy as np
import pytest
import yaml

from aersim.hardware import ChipSpecError, chip_from_dict, crossbar_preset
from aersim.hardware.crossbar.array import program, read_weights
from aersim.hardware.crossbar.devices import (
    mean_retained_fraction,
    switching_probability,
)
from aersim.hardware.crossbar.network import apply_crossbar
from aersim.models import ff_network

# No noise, no converters: what remains is relaxation and switching.
QUIET = {"prog_noise": "none", "read_noise": "none", "dac_bits": 0, "adc_bits": 0,
         "output_noise": 0.0, "switching": "deterministic"}


def _lognormal_mean_mc(t, tau_med, sigma, n, seed):
    """Independent reference: plain Monte Carlo of exp(-t/tau) (not the module's quadrature)."""
    tau = tau_med * np.exp(sigma * np.random.default_rng(seed).standard_normal(n))
    return float(np.mean(np.exp(-t / tau)))


def test_quadrature_matches_monte_carlo_and_the_single_tau_limit():
    for t in (1e-4, 1e-3, 1e-2):
        ref = _lognormal_mean_mc(t, 1e-3, 1.0, 2_000_000, 7)
        assert mean_retained_fraction(t, 1e-3, 1.0) == pytest.approx(ref, abs=2e-3)
    assert mean_retained_fraction(2e-3, 1e-3, 0.0) == pytest.approx(math.exp(-2.0))


@pytest.mark.parametrize("name", ["ag_diffusive", "stm_wox"])
def test_mean_conductance_decay_matches_the_averaged_exponential(name):
    spec = crossbar_preset(name, **QUIET, levels=None)
    n = 20_000
    w = np.ones((1, n))                       # every G+ device programmed to g_max, G- at rest
    state = program(w, spec, 3)
    for k in (0.1, 1.0, 3.0, 10.0):
        t = k * spec.retention_tau_s
        eff = read_weights(state, spec, t, 0)[0]          # = (G+(t) - g_min) / (g_max - g_min)
        frac = eff
        expected = mean_retained_fraction(t, spec.retention_tau_s, spec.retention_sigma)
        # Per-device spread of exp(-t/tau): its variance from the same average of exp(-2t/tau).
        second = mean_retained_fraction(2 * t, spec.retention_tau_s, spec.retention_sigma)
        sd = math.sqrt(max(second - expected ** 2, 1e-30) / n)
        assert abs(frac.mean() - expected) < 5 * sd + 1e-12, (t, frac.mean(), expected, sd)
        assert np.all(frac <= 1.0 + 1e-12) and np.all(frac >= 0.0)


def test_relaxation_goes_to_rest_and_single_tau_is_exact():
    spec = crossbar_preset("ag_diffusive", **QUIET, retention_sigma=0.0)
    w = np.array([[0.5, -1.0, 0.25]])
    state = program(w, spec, 0)
    np.testing.assert_allclose(read_weights(state, spec, 0.0, 0), w, rtol=1e-12)
    t = 2.5e-3
    np.testing.assert_allclose(read_weights(state, spec, t, 0), w * math.exp(-t / 1e-3),
                               rtol=1e-12)
    assert np.abs(read_weights(state, spec, 1.0, 0)).max() < 1e-12   # 1000 tau: at rest


def _success_rate(spec, v, n, seed):
    spec = spec.replace(program_voltage_v=v)
    state = program(np.ones((1, n)), spec, seed)
    return np.count_nonzero(state.g_pos > spec.g_min_us) / n


@pytest.mark.parametrize("law,voltages", [
    ("exponential", (3.8, 3.95, 4.03, 4.1, 4.25)),
    ("sigmoid", (1.1, 1.25, 1.3, 1.4, 1.6)),
])
def test_switching_rate_follows_the_law_within_binomial_bounds(law, voltages):
    base = "ag_diffusive" if law == "exponential" else "stm_wox"
    spec = crossbar_preset(base, **(QUIET | {"switching": law}))
    n = 20_000
    for i, v in enumerate(voltages):
        p = float(switching_probability(v, spec))
        if law == "exponential":      # the closed form, written out independently
            p_ref = 1.0 - math.exp(-spec.program_pulse_s /
                                   (spec.switch_tau0_s * math.exp(-v / spec.switch_v0_v)))
        else:
            p_ref = 1.0 / (1.0 + math.exp(-(v - spec.switch_v50_v) / spec.switch_width_v))
        assert p == pytest.approx(p_ref, rel=1e-12)
        rate = _success_rate(spec, v, n, 100 + i)
        sd = math.sqrt(max(p * (1 - p), 1e-12) / n)
        assert abs(rate - p) < 5 * sd + 1.0 / n, (v, rate, p)


def test_failed_devices_rest_and_zero_weights_need_no_switching():
    spec = crossbar_preset("ag_diffusive", **(QUIET | {"switching": "exponential"}),
                           program_voltage_v=0.0)        # p ~ 0: nothing switches
    w = np.array([[1.0, 0.0, -0.5]])
    state = program(w, spec, 0)
    assert np.all(state.g_pos == spec.g_min_us) and np.all(state.g_neg == spec.g_min_us)
    np.testing.assert_array_equal(read_weights(state, spec, 0.0, 0), 0.0)


def test_seeded_determinism():
    spec = crossbar_preset("ag_diffusive", program_voltage_v=4.05)
    w = np.random.default_rng(0).standard_normal((32, 48))
    a = read_weights(program(w, spec, 5), spec, 1e-3, 9)
    b = read_weights(program(w, spec, 5), spec, 1e-3, 9)
    c = read_weights(program(w, spec, 6), spec, 1e-3, 9)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    s1, s2 = program(w, spec, 5), program(w, spec, 5)
    np.testing.assert_array_equal(s1.tau_pos, s2.tau_pos)


def test_non_volatile_presets_draw_the_same_devices_as_before():
    # Retention and switching draws come after the others: a non-volatile spec is unchanged.
    spec = crossbar_preset("pcm_aihwkit")
    state = program(np.ones((4, 4)), spec, 1)
    assert np.all(np.isinf(state.tau_pos))


def test_apply_crossbar_fades_network_weights():
    net = ff_network(n_input=64, layer_size=64, n_layers=1, fan_in=16, seed=0)
    spec = crossbar_preset("ag_diffusive")
    rms = []
    for t in (0.0, 1e-3, 1e-2, 1.0):
        out, report = apply_crossbar(net, spec, t, seed=1)
        w = np.concatenate([p.to_csr_arrays()[2] for p in out.projections])
        rms.append(float(np.sqrt(np.mean(w.astype(np.float64) ** 2))))
    assert rms[0] > rms[1] > rms[2] > rms[3]
    assert rms[3] < 0.05 * rms[0]        # at rest; what is left is the 1 % read noise


def test_validation_and_chip_section():
    with pytest.raises(ChipSpecError, match="retention = 'exp'"):
        crossbar_preset("ag_diffusive", retention="exp")
    with pytest.raises(ChipSpecError, match="switch_v0_v = 0"):
        crossbar_preset("ag_diffusive", switch_v0_v=0)
    data = yaml.safe_load((resources.files("aersim.hardware") / "presets" /
                           "crossbar_cim.yaml").read_text())
    data["core"]["crossbar"] = {"preset": "stm_wox", "retention_tau_s": 120}
    chip = chip_from_dict(data, "test")
    assert chip.core.crossbar.retention_tau_s == 120.0
    assert chip.core.crossbar.device == "volatile"


def test_volatile_weights_example_prints_a_fading_table(capsys):
    import runpy
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / "volatile_weights.py"
    mod = runpy.run_path(str(path))
    mod["main"](["--duration-s", "0.02"])
    rows = [r.split() for r in capsys.readouterr().out.splitlines()[2:]]
    ag = [r for r in rows if r[0] == "ag_diffusive" and r[1] != "ideal"]
    left = [float(r[3]) for r in ag]
    assert len(ag) == 6 and left == sorted(left, reverse=True) and left[0] == 1.0
    assert float(ag[0][-1]) > 0.99                  # fresh weights: the ideal output
