"""The engine's fan-out tables equal a direct construction from their definition."""

from types import SimpleNamespace

import numpy as np
import pytest

from aersim.models import LIFParams, Network, Projection, synapse_arena
from aersim.simcore.engine import build
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
    """The copied tables from their definition, one neuron at a time: the neuron's synapses from
    every projection in the order they were added, sorted stably by (core of the target,
    delay); a run of equal core is a message, a run of equal (core, delay) a segment."""
    slot0, n_slots = input_slots(net)
    slot_core = np.repeat(core_of, np.diff(np.append(slot0, n_slots)))
    target, weight, seg_lo, seg_delay, msg_ptr, msg_core, msg_seg_lo = ([] for _ in range(7))
    delay_ps = sorted({int(d) for p in net.projections for d in p.delays_per_synapse()})
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
                seg_delay.append(delay_ps.index(d[k]))
            target.append(t[k])
            weight.append(w[k])
    msg_ptr.append(len(msg_core))
    msg_seg_lo.append(len(seg_lo))
    seg_lo.append(len(target))
    seg_lo = np.array(seg_lo, np.int32)
    return (np.array(target, np.int32), np.array(weight, np.float32),
            seg_lo, seg_lo[1:], np.zeros(len(seg_delay), np.int32), np.array(seg_delay, np.int32),
            np.array(delay_ps, np.int64), np.array(msg_ptr, np.int64),
            np.array(msg_core, np.int32), np.array(msg_seg_lo, np.int32))


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


def _one_population(n: int, sort_rows: bool, seed: int = 3) -> Network:
    """One LIF population with one recurrent projection (20 synapses per neuron, a few
    multapses, one delay); ``sort_rows``: every row ascending by target, as a generator writes
    it, else in the random order of the pairs."""
    rng = np.random.default_rng(seed)
    pre = np.repeat(np.arange(n), 20)
    post = rng.integers(0, n, pre.size)
    if sort_rows:
        post = post.reshape(n, 20)
        post.sort(axis=1)
        post = post.ravel()
    net = Network()
    net.add_population("a", n, LIFParams(tau_s=0.02, v_th=1.0, t_ref_s=0.001))
    net.connect("a", "a", pre, post, rng.normal(0.05, 0.1, pre.size), 10**9, name="rec")
    return net


def _tables(net, core_of, share):
    """``fan_out_tables`` with neuron ``i`` (and its input slots) on core ``core_of[i]``."""
    from aersim.simcore.engine.build import DELAY_BITS
    from aersim.simcore.engine.synapse_tables import fan_out_tables
    slot0, n_slots = input_slots(net)
    slot_core = np.repeat(np.asarray(core_of, dtype=np.int32), np.diff(np.append(slot0, n_slots)))
    return fan_out_tables(net, slot_core, slot0, DELAY_BITS, share)


@pytest.mark.parametrize("sort_rows, core_order, shares", [
    (True, "blocks", True),         # rows in (core, delay) order: the network's arrays serve
    (False, "blocks", False),       # a row's targets out of order
    (True, "reversed", False),      # ascending targets, but descending cores
])
def test_shared_arrays_give_the_tables_of_a_copy(sort_rows, core_order, shares):
    n = 120
    net = _one_population(n, sort_rows)
    proj = net.projections[0]
    core_of = np.arange(n) // 10 if core_order == "blocks" else (n - 1 - np.arange(n)) // 10
    got = _tables(net, core_of, share=True)
    copied = _tables(net, core_of, share=False)
    want = _direct_tables(net, core_of)
    assert np.shares_memory(got[0], proj.indices) == shares
    assert np.shares_memory(got[1], proj.weights) == shares
    assert not np.shares_memory(copied[0], proj.indices)
    for k, (a, b, c) in enumerate(zip(got, copied, want, strict=True)):
        assert a.dtype == b.dtype == c.dtype, k
        assert np.array_equal(a, b) and np.array_equal(a, c), k


def test_projections_in_separate_arrays_are_copied():
    net = _one_population(50, sort_rows=True)
    net.add_population("b", 30, LIFParams())
    core_of = np.arange(80) // 10
    net.connect("a", "b", [0, 1, 2], [0, 1, 2], 0.5, 10**9, name="ab")
    got = _tables(net, core_of, share=True)
    assert not any(np.shares_memory(got[0], p.indices) for p in net.projections)
    for a, b in zip(got, _direct_tables(net, core_of), strict=True):
        assert np.array_equal(a, b)


