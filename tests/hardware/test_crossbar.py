"""Memristive crossbars: exact ideal behaviour, noise statistics against the published formulas,
converters, IR drop against a plain NumPy reference, tiling, whole networks, and errors."""

import numpy as np
import pytest

from aersim.hardware.crossbar.array import (
    CrossbarSpec,
    crossbar_from_dict,
    crossbar_preset,
    mvm,
    program,
    program_csr,
    quantise_outputs,
    read_weights,
)
from aersim.hardware.crossbar.devices import STUCK_HIGH, STUCK_LOW, pcm_nu_moments
from aersim.hardware.crossbar.network import apply_crossbar, tile_projection, weight_error_stats
from aersim.hardware.errors import ChipSpecError, HardwareError
from aersim.models import ConvProjection, InputParams, LIFParams, Network, random_network
from aersim.models.conv import ConvGeometry

QUIET = dict(prog_noise="none", read_noise="none", drift="none", output_noise=0.0,
             row_wire_ohm=0.0, col_wire_ohm=0.0, drift_compensation=False)


def tile_column_scale(w, rows, cols):
    """max |w| of every weight's tile column, computed with plain loops."""
    s = np.zeros_like(w)
    n_out, n_in = w.shape
    for r0 in range(0, n_in, rows):
        blk = np.abs(w[:, r0:r0 + rows])
        s[:, r0:r0 + rows] = blk.max(axis=1, keepdims=True)
    s[s == 0] = 1.0
    return s


# -- ideal crossbar --------------------------------------------------------------------------------

@pytest.mark.parametrize("differential", [True, False])
def test_ideal_crossbar_returns_the_quantised_weights_exactly(differential):
    rng = np.random.default_rng(1)
    w = rng.normal(size=(70, 90))
    spec = CrossbarSpec(rows=32, columns=24, levels=9, differential=differential)
    got = read_weights(program(w, spec, 0), spec, 1000.0, 0)
    s = tile_column_scale(w, 32, 24)
    if differential:        # 9 levels per device: ŵ in steps of 1/8 on both signs
        expect = np.round(w / s * 8) / 8 * s
    else:                   # one device, 9 levels over [-1, 1]: steps of 2/8
        expect = (2 * np.round((w / s + 1) / 2 * 8) / 8 - 1) * s
    np.testing.assert_allclose(got, expect, rtol=1e-12, atol=1e-12)
    steps = np.unique(np.round(got / s * (8 if differential else 4), 9))
    assert np.all(steps == np.round(steps))           # on the quantisation grid
    assert len(steps) <= (17 if differential else 9)


def test_analog_ideal_crossbar_is_exact_and_tile_scale_mode():
    w = np.random.default_rng(2).normal(size=(40, 50))
    spec = CrossbarSpec(rows=16, columns=16, scale_mode="tile")
    state = program(w, spec, 0)
    np.testing.assert_allclose(read_weights(state, spec, 0.0, 0), w, rtol=1e-12, atol=1e-13)
    # in tile mode every cell of a tile shares one scale: max |w| over the tile
    t = state.tile.reshape(w.shape)
    for k in np.unique(t):
        assert np.all(state.scale.reshape(w.shape)[t == k] == np.abs(w[t == k]).max())


# -- device statistics -----------------------------------------------------------------------------

def test_programming_noise_matches_the_aihwkit_polynomial():
    spec = crossbar_preset("pcm_aihwkit", **(QUIET | {"prog_noise": "pcm_aihwkit"}))
    w = np.full((400, 256), 0.5)
    w[0, 0] = w[300, 0] = 1.0                         # one full-scale weight per tile
    state = program(w, spec, 7)
    g = state.g_pos.reshape(w.shape)
    g = np.delete(g.ravel(), [0, 300 * 256])            # ~1e5 devices aimed at 12.5 µS
    gn = 0.5
    sigma = 0.26348 + 1.9650 * gn - 1.1731 * gn ** 2    # µS, g_max = 25 µS
    assert g.size > 100_000
    assert g.std() == pytest.approx(sigma, rel=0.02)
    assert g.mean() == pytest.approx(12.5, abs=4 * sigma / np.sqrt(g.size))
    # the G− devices aim at 0 µS: noise there is clipped at 0 (conductance is never negative)
    assert state.g_neg.min() >= 0.0 and state.g_neg.max() > 0.0


