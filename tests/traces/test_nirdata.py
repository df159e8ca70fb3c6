"""NIRData export: round trip through our reader and through the ``nir`` package's reader."""

import h5py
import numpy as np
import pytest

from aersim.traces import TraceError, TraceFormatError, TraceWriter, read_trace
from aersim.traces.output.nirdata import export_nirdata, import_nirdata, nirdata_spikes

DT_PS = 1_000_000_000          # 1 ms
POPS = [{"name": "input", "size": 20}, {"name": "hidden", "size": 50}, {"name": "out", "size": 5}]
T_START_PS = 7 * DT_PS


@pytest.fixture
def trace(tmp_path):
    rng = np.random.default_rng(4)
    n = 3000
    # At most one spike per neuron and step, as the timestep engine produces.
    cell = rng.choice(100 * 75, n, replace=False)
    step, neuron = cell // 75, (cell % 75).astype(np.int32)
    t = T_START_PS + step * DT_PS + rng.integers(0, DT_PS, n)
    order = np.lexsort((neuron, t))
    meta = {"populations": POPS, "dt_ps": DT_PS, "mode": "async", "t_start_ps": T_START_PS,
            "t_stop_ps": T_START_PS + 100 * DT_PS}
    with TraceWriter(tmp_path / "t.h5", metadata=meta) as w:
        w.append_spikes(t[order], neuron[order])
        w.write_array("run/core_of", np.zeros(75, dtype=np.int32))
    return read_trace(tmp_path / "t.h5")


def test_event_round_trip(trace, tmp_path):
    path = export_nirdata(trace, tmp_path / "d.h5")
    nodes = import_nirdata(path)
    assert sorted(nodes) == ["hidden", "input", "out"]
    assert nodes["hidden"]["n_neurons"] == 50 and nodes["hidden"]["offset"] == 20
    assert nodes["out"]["t_max_s"] == pytest.approx(0.1)
    t, n = nirdata_spikes(nodes, t_start_ps=T_START_PS)
    assert np.array_equal(t, trace.spikes_t_ps) and np.array_equal(n, trace.spikes_neuron)
    sel = trace.spikes_neuron < 20
    assert np.allclose(nodes["input"]["time_s"],
                       (trace.spikes_t_ps[sel] - T_START_PS) / 1e12, rtol=0, atol=1e-15)


def test_binned_round_trip(trace, tmp_path):
    nodes = import_nirdata(export_nirdata(trace, tmp_path / "g.h5", dt_s=1e-3))
    assert nodes["input"]["dt_s"] == 1e-3 and nodes["input"]["t_max_s"] == pytest.approx(0.1)
    t, n = nirdata_spikes(nodes, t_start_ps=T_START_PS)
    step = (trace.spikes_t_ps - T_START_PS) // DT_PS
    order = np.lexsort((trace.spikes_neuron, step))
    assert np.array_equal(n, trace.spikes_neuron[order])
    assert np.array_equal(t, T_START_PS + step[order] * DT_PS)


def test_nir_package_reads_it(trace, tmp_path):
    nir = pytest.importorskip("nir")
    if not hasattr(nir, "read_data"):
        pytest.skip("this nir has no NIRData reader")
    data = nir.read_data(str(export_nirdata(trace, tmp_path / "d.h5")))
    assert isinstance(data, nir.NIRGraphData) and sorted(data.nodes) == ["hidden", "input", "out"]
    ev = data.nodes["hidden"].observables["spikes"]
    assert isinstance(ev, nir.EventData) and ev.n_neurons == 50
    sel = (trace.spikes_neuron >= 20) & (trace.spikes_neuron < 70)
    assert np.array_equal(ev.idx[0], trace.spikes_neuron[sel] - 20)
    assert np.allclose(ev.time[0] * 1e12, trace.spikes_t_ps[sel] - T_START_PS, rtol=0, atol=1e-3)
    # nir's own binning of our events equals our binned export.
    grid = nir.read_data(str(export_nirdata(trace, tmp_path / "g.h5", dt_s=1e-3)))
    ours = grid.nodes["hidden"].observables["spikes"]
    assert isinstance(ours, nir.TimeGriddedData) and ours.data.shape == (1, 100, 50)
    assert np.array_equal(ev.to_time_gridded(1e-3).data, ours.data)


def test_nir_written_file_reads_back(tmp_path):
    nir = pytest.importorskip("nir")
    if not hasattr(nir, "write_data"):
        pytest.skip("this nir has no NIRData writer")
    ev = nir.EventData(np.array([[2, 0, 1, -1]]), np.array([[0.001, 0.002, 0.002, np.inf]]),
                       n_neurons=3, t_max=0.01)
    nir.write_data(str(tmp_path / "n.h5"), nir.NIRGraphData({"lif": nir.NIRNodeData(
        {"spikes": ev})}))
    node = import_nirdata(tmp_path / "n.h5")["lif"]
    assert node["idx"].tolist() == [2, 0, 1] and node["offset"] is None
    assert node["time_s"].tolist() == [0.001, 0.002, 0.002]


def test_trace_without_populations_is_one_node(tmp_path):
    with TraceWriter(tmp_path / "p.h5") as w:
        w.append_spikes(np.array([5, 9], dtype=np.int64), np.array([3, 1], dtype=np.int32))
    nodes = import_nirdata(export_nirdata(read_trace(tmp_path / "p.h5"), tmp_path / "d.h5"))
    assert list(nodes) == ["network"] and nodes["network"]["n_neurons"] == 4
    assert nirdata_spikes(nodes)[1].tolist() == [3, 1]


def test_errors(trace, tmp_path):
    with pytest.raises(TraceError, match="dt_s must be a positive"):
        export_nirdata(trace, tmp_path / "x.h5", dt_s=0)
    with pytest.raises(TraceError, match="folder .* does not exist"):
        export_nirdata(trace, tmp_path / "no" / "x.h5")
    with pytest.raises(TraceError, match="does not exist"):
        import_nirdata(tmp_path / "missing.h5")
    with h5py.File(tmp_path / "o.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(TraceFormatError, match="is not NIRData"):
        import_nirdata(tmp_path / "o.h5")
