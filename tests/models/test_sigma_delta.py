"""Sigma-delta neurons against neurons.md §2.3 (float and integer columns, bit for bit)."""

import numpy as np
import pytest

from aersim.models import ParameterError
from aersim.models.neurons.sigma_delta import (
    SigmaDeltaParams,
    sigma_delta_fixed_step,
    sigma_delta_step,
)

# neurons.md §2.3: ReLU, theta = 1.0 (vth_int = 262144), bias 0.
A_FLOAT = [0.625, 0.625, 0.25, -2.0, 0.0, 0.5]
A_INT = [163840, 163840, 65536, -524288, 0, 131072]
SIGMA = [0.625, 1.25, 1.5, -0.5, -0.5, 0.0]
ACT = [0.625, 1.25, 1.5, 0.0, 0.0, 0.0]
DELTA = [0.625, 1.25, 0.25, -1.25, 0.0, 0.0]
S_FLOAT = [0.0, 1.25, 0.0, -1.25, 0.0, 0.0]
PAYLOAD = [0, 5120, 0, -5120, 0, 0]
RECON = [0.0, 1.25, 1.25, 0.0, 0.0, 0.0]


def run_float(params, a_seq):
    p = params.per_neuron(1)
    sigma, act, res, err = p["sigma_init"][0], 0.0, 0.0, 0.0
    rows = []
    recon = 0.0
    for a in a_seq:
        prev_act, prev_res = act, res
        sigma, act, res, err, s = sigma_delta_step(sigma, act, res, err, a, p["bias"][0],
                                                   p["threshold"][0],
                                                   params.activation == "relu", params.cum_error)
        recon += s
        rows.append((sigma, act, act - prev_act + prev_res, s, recon))
    return rows


def run_fixed(params, a_seq):
    p = params.per_neuron_fixed(1)
    sigma, recon, err, total = p["sigma_init"][0], 0, 0, 0
    rows = []
    for a in a_seq:
        sigma, recon, err, pay, ovf = sigma_delta_fixed_step(
            sigma, recon, err, a, p["bias"][0], p["vth"][0], params.activation == "relu",
            params.cum_error, params.payload_bits)
        total += ovf
        rows.append((int(sigma), int(recon), int(pay)))
    return rows, total


def test_float_table():
    rows = run_float(SigmaDeltaParams(threshold=1.0), A_FLOAT)
    for col, want in zip(zip(*rows, strict=True), (SIGMA, ACT, DELTA, S_FLOAT, RECON), strict=True):
        assert list(col) == want  # exact: every value is a dyadic fraction


def test_integer_table_bit_exact():
    params = SigmaDeltaParams(threshold=1.0)
    assert params.per_neuron_fixed(1)["vth"][0] == 262144
    rows, overflows = run_fixed(params, A_INT)
    sigma, recon, payload = zip(*rows, strict=True)
    assert list(payload) == PAYLOAD
    assert list(sigma) == [int(s * 2 ** 18) for s in SIGMA]
    assert list(recon) == [int(r * 2 ** 18) for r in RECON]
    assert overflows == 0
    # payload (2^-12 units) equals the float message
    assert [p / 4096 for p in payload] == S_FLOAT


def test_float_and_fixed_agree_on_grid_inputs():
    rng = np.random.default_rng(5)
    a = np.round(rng.normal(0, 0.4, 200) * 4096) / 4096  # payload-grid inputs
    for act in ("relu", "identity"):
        params = SigmaDeltaParams(threshold=0.25, bias=0.125, activation=act)
        frows = run_float(params, a)
        irows, _ = run_fixed(params, (a * 2 ** 18).astype(np.int64))
        assert [r[3] for r in frows] == [r[2] / 4096 for r in irows]


def test_error_stays_below_threshold():
    rng = np.random.default_rng(1)
    params = SigmaDeltaParams(threshold=0.3, activation="identity")
    a = rng.normal(0, 0.2, 500)
    rows = run_float(params, a)
    sigma = np.cumsum(a)
    recon = np.array([r[4] for r in rows])
    assert np.all(np.abs(sigma - recon) < 0.3 + 1e-12)


def test_cum_error_accumulates_before_sending():
    params = SigmaDeltaParams(threshold=1.0, activation="identity", cum_error=True)
    rows = run_float(params, [0.4, 0.0, 0.0])
    # err: 0.4, 0.8, 1.2 -> a message at step 3 carrying D_3 = 0.4 (the residue)
    assert [r[3] for r in rows] == [0.0, 0.0, 0.4]
    irows, _ = run_fixed(params, [int(0.4 * 2 ** 18), 0, 0])
    assert [r[2] for r in irows] == [0, 0, int(0.4 * 2 ** 18) >> 6]


def test_saturation_is_counted():
    params = SigmaDeltaParams(threshold=1.0, activation="identity", payload_bits=8)
    rows, overflows = run_fixed(params, [2 ** 18 * 5, 0])
    # 5.0 needs payload 20480 > 127: sends 127 twice, R carries the rest
    assert [r[2] for r in rows] == [127, 127]
    assert overflows == 2
    rows, overflows = run_fixed(SigmaDeltaParams(), [2 ** 23 + 5])
    assert rows[0][0] == 2 ** 23 - 1 and overflows >= 1


def test_tags():
    p = SigmaDeltaParams(threshold=[0.5, 1.0])
    assert p.kind == "sigma_delta" and p.spiking and p.graded
    assert p.per_neuron(2)["threshold"].tolist() == [0.5, 1.0]


@pytest.mark.parametrize("kwargs,match", [
    (dict(threshold=0.0), "'threshold' must be > 0"),
    (dict(activation="tanh"), "activation 'tanh' is not one of"),
    (dict(cum_error="yes"), "cum_error must be True or False"),
    (dict(payload_bits=32), "payload_bits must be an integer in 2..24"),
    (dict(bias=float("nan")), "NaN or infinity"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        SigmaDeltaParams(**kwargs)


def test_threshold_too_small_for_fixed_point():
    with pytest.raises(ParameterError, match="below 1/64"):
        SigmaDeltaParams(threshold=0.01).per_neuron_fixed(1)
