"""The engine's fan-out tables equal a direct construction from their definition."""

from types import SimpleNamespace

import numpy as np
import pytest

from aersim.models import LIFParams, Network
from aersim.simcore.engine.build import build_synapses, input_slots


def _random_network(seed: int) -> Network:
    """Populations of random sizes (one with three input channels) and projections added in a
    random order: several from the same source, shared and per-synapse delays, repeated
    (pre, post, delay) triples, empty rows and a population that sends nothing."""
    rng = np.random.default_rng(seed)
    net = Network()
    sizes = rng.integers(1, 40, size=4)
    for k, n in enumerate(sizes):
        params = SimpleNamespace(kind="egru", input_channels=3) if k == 2 else LIFParams()
        net.add_population(f"p{k}", int(n), params)
    pairs = [(a, b) for a in range(3) for b in range(4)]     # p3 sends nothing
    for j in rng.permutation(len(pairs))[:int(rng.integers(3, len(pairs)))]:
        a, b = pairs[j]
        n_pre, n_post = int(sizes[a]), int(sizes[b])
        n_syn = int(rng.integers(0, 4 * n_pre * n_post // 3 + 2))
        pre = rng.integers(0, n_pre, n_syn)
        pre[pre == 0] = min(1, n_pre - 1)                     # row 0 is often empty
        post = rng.integers(0, n_post, n_syn)
        w = rng.normal(size=n_syn)
        delays = int(rng.integers(0, 4)) * 250_000 if rng.random() < 0.4 else \
            rng.integers(0, 4, n_syn) * 250_000               # few values: repeated segments
        net.connect(f"p{a}", f"p{b}", pre, post, w, delays, name=f"p{a}->p{b}",
                    channel=int(rng.integers(0, 3)) if b == 2 else 0)
    return net


def _direct_tables(net: Network, core_of: np.ndarray):
    """The tables from their definition, one neuron at a time: the neuron's synapses from every
    projection in the order they were added, sorted stably by (core of the target, delay); a
    run of equal core is a message, a run of equal (core, delay) a segment."""
    slot0, n_slots = input_slots(net)
    slot_core = np.repeat(core_of, np.diff(np.append(slot0, n_slots)))
    target, weight, seg_lo, seg_delay, msg_ptr, msg_core, msg_seg_lo = ([] for _ in range(7))
    for i in range(net.n_neurons):
        t, w, d = [], [], []
        for proj in net.projections:
            r = i - net.offset(proj.pre)
            if not 0 <= r < net.population(proj.pre).size:
                continue
            lo, hi = proj.indptr[r], proj.indptr[r + 1]
            stride = getattr(net.population(proj.post).params, "input_channels", 1)
            t += list(slot0[net.offset(proj.post)] + proj.channel + proj.indices[lo:hi] * stride)
            w += list(proj.weights[lo:hi])
            d += list(proj.delays_per_synapse()[lo:hi])
        t, w, d = np.array(t, np.int64), np.array(w, np.float32), np.array(d, np.int64)
        order = np.lexsort((d, slot_core[t]))                 # stable: ties keep their order
        msg_ptr.append(len(msg_core))
        for j, k in enumerate(order):
            at = len(target)
            same_core = j > 0 and slot_core[t[k]] == slot_core[t[order[j - 1]]]
            if not same_core:
                msg_core.append(slot_core[t[k]])
                msg_seg_lo.append(len(seg_lo))
            if not same_core or d[k] != d[order[j - 1]]:
                seg_lo.append(at)
                seg_delay.append(d[k])
            target.append(t[k])
            weight.append(w[k])
    msg_ptr.append(len(msg_core))
    msg_seg_lo.append(len(seg_lo))
    seg_lo.append(len(target))
    return (np.array(target, np.int32), np.array(weight, np.float32),
            np.array(seg_lo, np.int64), np.array(seg_delay, np.int64),
            np.array(msg_ptr, np.int64), np.array(msg_core, np.int32),
            np.array(msg_seg_lo, np.int64))


@pytest.mark.parametrize("seed", range(12))
def test_fan_out_tables_equal_the_direct_construction(seed):
    net = _random_network(seed)
    rng = np.random.default_rng(1000 + seed)
    core_of = rng.integers(0, int(rng.integers(1, 6)), net.n_neurons).astype(np.int32)
    got = build_synapses(net, SimpleNamespace(core_of=core_of))
    want = _direct_tables(net, core_of)
    assert net.n_synapses > 0
    for name, a, b in zip(got._fields, got, want, strict=True):
        assert a.dtype == b.dtype, name
        assert np.array_equal(a, b), name


def test_a_network_without_projections_has_empty_tables():
    net = Network()
    net.add_population("a", 5, LIFParams())
    syn = build_synapses(net, SimpleNamespace(core_of=np.zeros(5, np.int32)))
    assert syn.target.size == 0 and syn.msg_core.size == 0
    assert np.array_equal(syn.msg_ptr, np.zeros(6)) and np.array_equal(syn.seg_lo, [0])


def test_stable_argsort_matches_numpy_stable_argsort():
    from aersim.simcore.engine.synapse_tables import _stable_argsort
    rng = np.random.default_rng(1)
    for m in (0, 1, 2, 3, 5, 8, 17, 100, 1000, 4097):
        for n_keys in (2, 5, 1000):     # few distinct keys: many ties whose order must hold
            key = rng.integers(0, n_keys, m + 3)
            perm, tmp = np.empty(m + 3, np.int64), np.empty(m + 3, np.int64)
            _stable_argsort(key, m, perm, tmp)
            assert (perm[:m] == np.argsort(key[:m], kind="stable")).all(), (m, n_keys)
