"""Lava-DL netx loader: round trips through files written from the documented layout.

No real ``.net`` file is available, so these tests pin the loader's reading of the layout in
``models/netx_io.py`` (nir.md §3.3); they do not prove agreement with lava-dl's own writer.
"""

import h5py
import numpy as np
import pytest

from aersim.models import ModelError, ModelWarning
from aersim.models.conv import ConvProjection
from aersim.models.loaders.netx_io import STEP_PS, load_netx
from aersim.models.neurons.loihi_cuba import LoihiCubaParams
from aersim.models.neurons.sigma_delta import SigmaDeltaParams


def write_netx(path, layers, simulation=None):
    """Write ``layers`` (a list of dicts; ``neuron`` is a sub-dict) in the netx layout."""
    with h5py.File(path, "w") as f:
        root = f.create_group("layer")
        for i, layer in enumerate(layers):
            g = root.create_group(str(i))
            for key, value in layer.items():
                if key == "neuron":
                    n = g.create_group("neuron")
                    for nk, nv in value.items():
                        n.create_dataset(nk, data=np.bytes_(nv) if isinstance(nv, str) else nv)
                elif isinstance(value, str):
                    g.create_dataset(key, data=np.bytes_(value))
                else:
                    g.create_dataset(key, data=value)
        if simulation:
            s = f.create_group("simulation")
            for k, v in simulation.items():
                s.create_dataset(k, data=v)


def cuba(**kw):
    base = {"type": "CUBA", "iDecay": 1024, "vDecay": 256, "vThMant": 80, "refDelay": 1,
            "gradedSpike": 0}
    base.update(kw)
    return base


def dense_matrix(net, proj):
    pre = net.population(proj.pre).size
    post = net.population(proj.post).size
    m = np.zeros((post, pre))
    indptr, indices, weights, _ = proj.to_csr_arrays()
    for i in range(pre):
        for s in range(indptr[i], indptr[i + 1]):
            m[indices[s], i] += weights[s]
    return m


@pytest.fixture()
def mlp(tmp_path):
    rng = np.random.default_rng(3)
    w1 = 2 * rng.integers(-99, 100, (6, 4)).astype(np.float32)
    w1[0, :] = 0  # a pruned row
    w2 = 2 * rng.integers(-99, 100, (3, 6)).astype(np.float32)
    d2 = rng.integers(0, 5, (3, 6))
    path = tmp_path / "mlp.net"
    write_netx(path, [
        {"type": "input", "shape": np.array([4])},
        {"type": "dense", "shape": np.array([6]), "inFeatures": 4, "outFeatures": 6,
         "weight": w1, "bias": np.arange(6, dtype=np.float32),
         "neuron": cuba(refDelay=3, wgtExp=1)},
        {"type": "dense", "shape": np.array([3]), "inFeatures": 6, "outFeatures": 3,
         "weight": w2, "delay": d2, "neuron": cuba(gradedSpike=1, iDecay=4096)},
    ], simulation={"Ts": 1.0, "tSample": 100})
    return path, w1, w2, d2


def test_dense_round_trip(mlp):
    path, w1, w2, d2 = mlp
    net = load_netx(path)
    assert list(net.populations) == ["layer0", "layer1", "layer2"]
    assert net.inputs == ["layer0"] and net.outputs == ["layer2"]
    p1 = net.population("layer1").params
    assert isinstance(p1, LoihiCubaParams)
    assert int(p1.d_u) == 1024 and int(p1.d_v) == 256 and int(p1.vth) == 80
    assert p1.bias_mant.tolist() == list(range(6)) and int(p1.bias_exp) == 6
    assert int(p1.hold_steps) == 2 and p1.weight_exp == 1 and not p1.graded
    p2 = net.population("layer2").params
    assert int(p2.d_u) == 4096 and p2.graded and int(p2.hold_steps) == 0
    proj1, proj2 = net.projections
    np.testing.assert_array_equal(dense_matrix(net, proj1), w1)
    np.testing.assert_array_equal(dense_matrix(net, proj2), w2)
    assert proj1.n_synapses == np.count_nonzero(w1)
    assert np.all(proj1.delays_per_synapse() == STEP_PS)  # one-step Dense buffer
    # per-synapse delays: arrival at t + 1 + d
    indptr, indices, _, delays = proj2.to_csr_arrays()
    for i in range(6):
        for s in range(indptr[i], indptr[i + 1]):
            assert delays[s] == (1 + d2[indices[s], i]) * STEP_PS
    assert net.metadata["simulation.tSample"] == 100


