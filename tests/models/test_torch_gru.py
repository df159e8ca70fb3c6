"""PyTorch GRU state dicts as EGRU layers: gate order r, z, n, the keep-gate sign, file forms."""

import numpy as np
import pytest

from aersim.models import ParameterError
from aersim.models.loaders.torch_gru import (
    TorchMissingError,
    egru_from_torch_gru,
    linear_from_state,
    read_state_dict,
)
from aersim.models.neurons.egru import egru_run_dense


def gru_state(rng, h=5, k=3, prefix="rnn.", n_bias=0.0):
    """A random GRU layer; ``n_bias`` is added to the n-gate input bias."""
    s = {f"{prefix}weight_ih_l0": rng.normal(0, 0.5, (3 * h, k)),
         f"{prefix}weight_hh_l0": rng.normal(0, 0.5, (3 * h, h)),
         f"{prefix}bias_ih_l0": rng.normal(0, 0.5, 3 * h),
         f"{prefix}bias_hh_l0": rng.normal(0, 0.5, 3 * h)}
    s[f"{prefix}bias_ih_l0"][2 * h:] += n_bias
    return {key: v.astype(np.float32) for key, v in s.items()}


def torch_form_egru(state, x, theta, prefix="rnn."):
    """The EGRU written in PyTorch's GRU form (independent of the loader's gate mapping)."""
    w, u = (state[f"{prefix}weight_{a}_l0"].astype(np.float64) for a in ("ih", "hh"))
    bi, bh = (state[f"{prefix}bias_{a}_l0"].astype(np.float64) for a in ("ih", "hh"))
    h = u.shape[1]
    c, y, ys = np.zeros(h), np.zeros(h), []
    for xt in x:
        gi, gh = w @ xt + bi, u @ y + bh
        r = 1 / (1 + np.exp(-(gi[:h] + gh[:h])))
        z = 1 / (1 + np.exp(-(gi[h:2 * h] + gh[h:2 * h])))
        n = np.tanh(gi[2 * h:] + r * gh[2 * h:])
        ch = (1 - z) * n + z * c
        e = ch > theta
        y = np.where(e, ch, 0.0)
        c = ch - e * theta
        ys.append(y)
    return np.array(ys)


def test_gate_mapping_against_the_pytorch_form():
    rng = np.random.default_rng(0)
    state = gru_state(rng)
    theta = rng.uniform(0.05, 0.3, 5)
    state["rnn.theta_l0"] = theta
    x = rng.normal(0, 1, (20, 3))
    params = egru_from_torch_gru(state)
    _, y, _ = egru_run_dense(params, x)
    ref = torch_form_egru(state, x, theta)
    assert np.array_equal(y != 0, ref != 0) and np.allclose(y, ref, rtol=0, atol=1e-12)
    assert 0 < np.count_nonzero(y) < y.size


def test_npz_and_dict_agree_and_prefix_is_found(tmp_path):
    rng = np.random.default_rng(1)
    state = gru_state(rng, prefix="model.gru.")
    state["out.weight"] = rng.normal(0, 1, (4, 5))
    state["out.bias"] = rng.normal(0, 1, 4)
    np.savez(tmp_path / "w.npz", **state)
    a = egru_from_torch_gru(state, theta=0.2)
    b = egru_from_torch_gru(tmp_path / "w.npz", theta=0.2, reset="zero")
    assert b.reset == "zero"
    for name in ("w_u", "r_z", "bx_u", "br_z"):
        assert np.array_equal(np.asarray(getattr(a, name)), np.asarray(getattr(b, name)))
    assert np.array_equal(a.w_u, -state["model.gru.weight_ih_l0"][5:10])
    w, bias = linear_from_state(tmp_path / "w.npz", "out.")
    assert np.array_equal(w, state["out.weight"]) and np.array_equal(bias, state["out.bias"])


def test_errors_name_the_key():
    rng = np.random.default_rng(2)
    state = gru_state(rng, prefix="")
    with pytest.raises(ParameterError, match="no threshold: the state dict has neither "
                                             "theta_l0 nor theta; pass theta="):
        egru_from_torch_gru(state)
    bad = dict(state, weight_hh_l0=np.zeros((15, 4)))
    with pytest.raises(ParameterError, match=r"weight_hh_l0 has shape \(15, 4\); expected "
                                             r"\(15, 5\)"):
        egru_from_torch_gru(bad, theta=0.1)
    with pytest.raises(ParameterError, match="expected one GRU layer 1"):
        egru_from_torch_gru(state, layer=1, theta=0.1)
    with pytest.raises(ParameterError, match="theta has 2 values for 5 units"):
        egru_from_torch_gru(state, theta=[0.1, 0.2])


def test_pt_file_without_torch_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "torch", None)   # import torch fails
    (tmp_path / "w.pt").write_bytes(b"not really")
    with pytest.raises(TorchMissingError, match="PyTorch is not installed; install torch, or "
                                                "save the state dict as .npz"):
        read_state_dict(tmp_path / "w.pt")


def test_matches_torch_nn_gru_when_every_unit_fires():
    # With theta = 0 and an n gate held positive, every unit fires every step and c never
    # resets, so y = c = h: the EGRU is then exactly torch.nn.GRU.
    torch = pytest.importorskip("torch", reason="comparison with torch.nn.GRU needs PyTorch")
    torch.manual_seed(0)
    gru = torch.nn.GRU(3, 6, batch_first=True).double()
    with torch.no_grad():
        gru.bias_ih_l0[12:] += 4.0
    x = torch.randn(1, 25, 3, dtype=torch.float64)
    h, _ = gru(x)
    params = egru_from_torch_gru(gru.state_dict(), theta=0.0)
    _, y, c = egru_run_dense(params, x[0].numpy())
    assert np.all(y > 0)
    assert np.allclose(y, h[0].detach().numpy(), rtol=0, atol=1e-12)


def test_pt_file_with_torch(tmp_path):
    torch = pytest.importorskip("torch", reason="reading .pt files needs PyTorch")
    gru = torch.nn.GRU(2, 4)
    torch.save(gru.state_dict(), tmp_path / "w.pt")
    p = egru_from_torch_gru(tmp_path / "w.pt", theta=0.25)
    assert p.n_units == 4 and p.n_inputs == 2
    assert np.array_equal(p.r_r, gru.weight_hh_l0[:4].detach().numpy().astype(np.float64))