def _arena_network(seed: int, per: int, channels: int = 1, skip: int = 0) -> Network:
    """Random projections (several from one source, several onto one target with the same
    delays, shared and per-synapse delays, empty rows) whose arrays are views of one
    ``synapse_arena``, every row sorted stably by (core of the target, delay) as the in-place
    layout needs, neuron ``i`` on core ``i // per`` (two populations share a core at their
    border). ``channels``: input channels of population ``p1``; ``skip``: synapses of the
    arena left outside every projection."""
    rng = np.random.default_rng(seed)
    sizes = [int(s) for s in rng.integers(5, 40, size=3)]
    starts = np.cumsum([0] + sizes)
    net = Network()
    for k, n in enumerate(sizes):
        params = SimpleNamespace(kind="egru", input_channels=channels) \
            if k == 1 and channels > 1 else LIFParams()
        net.add_population(f"p{k}", n, params)
    plan = [(a, b) for a in (0, 1, 2) for b in (0, 1, 2) if rng.random() < 0.7] + [(0, 1), (0, 1)]
    drawn = []
    for a, b in plan:
        n_pre, n_post = sizes[a], sizes[b]
        pre = np.sort(rng.integers(1, n_pre, int(rng.integers(0, 3 * n_pre))))
        post = rng.integers(0, n_post, pre.size)
        d = rng.integers(0, 3, pre.size) * 250_000 if rng.random() < 0.5 else \
            np.full(pre.size, 250_000 * int(rng.integers(0, 3)))
        key = (starts[b] + post) // per * 10**7 + d
        order = np.lexsort((key, pre))      # by row, then (core, delay), stably
        drawn.append((a, b, pre[order], post[order], d[order], rng.normal(size=pre.size)))
    arena = synapse_arena([x[2].size for x in drawn] + [skip])
    for k, ((a, b, pre, post, d, w), (idx, wts)) in enumerate(zip(drawn, arena, strict=False)):
        idx[:], wts[:] = post, w
        indptr = np.searchsorted(pre, np.arange(sizes[a] + 1)).astype(np.int64)
        delays = np.asarray(d[0] if d.size and (d == d[0]).all() else d, dtype=np.int64)
        net.add_projection(Projection(f"p{a}->p{b}#{k}", f"p{a}", f"p{b}", indptr, idx, wts,
                                      delays))
    return net


def _per_message(syn):
    """Every message's synapses as (input slot, weight, delay) in table order."""
    out = []
    for m in range(syn.msg_core.size):
        rows = []
        for g in range(syn.msg_seg_lo[m], syn.msg_seg_lo[m + 1]):
            for q in range(syn.seg_lo[g], syn.seg_hi[g]):
                rows.append((int(syn.seg_slot0[g] + syn.target[q]), float(syn.weight[q]),
                             int(syn.delay_ps[syn.seg_delay[g]])))
        out.append(rows)
    return out


