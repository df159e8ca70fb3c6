"""EGRU against neurons.md §1.4 (both resets), and the event-driven split against the dense one."""

import numpy as np
import pytest

from aersim.models import ParameterError
from aersim.models.neurons.egru import EGRUParams, egru_from_evnn, egru_run_dense, egru_run_events

X = [1, 1, 0, 0, 1]
C_HAT = [0.704761, 0.803173, -0.066147, -0.033074, 0.695866]
Y = [0.704761, 0.803173, 0.0, 0.0, 0.695866]
C = [0.404761, 0.503173, -0.066147, -0.033074, 0.395866]
C_HAT_ZERO = [0.704761, 0.720002, -0.235845, -0.117922, 0.673046]


def example(reset="subtract"):
    return EGRUParams(w_u=1.0, w_r=0.5, w_z=2.0, r_u=0.5, r_r=0.5, r_z=-1.0, theta=0.3,
                      reset=reset)


def test_table_subtract():
    c_hat, y, c = egru_run_dense(example(), X)
    np.testing.assert_allclose(c_hat[:, 0], C_HAT, atol=1e-6)
    np.testing.assert_allclose(y[:, 0], Y, atol=1e-6)
    np.testing.assert_allclose(c[:, 0], C, atol=1e-6)


def test_table_gates():
    # u, r, z of the table, recomputed from the pre-activations the dense run uses
    _, y, _ = egru_run_dense(example(), X)
    y_prev = np.concatenate([[0.0], y[:-1, 0]])
    x = np.asarray(X, dtype=float)
    u = 1 / (1 + np.exp(-(x + 0.5 * y_prev)))
    r = 1 / (1 + np.exp(-(0.5 * x + 0.5 * y_prev)))
    z = np.tanh(2 * x + r * (-y_prev))
    np.testing.assert_allclose(u, [0.731059, 0.794519, 0.599069, 0.5, 0.731059], atol=1e-6)
    np.testing.assert_allclose(r, [0.622459, 0.701066, 0.599069, 0.5, 0.622459], atol=1e-6)
    np.testing.assert_allclose(z, [0.964028, 0.906212, -0.447169, 0, 0.964028], atol=1e-6)


def test_table_reset_to_zero():
    c_hat, y, c = egru_run_dense(example("zero"), X)
    np.testing.assert_allclose(c_hat[:, 0], C_HAT_ZERO, atol=1e-6)
    assert np.all(c[y > 0] == 0.0)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_event_split_equals_dense_on_the_table(reset):
    _, y_d, c_d = egru_run_dense(example(reset), X)
    y_e, c_e, macs = egru_run_events(example(reset), X)
    np.testing.assert_allclose(y_e, y_d, atol=1e-15)
    np.testing.assert_allclose(c_e, c_d, atol=1e-15)
    assert macs == 3 * 3  # events at t = 1, 2, 5; the last one is never consumed but counted


def test_event_split_equals_dense_random_pruned():
    rng = np.random.default_rng(7)
    n, k, steps = 40, 6, 60

    def pruned(shape):
        w = rng.normal(0, 0.6, shape)
        w[rng.random(shape) < 0.8] = 0.0
        return w

    params = EGRUParams(w_u=rng.normal(0, 1, (n, k)), w_r=rng.normal(0, 1, (n, k)),
                        w_z=rng.normal(0, 1, (n, k)), r_u=pruned((n, n)), r_r=pruned((n, n)),
                        r_z=pruned((n, n)), bx_u=rng.normal(0, 0.1, n), br_z=rng.normal(0, 0.1, n),
                        theta=rng.uniform(0.1, 0.4, n), zoneout=0.1)
    x = rng.normal(0, 1, (steps, k))
    _, y_d, c_d = egru_run_dense(params, x)
    y_e, c_e, macs = egru_run_events(params, x)
    np.testing.assert_allclose(y_e, y_d, rtol=0, atol=1e-12)
    np.testing.assert_allclose(c_e, c_d, rtol=0, atol=1e-12)
    assert 0 < np.count_nonzero(y_d) < y_d.size
    # payloads lie in (theta, 1)
    theta = params.per_neuron(n)["theta"]
    ev = y_d > 0
    assert np.all(y_d[ev] < 1) and np.all(y_d[ev] > np.broadcast_to(theta, y_d.shape)[ev])
    indptr, _, _ = params.recurrent_csr()
    assert macs == 3 * int(sum(np.diff(indptr)[np.flatnonzero(row)].sum() for row in y_d))


def test_evnn_layout_keep_gate():
    n, k = 2, 3
    rng = np.random.default_rng(0)
    kernel, rec = rng.normal(size=(k, 3 * n)), rng.normal(size=(n, 3 * n))
    bias, rbias = rng.normal(size=3 * n), rng.normal(size=3 * n)
    p = egru_from_evnn(kernel, rec, bias, rbias, [0.2, 1.5])
    np.testing.assert_array_equal(p.w_u, -kernel[:, :n].T)
    np.testing.assert_array_equal(p.r_z, rec[:, 2 * n:].T)
    np.testing.assert_array_equal(p.br_u, -rbias[:n])
    assert p.per_neuron(n)["theta"].tolist() == [0.2, 1.0]


def test_tags():
    p = example()
    assert p.kind == "egru" and p.spiking and p.graded and p.n_units == 1


@pytest.mark.parametrize("kwargs,match", [
    (dict(r_u=np.zeros((2, 2))), "'r_u' has shape \\(2, 2\\), expected \\(1, 1\\)"),
    (dict(w_z=np.zeros((1, 2))), "'w_z' has shape \\(1, 2\\) but 'w_u' has \\(1, 1\\)"),
    (dict(theta=-0.1), "'theta' must be >= 0"),
    (dict(theta=[0.1, 0.2]), "'theta' has 2 values for 1 units"),
    (dict(reset="half"), "reset 'half' is not one of"),
    (dict(zoneout=1.0), "zoneout must be in \\[0, 1\\)"),
    (dict(w_u=np.zeros((1, 1, 1))), "'w_u' must be a 2-d"),
])
def test_bad_parameters(kwargs, match):
    base = dict(w_u=1.0, w_r=0.5, w_z=2.0, r_u=0.5, r_r=0.5, r_z=-1.0, theta=0.3)
    base.update(kwargs)
    with pytest.raises(ParameterError, match=match):
        EGRUParams(**base)


def test_bad_input_shape():
    with pytest.raises(ParameterError, match="input must have shape \\(T, 1\\)"):
        egru_run_dense(example(), np.zeros((3, 2)))
