"""Network-on-chip contention: the fast model against the SimPy NoC, invariants, saturation,
multicast trees, and the engines with contention on."""

import dataclasses

import numpy as np
import pytest

from aersim.hardware import MappingError, load_chip
from aersim.hardware.noc import route_table
from aersim.models import InputParams, LIFParams, Network
from aersim.simcore import RunConfig, Simulation, SpikeTrains
from aersim.simcore.engine.build import META_DELIVERED, META_FREE
from aersim.simcore.engine.hardware_model import simulate_noc
from aersim.simcore.engine.reference_noc import simulate_noc_reference
from tests.simcore.parallel_cases import CASES

LINK_FIELDS = ("packets", "flits", "busy_ps", "max_queue_flits", "blocked_ps")


def contention_chip(name="minimal", **noc):
    chip = load_chip(name)
    return dataclasses.replace(chip, noc=dataclasses.replace(chip.noc, contention=True, **noc))


def assert_same(fast, ref):
    np.testing.assert_array_equal(fast.packet, ref.packet)
    np.testing.assert_array_equal(fast.core, ref.core)
    np.testing.assert_array_equal(fast.t_ps, ref.t_ps)
    for name in LINK_FIELDS:
        np.testing.assert_array_equal(getattr(fast.links, name), getattr(ref.links, name), name)


def zero_load_ps(chip, src, dst):
    hops = route_table(chip)[src, dst]
    lat = chip.noc.hop_latency_ps
    return (chip.noc.router_latency_ps + (hops[0] + hops[1]) * lat["east_west"]
            + (hops[2] + hops[3]) * lat["north_south"])


# -- the fast model against the SimPy reference ---------------------------------------------

def patterns(chip, rng):
    n = chip.n_cores
    t = rng.integers(0, 150_000, 1500)
    yield "random", t, rng.integers(0, n, t.size), rng.integers(0, n, t.size)
    t = rng.integers(0, 60_000, 800)
    yield "hotspot", t, rng.integers(0, n, t.size), np.full(t.size, n - 1)
    # Transpose: tile (x, y) sends to tile (y, x) (square meshes), every core of the tile.
    w = chip.width
    src = rng.integers(0, n, 1200)
    tile = src // chip.cores_per_tile
    x, y = tile % w, tile // w
    dst = ((x % chip.height) * w + (y % w)) * chip.cores_per_tile + src % chip.cores_per_tile
    yield "transpose", rng.integers(0, 60_000, src.size), src, dst


@pytest.mark.parametrize("name,noc", [
    ("minimal", {"buffer_flits": 2, "flit_bits": 16}),        # 2-flit packets, one fits
    ("loihi_like", {"buffer_flits": 3, "flit_bits": 16}),
    ("spinnaker2_like", {"buffer_flits": 2, "routing": "unicast"}),
])
def test_fast_noc_equals_simpy_reference(name, noc):
    chip = contention_chip(name, **noc)
    rng = np.random.default_rng(7)
    for label, t, src, dst in patterns(chip, rng):
        fast = simulate_noc(chip, t, src, dst)
        ref = simulate_noc_reference(chip, t, src, dst)
        assert_same(fast, ref)
        assert fast.links.blocked_ps.sum() > 0, f"{label}: no back-pressure happened"
        assert fast.t_ps.size == t.size                      # conserved: one delivery each


def test_multicast_equals_simpy_reference():
    chip = contention_chip("spinnaker2_like", buffer_flits=2)
    rng = np.random.default_rng(3)
    n = 300
    t = rng.integers(0, 100_000, n)
    src = rng.integers(0, chip.n_cores, n)
    dests = [rng.choice(chip.n_cores, rng.integers(1, 24), replace=False) for _ in range(n)]
    fast = simulate_noc(chip, t, src, dests)
    ref = simulate_noc_reference(chip, t, src, dests)
    assert_same(fast, ref)
    assert fast.links.blocked_ps.sum() > 0
    assert fast.t_ps.size == sum(len(d) for d in dests)


# -- invariants ---------------------------------------------------------------------------------

def test_idle_network_is_zero_load_plus_serialisation():
    """One packet at a time: arrival = zero-load latency + (flits - 1) * cycle."""
    chip = contention_chip("loihi_like", flit_bits=8)        # 32-bit packets: 4 flits
    f, cycle = chip.noc.flits, chip.noc.cycle_ps
    assert f == 4
    rng = np.random.default_rng(0)
    src = rng.integers(0, chip.n_cores, 200)
    dst = rng.integers(0, chip.n_cores, 200)
    t = np.arange(200) * 10**6                               # 1 us apart: never overlapping
    run = simulate_noc(chip, t, src, dst)
    zero = np.array([zero_load_ps(chip, a, b) for a, b in zip(src, dst, strict=True)])
    want = t + zero + (f - 1) * cycle
    np.testing.assert_array_equal(run.t_ps, want)
    assert run.links.blocked_ps.sum() == 0


