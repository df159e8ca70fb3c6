"""The Poisson drive in segments: one random stream per (drive, core).

Checked against closed forms (scipy.stats): the Poisson sampler that draws a segment's number
of events per step (both of its methods); per-neuron counts of the timestep drive are
Poisson(rate x duration) and independent across neurons; segments cover the population once;
a segment's stream depends only on the seed, the drive and the core (not on the other cores).
"""

import numpy as np
import pytest
from scipy import stats

from aersim.hardware.energy import OP_INDEX, STIM_IN
from aersim.models import LIFParams, Network
from aersim.simcore import PoissonDrive, RunConfig, Simulation
from aersim.simcore.engine.rng import POISSON_REJECTION_MEAN, poisson, seed_states
from aersim.simcore.engine.state import drive_segments
from aersim.simcore.engine.timestep import draw_drive
from tests.simcore.helpers import small_core_chip

MS = 1_000_000_000


def _sim(n: int, mode: str = "timestep", seed: int = 4, rate_hz: float = 2000.0,
         strategy: str | None = None):
    net = Network()
    net.add_population("a", 7, LIFParams(v_th=1e9))
    net.add_population("b", n, LIFParams(v_th=1e9))
    return Simulation(net, small_core_chip(32), config=RunConfig(mode=mode, seed=seed),
                      stimuli=[PoissonDrive("a", 50.0, 0.1), PoissonDrive("b", rate_hz, 1.0)],
                      strategy=strategy)


@pytest.mark.parametrize("mean", [0.2, 3.0, np.nextafter(POISSON_REJECTION_MEAN, 0.0),
                                  POISSON_REJECTION_MEAN, 37.5, 2048.0])
def test_poisson_sampler_matches_the_distribution(mean):
    state = seed_states(np.random.SeedSequence(11), 1)
    x = np.array([poisson(state, 0, mean) for _ in range(20_000)])
    # Bins of the central 99.98 %, tails pooled; chi-square goodness of fit.
    ks = np.arange(int(stats.poisson.ppf(1e-4, mean)), int(stats.poisson.ppf(1 - 1e-4, mean)) + 1)
    obs = np.array([(x == k).sum() for k in ks] + [0])
    obs[-1] = x.size - obs[:-1].sum()
    exp = np.append(stats.poisson.pmf(ks, mean), 0.0) * x.size
    exp[-1] = x.size - exp[:-1].sum()
    keep = exp > 5
    assert stats.chisquare(obs[keep], exp[keep] * obs[keep].sum() / exp[keep].sum()).pvalue \
        > 1e-4
    assert abs(x.mean() - mean) < 5 * np.sqrt(mean / x.size)
    assert poisson(state, 0, 0.0) == 0


def _segments(st):
    return [st.drive_idx[o:o + n] for o, n in zip(st.drive_off, st.drive_n, strict=True)]


def test_segments_cover_each_population_once_per_core():
    for strategy in ("sequential", "balanced"):
        sim = _sim(200, strategy=strategy)
        st, core = sim.stim, sim.neurons.core
        segs = _segments(st)
        # Population "a" (7 neurons) and "b" (200 neurons) over cores of 32 neurons.
        assert np.array_equal(np.sort(np.concatenate(segs)), np.arange(207)), strategy
        assert np.array_equal(st.drive_off[1:], (st.drive_off + st.drive_n)[:-1])
        for ids in segs:
            assert np.unique(core[ids]).size == 1 and np.all(np.diff(ids) > 0), strategy
        # One segment per (drive, core), also when a round-robin mapping interleaves them.
        n_b = np.unique(core[7:]).size
        assert len(segs) == np.unique(core[:7]).size + n_b, strategy
        assert np.unique(st.drive_rng).size == st.drive_rng.size


def test_round_robin_segments_draw_the_sequential_segments_streams():
    """A segment's stream is keyed by (drive, core), not by where its neurons lie."""
    seq = np.random.SeedSequence(5).spawn(1)
    blocks = drive_segments([(0, 40, 5.0, 1.0)], np.repeat(np.arange(4), 10), seq)
    dealt = drive_segments([(0, 40, 5.0, 1.0)], np.tile(np.arange(4), 10), seq)
    assert np.array_equal(blocks.rng, dealt.rng) and np.array_equal(blocks.n, dealt.n)
    assert np.array_equal(dealt.idx[:10], np.arange(0, 40, 4))


def test_a_segments_stream_does_not_depend_on_other_cores():
    seq = np.random.SeedSequence(9).spawn(2)
    core = np.repeat(np.arange(10), 10)
    small = drive_segments([(0, 30, 5.0, 1.0)], core, seq[:1])
    large = drive_segments([(0, 100, 5.0, 1.0)], core, seq[:1])
    assert np.array_equal(small.rng, large.rng[:3])
    other = drive_segments([(0, 30, 5.0, 1.0)], core, seq[1:])
    assert not np.intersect1d(small.rng, other.rng).size


@pytest.mark.parametrize("strategy", ["sequential", "balanced"])
def test_timestep_drive_counts_are_independent_poisson_per_neuron(strategy):
    sim = _sim(480, strategy=strategy)
    st, neurons = sim.stim, sim.neurons
    dt_ps, steps = sim.config.dt_ps, 4000
    lam = 2000.0 * dt_ps * 1e-12 * steps          # mean count of a neuron of "b"
    row = np.zeros(neurons.core.shape[0])
    counts = np.zeros_like(sim.counters.ops)
    first = np.zeros_like(row)
    for k in range(steps):
        draw_drive(neurons, st, row, counts, dt_ps, None)
        if k == 0:
            first[:] = row
    x = row[7:]
    # Mean and dispersion: sum((x - lam)^2 / lam) is chi2 with n degrees of freedom.
    assert abs(x.mean() - lam) < 4 * np.sqrt(lam / x.size)
    chi = ((x - lam) ** 2 / lam).sum()
    assert stats.chi2.sf(chi, x.size) > 1e-4 and stats.chi2.cdf(chi, x.size) > 1e-4
    # Neighbouring neurons are uncorrelated, also across segment boundaries.
    assert abs(stats.pearsonr(x[:-1], x[1:])[0]) < 4 / np.sqrt(x.size)
    # One step: counts of Poisson(0.2) over 480 neurons (mostly 0 and 1).
    obs = np.bincount(first[7:].astype(int), minlength=3)[:3]
    exp = stats.poisson.pmf(np.arange(3), 2000.0 * dt_ps * 1e-12) * 480
    assert stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue > 1e-4
    # Events are counted on their neurons' cores.
    events = row / np.r_[np.full(7, 0.1), np.ones(480)]      # the drives' weights
    per_core = np.bincount(neurons.core, weights=events, minlength=counts.shape[0])
    assert np.allclose(counts[:, STIM_IN], per_core)


def test_async_drive_rate_per_core_and_determinism():
    runs = [_sim(300, "async", seed=s) for s in (2, 2, 3)]
    res = [s.run(0.2) for s in runs]
    ops = [r.counts[:, OP_INDEX["stim_in"]] for r in res]
    assert np.array_equal(ops[0], ops[1]) and not np.array_equal(ops[0], ops[2])
    core = runs[0].neurons.core
    n_per_core = np.bincount(core[7:], minlength=ops[0].shape[0])
    expected = n_per_core * 2000.0 * 0.2
    expected[core[0]] += 7 * 50.0 * 0.2
    busy = expected > 0
    z = (ops[0][busy] - expected[busy]) / np.sqrt(expected[busy])
    assert np.all(np.abs(z) < 5)
    assert stats.chi2.sf((z ** 2).sum(), busy.sum()) > 1e-4
