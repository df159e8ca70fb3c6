"""Replaying recordings into a network, response latency, and the DVS demo."""

import numpy as np
import pytest

from aersim.hardware import load_chip
from aersim.models import InputParams, LIFParams, Network
from aersim.models.generators import MOTION_DIRECTIONS, direction_network
from aersim.simcore import RunConfig, Simulation, SpikeTrains, StimulusError
from aersim.simcore.run.latency import response_latencies
from aersim.simcore.run.replay import EventReplay, pixel_index
from aersim.traces import EVENT_DTYPE
from aersim.traces.recordings.synthetic import dvs_events
from aersim.traces.recordings.transforms import Downsample

MS = 1_000_000_000


def events(rows):
    ev = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for k, (t, x, y, p) in enumerate(rows):
        ev[k] = (t, x, y, p)
    return ev


def camera_net(shape):
    net = Network()
    net.add_population("cam", int(np.prod(shape)), InputParams(), shape=shape)
    net.add_population("out", 1, LIFParams(tau_s=0.01, v_th=0.5))
    net.connect("cam", "out", np.arange(int(np.prod(shape))), np.zeros(int(np.prod(shape))),
                1.0, MS // 10)
    net.inputs, net.outputs = ["cam"], ["out"]
    return net


def test_pixel_index_keeps_or_merges_polarity():
    ev = events([(0, 1, 2, 1), (5, 3, 0, 0)])
    assert pixel_index(ev, (2, 4, 5)).tolist() == [1 * 20 + 2 * 5 + 1, 0 * 20 + 0 + 3]
    assert pixel_index(ev, (4, 5)).tolist() == [2 * 5 + 1, 3]


@pytest.mark.parametrize("chunk_ms", [None, 3])
def test_replay_times_indices_and_chunks(chunk_ms):
    ev = events([(100, 0, 0, 1), (1100, 1, 0, 0), (2100, 1, 1, 1), (9100, 0, 1, 0)])
    net = camera_net((2, 2, 2))
    stim = EventReplay("cam", ev, sensor_size=(2, 2), time_scale=2.0)
    sim = Simulation(net, load_chip("minimal"),
                     config=RunConfig(mode="async", chunk_ps=chunk_ms and chunk_ms * MS),
                     stimuli=[stim])
    res = sim.run(0.02)
    cam = res.spikes_neuron < 8
    # Shifted to the first event, then doubled: 0, 2, 4, 18 ms.
    assert res.spikes_t_ps[cam].tolist() == [0, 2 * MS, 4 * MS, 18 * MS]
    assert res.spikes_neuron[cam].tolist() == [4 + 0, 0 + 1, 4 + 3, 0 + 2]


def test_replay_size_mismatch_says_which_transform():
    ev = events([(0, 5, 5, 1)])
    net = camera_net((2, 4, 4))
    stim = EventReplay("cam", ev, sensor_size=(8, 8))
    sim = Simulation(net, load_chip("minimal"), config=RunConfig(mode="async"), stimuli=[stim])
    with pytest.raises(StimulusError, match=r"is 8x8 pixels after its transforms but population "
                                            r"'cam' of shape \(2, 4, 4\) needs 4x4; add "
                                            r"transforms.Downsample\(\(4, 4\)\)"):
        sim.run(0.001)
    fixed = EventReplay("cam", ev, sensor_size=(8, 8), transforms=(Downsample((4, 4)),))
    res = Simulation(net, load_chip("minimal"), config=RunConfig(mode="async"),
                     stimuli=[fixed]).run(0.001)
    assert res.spikes_neuron[0] == 16 + 2 * 4 + 2


def test_latency_async_and_timestep():
    net = camera_net((1,))
    stim = SpikeTrains("cam", [1 * MS, 5 * MS], [0, 0])
    chip = load_chip("minimal")
    res = Simulation(net, chip, config=RunConfig(mode="async"), stimuli=[stim]).run(0.01)
    lat = response_latencies(res, net)
    out_t = res.spikes_t_ps[res.spikes_neuron == 1]
    assert lat.latency_ps.tolist() == [out_t[0] - MS, out_t[1] - 5 * MS]
    res = Simulation(net, chip, config=RunConfig(mode="timestep"), stimuli=[stim]).run(0.01)
    lat = response_latencies(res, net)
    # Input in step 10, output one step later (delay 0.1 ms): hardware time of steps 10 and 11.
    assert lat.algorithmic_ps.tolist() == [MS // 10, MS // 10]
    assert lat.latency_ps[0] == res.step_duration_ps[10:12].sum()
    assert lat.stats()["responded"] == 2


def test_synthetic_dvs_bar():
    ev = dvs_events("bar", 32, 16, 0.4, direction="right", speed_px_s=60.0, noise_hz=0.0)
    assert np.all(np.diff(ev["t"]) >= 0) and ev["x"].max() < 32 and ev["y"].max() < 16
    on = ev[ev["p"] == 1]
    early, late = on[on["t"] < 150_000], on[(on["t"] > 250_000) & (on["t"] < 400_000)]
    assert late["x"].mean() > early["x"].mean() + 5     # the leading edge moves right
    noisy = dvs_events("bar", 32, 16, 0.4, noise_hz=20.0)
    assert 0.7 * 20 * 512 * 0.4 < noisy.size - ev.size < 1.3 * 20 * 512 * 0.4


@pytest.mark.parametrize("mode", ["timestep", "async"])
@pytest.mark.parametrize("direction", ["left", "up"])
def test_direction_network_tells_the_direction(mode, direction):
    net = direction_network(24, 24)
    ev = dvs_events("bar", 24, 24, 0.5, direction=direction, speed_px_s=60.0, seed=2)
    sim = Simulation(net, load_chip("loihi_like"), config=RunConfig(mode=mode),
                     stimuli=[EventReplay("retina", ev, sensor_size=(24, 24))], strategy="layer")
    res = sim.run(0.5)
    per_dir = [int(((res.spikes_neuron >= net.offset(f"ds_{d}"))
                    & (res.spikes_neuron < net.offset(f"ds_{d}") + 576)).sum())
               for d in MOTION_DIRECTIONS]
    want = list(MOTION_DIRECTIONS).index(direction)
    assert np.argmax(per_dir) == want and per_dir[want] > 3 * sorted(per_dir)[-2]


def test_nmnist_cnn_prediction_matches_nir_reference(shared_data):
    nir = pytest.importorskip("nir")
    from aersim.models.loaders.nir_io import load_nir
    from aersim.models.loaders.nir_reference import simulate_nir
    from aersim.models.loaders.profiles import PROFILES
    from aersim.traces import read_events

    path = shared_data / "nir" / "cnn_sinabs.nir"
    rec = shared_data / "events" / "sample_nmnist.bin"
    net = load_nir(path, profile="sinabs")
    dt_ps = int(round(net.metadata["profile"]["dt_s"] * 1e12))
    steps = 320
    sim = Simulation(net, load_chip("loihi_like"), config=RunConfig(mode="timestep", dt_ps=dt_ps),
                     stimuli=[EventReplay(net.inputs[0], str(rec), time_scale=1000.0)])
    res = sim.run(duration_ps=steps * dt_ps)
    lo = net.offset(net.outputs[0])
    engine_counts = np.bincount(res.spikes_neuron[res.spikes_neuron >= lo] - lo, minlength=10)
    # The same 1 ms bins, built independently for the reference simulator.
    ev, _ = read_events(rec)
    x = np.zeros((steps, 2, 34, 34))
    x[(ev["t"] - ev["t"][0]) // 1000, ev["p"], ev["y"], ev["x"]] = 1.0
    ref = simulate_nir(nir.read(path), x, PROFILES["sinabs"])["output"].reshape(steps, -1)
    # The trace holds one spike event per neuron and step; a multi-spike carries its count as
    # the payload that scales its synapses.
    assert np.array_equal(engine_counts, (ref > 0).sum(axis=0).astype(int))
    assert engine_counts.argmax() == 4
