"""The layered .npz weight format: round trip and bad files."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from aersim.models.conv import ConvGeometry, ConvProjection
from aersim.models.errors import ModelError
from aersim.models.loaders.loading import load_network, save_network
from aersim.models.loaders.npz_io import FORMAT_VERSION, load_npz, save_npz
from aersim.models.network import Network
from aersim.models.neurons.cuba import CubaLIFParams
from aersim.models.neurons.integrator import IFParams
from aersim.models.neurons.lif import LIFParams
from aersim.models.neurons.source import InputParams


def small_network() -> Network:
    rng = np.random.default_rng(0)
    net = Network()
    net.add_population("in", 2 * 6 * 6, InputParams(), (2, 6, 6))
    net.add_population("c", 3 * 6 * 6, IFParams(v_th=rng.uniform(1, 2, 108), reset="subtract"),
                       (3, 6, 6))
    net.add_population("h", 10, LIFParams(tau_s=rng.uniform(1e-3, 2e-3, 10), bias=0.1,
                                          input_gain=0.5, integrator="euler"))
    net.add_population("o", 4, CubaLIFParams(tau_syn_s=2e-3, tau_mem_s=5e-3, w_in=3.0,
                                             order="current_first", reset="subtract"))
    geom = ConvGeometry((2, 6, 6), (3, 2, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)
    net.add_projection(ConvProjection("in->c", "in", "c", rng.normal(size=(3, 2, 3, 3)), geom,
                                      np.asarray(100_000_000, dtype=np.int64)))
    pre = rng.integers(0, 108, 300)
    post = rng.integers(0, 10, 300)
    net.connect("c", "h", pre, post, rng.normal(size=300), rng.integers(0, 5, 300) * 10**8)
    net.connect("h", "o", np.repeat(np.arange(10), 4), np.tile(np.arange(4), 10),
                rng.normal(size=40), 0)
    net.connect("o", "o", np.arange(4), (np.arange(4) + 1) % 4, -0.5, 10**8, name="rec")
    net.inputs, net.outputs = ["in"], ["o"]
    net.metadata["profile"] = {"name": "snntorch", "dt_s": 1e-4}
    return net


def assert_same(a: Network, b: Network):
    assert list(a.populations) == list(b.populations)
    for name, pa in a.populations.items():
        pb = b.populations[name]
        assert (pa.kind, pa.shape, pa.size) == (pb.kind, pb.shape, pb.size)
        for k, v in pa.params.per_neuron(pa.size).items():
            np.testing.assert_array_equal(v, pb.params.per_neuron(pb.size)[k], err_msg=k)
        for opt in ("reset", "integrator", "order"):
            assert getattr(pa.params, opt, None) == getattr(pb.params, opt, None)
    assert [p.name for p in a.projections] == [p.name for p in b.projections]
    for pa, pb in zip(a.projections, b.projections, strict=True):
        assert type(pa) is type(pb) and (pa.pre, pa.post) == (pb.pre, pb.post)
        for x, y in zip(pa.to_csr_arrays(), pb.to_csr_arrays(), strict=True):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)
    assert (a.inputs, a.outputs) == (b.inputs, b.outputs)


def test_round_trip(tmp_path):
    net = small_network()
    save_npz(net, tmp_path / "a.npz")
    back = load_npz(tmp_path / "a.npz")
    assert_same(net, back)
    assert back.metadata["profile"]["name"] == "snntorch"
    save_network(back, tmp_path / "b.npz")
    assert_same(net, load_network(tmp_path / "b.npz"))


def test_format_version_key(tmp_path):
    save_npz(small_network(), tmp_path / "a.npz")
    with np.load(tmp_path / "a.npz") as data:
        assert int(data["format_version"]) == FORMAT_VERSION
        assert str(data["format"]) == "aersim-layered-weights"


def test_wrong_version(tmp_path):
    save_npz(small_network(), tmp_path / "a.npz")
    with np.load(tmp_path / "a.npz") as data:
        arrays = dict(data)
    arrays["format_version"] = np.array(99)
    np.savez(tmp_path / "b.npz", **arrays)
    with pytest.raises(ModelError, match=r"b\.npz.*format_version is 99.*version 1"):
        load_npz(tmp_path / "b.npz")


def test_missing_key(tmp_path):
    np.savez(tmp_path / "x.npz", weights=np.ones(3))
    with pytest.raises(ModelError, match=r"x\.npz.*key 'format' is missing"):
        load_network(tmp_path / "x.npz")


def test_not_npz(tmp_path):
    p = tmp_path / "x.npz"
    p.write_text("hello")
    with pytest.raises(ModelError, match=r"x\.npz.*not a readable \.npz"):
        load_npz(p)


def test_truncated_npz(tmp_path):
    save_npz(small_network(), tmp_path / "a.npz")
    raw = (tmp_path / "a.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelError, match=r"cut\.npz"):
        load_network(tmp_path / "cut.npz")


def test_profile_rejected_for_npz(tmp_path):
    save_npz(small_network(), tmp_path / "a.npz")
    with pytest.raises(ModelError, match="profile .*does not apply"):
        load_network(tmp_path / "a.npz", profile="norse")


def test_unknown_suffix(tmp_path):
    with pytest.raises(ModelError, match=r"cannot tell the network format.*'npz'"):
        save_network(small_network(), tmp_path / "net.txt")


def test_bad_layer_values(tmp_path):
    save_npz(small_network(), tmp_path / "a.npz")
    with np.load(tmp_path / "a.npz") as data:
        arrays = dict(data)
    arrays["layer2_p_tau_s"] = np.full(10, -1.0)
    np.savez(tmp_path / "b.npz", **arrays)
    with pytest.raises(ModelError, match=r"b\.npz.*layer 2 \('h'\).*'tau_s' must be > 0"):
        load_npz(tmp_path / "b.npz")
    assert zipfile.is_zipfile(tmp_path / "b.npz")
