"""The silicon-calibrated Loihi preset: its numbers, and costs recovered from priced runs.

Reference table: SANA-FE's `arch/loihi.yaml` (commit 8951ab0), silicon-calibrated per-operation
costs (Boyle et al., IEEE TCAD 2025). The micro-benchmarks run small networks on the preset and
fit ``energy = sum(count x cost)`` and ``step time = barrier + critical path`` by least squares;
the fitted costs must be the preset's.
"""

import numpy as np
import pytest

from aersim.hardware import Mapping, load_chip
from aersim.hardware.energy import OP_INDEX
from aersim.models import LIFParams, Network
from aersim.simcore.run.config import RunConfig
from aersim.simcore.run.simulation import Simulation

DT_PS = 100_000_000


@pytest.fixture(scope="module")
def chip():
    return load_chip("loihi_calibrated")


def test_preset_loads_with_the_loihi_geometry(chip):
    assert chip.name == "loihi_calibrated" and chip.execution_mode == "timestep"
    assert (chip.width, chip.height, chip.cores_per_tile) == (8, 4, 4)
    assert chip.n_cores == 128 and chip.core.neurons == 1024 and chip.topology == "mesh"
    assert chip.noc.routing == "unicast" and not chip.noc.contention


def test_numbers_are_the_reference_table(chip):
    e, t = chip.core.energy_pj, chip.core.latency_ps
    assert e["synaptic_op"] == 33.6 and t["synaptic_op"] == 4_700          # sparse synapse
    assert e["neuron_update"] == pytest.approx(51.2 + 21.6, rel=1e-12)      # access + update
    assert t["neuron_update"] == 6_000 + 3_700
    assert e["spike_out"] == 69.3 and t["spike_out"] == 30_000
    assert e["message_out"] == 111.0 and t["message_out"] == 5_100          # axon_out
    assert e["message_in"] == 0.0 and t["message_in"] == 16_000             # axon_in
    assert chip.noc.hop_energy_pj == {"east_west": 3.0, "north_south": 4.2}
    assert chip.noc.hop_latency_ps == {"east_west": 4_100, "north_south": 6_500}
    assert chip.noc.router_energy_pj == 0.0 and chip.noc.router_latency_ps == 0
    assert chip.barrier_latency_ps == 1_800_000                              # sync, >= 29 tiles
    assert [chip.barrier_for_tiles(n)[0] for n in (1, 2, 3, 4, 28, 29, 32)] == \
        [600_000, 1_000_000, 1_000_000, 1_400_000, 1_400_000, 1_800_000, 1_800_000]
    assert e["synaptic_op_dense"] == 35.5 and t["synaptic_op_dense"] == 3_800
    assert e["synaptic_op_conv"] == 24.0 and t["synaptic_op_conv"] == 3_100
    assert e["neuron_idle"] == 51.2 and t["neuron_idle"] == 6_000           # access only
    assert e["input_spike"] == 0.0 and t["input_spike"] == 0
    assert chip.core.receive == "concurrent" and chip.noc.congestion == "flow"
    assert chip.barrier_energy_pj == 0.0 and chip.static_power_w == 0.0


def _lif(n, v_inf):
    # Euler with tau = 2 dt: v <- v/2 + v_inf/2 + input (exact in binary floating point).
    return LIFParams(tau_s=2 * DT_PS * 1e-12, v_th=1.0, bias=v_inf, integrator="euler")


def _run(chip, net, core_of, steps):
    core_of = np.asarray(core_of, dtype=np.int32)
    per_core = np.bincount(core_of, minlength=chip.n_cores).astype(np.int32)
    mapping = Mapping("given", core_of, per_core, np.zeros(chip.n_cores, dtype=np.int64))
    sim = Simulation(net, chip, mapping=mapping, config=RunConfig(mode="timestep", dt_ps=DT_PS))
    return sim.run(duration_ps=steps * DT_PS)