def test_pcm_drift_follows_the_power_law():
    spec = crossbar_preset("pcm_aihwkit", **QUIET, dac_bits=0, adc_bits=0)
    spec = spec.replace(drift="pcm_aihwkit")
    w = np.ones((400, 256))                             # every G+ at g_max, G− at 0
    state = program(w, spec, 3)
    mu, sd = pcm_nu_moments(np.array([25.0]), 25.0)     # ĝ = 1: μ = 0.049, σ = 0.008
    assert state.nu_pos.mean() == pytest.approx(mu[0], rel=0.01)
    assert state.nu_pos.std() == pytest.approx(sd[0], rel=0.03)
    for t in (20.0, 200.0, 86_400.0):
        ratio = read_weights(state, spec, t, 0) / w
        log_r = np.log(max(t, 20.0) / 20.0)           # E[r^-ν] for Gaussian ν (lognormal mean)
        assert ratio.mean() == pytest.approx(np.exp(-mu[0] * log_r + 0.5 * (sd[0] * log_r) ** 2),
                                             rel=1e-3)
    # global drift compensation undoes the mean drift
    comp = spec.replace(drift_compensation=True)
    assert read_weights(state, comp, 86_400.0, 0).mean() == pytest.approx(1.0, rel=1e-3)


def test_constant_drift_model_and_reference_time():
    spec = CrossbarSpec(drift="constant", drift_nu_mean=0.05, drift_nu_std=0.01,
                        drift_t0_s=10.0)
    w = np.ones((300, 400))
    state = program(w, spec, 5)
    assert state.nu_pos.mean() == pytest.approx(0.05, rel=0.01)
    np.testing.assert_array_equal(read_weights(state, spec, 5.0, 0), w)     # t < t0: no drift
    ratio = read_weights(state, spec, 1000.0, 0)
    log_r = np.log(100.0)
    assert ratio.mean() == pytest.approx(np.exp(-0.05 * log_r + 0.5 * (0.01 * log_r) ** 2),
                                         rel=2e-3)
    np.testing.assert_allclose(ratio.ravel(), 100.0 ** -state.nu_pos, rtol=1e-12)


def test_pcm_read_noise_is_fresh_on_every_read():
    spec = crossbar_preset("pcm_aihwkit", **QUIET, dac_bits=0, adc_bits=0)
    spec = spec.replace(read_noise="pcm_1f")
    w = np.ones((400, 256))
    state = program(w, spec, 3)
    t = 3600.0
    a = read_weights(state, spec, t, 1)
    b = read_weights(state, spec, t, 2)
    q_s = min(0.2, 0.0088 / 1.0 ** 0.65)
    sigma = q_s * np.sqrt(np.log((t + 250e-9) / (2 * 250e-9)))        # relative to G = g_max
    assert a.std() == pytest.approx(sigma, rel=0.03)
    assert not np.array_equal(a, b)


def test_stuck_at_fractions_are_binomial():
    p_low, p_high = 0.05, 0.02
    spec = CrossbarSpec(stuck_low_rate=p_low, stuck_high_rate=p_high, g_min_us=1.0,
                        g_max_us=10.0)
    state = program(np.random.default_rng(0).normal(size=(250, 200)), spec, 11)
    n = state.n_devices
    for flags in (np.concatenate([state.stuck_pos, state.stuck_neg]),):
        for code, p in ((STUCK_LOW, p_low), (STUCK_HIGH, p_high)):
            k = np.count_nonzero(flags == code)
            assert abs(k - n * p) < 5 * np.sqrt(n * p * (1 - p))
    assert np.all(state.g_pos[state.stuck_pos == STUCK_LOW] == 1.0)
    assert np.all(state.g_neg[state.stuck_neg == STUCK_HIGH] == 10.0)
    assert state.stuck_fraction() == pytest.approx(p_low + p_high, abs=0.005)
    eff = read_weights(state, spec, 0.0, 0)
    stats = weight_error_stats(state.w_target.reshape(eff.shape), eff, state)
    assert stats["fraction_stuck"] == state.stuck_fraction()
    assert stats["max_abs_error"] > 0


