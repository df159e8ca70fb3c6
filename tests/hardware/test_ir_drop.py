"""Exact (nodal) IR drop against the first-order estimate and against circuit identities."""

import numpy as np
import pytest

from aersim.hardware.crossbar.array import program, program_csr, read_weights
from aersim.hardware.crossbar.devices import CrossbarSpec, crossbar_preset
from aersim.hardware.crossbar.ir_drop import (
    currents_exact,
    currents_first_order,
    first_order_error,
)


def test_single_cell_is_a_voltage_divider():
    # Driver - r_row - cell - r_col - ground: I = V / (r_row + 1/g + r_col).
    g_us, r = 100.0, 1000.0
    i = currents_exact(np.array([[g_us]]), np.array([0.5]), r, r)[0, 0]
    assert i == pytest.approx(0.5 / (2 * r + 1e6 / g_us) * 1e6, rel=1e-12)


def test_exact_and_first_order_agree_when_the_drop_is_small():
    rng = np.random.default_rng(3)
    g = rng.uniform(0.0, 25.0, size=(16, 12))
    v = rng.uniform(0.1, 0.4, size=16)
    exact = currents_exact(g, v, 1e-3, 1e-3)
    first = currents_first_order(g, v, 1e-3, 1e-3)
    np.testing.assert_allclose(first, exact, rtol=1e-6)


def test_first_order_matches_the_engine_kernel():
    spec = CrossbarSpec(rows=12, columns=9, g_min_us=2.0, g_max_us=40.0, row_wire_ohm=30.0,
                        col_wire_ohm=50.0, scale_mode="tile", differential=False)
    w = np.random.default_rng(8).uniform(-1, 1, size=(9, 12))
    state = program(w, spec, 0)
    got = read_weights(state, spec, 0.0, 0)
    g = state.g_pos.reshape(9, 12).T
    v = np.full(12, spec.read_voltage_v)
    cur = currents_first_order(g, v, 30.0, 50.0)
    expect = (2.0 * (cur / spec.read_voltage_v - spec.g_min_us) / spec.delta_g_us - 1.0).T
    np.testing.assert_allclose(got, expect * state.scale.reshape(9, 12), rtol=1e-10)


def test_exact_option_in_reads_dense_and_sparse():
    spec = CrossbarSpec(rows=12, columns=9, g_min_us=2.0, g_max_us=40.0, row_wire_ohm=30.0,
                        col_wire_ohm=50.0, scale_mode="tile", ir_drop="exact")
    rng = np.random.default_rng(4)
    w = rng.uniform(-1, 1, size=(9, 12))
    state = program(w, spec, 0)
    got = read_weights(state, spec, 0.0, 0)
    v = np.full(12, spec.read_voltage_v)
    ip = currents_exact(state.g_pos.reshape(9, 12).T, v, 30.0, 50.0)
    i_n = currents_exact(state.g_neg.reshape(9, 12).T, v, 30.0, 50.0)
    expect = ((ip - i_n) / (spec.read_voltage_v * spec.delta_g_us)).T * state.scale.reshape(9, 12)
    np.testing.assert_allclose(got, expect, rtol=1e-9)
    first = read_weights(state, spec.replace(ir_drop="first_order"), 0.0, 0)
    assert np.abs(first - got).max() > 1e-4           # the two models differ at these values
    # sparse: absent cells hold g_min and load the wires
    mask = rng.random((12, 9)) < 0.4
    pre, post = np.nonzero(mask)
    indptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
    st = program_csr(indptr, post.astype(np.int32), rng.uniform(0.2, 1, pre.size), 12, 9,
                     spec, 0)
    got = read_weights(st, spec, 0.0, 0)
    gp = np.full((12, 9), spec.g_min_us)
    gn = np.full((12, 9), spec.g_min_us)
    gp[pre, post], gn[pre, post] = st.g_pos, st.g_neg
    ip, i_n = currents_exact(gp, v, 30.0, 50.0), currents_exact(gn, v, 30.0, 50.0)
    expect = (ip - i_n)[pre, post] / (spec.read_voltage_v * spec.delta_g_us) * st.scale
    np.testing.assert_allclose(got, expect, rtol=1e-9)


def test_first_order_overstates_the_loss_on_a_large_array():
    # 256 x 256 at g_max with 0.35 ohm per cell (aihwkit's value for a 5 uS device).
    e = first_order_error(256, 25.0, 0.35)
    assert e["loss_exact"] == pytest.approx(0.2715, abs=1e-3)
    assert e["loss_first_order"] == pytest.approx(0.3845, abs=1e-3)
    assert e["worst_column_error"] == pytest.approx(0.227, abs=2e-3)


def test_pcm_preset_wire_keeps_aihwkits_ratio():
    spec = crossbar_preset("pcm_aihwkit")
    # aihwkit: ir_drop_g_ratio = 1 / (0.35 ohm x 5 uS); the preset's device is 25 uS.
    assert spec.row_wire_ohm * spec.g_max_us == pytest.approx(0.35 * 5.0)
    assert spec.col_wire_ohm == spec.row_wire_ohm