def _random_run(chip, seed):
    """A random network whose counts vary from seed to seed (synapses per spike, spikes, hops)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 120))
    fan_out = int(rng.integers(1, 12))
    net = Network()
    # Some fire every step (4.0), some are updated but stay below threshold (0.5), the rest
    # stay at rest without input and are idle.
    v_inf = rng.choice([4.0, 0.5, 0.0], n, p=rng.dirichlet(np.ones(3)))
    net.add_population("p", n, _lif(n, v_inf))
    pre = np.repeat(np.arange(n), fan_out)
    post = rng.integers(0, n, n * fan_out)
    net.connect("p", "p", pre, post, 0.0, DT_PS)        # weights 0: activity is the bias alone
    n_cores = int(rng.integers(2, chip.n_cores))
    core_of = rng.choice(n_cores, n) if seed % 2 else rng.integers(0, chip.n_cores, n)
    return _run(chip, net, core_of, steps=int(rng.integers(1, 4)))


def test_energy_regression_recovers_the_preset_costs(chip):
    # message_in and the router are paid once per message, exactly like message_out (unicast),
    # so the three are one column: the price of a message.
    cols = {"synaptic_op": ["synaptic_op"], "neuron_update": ["neuron_update"],
            "neuron_idle": ["neuron_idle"], "spike_out": ["spike_out"], "message": ["message_out"],
            "hop_ew": ["hop_east", "hop_west"], "hop_ns": ["hop_north", "hop_south"]}
    rows, y = [], []
    for seed in range(12):
        res = _random_run(chip, seed)
        tot = res.counts.sum(axis=0)
        n_msg = tot[OP_INDEX["message_out"]]
        assert tot[OP_INDEX["message_in"]] == tot[OP_INDEX["router"]] == n_msg
        rows.append([float(sum(tot[OP_INDEX[k]] for k in ks)) for ks in cols.values()])
        y.append(res.ledger.total_j * 1e12)
    x = np.array(rows)
    assert np.linalg.matrix_rank(x) == len(cols)
    fit, *_ = np.linalg.lstsq(x, np.array(y), rcond=None)
    e, noc = chip.core.energy_pj, chip.noc
    expected = [e["synaptic_op"], e["neuron_update"], e["neuron_idle"], e["spike_out"],
                e["message_out"] + e["message_in"] + noc.router_energy_pj,
                noc.hop_energy_pj["east_west"], noc.hop_energy_pj["north_south"]]
    np.testing.assert_allclose(fit, expected, rtol=1e-9)


SYNAPSE_KINDS = ("synaptic_op", "synaptic_op_dense", "synaptic_op_conv")


def test_latency_regression_recovers_the_preset_costs(chip):
    """One spike, from core 0 to ``k`` neurons on the core ``dx`` tiles east, ``dy`` south.

    Critical path of the step: the source's update (neuron_update), spike_out, message_out, the
    hops, then message_in and k synaptic ops at the destination (which receives beside its own
    update pass), then the barrier of the tiles in use (1 or 2: 0.6 or 1.0 us).
    """
    rows, y = [], []
    for dx, dy, k in [(0, 0, 1), (1, 0, 1), (3, 0, 2), (0, 1, 1), (0, 3, 3), (5, 2, 4),
                      (7, 3, 2), (2, 2, 1)]:
        net = Network()
        net.add_population("src", 1, _lif(1, 4.0))          # v = 2 > 1 at step 0: one spike
        net.add_population("dst", k, _lif(k, 0.0))
        net.connect("src", "dst", np.zeros(k), np.arange(k), 0.0, DT_PS)
        dest_core = (dy * chip.width + dx) * chip.cores_per_tile + (1 if dx == dy == 0 else 0)
        res = _run(chip, net, [0] + [dest_core] * k, steps=1)
        ops = res.op_totals()
        # A run prices each synapse by its storage (this all-to-all projection: dense).
        kinds = [s for s in SYNAPSE_KINDS if ops[s]]
        assert res.n_spikes == 1 and len(kinds) == 1 and ops[kinds[0]] == k
        synapse = kinds[0]
        rows.append([1.0, dx, dy, k])
        tiles = 1 if dx == dy == 0 else 2
        y.append(float(res.step_duration_ps[0] - chip.barrier_for_tiles(tiles)[0]))
    fit, *_ = np.linalg.lstsq(np.array(rows), np.array(y), rcond=None)
    t, noc = chip.core.latency_ps, chip.noc
    path = (t["neuron_update"] + t["spike_out"] + t["message_out"] + noc.router_latency_ps
            + t["message_in"])
    np.testing.assert_allclose(fit, [path, noc.hop_latency_ps["east_west"],
                                     noc.hop_latency_ps["north_south"], t[synapse]],
                               rtol=1e-9)
