"""One run description: the command line, a sweep point and the Python API give the same run."""

import warnings

import numpy as np
import pytest

from aersim.models import LIFParams, Network, load_network, save_network
from aersim.models.neurons.source import InputParams
from aersim.simcore import ConfigError, RunConfig, RunSpec, Simulation, execute, resolve
from aersim.simcore.cli.main import main
from aersim.simcore.errors import RunWarning
from aersim.simcore.sweep.runner import run_point
from aersim.simcore.sweep.spec import load_spec
from aersim.traces import read_trace, write_events
from aersim.traces.recordings.synthetic import dvs_events


@pytest.fixture(scope="module")
def nir_and_recording(tmp_path_factory):
    """A small network saved as a Norse-profile NIR file (dt = 1 ms) and a 16x16 recording."""
    folder = tmp_path_factory.mktemp("runspec")
    rng = np.random.default_rng(3)
    net = Network()
    net.add_population("retina", 2 * 16 * 16, InputParams(), shape=(2, 16, 16))
    net.add_population("hidden", 40, LIFParams(tau_s=0.01, v_th=1.0, v_reset=0.0,
                                               integrator="euler"))
    net.add_population("out", 4, LIFParams(tau_s=0.01, v_th=1.0, v_reset=0.0,
                                           integrator="euler"))
    src = rng.integers(0, 512, 4000)
    dst = rng.integers(0, 40, 4000)
    net.connect("retina", "hidden", src, dst, rng.uniform(0, 2.0, 4000), 0)
    net.connect("hidden", "out", np.repeat(np.arange(40), 4), np.tile(np.arange(4), 40),
                rng.uniform(0, 3.0, 160), 0)
    net.inputs, net.outputs = ["retina"], ["out"]
    path = folder / "net.nir"
    save_network(net, path)
    rec = folder / "bar.raw"
    events = dvs_events("bar", 16, 16, 0.0314, direction="right", speed_px_s=200.0, seed=2)
    write_events(rec, events, (16, 16), format="evt3")
    return folder, path, rec


def test_cli_sweep_and_python_give_the_same_run(nir_and_recording, tmp_path):
    folder, path, rec = nir_and_recording
    out = tmp_path / "cli.h5"
    assert main(["run", str(path), "--profile", "norse", "--input", str(rec), "--chip",
                 "loihi_like", "--out", str(out), "--no-plots", "--no-progress", "--json"]) == 0
    cli = read_trace(out)

    spec = RunSpec(network=path, profile="norse", recording=rec, chip="loihi_like")
    run = resolve(spec)
    assert run.dt_ps == 10**9                      # the Norse profile's 1 ms, not 0.1 ms
    assert run.duration_ps % run.dt_ps == 0        # the recording's span in whole steps
    py = execute(spec).results
    np.testing.assert_array_equal(py.spikes_t_ps, cli.spikes_t_ps)
    np.testing.assert_array_equal(py.spikes_neuron, cli.spikes_neuron)
    assert py.n_spikes > 50
    np.testing.assert_array_equal(py.counts, cli.counters)

    (folder / "sweep.yaml").write_text(
        "base:\n  network: net.nir\n  profile: norse\n  chip: loihi_like\n"
        "  stimulus: {recording: bar.raw}\naxes:\n  run.seed: [0]\n", encoding="utf-8")
    sweep = load_spec(folder / "sweep.yaml")
    metrics, _ = run_point(sweep.run_of(0), root=str(folder))
    assert metrics["status"] == "ok", metrics["error"]
    assert metrics["spikes"] == py.n_spikes
    assert metrics["energy_total_j"] == pytest.approx(py.ledger.total_j, rel=1e-12)
    assert metrics["ops_synaptic_op"] == py.op_totals()["synaptic_op"]


def test_simulation_takes_the_profiles_dt_and_a_preset_name(nir_and_recording):
    _, path, _ = nir_and_recording
    net = load_network(path, profile="norse")
    sim = Simulation(net, "loihi_like")
    assert sim.config.dt_ps == 10**9
    with pytest.warns(RunWarning, match="differs from the import profile's dt"):
        Simulation(net, "loihi_like", config=RunConfig(dt_ps=10**8))


def test_a_dt_other_than_the_profiles_warns_in_a_spec(nir_and_recording):
    _, path, rec = nir_and_recording
    with pytest.warns(RunWarning, match="will not behave as it did where it was trained"):
        run = resolve(RunSpec(network=path, profile="norse", recording=rec, dt_s=1e-4))
    assert run.dt_ps == 10**8
    with warnings.catch_warnings():
        warnings.simplefilter("error", RunWarning)
        resolve(RunSpec(network=path, profile="norse", recording=rec))


