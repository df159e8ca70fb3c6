"""aersim on ``loihi_calibrated`` against SANA-FE 2.2.9 (``pip install sanafe``, GPL; run only as
an outside program through ``bench/compare_sanafe.py``) on the same networks and placements.

Required per network: identical spike trains, identical operation counts (neuron updates,
spikes, messages, synaptic operations, hops), total energy within 2 % and time-step latency
within 5 % of SANA-FE's "detailed" timing model, both its mean and its 95th percentile over the
steps. The default run takes about 15 s (one random network and the layered conv/dense one);
larger random networks, a larger layered one and SANA-FE's DVS-gesture CNN are marked slow.
"""

import importlib.util
from pathlib import Path

import pytest

sanafe = pytest.importorskip(
    "sanafe", reason="SANA-FE is not installed (pip install sanafe); the comparison needs it")

_BENCH = Path(__file__).resolve().parents[2] / "bench" / "compare_sanafe.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("compare_sanafe", _BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Args:
    bias_fraction, w_exc, w_inh, p_inh, simple = 0.1, 32, 48, 0.5, False


def _check(row):
    assert row["spikes"] > 0
    assert row["spike_mismatches"] == 0, row
    assert row["counts_identical"], (row["aersim"]["ops"], row["sanafe_detailed"]["ops"])
    assert row["energy_ratio"] == pytest.approx(1.0, abs=0.02), row
    assert row["latency_ratio_mean"] == pytest.approx(1.0, abs=0.05), row
    assert row["latency_ratio_p95"] == pytest.approx(1.0, abs=0.05), row


@pytest.mark.parametrize("n", [1000])
def test_random_network_matches_sanafe(bench, n):
    _check(bench.compare(f"random_n{n}", n, 100, 60, 1, _Args))


def test_layered_conv_dense_network_matches_sanafe(bench):
    # Convolution, dense and sparse synapses (three prices), idle neurons, 4 tiles in use
    # (barrier 1.4 us from the table).
    row = bench.compare_layered("layered", 40)
    _check(row)
    assert row["aersim"]["ops"]["neuron_idle"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("n", [300, 3000, 10000])
def test_random_network_matches_sanafe_slow(bench, n):
    _check(bench.compare(f"random_n{n}", n, 100, 100, 2, _Args))


@pytest.mark.slow
def test_larger_layered_network_matches_sanafe(bench):
    _check(bench.compare_layered("layered_big", 100, side=24, kernels=8, n_out=32, seed=5))


@pytest.mark.slow
def test_dvs_gesture_cnn_matches_sanafe(bench):
    # SANA-FE's DVS-gesture CNN (18,667 neurons, 3.6 M synapses, four convolutions and a dense
    # layer) on all 128 cores, the frame driving the first layer (bias x 4).
    _check(bench.compare_layered("dvs", 40, network=bench.dvs_network(4.0)))