@pytest.mark.parametrize("seed", range(10))
def test_in_place_tables_hold_the_copied_tables_synapses_in_their_order(seed):
    """The in-place layout reads the network's arena and keeps nothing per synapse, and every
    message holds the same synapses, slots, weights and delays in the same order as the
    copied layout (itself checked against the direct construction above)."""
    from aersim.simcore.engine.build import SynapseTables
    per = 3 + seed % 5
    net = _arena_network(seed, per)
    core_of = (np.arange(net.n_neurons) // per).astype(np.int32)
    got = SynapseTables(*_tables(net, core_of, share=True))
    copied = SynapseTables(*_tables(net, core_of, share=False))
    want = _direct_tables(net, core_of)
    for name, a, b in zip(copied._fields, copied, want, strict=True):
        assert np.array_equal(a, b), name
    arena = net.projections[0].indices.base
    assert got.target is arena and got.weight is net.projections[0].weights.base
    assert got.seg_delay.size >= copied.seg_delay.size
    for name in ("msg_ptr", "msg_core", "delay_ps"):
        assert np.array_equal(getattr(got, name), getattr(copied, name)), name
    assert _per_message(got) == _per_message(copied)
    assert got.seg_lo.dtype == got.seg_hi.dtype == np.int32 and got.seg_slot0.dtype == np.int32
    assert got.seg_lo[-1] == net.n_synapses


@pytest.mark.parametrize("variant, in_place", [
    ("covered", True),          # the arena is exactly the projections: read in place
    ("skip", False),            # synapses of the arena outside every projection
    ("channels", False),        # a target population with three input channels
])
def test_an_arena_is_read_in_place_only_when_it_is_exactly_the_projections(variant, in_place):
    net = _arena_network(1, 4, skip=3 if variant == "skip" else 0,
                         channels=3 if variant == "channels" else 1)
    assert any(p.post == "p1" for p in net.projections)
    core_of = (np.arange(net.n_neurons) // 4).astype(np.int32)
    got = _tables(net, core_of, share=True)
    assert np.shares_memory(got[0], net.projections[0].indices) == in_place
    if not in_place:
        for a, b in zip(got, _direct_tables(net, core_of), strict=True):
            assert np.array_equal(a, b)


def test_the_build_reads_in_place_from_a_size_or_under_memory_pressure(monkeypatch):
    """Small networks are copied (faster delivery); from ``IN_PLACE_MIN_BYTES`` of copy on, or
    when the copy would take more than a quarter of the available memory, read in place."""
    from aersim.models import brunel_network, memory
    net = brunel_network(n_exc=80, n_inh=20, epsilon=0.2)
    mapping = SimpleNamespace(core_of=(np.arange(net.n_neurons) // 16).astype(np.int32))
    arena = net.projections[0].indices.base
    copy_bytes = 8 * net.n_synapses
    monkeypatch.setattr(memory, "available_bytes", lambda: 4 * copy_bytes)
    assert build_synapses(net, mapping).target is not arena
    assert build_synapses(net, mapping, layout="in_place").target is arena
    monkeypatch.setattr(build, "IN_PLACE_MIN_BYTES", copy_bytes)
    assert build_synapses(net, mapping).target is arena
    monkeypatch.setattr(build, "IN_PLACE_MIN_BYTES", copy_bytes + 1)
    assert build_synapses(net, mapping).target is not arena
    monkeypatch.setattr(memory, "available_bytes", lambda: 4 * copy_bytes - 1)
    assert build_synapses(net, mapping).target is arena
    assert build_synapses(net, mapping, layout="copy").target is not arena


def test_in_place_is_refused_where_its_split_segments_would_keep_more_than_a_copy():
    """Eight projections from one source onto eight small populations on one core: in place
    every projection's run would be a segment of its own (8 per message, 20 bytes each),
    where the copy merges them into one (16 bytes) and keeps 8 bytes per synapse."""
    rng = np.random.default_rng(3)
    n, k, m = 400, 8, 8
    net = Network()
    net.add_population("s", n, LIFParams())
    for j in range(k):
        net.add_population(f"t{j}", m, LIFParams())
    arena = synapse_arena([n] * k)
    for j, (idx, w) in enumerate(arena):
        idx[:], w[:] = rng.integers(0, m, n), 0.1
        net.add_projection(Projection(f"s->t{j}", "s", f"t{j}", np.arange(n + 1), idx, w,
                                      np.asarray(10**9)))
    core_of = np.concatenate((np.arange(n) // 100, np.full(k * m, 4))).astype(np.int32)
    mapping = SimpleNamespace(core_of=core_of)
    syn = build_synapses(net, mapping, layout="in_place")
    copied = build_synapses(net, mapping, layout="copy")
    assert syn.target is not arena[0][0].base and syn.seg_delay.size == copied.seg_delay.size
    # The first projection alone, in an arena of its own, is read in place.
    one = Network()
    one.add_population("s", n, LIFParams())
    one.add_population("t0", m, LIFParams())
    [(idx, w)] = synapse_arena([n])
    idx[:], w[:] = arena[0]
    one.add_projection(Projection("s->t0", "s", "t0", np.arange(n + 1), idx, w,
                                  np.asarray(10**9)))
    alone = build_synapses(one, SimpleNamespace(core_of=core_of[:n + m]), layout="in_place")
    assert alone.target is idx.base


@pytest.mark.parametrize("mode", ["timestep", "async"])
@pytest.mark.parametrize("network", ["one_projection", "brunel"])
def test_a_run_on_shared_arrays_equals_a_run_on_a_copy(mode, network):
    from aersim.models import brunel_network
    from aersim.simcore import PoissonDrive, RunConfig, Simulation
    from aersim.simcore.engine.synapse_tables import reads_in_place

    if network == "brunel":     # four projections in one arena; E and I share cores
        net = brunel_network(n_exc=800, n_inh=200, epsilon=0.1, seed=2)
        stim = [PoissonDrive(p, 16_000.0, 0.1) for p in ("exc", "inh")]
    else:
        net = _one_population(200, sort_rows=True)
        stim = [PoissonDrive("a", 2000.0, 0.3)]
    shared = Simulation(net, "loihi_like", stimuli=stim,
                        config=RunConfig(mode=mode, seed=5, synapses="in_place"))
    assert np.shares_memory(shared.syn.target, net.projections[0].indices)
    assert reads_in_place(shared.syn)
    copied = Simulation(net, "loihi_like", stimuli=stim,
                        config=RunConfig(mode=mode, seed=5, synapses="copy"))
    assert not reads_in_place(copied.syn)
    assert not np.shares_memory(copied.syn.target, net.projections[0].indices)
    if network == "brunel":
        assert shared.syn.seg_delay.size > copied.syn.seg_delay.size
    a, b = shared.run(0.05), copied.run(0.05)
    assert a.n_spikes > 100
    assert np.array_equal(a.spikes_t_ps, b.spikes_t_ps)
    assert np.array_equal(a.spikes_neuron, b.spikes_neuron)
    assert np.array_equal(a.counts, b.counts) and np.array_equal(shared.v, copied.v)
    assert a.ledger.total_j == b.ledger.total_j


def test_pointer_type_is_int32_up_to_the_int32_limit():
    from aersim.simcore.engine.synapse_tables import narrowest_int
    assert narrowest_int(2**31 - 1) == np.int32 and narrowest_int(2**31) == np.int64
    assert narrowest_int(0) == np.int32


def test_pointers_widen_to_int64_past_the_limit_with_the_same_values(monkeypatch):
    """A small stand-in limit moves the int32/int64 boundary to this network's counts."""
    from aersim.simcore.engine import synapse_tables
    from aersim.simcore.engine.build import delay_steps
    net = _random_network(4)
    core_of = np.random.default_rng(9).integers(0, 4, net.n_neurons).astype(np.int32)
    base = build_synapses(net, SimpleNamespace(core_of=core_of))
    n_syn, n_seg = base.target.size, base.seg_delay.size
    assert base.seg_lo.dtype == base.msg_seg_lo.dtype == np.int32 and n_seg < n_syn

    def runs_of(syn):
        return synapse_tables.delivery_runs(syn, delay_steps(syn, 250_000), syn.msg_ptr[:-1],
                                            syn.msg_ptr[1:])
    base_ptr, base_runs = runs_of(base)
    for limit, seg_lo_type, msg_seg_lo_type in ((n_syn, np.int32, np.int32),
                                                (n_syn - 1, np.int64, np.int32),
                                                (n_seg, np.int64, np.int32),
                                                (n_seg - 1, np.int64, np.int64)):
        monkeypatch.setattr(synapse_tables, "INT32_LIMIT", limit)
        syn = build_synapses(net, SimpleNamespace(core_of=core_of))
        assert syn.seg_lo.dtype == seg_lo_type and syn.msg_seg_lo.dtype == msg_seg_lo_type
        for name, a, b in zip(syn._fields, syn, base, strict=True):
            assert np.array_equal(a, b), name
        # The delivery runs widen with the synapse pointers, to the same values.
        run_ptr, runs = runs_of(syn)
        assert runs.dtype == seg_lo_type and len(runs) > 0
        assert np.array_equal(run_ptr, base_ptr) and np.array_equal(runs, base_runs)


def test_distinct_delays_read_in_blocks_equal_numpy_unique():
    from aersim.simcore.engine.synapse_tables import distinct_delays
    rng = np.random.default_rng(2)
    per_syn = rng.integers(0, 50, 1000) * 7
    # The third projection has no synapses: its delay is none of theirs.
    projections = [(1000, per_syn), (4, np.array([3])), (0, np.array([99999])),
                   (10, per_syn[:10] + 1)]
    got = distinct_delays(projections, block=64)
    want = np.unique(np.concatenate([per_syn, [3], per_syn[:10] + 1]))
    assert got.dtype == np.int64 and np.array_equal(got, want)


def _run_synapses(syn, run_ptr, runs, j):
    """Neuron ``j``'s synapses as its delivery runs give them: (synapse, input slot, delay in
    steps), in order."""
    return [(q, int(runs[x, 3] + syn.target[q]), int(runs[x, 2]))
            for x in range(run_ptr[j], run_ptr[j + 1]) for q in range(runs[x, 0], runs[x, 1])]


def _segment_synapses(syn, steps, m_lo, m_hi):
    """The same from the segments of messages ``m_lo .. m_hi-1``."""
    return [(q, int(syn.seg_slot0[g] + syn.target[q]), int(steps[g]))
            for m in range(m_lo, m_hi) for g in range(syn.msg_seg_lo[m], syn.msg_seg_lo[m + 1])
            for q in range(syn.seg_lo[g], syn.seg_hi[g])]


@pytest.mark.parametrize("seed, share", [(s, share) for s in range(6) for share in (False, True)])
def test_delivery_runs_give_each_neurons_synapses_in_segment_order(seed, share):
    """A neuron's delivery runs hold exactly the synapses of its messages (all of them, or
    those to a block of cores as a rank owns), in segment order, with their segment's input
    slot and delay; consecutive segments merge only where their synapses follow each other
    with one delay and first slot, so every run is maximal."""
    from aersim.simcore.engine.build import SynapseTables, delay_steps
    from aersim.simcore.engine.partitioned import owned_messages
    from aersim.simcore.engine.synapse_tables import delivery_runs
    per = 3 + seed % 4
    net = _arena_network(seed, per)
    core_of = (np.arange(net.n_neurons) // per).astype(np.int32)
    syn = SynapseTables(*_tables(net, core_of, share=share))
    steps = delay_steps(syn, 250_000)
    n_cores = int(core_of.max()) + 1
    merged = 0
    for lo, hi in ((0, n_cores), (0, n_cores // 2), (n_cores // 2, n_cores)):
        first, end = owned_messages(syn.msg_ptr, syn.msg_core, lo, hi)
        run_ptr, runs = delivery_runs(syn, steps, first, end)
        assert run_ptr[0] == 0 and np.all(np.diff(run_ptr) >= 0) and run_ptr[-1] == len(runs)
        assert runs.dtype == np.int32 and np.all(runs[:, 0] < runs[:, 1])
        for j in range(net.n_neurons):
            assert _run_synapses(syn, run_ptr, runs, j) == \
                _segment_synapses(syn, steps, first[j], end[j])
            mine = runs[run_ptr[j]:run_ptr[j + 1]]
            follows = (mine[1:, 0] == mine[:-1, 1]) & (mine[1:, 2] == mine[:-1, 2]) \
                & (mine[1:, 3] == mine[:-1, 3])
            assert not follows.any()                    # nothing left to merge
        merged += syn.seg_delay.size - len(runs) if hi - lo == n_cores else 0
    assert merged > 0                                   # segments did merge


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["timestep", "async"])
def test_a_run_on_int64_tables_equals_a_run_on_int32_tables(monkeypatch, mode):
    """A network past the int32 limit (a stand-in limit here) runs on int64 segment pointers
    and delivery runs, through another compiled signature of the engine kernel, to the spikes,
    counts and energy of the same network on int32 tables."""
    from aersim.models import brunel_network
    from aersim.simcore import PoissonDrive, RunConfig, Simulation
    from aersim.simcore.engine import synapse_tables

    net = brunel_network(n_exc=400, n_inh=100, epsilon=0.1, seed=2)
    stim = [PoissonDrive(p, 16_000.0, 0.1) for p in ("exc", "inh")]
    config = RunConfig(mode=mode, seed=5, synapses="copy")
    narrow = Simulation(net, "loihi_like", stimuli=stim, config=config)
    monkeypatch.setattr(synapse_tables, "INT32_LIMIT", net.n_synapses - 1)
    wide = Simulation(net, "loihi_like", stimuli=stim, config=config)
    assert narrow.syn.seg_lo.dtype == np.int32 and wide.syn.seg_lo.dtype == np.int64
    if mode == "timestep":
        assert wide.mode_tables.runs.dtype == np.int64
        assert np.array_equal(wide.mode_tables.runs, narrow.mode_tables.runs)
    a, b = narrow.run(0.05), wide.run(0.05)
    assert a.n_spikes > 100
    assert np.array_equal(a.spikes_t_ps, b.spikes_t_ps)
    assert np.array_equal(a.spikes_neuron, b.spikes_neuron)
    assert np.array_equal(a.counts, b.counts) and a.ledger.total_j == b.ledger.total_j
