"""Convolution geometry, unrolling and shared-weight projections."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from aersim.models.conv import ConvGeometry, ConvProjection, pool_geometry
from aersim.models.errors import ModelError, NetworkError
from aersim.models.network import Network
from aersim.models.neurons.lif import LIFParams
from aersim.models.neurons.source import InputParams


def naive_conv(x, w, stride, pad, dil, groups):
    """Loop-by-loop PyTorch-style convolution of one (C, H, W) sample; pad = (t, b, l, r)."""
    c_in, h, wd = x.shape
    c_out, cpg, kh, kw = w.shape
    ho = (h + pad[0] + pad[1] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + pad[2] + pad[3] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((c_out, ho, wo))
    opg = c_out // groups
    for co, oh, ow, ci, a, b in itertools.product(range(c_out), range(ho), range(wo), range(cpg),
                                                  range(kh), range(kw)):
        ih = oh * stride[0] - pad[0] + a * dil[0]
        iw = ow * stride[1] - pad[2] + b * dil[1]
        if 0 <= ih < h and 0 <= iw < wd:
            y[co, oh, ow] += w[co, ci, a, b] * x[(co // opg) * cpg + ci, ih, iw]
    return y


CASES = [
    ((2, 7, 6), (4, 2, 3, 3), 1, 0, 1, 1),
    ((2, 9, 9), (4, 2, 3, 3), 2, 1, 1, 1),
    ((4, 8, 7), (6, 2, 3, 2), (2, 1), (1, 2), (2, 1), 2),
    ((3, 6, 6), (3, 1, 2, 2), 1, "same", 2, 3),
    ((2, 5, 5), (2, 2, 4, 4), 1, "same", 1, 1),
    ((2, 6, 6), (2, 2, 3, 3), 1, "valid", 1, 1),
]


@pytest.mark.parametrize("in_shape,kernel,stride,padding,dilation,groups", CASES)
def test_unrolled_matrix_matches_naive(in_shape, kernel, stride, padding, dilation, groups):
    rng = np.random.default_rng(0)
    w = rng.normal(size=kernel)
    x = rng.normal(size=in_shape)
    g = ConvGeometry.from_nir(in_shape, kernel, stride, padding, dilation, groups, 2)
    y = g.matrix(w) @ x.ravel()
    want = naive_conv(x, w, g.stride, g.padding, g.dilation, groups)
    assert g.out_shape == want.shape
    np.testing.assert_allclose(y, want.ravel(), atol=1e-12)
    assert g.n_synapses() == g.unroll(w)[0].size
    if padding == "same":
        assert g.out_shape[1:] == in_shape[1:]


def test_conv1d_is_conv2d_with_unit_height():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(4, 1, 3))
    x = rng.normal(size=(2, 11))
    g = ConvGeometry.from_nir((2, 11), w.shape, 2, 2, 2, 2, 1)
    want = naive_conv(x[:, None, :], w[:, :, None, :], (1, 2), (0, 0, 2, 2), (1, 2), 2)
    np.testing.assert_allclose(g.matrix(w[:, :, None, :]) @ x.ravel(), want.ravel(), atol=1e-12)


def test_sum_pool_geometry():
    x = np.arange(2 * 4 * 4, dtype=float).reshape(2, 4, 4)
    g = pool_geometry((2, 4, 4), 2, 2, 0)
    y = (g.matrix(np.ones(g.kernel)) @ x.ravel()).reshape(g.out_shape)
    np.testing.assert_array_equal(y, x.reshape(2, 2, 2, 2, 2).sum(axis=(2, 4)))


def test_conv_projection_csr_and_network():
    rng = np.random.default_rng(2)
    g = ConvGeometry.from_nir((2, 6, 6), (3, 2, 3, 3), 1, 1, 1, 1, 2)
    w = rng.normal(size=g.kernel).astype(np.float32)
    net = Network()
    net.add_population("a", 72, InputParams(), (2, 6, 6))
    net.add_population("b", 108, LIFParams(), (3, 6, 6))
    proj = net.add_projection(ConvProjection("a->b", "a", "b", w, g, np.asarray(5, np.int64)))
    indptr, indices, weights, delays = proj.to_csr()
    assert indptr.dtype == np.int64 and indices.dtype == np.int32 and weights.dtype == np.float32
    assert indptr.shape == (73,) and indptr[-1] == proj.n_synapses == net.n_synapses
    assert delays.ndim == 0 and int(delays) == 5
    dense = np.zeros((72, 108))
    rows = np.repeat(np.arange(72), np.diff(indptr))
    np.add.at(dense, (rows, indices), weights)
    np.testing.assert_allclose(dense.T, g.matrix(w).toarray(), atol=1e-6)


def test_conv_projection_size_mismatch():
    g = ConvGeometry.from_nir((2, 6, 6), (3, 2, 3, 3), 1, 1, 1, 1, 2)
    net = Network()
    net.add_population("a", 72, InputParams())
    net.add_population("b", 100, LIFParams())
    with pytest.raises(NetworkError, match=r"'a->b'.*\(3, 6, 6\) \(108\).*'b'.*100 neurons"):
        net.add_projection(ConvProjection("a->b", "a", "b", np.ones(g.kernel), g,
                                          np.asarray(0, np.int64)))


def test_bad_geometry():
    with pytest.raises(ModelError, match=r"groups=3 must divide"):
        ConvGeometry((4, 5, 5), (4, 2, 3, 3), groups=3)
    with pytest.raises(ModelError, match="larger than the padded input"):
        ConvGeometry((1, 2, 2), (1, 1, 3, 3))
    with pytest.raises(ModelError, match="padding 'full'"):
        ConvGeometry.from_nir((1, 5, 5), (1, 1, 3, 3), 1, "full", 1, 1, 2)
    with pytest.raises(NetworkError, match="kernel shape"):
        ConvProjection("p", "a", "b", np.ones((2, 2)), ConvGeometry((1, 5, 5), (1, 1, 3, 3)),
                       np.asarray(0, np.int64))
