"""NIR networks through the fast engine: the same spikes as the NumPy NIR reference."""

import dataclasses

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from aersim.hardware import load_chip  # noqa: E402
from aersim.models.loaders.nir_io import load_nir  # noqa: E402
from aersim.models.loaders.nir_reference import simulate_nir  # noqa: E402
from aersim.models.loaders.profiles import PROFILES  # noqa: E402
from aersim.simcore import RunConfig, Simulation, SpikeTrains  # noqa: E402
from tests.models.test_nir_io import BUILDERS, EULER, EXACT, lif_graph, lif_input  # noqa: E402


def chip_for(net, neurons_per_core=64):
    chip = load_chip("loihi_like")
    return dataclasses.replace(chip, core=dataclasses.replace(chip.core,
                                                              neurons=neurons_per_core))


def run_engine(net, x, mode="timestep", chip=None):
    """Run a loaded network on input spikes ``x`` (steps, n_in) of 0/1; spikes per population."""
    dt_ps = int(round(net.metadata["profile"]["dt_s"] * 1e12))
    steps = x.shape[0]
    k, idx = np.nonzero(x.reshape(steps, -1))
    sim = Simulation(net, chip or chip_for(net), config=RunConfig(mode=mode, dt_ps=dt_ps),
                     stimuli=[SpikeTrains(net.inputs[0], k * dt_ps, idx)])
    res = sim.run(duration_ps=steps * dt_ps)
    out = {}
    for name, pop in net.populations.items():
        lo = net.offset(name)
        sel = (res.spikes_neuron >= lo) & (res.spikes_neuron < lo + pop.size)
        raster = np.zeros((steps, pop.size))
        raster[res.spikes_t_ps[sel] // dt_ps, res.spikes_neuron[sel] - lo] = 1.0
        out[name] = raster
    return out, res


@pytest.mark.parametrize("profile,expected", [(EULER, [460, 510, 710, 760]),
                                              (EXACT, [450, 500, 710, 760])])
def test_lif_golden_steps(profile, expected):
    net = load_nir(lif_graph(), profile=profile)
    out, res = run_engine(net, lif_input())
    assert np.flatnonzero(out[net.outputs[0]][:, 0]).tolist() == expected
    assert res.op_totals()["synaptic_op"] == 34 + 4 * 0   # every input spike reaches the LIF


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
@pytest.mark.parametrize("profile", [PROFILES["snntorch"], PROFILES["exact"]],
                         ids=lambda p: p.name)
def test_random_graphs_match_reference(builder, profile):
    rng = np.random.default_rng(3)
    graph, in_shape = builder(rng, profile.dt_s)
    steps = 40
    x = (rng.random((steps,) + in_shape) < 0.35).astype(np.float64)
    ref = simulate_nir(graph, x, profile, return_all=True)
    net = load_nir(graph, profile=profile)
    out, _ = run_engine(net, x)
    checked = 0
    for name, pop in net.populations.items():
        if pop.kind == "input" or not getattr(pop.params, "spiking", True) or pop.kind == "li":
            continue
        np.testing.assert_array_equal(out[name], ref[name].reshape(steps, -1), err_msg=name)
        checked += out[name].sum()
    assert checked > 0


def test_real_files_run_in_both_modes(shared_data):
    braille = load_nir(shared_data / "nir" / "braille_subtract.nir", profile="snntorch")
    rng = np.random.default_rng(0)
    x = (rng.random((100, braille.population(braille.inputs[0]).size)) < 0.2).astype(float)
    out, res = run_engine(braille, x)
    ref = simulate_nir(nir.read(shared_data / "nir" / "braille_subtract.nir"), x,
                       PROFILES["snntorch"], return_all=True)
    assert res.n_spikes > 0
    for name, pop in braille.populations.items():
        if pop.kind != "input" and getattr(pop.params, "spiking", True):
            np.testing.assert_array_equal(out[name], ref[name].reshape(100, -1), err_msg=name)
    # Event-driven: the exact-integration reading of the same file runs on hardware time.
    exact = load_nir(shared_data / "nir" / "braille_subtract.nir", profile="exact")
    _, res_async = run_engine(exact, x, mode="async")
    assert res_async.op_totals()["synaptic_op"] > 0
    cnn = load_nir(shared_data / "nir" / "cnn_sinabs.nir", profile="sinabs")
    x = (rng.random((20, 2 * 34 * 34)) < 0.05).astype(float)
    out, res = run_engine(cnn, x, chip=chip_for(cnn, 1024))
    assert res.op_totals()["synaptic_op"] > 0
