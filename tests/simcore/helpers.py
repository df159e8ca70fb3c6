"""Small networks and chips for the engine tests."""

import dataclasses

import numpy as np

from aersim.hardware import load_chip
from aersim.models import InputParams, LIFParams, Network, random_network
from aersim.simcore import SpikeTrains

#: A 2 x 2 mesh of single-core tiles with minimal's Loihi figures and 16-neuron cores.
SMALL_CHIP = """\
name: small
execution_mode: timestep
mesh: {width: 2, height: 2, cores_per_tile: 1}
core:
  neurons: 16
  energy_pj: {synaptic_op: 23.6, neuron_update: 52.0, spike_out: 69.3, message_out: 111.0,
              message_in: 0.0}
  latency_ns: {synaptic_op: 3.5, neuron_update: 5.3, spike_out: 30.0, message_out: 5.1,
               message_in: 16.0}
noc:
  hop_energy_pj: {east_west: 3.0, north_south: 4.0}
  hop_latency_ns: {east_west: 4.1, north_south: 6.5}
  router_energy_pj: 1.7
  router_latency_ns: 2.1
  packet_bits: 32
barrier: {latency_ns: 113.0}
static_power_w: 0.0065
"""

#: Three SMALL_CHIPs (as small.yaml beside it) in a row, joined by 4 Gbit/s, 30 ns board links
#: with 8 overhead bits on 32-bit packets; the port is tile (1, 0).
SYSTEM = """\
name: three
chip: small.yaml
port: {x: 1, y: 0}
link_types:
  board: {bandwidth_gbit_s: 4.0, latency_ns: 30.0, energy_pj_per_bit: 2.5, overhead_bits: 8,
          packet_bits: 32}
boards:
  - {name: a, chips: 3, topology: mesh, width: 3, height: 1, link: board}
barrier: {latency_ns: 500.0}
"""


def small_core_chip(neurons_per_core: int = 32, name: str = "minimal"):
    """A preset with small cores, so that a small network spans many cores and tiles."""
    chip = load_chip(name)
    return dataclasses.replace(chip, core=dataclasses.replace(chip.core, neurons=neurons_per_core))


def dyadic_random_network(seed: int, **kw) -> Network:
    """``random_network`` with weights rounded to multiples of 1/64.

    Sums of such weights are exact in any order, so an independent reference may accumulate
    inputs in another order and still agree bit for bit.
    """
    net = random_network(seed=seed, **kw)
    for proj in net.projections:
        proj.weights[:] = np.round(proj.weights * 64) / 64
    return net


def input_trains(net: Network, rate_hz: float, duration_ps: int, seed: int, grid_ps: int = 1):
    """Poisson spike trains for the ``input`` population, times on a ``grid_ps`` grid."""
    rng = np.random.default_rng(seed)
    n = net.population("input").size
    count = rng.poisson(rate_hz * n * duration_ps * 1e-12)
    t = rng.integers(0, duration_ps // grid_ps, size=count) * grid_ps
    i = rng.integers(0, n, size=count)
    return SpikeTrains("input", t, i)


def one_neuron(params: LIFParams, weight: float = 0.0, delay_ps: int = 0) -> Network:
    """One input neuron driving one LIF neuron."""
    net = Network()
    net.add_population("input", 1, InputParams())
    net.add_population("lif", 1, params)
    net.connect("input", "lif", [0], [0], weight, delay_ps)
    net.inputs, net.outputs = ["input"], ["lif"]
    return net


def trace_contents(path) -> dict:
    """Every dataset and attribute of an HDF5 trace by name (``name@attr`` for attributes),
    but the file's creation time."""
    import h5py

    out = {}
    with h5py.File(path) as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]
            out.update({f"{name}@{k}": v for k, v in obj.attrs.items()})
        f.visititems(visit)
        out.update({f"@{k}": v for k, v in f.attrs.items() if k != "created"})
    return out


def assert_same_trace(path_a, path_b) -> None:
    """Two traces hold the same datasets and attributes, arrays byte for byte."""
    a, b = trace_contents(path_a), trace_contents(path_b)
    assert sorted(a) == sorted(b)
    for key in a:
        if isinstance(a[key], np.ndarray):
            assert a[key].tobytes() == b[key].tobytes(), key
        else:
            assert np.all(a[key] == b[key]), key


def run_cli(args, cwd, check: bool = True, timeout: float = 300):
    """``aersim ARGS`` in a subprocess in ``cwd`` (the completed process; with ``check``, its
    exit status must be 0)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "aersim.simcore.cli.main", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def assert_split_run_writes_the_one_process_trace(tmp_path, split) -> None:
    """``aersim run layers`` (message log, probes) once plainly and once with the options
    ``split`` (``--ranks N`` or ``--threads N``): the same summary and the same trace, dataset
    by dataset; the split run's trace reports."""
    import json

    args = ["run", "layers", "--mode", "timestep", "--duration", "0.02", "--messages",
            "--probe", "L1:0,5,999", "--probe", "L3", "--out", "trace.h5", "--no-plots",
            "--no-progress", "--json"]
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = json.loads(run_cli(args, tmp_path / "one").stdout)
    two = json.loads(run_cli([*args, *split], tmp_path / "two").stdout)
    assert one["spikes"] > 100 and one["spikes"] == two["spikes"]
    assert one["energy_j"] == two["energy_j"] and one["operations"] == two["operations"]
    assert_same_trace(tmp_path / "one" / "trace.h5", tmp_path / "two" / "trace.h5")
    assert "energy" in run_cli(["report", "trace.h5"], tmp_path / "two").stdout.lower()
