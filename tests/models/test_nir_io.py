"""NIR loading: golden outputs, real files, equivalence with the NumPy reference, bad input."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from aersim.models.errors import ModelError, ModelWarning  # noqa: E402
from aersim.models.loaders.loading import load_network, save_network  # noqa: E402
from aersim.models.loaders.nir_io import load_nir  # noqa: E402
from aersim.models.loaders.nir_reference import simulate_nir  # noqa: E402
from aersim.models.loaders.profiles import PROFILES  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "nir"

LIF_INPUT_STEPS = [60, 220, 270, 310, 320, 350, 370, 400, 410, 430, 440, 450, 460, 470, 480, 490,
                   500, 510, 520, 530, 670, 680, 690, 700, 710, 720, 730, 740, 750, 760, 770, 780,
                   840, 850]
EULER = PROFILES["norse"].with_(dt_s=1e-4)
EXACT = PROFILES["exact"]


# -- a plain NumPy simulator of a lowered Network (independent of the engines) --------------------


def simulate_network(net, inputs: dict, steps: int) -> dict:
    """Time-stepped run of ``net``: delta synapses, whole-step delays, topological updates.

    Returns, per population, spikes (0/1) for spiking models and the state ``v`` otherwise.
    """
    prof = net.metadata["profile"]
    dt = prof["dt_s"]
    dt_ps = int(round(dt * 1e12))
    pops = net.populations
    out_proj = {p: [] for p in pops}
    max_d = 0
    zero_delay_pre = {p: set() for p in pops}
    for proj in net.projections:
        indptr, indices, weights, delays = proj.to_csr_arrays()
        d = np.broadcast_to(np.asarray(delays) // dt_ps, indices.shape).astype(np.int64)
        rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        out_proj[proj.pre].append((proj.post, rows, indices.astype(np.int64),
                                   weights.astype(np.float64), d))
        max_d = max(max_d, int(d.max()) if d.size else 0)
        if d.size and d.min() == 0:
            zero_delay_pre[proj.post].add(proj.pre)
    # update order: every zero-delay source before its targets
    order, done = [], set()
    names = list(pops)
    while len(order) < len(names):
        for n in names:
            if n not in done and zero_delay_pre[n] <= done | {n}:
                order.append(n)
                done.add(n)
                break
        else:
            raise AssertionError("zero-delay cycle in lowered network")
    buf = {p: np.zeros((steps + max_d + 1, pops[p].size)) for p in pops}
    state = {}
    for p in pops:
        par = pops[p].params
        n = pops[p].size
        k = par.per_neuron(n) if par.kind != "input" else {}
        state[p] = {"v": np.array(k.get("v_init", np.zeros(n)), dtype=np.float64),
                    "i": np.zeros(n), "k": k}
    rec = {p: np.zeros((steps, pops[p].size)) for p in pops}
    for t in range(steps):
        for p in order:
            par = pops[p].params
            st = state[p]
            k = st["k"]
            if par.kind == "input":
                z = np.asarray(inputs[p][t], dtype=np.float64).ravel()
            else:
                drive = buf[p][t] * k["input_gain"]
                v = st["v"]
                if par.kind in ("lif", "li"):
                    v_inf = k["v_leak"] + k["r"] * k["bias"]
                    if par.integrator == "euler":
                        v = v + dt / k["tau_s"] * (v_inf - v)
                    else:
                        v = v_inf + (v - v_inf) * np.exp(-dt / k["tau_s"])
                    v = v + drive
                elif par.kind in ("if", "integrator"):
                    v = v + k["r"] * k["bias"] * dt + drive
                else:  # cuba
                    i = st["i"]
                    i_inf = k["w_in"] * k["bias"]
                    ts, tm = k["tau_syn_s"], k["tau_mem_s"]
                    first = par.order == "current_first"
                    if par.integrator == "euler":
                        if first:
                            i = i + dt / ts * (i_inf - i) + drive
                            v = v + dt / tm * (k["v_leak"] - v + k["r"] * i)
                        else:
                            v = v + dt / tm * (k["v_leak"] - v + k["r"] * i)
                            i = i + dt / ts * (i_inf - i) + drive
                    else:
                        if first:
                            i = i + drive
                        j = i - i_inf
                        v_inf = k["v_leak"] + k["r"] * i_inf
                        em, es = np.exp(-dt / tm), np.exp(-dt / ts)
                        coup = np.array([dt / a * b if math.isclose(c, a) else
                                         c / (c - a) * (e - b)
                                         for a, b, c, e in zip(tm, em, ts, es, strict=True)])
                        v = v_inf + (v - v_inf) * em + k["r"] * j * coup
                        i = i_inf + j * es
                        if not first:
                            i = i + drive
                    st["i"] = i
                if getattr(par, "spiking", True) and par.kind != "li":
                    late = getattr(par, "reset_timing", "immediate") == "next_step"

                    def reset(v, z, par=par, k=k):
                        if par.reset == "none":
                            return v
                        if par.reset == "subtract":
                            return v - z * k["v_th"]
                        return np.where(z > 0, k["v_reset"], v)
                    if late:
                        v = reset(v, st.get("pending", np.zeros(v.shape)))
                    rule = getattr(par, "spike_rule", None)
                    if rule is not None and rule.count:
                        z = np.where(v > 0, np.minimum(np.floor(v / k["v_th"]), rule.max_count),
                                     0.0)
                    elif rule is not None and rule.test == ">=":
                        z = (v >= k["v_th"]).astype(np.float64)
                    else:
                        z = (v > k["v_th"]).astype(np.float64)
                    if late:
                        st["pending"] = z
                    else:
                        v = reset(v, z)
                    if rule is not None:
                        v = np.maximum(v, rule.v_min)
                else:
                    z = None
                st["v"] = v
            if z is None:
                rec[p][t] = st["v"]
                continue
            rec[p][t] = z
            for post, rows, cols, w, d in out_proj[p]:
                fired = z[rows] > 0
                np.add.at(buf[post], (t + d[fired], cols[fired]), w[fired] * z[rows][fired])
    return rec


def lif_input(steps=1000):
    x = np.zeros((steps, 1))
    x[LIF_INPUT_STEPS] = 1.0
    return x


def lif_graph():
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([1])}),
               "0": nir.Affine(weight=np.ones((1, 1), np.float32), bias=np.zeros(1, np.float32)),
               "1": nir.LIF(tau=np.full(1, 2.5e-3), r=np.ones(1), v_leak=np.zeros(1),
                            v_threshold=np.full(1, 0.1), v_reset=np.zeros(1)),
               "output": nir.Output(output_type={"output": np.array([1])})},
        edges=[("input", "0"), ("0", "1"), ("1", "output")])


def _check_lif(graph_or_path, graph):
    for prof, expected in ((EULER, [460, 510, 710, 760]), (EXACT, [450, 500, 710, 760])):
        ref = simulate_nir(graph, lif_input(), prof)["output"][:, 0]
        assert np.flatnonzero(ref).tolist() == expected
        net = load_nir(graph_or_path, profile=prof)
        rec = simulate_network(net, {"input": lif_input()}, 1000)
        assert np.flatnonzero(rec[net.outputs[0]][:, 0]).tolist() == expected


def test_lif_golden_steps_built_graph():
    _check_lif(lif_graph(), lif_graph())


def test_lif_golden_steps_norse_file():
    path = DATA / "lif_norse.nir"
    if not path.is_file():
        pytest.skip("shared lif_norse.nir not present")
    _check_lif(path, nir.read(str(path)))


def test_profile_detection_warns():
    with pytest.warns(ModelWarning, match="assumed 'norse'.*r = 1"):
        net = load_nir(lif_graph())
    assert "profile_assumed" in net.metadata


def test_cnn_sinabs_shapes_and_reference():
    path = DATA / "cnn_sinabs.nir"
    if not path.is_file():
        pytest.skip("shared cnn_sinabs.nir not present")
    net = load_network(path, profile="sinabs")
    shapes = [p.shape for p in net.populations.values()]
    assert shapes == [(2, 34, 34), (16, 16, 16), (16, 16, 16), (8, 8, 8), (256,), (10,)]
    assert net.inputs == ["input"] and net.outputs == ["12"]
    kinds = {type(p).__name__ for p in net.projections}
    assert "ConvProjection" in kinds
    graph = nir.read(str(path))
    rng = np.random.default_rng(1)
    x = (rng.random((12, 2, 34, 34)) < 0.15).astype(np.float64)
    ref = simulate_nir(graph, x, "sinabs", return_all=True)
    assert ref["output"].shape == (12, 10)
    rec = simulate_network(net, {"input": x.reshape(12, -1)}, 12)
    for name in ("1", "3", "6", "10", "12"):
        np.testing.assert_array_equal(rec[name], ref[name].reshape(12, -1), err_msg=name)
    assert rec["1"].sum() > 0


def test_braille_subtract_loads_and_matches_reference():
    path = DATA / "braille_subtract.nir"
    if not path.is_file():
        pytest.skip("shared braille_subtract.nir not present")
    net = load_network(path, profile="snntorch")
    assert set(net.populations) == {"input", "lif1.lif", "lif2"}
    lif1 = net.populations["lif1.lif"].params
    assert lif1.kind == "cuba_lif" and lif1.reset == "subtract"
    rec_proj = [p for p in net.projections if p.pre == p.post == "lif1.lif"]
    assert len(rec_proj) == 1 and int(rec_proj[0].delays_ps) == PROFILES["snntorch"].dt_ps
    rng = np.random.default_rng(2)
    x = (rng.random((60, 12)) < 0.4).astype(np.float64)
    ref = simulate_nir(nir.read(str(path)), x, "snntorch", return_all=True)
    rec = simulate_network(net, {"input": x}, 60)
    for name in ("lif1.lif", "lif2"):
        np.testing.assert_array_equal(rec[name], ref[name])
    assert rec["lif1.lif"].sum() > 0


# -- random graphs of every primitive -------------------------------------------------------------


def _lif(rng, n, dt):
    tau = dt * rng.uniform(2, 10, n)
    return nir.LIF(tau=tau, r=tau / dt * rng.uniform(0.5, 1.5, n), v_leak=rng.uniform(-.1, .1, n),
                   v_threshold=rng.uniform(0.5, 1.5, n), v_reset=rng.uniform(-.2, .2, n))


def _cuba(rng, n, dt, spiking=True):
    ts, tm = dt * rng.uniform(2, 5, n), dt * rng.uniform(3, 10, n)
    kw = dict(tau_syn=ts, tau_mem=tm, r=tm / dt * rng.uniform(0.5, 1.5, n),
              v_leak=rng.uniform(-.1, .1, n), w_in=ts / dt * rng.uniform(0.5, 1.5, n))
    if not spiking:
        return nir.CubaLI(**kw)
    return nir.CubaLIF(**kw, v_threshold=rng.uniform(0.5, 1.5, n), v_reset=np.zeros(n))


def _w(rng, *shape):
    return rng.normal(0.3, 0.8, shape).astype(np.float32)


def dense_graph(rng, dt):
    """Affine, Linear, Scale, Delay, fan-in, self recurrence, every neuron type."""
    n0, n1, n2, n3, n4 = 7, 6, 5, 4, 3
    nodes = {
        "input": nir.Input(input_type={"input": np.array([n0])}),
        "fc1": nir.Affine(weight=_w(rng, n1, n0), bias=rng.normal(0, .2, n1).astype(np.float32)),
        "lif": _lif(rng, n1, dt),
        "rec": nir.Linear(weight=_w(rng, n1, n1) * 0.5),
        "fc2": nir.Linear(weight=_w(rng, n2, n1)),
        "scale": nir.Scale(scale=rng.uniform(0.5, 2, n2)),
        "if": nir.IF(r=np.full(n2, 1 / dt), v_threshold=rng.uniform(.5, 1.5, n2),
                     v_reset=np.zeros(n2)),
        "delay": nir.Delay(delay=dt * rng.integers(0, 4, n1)),
        "fc3": nir.Linear(weight=_w(rng, n3, n1)),
        "fc4": nir.Linear(weight=_w(rng, n3, n2)),
        "cuba": _cuba(rng, n3, dt),
        "fc5": nir.Affine(weight=_w(rng, n4, n3), bias=rng.normal(0, .2, n4)),
        "thr": nir.Threshold(threshold=rng.uniform(0.2, 1.0, n4)),
        "fc6": nir.Linear(weight=_w(rng, 2, n4)),
        "li": nir.LI(tau=dt * rng.uniform(2, 5, 2), r=np.full(2, 3.0), v_leak=np.zeros(2)),
        "fc7": nir.Linear(weight=_w(rng, 3, n3)),
        "culi": _cuba(rng, 3, dt, spiking=False),
        "fc8": nir.Linear(weight=_w(rng, 2, n2)),
        "int": nir.I(r=np.full(2, 1 / dt)),
        "o1": nir.Output(output_type={"output": np.array([2])}),
        "o2": nir.Output(output_type={"output": np.array([3])}),
        "o3": nir.Output(output_type={"output": np.array([2])}),
        "o4": nir.Output(output_type={"output": np.array([n4])}),
    }
    edges = [("input", "fc1"), ("fc1", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "fc2"),
             ("fc2", "scale"), ("scale", "if"), ("lif", "delay"), ("delay", "fc3"),
             ("fc3", "cuba"), ("if", "fc4"), ("fc4", "cuba"), ("cuba", "fc5"), ("fc5", "thr"),
             ("thr", "fc6"), ("fc6", "li"), ("li", "o1"), ("cuba", "fc7"), ("fc7", "culi"),
             ("culi", "o2"), ("if", "fc8"), ("fc8", "int"), ("int", "o3"), ("thr", "o4")]
    return nir.NIRGraph(nodes=nodes, edges=edges), (n0,)


def conv_graph(rng, dt):
    """Conv2d (stride, padding, dilation, groups, 'same'), pools, Flatten, Conv1d."""
    nodes = {
        "input": nir.Input(input_type={"input": np.array([2, 9, 9])}),
        "c1": nir.Conv2d(input_shape=None, weight=_w(rng, 4, 2, 3, 3), stride=2, padding=1,
                         dilation=1, groups=1, bias=rng.normal(0, .2, 4)),
        "if1": nir.IF(r=np.full((4, 5, 5), 1 / dt), v_threshold=np.ones((4, 5, 5)),
                      v_reset=np.zeros((4, 5, 5))),
        "c2": nir.Conv2d(input_shape=None, weight=_w(rng, 4, 2, 3, 3), stride=1, padding="same",
                         dilation=2, groups=2, bias=np.zeros(4)),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([1, 1]),
                              padding=np.array([0, 0])),
        "lif2": _lif(rng, 64, dt),
        "avg": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                             padding=np.array([1, 1])),
        "flat": nir.Flatten(input_type={"input": np.array([4, 3, 3])}, start_dim=0),
        "fc": nir.Affine(weight=_w(rng, 5, 36) * 2, bias=np.zeros(5)),
        "lif3": _lif(rng, 5, dt),
        "o": nir.Output(output_type={"output": np.array([5])}),
    }
    nodes["lif2"] = _lif(rng, 1, dt)
    nodes["lif2"] = nir.LIF(**{k: np.broadcast_to(getattr(nodes["lif2"], k), (4, 4, 4)).copy()
                               for k in ("tau", "r", "v_leak", "v_threshold", "v_reset")})
    edges = [("input", "c1"), ("c1", "if1"), ("if1", "c2"), ("c2", "pool"), ("pool", "lif2"),
             ("lif2", "avg"), ("avg", "flat"), ("flat", "fc"), ("fc", "lif3"), ("lif3", "o")]
    return nir.NIRGraph(nodes=nodes, edges=edges), (2, 9, 9)


def conv1d_graph(rng, dt):
    nodes = {
        "input": nir.Input(input_type={"input": np.array([2, 12])}),
        "c": nir.Conv1d(input_shape=12, weight=_w(rng, 4, 1, 3) * 2, stride=2, padding=2,
                        dilation=2, groups=2, bias=rng.normal(0, .1, 4)),
        "if": nir.IF(r=np.full((4, 6), 1 / dt), v_threshold=np.ones((4, 6)),
                     v_reset=np.zeros((4, 6))),
        "o": nir.Output(output_type={"output": np.array([4, 6])}),
    }
    edges = [("input", "c"), ("c", "if"), ("if", "o")]
    # nir's own type inference takes C_in from the weight alone, ignoring groups
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), (2, 12)


def nested_graph(rng, dt):
    """A recurrent block as a nested subgraph and as dotted flat names, side by side."""
    n = 5
    sub = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([n])}), "lif": _cuba(rng, n, dt),
               "w_rec": nir.Linear(weight=_w(rng, n, n) * 0.5),
               "output": nir.Output(output_type={"output": np.array([n])})},
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])
    nodes = {"input": nir.Input(input_type={"input": np.array([4])}),
             "fc1": nir.Linear(weight=_w(rng, n, 4)), "rnn": sub,
             "fc2": nir.Linear(weight=_w(rng, n, 4)), "blk.lif": _cuba(rng, n, dt),
             "blk.w_rec": nir.Linear(weight=_w(rng, n, n) * 0.5),
             "fc3": nir.Linear(weight=_w(rng, 3, n)), "fc4": nir.Linear(weight=_w(rng, 3, n)),
             "out": _lif(rng, 3, dt), "o": nir.Output(output_type={"output": np.array([3])})}
    edges = [("input", "fc1"), ("fc1", "rnn"), ("input", "fc2"), ("fc2", "blk.lif"),
             ("blk.lif", "blk.w_rec"), ("blk.w_rec", "blk.lif"), ("rnn", "fc3"),
             ("blk.lif", "fc4"), ("fc3", "out"), ("fc4", "out"), ("out", "o")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), (4,)


BUILDERS = [dense_graph, conv_graph, conv1d_graph, nested_graph]
EULER_PROFILES = [PROFILES["snntorch"], PROFILES["norse"].with_(dt_s=1e-4)]


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
@pytest.mark.parametrize("profile", EULER_PROFILES + [PROFILES["exact"]], ids=lambda p: p.name)
@pytest.mark.parametrize("seed", [0, 1])
def test_lowering_matches_reference(builder, profile, seed):
    rng = np.random.default_rng(seed)
    graph, in_shape = builder(rng, profile.dt_s)
    steps = 40
    x = (rng.random((steps,) + in_shape) < 0.35).astype(np.float64)
    ref = simulate_nir(graph, x, profile, return_all=True)
    net = load_nir(graph, profile=profile)
    rec = simulate_network(net, {"input": x.reshape(steps, -1)}, steps)
    spiking = 0
    for name, pop in net.populations.items():
        if pop.kind == "input":
            continue
        want = ref[name].reshape(steps, -1)
        if getattr(pop.params, "spiking", True) and pop.kind != "li":
            np.testing.assert_array_equal(rec[name], want, err_msg=name)
            spiking += rec[name].sum()
        else:
            np.testing.assert_allclose(rec[name], want, rtol=1e-5, atol=1e-6, err_msg=name)
    assert spiking > 0


def test_lava_dl_layer_delay():
    prof = PROFILES["lava-dl"]
    rng = np.random.default_rng(3)
    graph, in_shape = dense_graph(rng, prof.dt_s)
    net = load_nir(graph, profile=prof)
    assert all(int(np.min(p.delays_ps)) >= prof.dt_ps for p in net.projections)
    x = (rng.random((30,) + in_shape) < 0.35).astype(np.float64)
    ref = simulate_nir(graph, x, prof, return_all=True)
    rec = simulate_network(net, {"input": x}, 30)
    np.testing.assert_array_equal(rec["lif"], ref["lif"])


# -- round trip ------------------------------------------------------------------------------------


def _same_network(a, b):
    assert sorted(a.populations) == sorted(b.populations)
    for name, pa in a.populations.items():
        pb = b.populations[name]
        assert pa.kind == pb.kind and pa.shape == pb.shape
        if pa.kind != "input":
            for k, v in pa.params.per_neuron(pa.size).items():
                np.testing.assert_array_equal(v, pb.params.per_neuron(pb.size)[k], err_msg=k)
    assert sorted((p.pre, p.post) for p in a.projections) == \
        sorted((p.pre, p.post) for p in b.projections)
    for pa in a.projections:
        pb = next(p for p in b.projections if (p.pre, p.post) == (pa.pre, pa.post))
        for x, y in zip(pa.to_csr_arrays(), pb.to_csr_arrays(), strict=True):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("builder", [dense_graph, conv_graph, nested_graph],
                         ids=lambda b: b.__name__)
def test_save_load_round_trip(tmp_path, builder):
    prof = PROFILES["snntorch"]
    graph, _ = builder(np.random.default_rng(5), prof.dt_s)
    net1 = load_nir(graph, profile=prof)
    save_network(net1, tmp_path / "a.nir")
    net2 = load_network(tmp_path / "a.nir", profile=prof)
    _same_network(net1, net2)
    save_network(net2, tmp_path / "b.nir")
    _same_network(net2, load_network(tmp_path / "b.nir", profile=prof))


def test_round_trip_real_files(tmp_path):
    for fname, prof in (("braille_subtract.nir", "snntorch"), ("cnn_sinabs.nir", "sinabs")):
        path = DATA / fname
        if not path.is_file():
            pytest.skip("shared NIR files not present")
        net1 = load_network(path, profile=prof)
        save_network(net1, tmp_path / fname)
        _same_network(net1, load_network(tmp_path / fname, profile=prof))


# -- bad input -------------------------------------------------------------------------------------


def _g(nodes, edges):
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _inp(n):
    return nir.Input(input_type={"input": np.array([n])})


def _out(n):
    return nir.Output(output_type={"output": np.array([n])})


def test_unknown_profile(tmp_path):
    with pytest.raises(ModelError, match=r"unknown import profile 'brian'.*'norse'"):
        load_network(lif_graph(), profile="brian")
    nir.write(str(tmp_path / "lif.nir"), lif_graph())
    with pytest.raises(ModelError, match=r"lif\.nir: unknown import profile 'brian'.*'spyx'"):
        load_network(tmp_path / "lif.nir", profile="brian")


def test_shape_mismatch_on_edge():
    g = _g({"input": _inp(3), "fc": nir.Linear(weight=np.ones((2, 4))),
            "lif": _lif(np.random.default_rng(0), 2, 1e-4), "o": _out(2)},
           [("input", "fc"), ("fc", "lif"), ("lif", "o")])
    with pytest.raises(ModelError, match=r"edge \('input', 'fc'\).*shape \(3,\).*expects \(4,\)"):
        load_nir(g, profile="exact")


def test_unsupported_node_type():
    g = _g({"input": _inp(2), "id": nir.ir.graph.Identity(input_type={"input": np.array([2])}),
            "o": _out(2)}, [("input", "id"), ("id", "o")])
    with pytest.raises(ModelError, match=r"node 'id' has unsupported type 'Identity'.*'LIF'"):
        load_nir(g, profile="exact")


def test_malformed_field():
    lif = _lif(np.random.default_rng(0), 2, 1e-4)
    object.__setattr__(lif, "tau", np.array([1e-3, np.nan]))
    g = _g({"input": _inp(2), "lif": lif, "o": _out(2)}, [("input", "lif"), ("lif", "o")])
    with pytest.raises(ModelError, match=r"node 'lif' \(LIF\): field 'tau' contains NaN"):
        load_nir(g, profile="exact")


def test_negative_time_constant():
    lif = _lif(np.random.default_rng(0), 2, 1e-4)
    object.__setattr__(lif, "tau", np.array([1e-3, -1e-3]))
    g = _g({"input": _inp(2), "lif": lif, "o": _out(2)}, [("input", "lif"), ("lif", "o")])
    with pytest.raises(ModelError, match=r"node 'lif' \(LIF\).*'tau_s' must be > 0"):
        load_nir(g, profile="exact")


def test_missing_field():
    lif = _lif(np.random.default_rng(0), 2, 1e-4)
    object.__setattr__(lif, "v_threshold", None)
    g = _g({"input": _inp(2), "lif": lif, "o": _out(2)}, [("input", "lif"), ("lif", "o")])
    with pytest.raises(ModelError, match=r"node 'lif' \(LIF\): field 'v_threshold' is missing"):
        load_nir(g, profile="exact")


def test_broken_subgraph_reference():
    sub = _g({"input": _inp(2), "lif1": _lif(np.random.default_rng(0), 2, 1e-4), "output": _out(2)},
             [("input", "lif"), ("lif1", "output")])
    g = _g({"input": _inp(2), "rnn": sub, "o": _out(2)}, [("input", "rnn"), ("rnn", "o")])
    with pytest.raises(ModelError, match=r"edge \('input', 'lif'\) in subgraph 'rnn' names node "
                                         r"'lif', which does not exist.*'lif1'"):
        load_nir(g, profile="exact")


def test_linear_only_cycle():
    g = _g({"input": _inp(2), "a": nir.Linear(weight=np.eye(2)), "b": nir.Linear(weight=np.eye(2)),
            "lif": _lif(np.random.default_rng(0), 2, 1e-4), "o": _out(2)},
           [("input", "a"), ("a", "b"), ("b", "a"), ("a", "lif"), ("lif", "o")])
    with pytest.raises(ModelError, match="only of linear nodes"):
        load_nir(g, profile="exact")


def test_text_file_is_not_nir(tmp_path):
    p = tmp_path / "net.nir"
    p.write_text("this is not a NIR file\n")
    with pytest.raises(ModelError, match=r"net\.nir.*is not an HDF5 file"):
        load_network(p, profile="exact")


def test_truncated_hdf5(tmp_path):
    good = tmp_path / "good.nir"
    nir.write(str(good), lif_graph())
    bad = tmp_path / "cut.nir"
    bad.write_bytes(good.read_bytes()[:3000])
    with pytest.raises(ModelError, match=r"cut\.nir.*(truncated|cannot read)"):
        load_network(bad, profile="exact")


def test_hdf5_without_nir_layout(tmp_path):
    import h5py

    p = tmp_path / "other.nir"
    with h5py.File(p, "w") as f:
        f["data"] = np.arange(3)
    with pytest.raises(ModelError, match=r"other\.nir.*no 'node' group.*\['data'\]"):
        load_network(p, profile="exact")


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_network(tmp_path / "nope.nir", profile="exact")


def test_non_spiking_node_driving_population():
    rng = np.random.default_rng(0)
    g = _g({"input": _inp(2), "li": nir.LI(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2)),
            "fc": nir.Linear(weight=np.eye(2)), "lif": _lif(rng, 2, 1e-4), "o": _out(2)},
           [("input", "li"), ("li", "fc"), ("fc", "lif"), ("lif", "o")])
    with pytest.raises(ModelError, match=r"node 'li' \(LI\) is non-spiking but drives 'fc'"):
        load_nir(g, profile="exact")


def test_delay_not_whole_steps_warns():
    rng = np.random.default_rng(0)
    g = _g({"input": _inp(2), "d": nir.Delay(delay=np.array([1.5e-4, 1e-4])),
            "lif": _lif(rng, 2, 1e-4), "o": _out(2)},
           [("input", "d"), ("d", "lif"), ("lif", "o")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ModelWarning, match=r"node 'd' \(Delay\).*not whole steps"):
            load_nir(g, profile="exact")


def test_flatten_start_dim_trap_is_recorded():
    rng = np.random.default_rng(0)
    g = _g({"input": nir.Input(input_type={"input": np.array([2, 3, 4])}),
            "flat": nir.Flatten(input_type={"input": np.array([2, 3, 4])}, start_dim=1),
            "fc": nir.Linear(weight=_w(rng, 5, 24)), "lif": _lif(rng, 5, 1e-4), "o": _out(5)},
           [("input", "flat"), ("flat", "fc"), ("fc", "lif"), ("lif", "o")])
    net = load_nir(g, profile="exact")
    assert any("start_dim" in note for note in net.metadata["assumptions"])
    assert net.projections[0].n_synapses == 120


def test_flatten_then_conv1d_stays_a_convolution():
    rng = np.random.default_rng(4)
    prof = PROFILES["snntorch"]
    g = _g({"input": nir.Input(input_type={"input": np.array([2, 3, 4])}),
            "flat": nir.Flatten(input_type={"input": np.array([2, 3, 4])}, start_dim=1),
            "c": nir.Conv1d(input_shape=None, weight=_w(rng, 3, 2, 3) * 2, stride=1, padding=1,
                            dilation=1, groups=1, bias=np.zeros(3)),
            "if": nir.IF(r=np.full((3, 12), 1e4), v_threshold=np.ones((3, 12)),
                         v_reset=np.zeros((3, 12))), "o": _out(36)},
           [("input", "flat"), ("flat", "c"), ("c", "if"), ("if", "o")])
    net = load_nir(g, profile=prof)
    assert type(net.projections[0]).__name__ == "ConvProjection"
    x = (rng.random((20, 2, 3, 4)) < 0.4).astype(float)
    ref = simulate_nir(g, x, prof, return_all=True)
    rec = simulate_network(net, {"input": x.reshape(20, -1)}, 20)
    np.testing.assert_array_equal(rec["if"], ref["if"].reshape(20, -1))
    assert rec["if"].sum() > 0