def test_link_counters_add_up():
    """Every packet crosses hops + 1 servers (its links, then the ejection port)."""
    chip = contention_chip("minimal", flit_bits=16, buffer_flits=2)
    rng = np.random.default_rng(1)
    src = rng.integers(0, chip.n_cores, 2000)
    dst = rng.integers(0, chip.n_cores, 2000)
    run = simulate_noc(chip, rng.integers(0, 100_000, 2000), src, dst)
    hops = route_table(chip)[src, dst].sum(axis=1)
    f = chip.noc.flits
    assert run.links.packets.sum() == (hops + 1).sum()
    assert run.links.flits.sum() == f * (hops + 1).sum()
    assert run.links.busy_ps.sum() == run.links.flits.sum() * chip.noc.cycle_ps
    eject = run.links.port >= 4
    assert run.links.packets[eject].sum() == src.size        # conserved
    np.testing.assert_array_equal(np.bincount(dst, minlength=chip.n_cores),
                                  run.links.packets[eject])
    assert run.links.max_queue_flits.max() <= chip.noc.buffer_flits


def test_queueing_delay_grows_towards_saturation():
    """Latency at 10/50/90/110 % of a link's capacity: increasing, unbounded past 100 %."""
    chip = contention_chip("minimal", flit_bits=8, buffer_flits=4)   # 4 flits = 4 ns per packet
    service = chip.noc.flits * chip.noc.cycle_ps
    n = 2000
    rng = np.random.default_rng(5)
    means = []
    for load in (0.1, 0.5, 0.9, 1.1):
        # Poisson arrivals from cores 0 and 1 (west of core 3 on the same row) to core 3.
        gaps = rng.exponential(service / load, n)
        t = np.cumsum(gaps).astype(np.int64)
        src = rng.integers(0, 2, n)
        run = simulate_noc(chip, t, src, np.full(n, 3))
        base = np.array([zero_load_ps(chip, s, 3) for s in src]) + service - chip.noc.cycle_ps
        means.append(float((run.t_ps - t - base).mean()))
    assert means[0] < means[1] < means[2] < means[3]
    assert means[0] < 0.2 * service
    assert means[3] > 50 * service                           # the queue grows without bound


# -- multicast -------------------------------------------------------------------------------