@pytest.mark.parametrize("fields, match", [
    ({"dt_s": float("nan")}, "dt_s must be a finite number"),
    ({"duration_s": -1.0}, "duration_s must be a finite number > 0"),
    ({"duration_s": float("inf")}, "duration_s must be a finite number"),
    ({"seed": -1}, r"seed must be an integer in \[0, 2\*\*63\)"),
    ({"seed": 1.5}, "seed must be an integer"),
    ({"rate_hz": -3.0}, "rate_hz must be >= 0"),
    ({"mode": "fast"}, "mode 'fast' is not one of"),
    ({"stimuli": "input"}, "stimuli must be a list or tuple"),
    ({"transforms": ("x",)}, "transforms filter a recording"),
])
def test_bad_fields_are_one_clear_error(fields, match):
    with pytest.raises(ConfigError, match=match):
        RunSpec(**fields)


def test_bad_simulation_arguments_are_one_clear_error():
    from aersim.models import ff_network

    net = ff_network(n_input=5, layer_size=5, n_layers=1, fan_in=2)
    with pytest.raises(ConfigError, match="chip must be a ChipSpec, a preset name"):
        Simulation(net, 42)
    with pytest.raises(ConfigError, match="network must be an aersim.models.Network"):
        Simulation("ff", "minimal")
    with pytest.raises(ConfigError, match="config must be a RunConfig"):
        Simulation(net, "minimal", config={"dt_ps": 1})
    with pytest.raises(ConfigError, match="run duration must be a finite number of seconds"):
        Simulation(net, "minimal").run(float("nan"))


def test_rate_applies_to_a_builtins_poisson_stimuli_and_is_refused_where_it_cannot():
    slow = resolve(RunSpec(network="random", rate_hz=5.0))
    assert {s.rate_hz for s in slow.stimuli} == {5.0}
    with pytest.raises(ConfigError, match="rate_hz applies to Poisson stimuli"):
        resolve(RunSpec(network="demo", rate_hz=5.0))


def test_results_per_population_tables_and_trace(tmp_path):
    from aersim.hardware.energy import OP_KINDS

    out = execute(RunSpec(network="random", duration_s=0.05, chip="minimal"))
    res = out.results
    assert repr(res).startswith("Results(mode='timestep'") and len(repr(res)) < 200
    sp = res.spikes("input")
    assert sp.dtype.names == ("t_s", "neuron") and np.all(np.diff(sp["t_s"]) >= 0)
    assert sum(res.spike_counts(n).sum() for n in res.populations) == res.n_spikes
    rates = res.rates_hz()
    assert rates["input"] == pytest.approx(sp.size / 20 / 0.05)
    table = res.energy_table()
    assert table["energy_j"].sum() == pytest.approx(res.ledger.dynamic_j)
    assert set(table["operation"]) <= set(OP_KINDS)
    with pytest.raises(ConfigError, match="no population 'nope'"):
        res.spikes("nope")
    res.to_trace(tmp_path / "r.h5")
    back = read_trace(tmp_path / "r.h5")
    np.testing.assert_array_equal(back.spikes_neuron, res.spikes_neuron)
    np.testing.assert_array_equal(back.counters, res.counts)
    assert "steps of 100 us" in res.summary() and "uJ" in res.summary()


def test_a_run_with_a_trace_keeps_only_its_inputs_and_outputs_in_memory(tmp_path):
    from aersim.models import ff_network
    from aersim.traces import TraceWriter

    net = ff_network(n_input=20, layer_size=50, n_layers=2, fan_in=10)
    sim = Simulation(net, "minimal", stimuli=[__import__("aersim").PoissonInput("input", 50.0)])
    trace = TraceWriter(tmp_path / "t.h5")
    res = sim.run(0.05, trace=trace)
    trace.close()
    back = read_trace(tmp_path / "t.h5")
    assert res.n_spikes == back.spikes_t_ps.size > 0
    assert res.kept == frozenset({"input", "L2"})
    assert res.spikes_neuron.size == res.spike_counts("input").sum() + res.spike_counts("L2").sum()
    with pytest.raises(ConfigError, match="went to the trace and were not kept in memory"):
        res.spikes("L1")
    assert set(res.rates_hz()) == {"input", "L2"}
    with pytest.raises(ConfigError, match="keep_spikes must be"):
        sim.run(0.01, keep_spikes="some")