def test_device_to_device_variation_scales_the_range():
    spec = CrossbarSpec(d2d_sigma=0.2)
    state = program(np.ones((300, 400)), spec, 0)
    assert state.g_pos.mean() == pytest.approx(25.0, rel=0.01)
    assert state.g_pos.std() == pytest.approx(0.2 * 25.0, rel=0.03)


# -- converters, IR drop, MVM ----------------------------------------------------------------------

def test_adc_quantises_to_2_pow_bits_levels_and_clips():
    y = np.linspace(-30, 30, 100_001)
    for bits in (3, 5, 8):
        q = quantise_outputs(y, bits, 10.0)
        step = 10.0 / 2 ** (bits - 1)
        assert len(np.unique(q)) == 2 ** bits
        assert q.min() == -10.0 and q.max() == pytest.approx(10.0 - step)
        np.testing.assert_allclose(q / step, np.round(q / step), atol=1e-9)
        inside = np.abs(y) < 10.0 - step
        assert np.abs(q - y)[inside].max() <= step / 2 + 1e-12


def numpy_mvm(w, x, rows, cols, dac_bits, adc_bits, bound):
    """Reference: tiles, abs-max input scaling, DAC and ADC rounding, with plain loops."""
    n_out, n_in = w.shape
    s = tile_column_scale(w, rows, cols)
    x_max = np.abs(x).max()
    steps = 2 ** (dac_bits - 1) - 1
    xq = np.round(x / x_max * steps) / steps
    y = np.zeros(n_out)
    adc_step = bound / 2 ** (adc_bits - 1)
    for r0 in range(0, n_in, rows):
        part = (w[:, r0:r0 + rows] / s[:, r0:r0 + rows]) @ xq[r0:r0 + rows]
        part = np.clip(np.round(part / adc_step), -2 ** (adc_bits - 1),
                       2 ** (adc_bits - 1) - 1) * adc_step
        y += part * s[:, r0] * x_max
    return y


def test_mvm_agrees_with_a_numpy_reference_and_counts_conversions():
    rng = np.random.default_rng(4)
    w = rng.normal(size=(50, 70))
    x = rng.normal(size=70)
    x[:5] = 0.0
    spec = CrossbarSpec(rows=32, columns=16, dac_bits=6, adc_bits=8, adc_bound=6.0)
    state = program(w, spec, 0)
    res = mvm(state, x, spec, 0)
    np.testing.assert_allclose(res.y, numpy_mvm(w, x, 32, 16, 6, 8, 6.0), rtol=1e-10, atol=1e-10)
    n_rb, n_cb = 3, 4
    assert res.adc_conversions == n_rb * 50
    assert res.dac_activations == n_cb * np.count_nonzero(np.round(x / np.abs(x).max() * 31))
    g_sum = (state.g_pos + state.g_neg).reshape(w.shape)
    v = np.round(x / np.abs(x).max() * 31) / 31 * spec.read_voltage_v
    assert res.array_energy_pj == pytest.approx(float(np.sum(g_sum * v ** 2)) * 10e-9 * 1e6)
    # batches give the same rows; ideal converters give W x
    batch = mvm(state, np.stack([x, 2 * x]), spec, 0)
    np.testing.assert_allclose(batch.y[1], 2 * res.y, rtol=1e-10, atol=1e-9)
    ideal = CrossbarSpec(rows=32, columns=16)
    np.testing.assert_allclose(mvm(program(w, ideal, 0), x, ideal, 0).y, w @ x, atol=1e-10)


def ir_reference(g, v, r_row, r_col):
    """First-order IR drop of one tile with explicit sums: currents (µA), shape (R, C)."""
    n_r, n_c = g.shape
    i0 = g * v[:, None]
    out = np.zeros_like(g)
    for r in range(n_r):
        for c in range(n_c):
            d_row = r_row * 1e-6 * sum(i0[r, m] * (min(c, m) + 1) for m in range(n_c))
            v_col = r_col * 1e-6 * sum(i0[n, c] * (n_r - max(n, r)) for n in range(n_r))
            out[r, c] = g[r, c] * (v[r] - d_row - v_col)
    return out