def test_conv_pool_flatten_concat(tmp_path):
    rng = np.random.default_rng(4)
    k = 2 * rng.integers(-50, 50, (4, 2, 3, 3, 1)).astype(np.float32)  # trailing time axis
    w_out = 2 * rng.integers(-50, 50, (5, 16 + 36)).astype(np.float32)
    path = tmp_path / "cnn.net"
    write_netx(path, [
        {"type": "input", "shape": np.array([2, 8, 8])},
        {"type": "conv", "shape": np.array([6, 6, 4]), "inChannels": 2, "outChannels": 4,
         "kernelSize": np.array([3, 3]), "stride": np.array([1, 1]), "padding": np.array([0, 0]),
         "dilation": np.array([1, 1]), "groups": 1, "weight": k, "neuron": cuba()},
        {"type": "pool", "shape": np.array([4, 3, 3]), "kernelSize": 2, "stride": 2,
         "padding": 0, "weight": 2.0, "neuron": cuba()},
        {"type": "flatten", "shape": np.array([36])},
        {"type": "dense", "shape": np.array([16]), "inFeatures": 36, "outFeatures": 16,
         "weight": 2 * np.ones((16, 36), dtype=np.float32), "neuron": cuba()},
        {"type": "concat", "layers": np.array([4, 3])},
        {"type": "dense", "shape": np.array([5]), "inFeatures": 52, "outFeatures": 5,
         "weight": w_out, "neuron": {"type": "SDNN", "vThMant": 32}},
    ])
    net = load_netx(path)
    conv, pool = net.projections[0], net.projections[1]
    assert isinstance(conv, ConvProjection) and conv.geometry.out_shape == (4, 6, 6)
    np.testing.assert_array_equal(conv.weight, k[..., 0])
    assert isinstance(pool, ConvProjection) and pool.source == "SumPool2d"
    assert net.population("layer2").shape == (4, 3, 3)
    # the concat splits the last weight matrix by source population
    last = [p for p in net.projections if p.post == "layer6"]
    assert [p.pre for p in last] == ["layer4", "layer2"]
    np.testing.assert_array_equal(dense_matrix(net, last[0]), w_out[:, :16])
    np.testing.assert_array_equal(dense_matrix(net, last[1]), w_out[:, 16:])
    p6 = net.population("layer6").params
    assert isinstance(p6, SigmaDeltaParams) and float(p6.threshold) == 0.5


def test_axonal_delay_and_implicit_input(tmp_path):
    path = tmp_path / "ax.net"
    write_netx(path, [
        {"type": "dense", "inFeatures": 2, "outFeatures": 3, "weight": np.full((3, 2), 4.0),
         "delay": np.array([0, 2, 5]), "neuron": cuba()},
        {"type": "dense", "inFeatures": 3, "outFeatures": 1, "weight": np.full((1, 3), 2.0),
         "neuron": cuba()},
    ])
    net = load_netx(path, step_ps=10)
    assert net.inputs == ["input"] and net.population("input").size == 2
    proj = net.projections[1]
    assert sorted(proj.delays_per_synapse().tolist()) == [10, 30, 60]


def test_input_neuron_warns(tmp_path):
    path = tmp_path / "in.net"
    write_netx(path, [{"type": "input", "shape": np.array([2]), "neuron": cuba()},
                      {"type": "dense", "inFeatures": 2, "outFeatures": 1,
                       "weight": np.full((1, 2), 2.0), "neuron": cuba()}])
    with pytest.warns(ModelWarning, match="input layer's neuron is not simulated"):
        load_netx(path)


def base_layers():
    return [{"type": "input", "shape": np.array([2])},
            {"type": "dense", "inFeatures": 2, "outFeatures": 1, "weight": np.full((1, 2), 2.0),
             "neuron": cuba()}]


@pytest.mark.parametrize("change,match", [
    (lambda L: L[1].update(type="average"),
     "layer 1 \\(average\\): layer type 'average' is not supported"),
    (lambda L: L[1].pop("weight"), "layer 1 \\(dense\\): missing field 'weight'"),
    (lambda L: L[1].update(weight=np.full((1, 3), 2.0)), "field 'weight' has shape \\(1, 3\\)"),
    (lambda L: L[1].update(weight=np.full((1, 2), 0.5)), "non-integer values"),
    (lambda L: L[1].update(neuron=cuba(iDecay=5000)), "neuron: LoihiCuba parameter 'd_u'"),
    (lambda L: L[1].update(neuron=cuba(type="RF")), "neuron type 'RF' is not supported"),
    (lambda L: L[1].update(neuron=cuba(vThMant=1.5)), "field 'vThMant' must hold integers"),
    (lambda L: L[1].update(delay=np.array([[70, 0]])), "Loihi delays are 0..63"),
    (lambda L: L[1].pop("neuron"), "missing group 'neuron'"),
    (lambda L: L[1].update(bias=np.zeros(3)), "field 'bias' has 3 values for 1 neurons"),
])
def test_malformed_files_name_file_layer_and_field(tmp_path, change, match):
    layers = base_layers()
    change(layers)
    path = tmp_path / "bad.net"
    write_netx(path, layers)
    with pytest.raises(ModelError, match=match) as info:
        load_netx(path)
    assert "bad.net" in str(info.value)


def test_not_a_netx_file(tmp_path):
    path = tmp_path / "x.net"
    path.write_bytes(b"not hdf5")
    with pytest.raises(ModelError, match="cannot open as a netx HDF5 file"):
        load_netx(path)
    with h5py.File(tmp_path / "empty.net", "w") as f:
        f.create_group("graph")
    with pytest.raises(ModelError, match="no 'layer' group"):
        load_netx(tmp_path / "empty.net")


def test_conv_needs_input_layer(tmp_path):
    path = tmp_path / "c.net"
    write_netx(path, [{"type": "conv", "outChannels": 1, "weight": np.ones((1, 1, 1, 1)),
                       "neuron": cuba()}])
    with pytest.raises(ModelError, match="first layer must be 'input' or 'dense'"):
        load_netx(path)


def test_load_network_dispatches_net_files_and_refuses_to_write_them(mlp, tmp_path):
    from aersim.models import load_network, load_netx, save_network

    path = mlp[0]
    net = load_network(path)
    assert net.n_synapses == load_netx(path).n_synapses
    with pytest.raises(ModelError, match="import profile .* does not apply"):
        load_network(path, profile="snntorch")
    with pytest.raises(ModelError, match="reads netx files but does not write them"):
        save_network(net, tmp_path / "copy.net")
