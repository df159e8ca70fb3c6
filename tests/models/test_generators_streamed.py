"""Streamed fixed in-degree projections equal the coordinate-list construction."""

import numpy as np
import pytest

from aersim.models import generators
from aersim.models.network import Network


def _by_coordinates(rng, n_pre, n_post, c, normal=None):
    """The projection built from the full coordinate lists by ``Network.connect``."""
    net = Network()
    net.add_population("a", n_pre, generators.InputParams())
    net.add_population("b", n_post, generators.InputParams())
    src = rng.integers(0, n_pre, size=n_post * c, dtype=np.int64)
    dst = np.repeat(np.arange(n_post, dtype=np.int64), c)
    w = rng.normal(normal[0], normal[1], size=src.shape[0]) if normal else 0.25
    return net.connect("a", "b", src, dst, w, 1000)


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 20])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streamed_projection_equals_connect(monkeypatch, block, seed):
    monkeypatch.setattr(generators, "_BLOCK_SYNAPSES", block)
    n_pre, n_post, c = 37, 23, 5
    for normal in (None, (0.5, 2.0)):
        want = _by_coordinates(np.random.default_rng(seed), n_pre, n_post, c, normal)
        net = Network()
        net.add_population("a", n_pre, generators.InputParams())
        net.add_population("b", n_post, generators.InputParams())
        rng = np.random.default_rng(seed)
        generators._add_fixed_indegree(net, rng, "a", "b", n_pre, n_post, c, 1000,
                                       weight=None if normal else 0.25, normal=normal)
        got = net.projections[0]
        for name in ("indptr", "indices", "weights", "delays_ps"):
            a, b = getattr(got, name), getattr(want, name)
            assert a.dtype == b.dtype and np.array_equal(a, b), name
        # The generator is left where the coordinate-list draws leave it.
        ref = np.random.default_rng(seed)
        ref.integers(0, n_pre, size=n_post * c, dtype=np.int64)
        if normal:
            ref.normal(size=n_post * c)
        assert rng.integers(0, 1 << 30) == ref.integers(0, 1 << 30)


def test_random_network_too_large_for_the_machine_is_refused(monkeypatch):
    from aersim.models import memory
    from aersim.models.errors import NetworkError

    monkeypatch.setattr(memory, "available_bytes", lambda: 1 << 30)
    with pytest.raises(NetworkError, match=r"random network \(100,000 neurons, 500\.0 M "
                                           r"synapses\) needs about 9\.3 GiB"):
        generators.random_network(n_neurons=100_000, n_inputs=0, p_connect=0.05)