def test_ir_drop_agrees_with_explicit_sums_dense_and_sparse():
    rng = np.random.default_rng(8)
    spec = CrossbarSpec(rows=12, columns=9, g_min_us=2.0, g_max_us=40.0, row_wire_ohm=30.0,
                        col_wire_ohm=50.0, scale_mode="tile")
    w = rng.uniform(-1, 1, size=(9, 12))
    w[0, 0] = 1.0
    state = program(w, spec, 0)
    got = read_weights(state, spec, 0.0, 0)
    v = np.full(12, spec.read_voltage_v)
    ip = ir_reference(state.g_pos.reshape(9, 12).T, v, 30.0, 50.0)
    i_n = ir_reference(state.g_neg.reshape(9, 12).T, v, 30.0, 50.0)
    expect = ((ip - i_n) / (spec.read_voltage_v * spec.delta_g_us)).T * state.scale.reshape(9, 12)
    np.testing.assert_allclose(got, expect, rtol=1e-10)
    assert np.abs(got - w).max() > 1e-3                 # the drop is visible at these values
    # a sparse projection: absent cells hold g_min and still load the wires
    mask = rng.random((12, 9)) < 0.4                     # (pre, post)
    pre, post = np.nonzero(mask)
    indptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
    ws = rng.uniform(0.2, 1.0, size=pre.size)
    st = program_csr(indptr, post.astype(np.int32), ws, 12, 9, spec, 0)
    got = read_weights(st, spec, 0.0, 0)
    gp = np.full((12, 9), spec.g_min_us)
    gn = np.full((12, 9), spec.g_min_us)
    gp[pre, post], gn[pre, post] = st.g_pos, st.g_neg
    ip, i_n = ir_reference(gp, v, 30.0, 50.0), ir_reference(gn, v, 30.0, 50.0)
    expect = (ip - i_n)[pre, post] / (spec.read_voltage_v * spec.delta_g_us) * st.scale
    np.testing.assert_allclose(got, expect, rtol=1e-10)


def test_ir_drop_lowers_far_column_currents_monotonically():
    spec = CrossbarSpec(rows=64, columns=64, row_wire_ohm=2.0, col_wire_ohm=2.0)
    state = program(np.ones((64, 64)), spec, 0)
    y = mvm(state, np.ones(64), spec, 0).y
    assert np.all(np.diff(y) < 0)
    assert y[0] < 64.0 and y[-1] < y[0] * 0.99
    no_drop = spec.replace(row_wire_ohm=0.0, col_wire_ohm=0.0)
    np.testing.assert_allclose(mvm(state, np.ones(64), no_drop, 0).y, 64.0)


# -- reproducibility -------------------------------------------------------------------------------

def test_seeded_runs_are_reproducible_and_seeds_differ():
    spec = crossbar_preset("pcm_aihwkit", stuck_low_rate=0.01)
    w = np.random.default_rng(0).normal(size=(60, 300))
    x = np.random.default_rng(1).normal(size=300)
    a = read_weights(program(w, spec, 5), spec, 3600.0, 9)
    b = read_weights(program(w, spec, 5), spec, 3600.0, 9)
    c = read_weights(program(w, spec, 6), spec, 3600.0, 9)
    d = read_weights(program(w, spec, 5), spec, 3600.0, 10)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, d)
    s = program(w, spec, 5)
    np.testing.assert_array_equal(mvm(s, x, spec, 1).y, mvm(s, x, spec, 1).y)
    assert not np.array_equal(mvm(s, x, spec, 1).y, mvm(s, x, spec, 2).y)


# -- tiling and networks ---------------------------------------------------------------------------

