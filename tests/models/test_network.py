"""Network construction: CSR correctness and error messages."""

import numpy as np
import pytest

from aersim.models import InputParams, LIFParams, Network, NetworkError, random_network


def small():
    net = Network()
    net.add_population("a", 4, InputParams())
    net.add_population("b", 3, LIFParams())
    return net


def test_connect_builds_sorted_csr():
    net = small()
    pre = [3, 0, 3, 1, 0]
    post = [0, 2, 1, 1, 0]
    w = [0.5, 1.0, 1.5, 2.0, 2.5]
    proj = net.connect("a", "b", pre, post, w, [10, 20, 30, 40, 50])
    assert proj.indptr.tolist() == [0, 2, 3, 3, 5]
    # Stable within a row: synapses of neuron 0 keep their given order.
    assert proj.indices.tolist() == [2, 0, 1, 0, 1]
    assert proj.weights.tolist() == [1.0, 2.5, 2.0, 0.5, 1.5]
    assert proj.delays_ps.tolist() == [20, 50, 40, 10, 30]
    assert net.n_synapses == 5 and net.offset("b") == 4


def test_shared_delay_is_stored_once():
    net = small()
    proj = net.connect("a", "b", [0, 1], [0, 1], 1.0, 5)
    assert proj.delays_ps.ndim == 0 and proj.delays_per_synapse().tolist() == [5, 5]


@pytest.mark.parametrize("kwargs,match", [
    (dict(pre_idx=[0], post_idx=[3]), "postsynaptic index 3 is outside the population"),
    (dict(pre_idx=[-1], post_idx=[0]), "presynaptic index -1"),
    (dict(pre_idx=[0], post_idx=[0], delays_ps=-5), "negative delay -5 ps"),
    (dict(pre_idx=[0], post_idx=[0], weights=np.nan), "weight of synapse 0 is nan"),
    (dict(pre_idx=[0, 1], post_idx=[0]), "2 presynaptic but 1 postsynaptic"),
])
def test_connect_errors(kwargs, match):
    args = dict(weights=1.0, delays_ps=0)
    args.update(kwargs)
    with pytest.raises(NetworkError, match=match):
        small().connect("a", "b", **args)


def test_unknown_and_duplicate_populations():
    net = small()
    with pytest.raises(NetworkError, match=r"no population 'c'; the network has \['a', 'b'\]"):
        net.connect("a", "c", [0], [0], 1.0, 0)
    with pytest.raises(NetworkError, match="exists already"):
        net.add_population("a", 2, InputParams())
    with pytest.raises(NetworkError, match="shape \\(2, 3\\) holds 6 neurons, not 5"):
        net.add_population("c", 5, InputParams(), shape=(2, 3))


def test_generator_is_deterministic():
    a, b = random_network(seed=5), random_network(seed=5)
    for pa, pb in zip(a.projections, b.projections, strict=True):
        assert np.array_equal(pa.indices, pb.indices) and np.array_equal(pa.weights, pb.weights)
    c = random_network(seed=6)
    assert not np.array_equal(a.projections[1].indices, c.projections[1].indices)


def test_a_network_too_large_for_the_machine_is_refused_before_allocating(monkeypatch):
    from aersim.models import memory
    from aersim.models.errors import NetworkError
    from aersim.models.generators import brunel_network

    monkeypatch.setattr(memory, "available_bytes", lambda: 1 << 30)
    with pytest.raises(NetworkError, match=r"Brunel network \(100,000 neurons, 1000.0 M "
                                           r"synapses\) needs about 11.2 GiB .* 1.0 GiB "
                                           r"available; use fewer neurons"):
        brunel_network(n_exc=80_000, n_inh=20_000)