def test_multicast_tree_edges_and_unicast_paths():
    chip = contention_chip("spinnaker2_like")
    uni = dataclasses.replace(chip, noc=dataclasses.replace(chip.noc, routing="unicast"))
    dests = [4, 20, 40, 75, 80, 151]
    mc = simulate_noc(chip, [0], [0], [dests])
    uc = simulate_noc(uni, [0] * len(dests), [0] * len(dests), dests)
    # Tree edges by brute force: union of the directed XY links of each route.
    edges = set()
    for d in dests:
        tile, goal = 0, d // chip.cores_per_tile
        while tile != goal:
            x, y, gx = tile % chip.width, tile // chip.width, goal % chip.width
            nxt = tile + (1 if gx > x else -1) if gx != x else \
                tile + chip.width * (1 if goal // chip.width > y else -1)
            edges.add((tile, nxt))
            tile = nxt
    directional = mc.links.port < 4
    assert mc.links.packets[directional].sum() == len(edges)
    assert mc.links.packets[directional].sum() < uc.links.packets[directional].sum()
    np.testing.assert_array_equal(mc.core, np.sort(dests))


def test_multicast_table_overflow_is_an_error():
    chip = contention_chip("spinnaker2_like", routing_table_entries=4)
    net = Network()
    net.add_population("input", 8, InputParams())
    net.add_population("lif", 8 * 40, LIFParams())
    rng = np.random.default_rng(0)
    pre = np.repeat(np.arange(8), 30)
    post = rng.integers(0, 8 * 40, pre.size)
    net.connect("input", "lif", pre, post, 0.1, 10**8)
    small = dataclasses.replace(chip, core=dataclasses.replace(chip.core, neurons=8))
    with pytest.raises(MappingError, match=r"router \d+ \(tile x=\d+, y=\d+\) needs \d+ "
                                           r"key/mask entries but holds 4"):
        Simulation(net, small, config=RunConfig(mode="async"))


# -- the engines with contention ---------------------------------------------------------------

def burst_network(n_in=16, n_out=64):
    net = Network()
    net.add_population("input", n_in, InputParams())
    net.add_population("lif", n_out, LIFParams(v_th=0.5))
    pre, post = np.meshgrid(np.arange(n_in), np.arange(n_out), indexing="ij")
    net.connect("input", "lif", pre.ravel(), post.ravel(), 0.05, 2 * 10**8)
    return net


@pytest.mark.parametrize("mode", ["timestep", "async"])
@pytest.mark.parametrize("routing", ["unicast", "multicast"])
def test_engine_messages_arrive_as_the_noc_model_says(mode, routing):
    """A burst through a run with contention: same function, the same messages, packets
    conserved, link counters equal to the hop counts, and (unicast, where the source core
    sends as in the zero-load model) no message earlier than zero-load plus serialisation."""
    base = load_chip("minimal")
    noc = dict(flit_bits=8, buffer_flits=4, routing=routing)
    chip = dataclasses.replace(base, core=dataclasses.replace(base.core, neurons=8),
                               noc=dataclasses.replace(base.noc, contention=True, **noc))
    zero = dataclasses.replace(chip, noc=dataclasses.replace(chip.noc, contention=False))
    net = burst_network()
    stim = [SpikeTrains("input", np.zeros(16, np.int64), np.arange(16))]
    runs = {}
    for label, c in (("noc", chip), ("zero", zero)):
        sim = Simulation(net, c, config=RunConfig(mode=mode, record_messages=True),
                         stimuli=stim)
        runs[label] = (sim, sim.run(duration_ps=10**9))
    sim, res = runs["noc"]
    zsim, zres = runs["zero"]
    np.testing.assert_array_equal(res.spikes_t_ps[res.spikes_neuron < 16],
                                  zres.spikes_t_ps[zres.spikes_neuron < 16])
    first = res.messages[:, 1].min()
    msgs = res.messages[res.messages[:, 1] < first + 10**7]     # the burst of the first step
    zmsgs = zres.messages[zres.messages[:, 1] < zres.messages[:, 1].min() + 10**7]
    order, zorder = np.argsort(msgs[:, 0]), np.argsort(zmsgs[:, 0])
    np.testing.assert_array_equal(msgs[order, 0], zmsgs[zorder, 0])
    extra = (chip.noc.flits - 1) * chip.noc.cycle_ps
    if routing == "unicast":
        assert np.all(msgs[order, 1] >= zmsgs[zorder, 1] + extra)
        assert np.any(msgs[order, 1] > zmsgs[zorder, 1] + extra)   # some queued
    assert res.links is not None and res.links.blocked_ps.sum() > 0
    assert zres.links is None
    assert res.info["noc_packets"] == (16 if routing == "multicast" else
                                       res.op_totals()["message_out"])
    eject = res.links.port >= 4
    assert res.links.packets[eject].sum() == res.op_totals()["message_in"]   # conserved
    hops = sum(res.op_totals()[f"hop_{d}"] for d in ("east", "west", "north", "south"))
    assert res.links.packets[~eject].sum() == hops
    # Every packet left the network: a timestep's timeline starts from an empty one, which
    # lets the ranks of a partitioned run run steps apart (simcore.run.parallel).
    assert_network_empty(sim.chip_tables.noc)
    assert sim.chip_tables.noc.meta[META_DELIVERED] == res.op_totals()["message_in"] > 0


def assert_network_empty(noc):
    """No packet in the contention model's network: every packet slot free, every FIFO and
    buffer empty, no link blocked."""
    assert noc.meta[META_FREE] == noc.free.shape[0]
    assert np.all(noc.q_head == -1) and np.all(noc.occ == 0)
    assert np.all(noc.blocked_since == -1)


def test_every_timestep_leaves_the_network_empty():
    """Step by step through a recurrent network whose steps queue packets on the links: after
    each step the network is empty, so no step's timeline inherits another's packets (the
    premise of splitting a partitioned run's timeline by step, simcore.run.parallel), and the
    steps run one call at a time give the spikes and packet counts of one call for all."""
    net, chip, stimuli, _, _ = CASES["noc"]()
    # Narrow links and short buffers, so that a step's packets queue.
    chip = dataclasses.replace(chip, noc=dataclasses.replace(chip.noc, flit_bits=8,
                                                             buffer_flits=4))
    cfg = RunConfig(mode="timestep", dt_ps=10**8, seed=11)
    whole = Simulation(net, chip, config=cfg, stimuli=stimuli).run(duration_ps=60 * 10**8)
    sim = Simulation(net, chip, config=cfg, stimuli=stimuli)
    noc = sim.chip_tables.noc
    spikes = []
    for _ in range(60):
        res = sim.run(duration_ps=10**8)
        assert_network_empty(noc)
        spikes.append(res.spikes_neuron)
    assert whole.links.blocked_ps.sum() > 0             # packets did wait for links
    np.testing.assert_array_equal(np.concatenate(spikes), whole.spikes_neuron)
    assert noc.meta[META_DELIVERED] == whole.info["noc_packets"] > 0