def test_tile_projection_counts_crossbars():
    spec = CrossbarSpec(rows=128, columns=64)
    n_pre, n_post = 300, 200
    pre, post = np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij")
    pre, post = pre.ravel(), post.ravel()
    indptr = np.arange(0, n_pre * n_post + 1, n_post, dtype=np.int64)
    tiles = tile_projection(indptr, post.astype(np.int32), np.ones(pre.size), n_pre, n_post, spec)
    assert tiles.grid == (3, 4) and tiles.n_crossbars == 12
    assert tiles.synapses_per_tile.sum() == n_pre * n_post and tiles.n_multapses == 0
    # one-to-one connectivity only touches the diagonal tiles (plus the ones it straddles)
    idx = np.arange(200)
    indptr = np.concatenate([np.arange(201), np.full(100, 200)]).astype(np.int64)
    diag = tile_projection(indptr, idx.astype(np.int32), np.ones(200), n_pre, n_post, spec)
    assert diag.n_crossbars == 4
    assert diag.utilisation == pytest.approx(200 / (4 * 128 * 64))
    # a repeated (pre, post) pair shares one cell; the tile matrix sums it
    dup = tile_projection(np.array([0, 2, 2], dtype=np.int64), np.array([1, 1], dtype=np.int32),
                          np.array([0.25, 0.5]), 2, 3, spec)
    assert dup.n_multapses == 1 and dup.tile_matrix(0, [0.25, 0.5])[0, 1] == 0.75
    with pytest.raises(HardwareError, match=r"tile 1 does not exist; the projection occupies 1"):
        dup.tile_matrix(1, [0.25, 0.5])


def conv_network():
    net = Network()
    net.add_population("input", 2 * 6 * 6, InputParams(), shape=(2, 6, 6))
    net.add_population("conv", 3 * 4 * 4, LIFParams(tau_s=0.01, v_th=1.0), shape=(3, 4, 4))
    kernel = np.random.default_rng(0).normal(size=(3, 2, 3, 3)).astype(np.float32)
    net.add_projection(ConvProjection("input->conv", "input", "conv", kernel,
                                      ConvGeometry((2, 6, 6), (3, 2, 3, 3)),
                                      np.asarray(1_000_000, dtype=np.int64)))
    return net


def test_apply_crossbar_keeps_structure_and_changes_weights():
    net = random_network(n_neurons=120, n_inputs=30, seed=3)
    spec = crossbar_preset("pcm_aihwkit", rows=64, columns=64)
    out, report = apply_crossbar(net, spec, 3600.0, seed=1)
    assert list(out.populations) == list(net.populations)
    assert out.inputs == net.inputs and out.outputs == net.outputs
    for a, b in zip(net.projections, out.projections, strict=True):
        assert a.name == b.name and a.pre == b.pre and a.post == b.post
        np.testing.assert_array_equal(a.indptr, b.indptr)
        np.testing.assert_array_equal(a.indices, b.indices)
        np.testing.assert_array_equal(a.delays_ps, b.delays_ps)
        assert b.weights.dtype == np.float32 and not np.array_equal(a.weights, b.weights)
        r = report[a.name]
        assert r["n"] == a.n_synapses and r["layout"] == "csr" and r["n_crossbars"] >= 1
        assert 0.0 < r["relative_rms_error"] < 0.2 and r["correlation"] > 0.5
    # same seed, same network; the original is untouched
    again, _ = apply_crossbar(net, spec, 3600.0, seed=1)
    for a, b in zip(out.projections, again.projections, strict=True):
        np.testing.assert_array_equal(a.weights, b.weights)
    ideal, rep = apply_crossbar(net, CrossbarSpec(), 0.0, seed=0)
    for a, b in zip(net.projections, ideal.projections, strict=True):
        np.testing.assert_allclose(b.weights, a.weights, rtol=1e-6)
        assert rep[a.name]["max_abs_error"] < 1e-6


def test_apply_crossbar_on_a_convolution_keeps_the_geometry():
    net = conv_network()
    out, report = apply_crossbar(net, crossbar_preset("rram_neurosim"), 1.0, seed=0)
    a, b = net.projections[0], out.projections[0]
    assert isinstance(b, ConvProjection) and b.geometry == a.geometry
    assert b.weight.shape == a.weight.shape and not np.array_equal(a.weight, b.weight)
    r = report[a.name]
    assert r["layout"] == "conv_kernel" and r["n"] == a.weight.size and r["n_crossbars"] == 1
    assert r["correlation"] > 0.95


def test_weight_error_stats_on_known_arrays():
    s = weight_error_stats([1.0, 2.0, 3.0, 4.0], [1.0, 2.5, 3.0, 3.0])
    assert s["mean_error"] == pytest.approx(-0.125)
    assert s["rms_error"] == pytest.approx(np.sqrt((0.25 + 1.0) / 4))
    assert s["max_abs_error"] == 1.0
    assert s["relative_rms_error"] == pytest.approx(s["rms_error"] / np.sqrt(7.5))
    assert np.isnan(s["fraction_stuck"]) and 0.8 < s["correlation"] < 1.0
    with pytest.raises(HardwareError, match="ideal has 2 weights but effective has 3"):
        weight_error_stats([1, 2], [1, 2, 3])


# -- descriptions and errors -----------------------------------------------------------------------

def test_presets_and_dict_form():
    pcm = crossbar_preset("pcm_aihwkit")
    assert (pcm.g_max_us, pcm.drift_t0_s, pcm.adc_energy_pj) == (25.0, 20.0, 1.67)
    assert all(k in pcm.sources for k in ("prog_noise", "drift", "adc_energy_pj"))
    rram = crossbar_preset("rram_neurosim")
    assert rram.g_max_us == 10.0 and rram.g_min_us == pytest.approx(1 / 1.7)
    spec = crossbar_from_dict({"preset": "rram_neurosim", "adc_bits": 6, "adc_energy_pj": 1.2,
                               "read_voltage_v": 1})
    assert spec.adc_bits == 6 and spec.read_voltage_v == 1.0 and spec.rows == 128
    assert spec.mvm_latency_ns == pytest.approx(10.0 + 8 / 1.2)


@pytest.mark.parametrize("kwargs,match", [
    ({"levels": 1}, r"levels = 1 is not allowed; expected an integer >= 2, or None"),
    ({"g_min_us": 30.0}, r"g_min_us = 30.0 must be below g_max_us = 25.0"),
    ({"g_min_us": 5.0, "g_max_us": 5.0}, r"g_min_us = 5.0 must be below g_max_us = 5.0"),
    ({"rows": -4}, r"rows = -4 is not allowed; expected an integer >= 1"),
    ({"prog_noise": "gauss"}, r"prog_noise = 'gauss' is not allowed; expected one of "
                              r"\('none', 'pcm_aihwkit', 'constant'\)"),
    ({"adc_bits": 1}, r"adc_bits = 1 is not allowed; expected 0 \(ideal\) or an integer in "
                      r"2..16"),
    ({"stuck_low_rate": 0.7, "stuck_high_rate": 0.6}, r"stuck_low_rate \+ stuck_high_rate"),
    ({"read_voltage_v": float("inf")}, r"read_voltage_v = inf is not allowed; expected > 0"),
    ({"differential": 1}, r"differential = 1 is not allowed; expected true or false"),
])
def test_spec_errors_name_field_value_and_rule(kwargs, match):
    with pytest.raises(ChipSpecError, match=match):
        CrossbarSpec(**kwargs)


def test_preset_and_input_errors():
    with pytest.raises(ChipSpecError, match=r"unknown crossbar preset 'pcm'; did you mean "
                                            r"'pcm_aihwkit'\? \(known: ideal, pcm_aihwkit"):
        crossbar_preset("pcm")
    with pytest.raises(ChipSpecError, match=r"unknown key 'adc_bit'; did you mean 'adc_bits'"):
        crossbar_from_dict({"preset": "pcm_aihwkit", "adc_bit": 4}, "chip.yaml")
    with pytest.raises(ChipSpecError, match=r"chip.yaml: crossbar 'pcm_aihwkit': levels = 0"):
        crossbar_from_dict({"preset": "pcm_aihwkit", "levels": 0}, "chip.yaml")
    spec = CrossbarSpec()
    state = program(np.ones((3, 4)), spec, 0)
    with pytest.raises(HardwareError, match=r"t_since_program_s = -1.0 is not allowed"):
        read_weights(state, spec, -1.0, 0)
    with pytest.raises(HardwareError, match=r"x must have shape \(4,\) or \(n_batch, 4\)"):
        mvm(state, np.ones(5), spec, 0)
    with pytest.raises(HardwareError, match=r"weights must be a non-empty 2-d"):
        program(np.ones(4), spec, 0)
    with pytest.raises(HardwareError, match=r"NaN or infinite"):
        program(np.array([[1.0, np.nan]]), spec, 0)
    with pytest.raises(HardwareError, match=r"postsynaptic index 5 is outside 0..2"):
        program_csr(np.array([0, 1], dtype=np.int64), np.array([5]), [1.0], 1, 3, spec, 0)
