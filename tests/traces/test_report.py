"""Reports of a trace: every number equals the one computed directly from the written arrays."""

import json
import math

import numpy as np
import pytest

from aersim.traces import TraceWriter, read_trace
from aersim.traces.output import compare as cp
from aersim.traces.output import report as rp

COLUMNS = ["synaptic_op", "neuron_update", "spike_out", "message_out", "message_in", "router",
           "hop_east", "hop_west", "hop_north", "hop_south", "stim_in"]
PRICES_J = np.array([23.6, 52.0, 69.3, 111.0, 0.0, 1.7, 3.0, 3.0, 4.0, 4.0, 23.6]) * 1e-12
DT_PS = 100_000_000
N_STEPS = 200
POPS = [{"name": "in", "size": 10}, {"name": "hidden", "size": 30}]
GEOMETRY = {"chip_width": 3, "chip_height": 2, "cores_per_tile": 2}


def make_arrays(seed=0):
    """Known arrays of a small timestep run on 12 cores (5 of them mapped)."""
    rng = np.random.default_rng(seed)
    n_spikes = 500
    return {
        "t_ps": np.sort(rng.integers(0, N_STEPS * DT_PS, n_spikes)).astype(np.int64),
        "neuron": rng.integers(0, 40, n_spikes).astype(np.int32),
        "core_of": (np.arange(40) // 8).astype(np.int32),
        "durations": rng.integers(1_000_000, 9_000_000, N_STEPS).astype(np.int64),
        "counts": rng.integers(0, 1000, (12, len(COLUMNS))).astype(np.int64),
        "static_j": 2.5e-6, "barrier_j": 1e-7,
    }


def write_trace(path, arrays, *, scale=1.0, dur_scale=1, metadata=None, complete=True,
                counters=True):
    """Write ``arrays`` as a trace; counts, energy and static energy multiplied by ``scale``."""
    meta = {"network": "synthetic", "chip": "test", "mode": "timestep", "dt_ps": DT_PS,
            "seed": 1, "populations": POPS, **GEOMETRY}
    if metadata is not None:
        meta = metadata
    w = TraceWriter(path, metadata=meta)
    w.append_spikes(arrays["t_ps"], arrays["neuron"])
    w.append_step_durations(arrays["durations"] * dur_scale)
    w.write_array("run/core_of", arrays["core_of"])
    if counters:
        counts = (arrays["counts"] * scale).astype(np.int64)
        w.write_counters(counts, COLUMNS)
        w.write_energy(counts * PRICES_J, COLUMNS, static_j=arrays["static_j"] * scale,
                       barrier_j=arrays["barrier_j"] * scale,
                       duration_ps=int(arrays["durations"].sum() * dur_scale))
    w.close(complete=complete)
    return read_trace(path)


@pytest.fixture
def arrays():
    return make_arrays()


@pytest.fixture
def trace(tmp_path, arrays):
    return write_trace(tmp_path / "a.h5", arrays)


def test_summary_matches_arrays(trace, arrays):
    s = rp.summary(trace)
    sim_s = N_STEPS * DT_PS / 1e12
    assert s["spikes"] == arrays["t_ps"].size and s["neurons"] == 40
    assert s["simulated_s"] == pytest.approx(sim_s) and s["simulated_source"] == "steps x dt"
    assert s["hardware_s"] == pytest.approx(arrays["durations"].sum() / 1e12)
    assert s["mean_rate_hz"] == pytest.approx(arrays["t_ps"].size / 40 / sim_s)
    n = arrays["neuron"]
    assert [p["name"] for p in s["populations"]] == ["in", "hidden"]
    assert s["populations"][0]["spikes"] == np.count_nonzero(n < 10)
    assert s["populations"][1]["rate_hz"] == pytest.approx(np.count_nonzero(n >= 10) / 30 / sim_s)


def test_energy_matches_arrays(trace, arrays):
    e_core_op = arrays["counts"] * PRICES_J
    e = rp.energy_report(trace, top=3)
    assert e["dynamic_j"] == pytest.approx(e_core_op.sum(), rel=1e-12)
    assert e["total_j"] == pytest.approx(e_core_op.sum() + arrays["static_j"] + arrays["barrier_j"])
    assert e["static_j"] == arrays["static_j"] and e["barrier_j"] == arrays["barrier_j"]
    for j, name in enumerate(COLUMNS):
        assert e["by_operation_j"][name] == pytest.approx(e_core_op[:, j].sum(), rel=1e-12)
    per_core = e_core_op.sum(axis=1)
    expected = np.argsort(-per_core)[:3]
    assert [c["core"] for c in e["top_cores"]] == expected.tolist()
    for c in e["top_cores"]:
        assert c["dynamic_j"] == pytest.approx(per_core[c["core"]])
        assert c["share"] == pytest.approx(per_core[c["core"]] / per_core.sum())
    assert e["per_spike_j"] == pytest.approx(e["total_j"] / arrays["t_ps"].size)
    assert e["per_synaptic_op_j"] == pytest.approx(e["total_j"] / arrays["counts"][:, 0].sum())


def test_latency_percentiles_match_numpy(trace, arrays):
    d = arrays["durations"]
    lat = rp.latency_report(trace)
    assert lat["steps"] == N_STEPS and lat["total_ps"] == d.sum()
    assert lat["mean_ps"] == pytest.approx(d.mean()) and lat["std_ps"] == pytest.approx(d.std())
    assert lat["min_ps"] == d.min() and lat["max_ps"] == d.max()
    for q in (50, 95, 99):
        assert lat[f"p{q}_ps"] == pytest.approx(np.percentile(d, q))
    assert lat["steps_over_dt"] == np.count_nonzero(d > DT_PS)


def test_traffic_matches_arrays(trace, arrays):
    c = arrays["counts"]
    t = rp.traffic_report(trace, top=4)
    hop_cols = [COLUMNS.index(h) for h in rp.HOP_COLUMNS]
    for name in rp.HOP_COLUMNS:
        assert t["hops"][name] == c[:, COLUMNS.index(name)].sum()
    assert t["hops_total"] == c[:, hop_cols].sum()
    assert t["messages_sent"] == c[:, 3].sum() and t["messages_received"] == c[:, 4].sum()
    assert t["router_traversals"] == c[:, 5].sum()
    assert t["mean_hops_per_message"] == pytest.approx(c[:, hop_cols].sum() / c[:, 3].sum())
    busy = c[:, 3] + c[:, 4]
    assert [r["core"] for r in t["top_cores"]] == np.argsort(-busy, kind="stable")[:4].tolist()
    for r in t["top_cores"]:
        assert r["sent"] == c[r["core"], 3] and r["hops"] == c[r["core"], hop_cols].sum()


def test_utilisation_matches_arrays(trace, arrays):
    u = rp.utilisation_report(trace)
    assert (u["chip_width"], u["chip_height"], u["cores_per_tile"]) == (3, 2, 2)
    assert u["layout_source"] == "metadata" and u["cores"] == 12
    assert u["cores_mapped"] == 5 and u["cores_active"] == 12
    assert u["cores_spiking"] == np.unique(arrays["core_of"][arrays["neuron"]]).size
    steps_with = np.unique(arrays["t_ps"] // DT_PS).size
    assert u["steps_with_spikes"] == steps_with
    assert u["busy_step_fraction"] == pytest.approx(steps_with / N_STEPS)
    assert u["duty_cycle"] == pytest.approx(arrays["durations"].sum() / (N_STEPS * DT_PS))


def test_text_and_json(trace):
    rep = rp.report(trace, top=3)
    text = rp.format_report(rep)
    for word in ("summary", "energy", "latency", "traffic", "utilisation", "hidden", "p99"):
        assert word in text
    assert rp._si(rep["energy"]["total_j"], "J") in text
    again = json.loads(json.dumps(rp.to_json(rep), allow_nan=False))
    assert again["energy"]["total_j"] == rep["energy"]["total_j"]


def test_compare_with_itself_gives_ratio_one(trace):
    cmp = cp.compare(trace, trace)
    assert len(cmp["rows"]) > 50
    assert all(r["ratio"] == 1.0 for r in cmp["rows"])
    assert "number" in cp.format_compare(cmp)


def test_compare_scaled_copy(tmp_path, arrays):
    a = write_trace(tmp_path / "a.h5", arrays)
    b = write_trace(tmp_path / "b.h5", arrays, scale=2.0, dur_scale=3)
    rows = {r["key"]: r["ratio"] for r in cp.compare(a, b)["rows"]}
    for key in ("energy.total_j", "energy.dynamic_j", "energy.static_j",
                "energy.by_operation_j.synaptic_op", "traffic.hops_total",
                "traffic.hops.hop_north", "traffic.messages_sent"):
        assert rows[key] == pytest.approx(2.0), key
    for key in ("latency.mean_ps", "latency.p50_ps", "latency.p99_ps", "latency.max_ps",
                "summary.hardware_s", "utilisation.duty_cycle"):
        assert rows[key] == pytest.approx(3.0), key
    assert rows["summary.spikes"] == 1.0 and rows["traffic.mean_hops_per_message"] == 1.0
    assert rows["summary.speedup_vs_real_time"] == pytest.approx(1 / 3)
    text = cp.format_compare(cp.compare(a, b))
    assert "energy.total_j" in text and "*" in text


def test_ratio_rules():
    assert cp.ratio(0, 0) == 1.0 and math.isinf(cp.ratio(0, 5)) and cp.ratio(4, 2) == 0.5
    assert rp.to_json({"r": math.inf, "v": [np.int64(3)]}) == {"r": None, "v": [3]}


def test_incomplete_trace_reports_what_is_there(tmp_path, arrays):
    tr = write_trace(tmp_path / "k.h5", arrays, complete=False, counters=False)
    rep = rp.report(tr)
    assert rep["summary"]["spikes"] == arrays["t_ps"].size
    assert not rep["energy"]["available"] and not rep["traffic"]["available"]
    assert rep["latency"]["available"]
    assert any("incomplete" in w for w in rep["warnings"])
    assert "not available" in rp.format_report(rep)
    json.dumps(rp.to_json(rep), allow_nan=False)


def test_async_without_geometry_or_populations(tmp_path, arrays):
    meta = {"mode": "async", "dt_ps": DT_PS,
            "network_summary": "network: 40 neurons\n  population a: 15 x lif shape (15,)\n"
                               "  population b: 25 x lif shape (25,)"}
    arrays = dict(arrays, durations=np.zeros(0, dtype=np.int64))
    tr = write_trace(tmp_path / "n.h5", arrays, metadata=meta)
    rep = rp.report(tr)
    assert not rep["latency"]["available"] and "async" in rep["latency"]["reason"]
    # 12 cores, no geometry: the most square mesh that holds them.
    assert rp.chip_layout(tr) == (4, 3, 1)
    assert rep["utilisation"]["layout_source"] == "inferred"
    assert [(p["name"], p["start"], p["size"]) for p in rp.populations(tr)] == \
        [("a", 0, 15), ("b", 15, 25)]
    assert rep["summary"]["simulated_source"] == "energy ledger"
    x, y = rp.core_xy(3, 2, 12)
    assert x.tolist() == [0, 0, 1, 1, 2, 2] * 2 and y.tolist() == [0] * 6 + [1] * 6


def link_table(rng, n_tiles=6, per_tile=2):
    n_ports = 4 + per_tile
    idx = np.arange(n_tiles * n_ports)
    used = rng.random(idx.size) < 0.7
    packets = np.where(used, rng.integers(1, 1000, idx.size), 0)
    return {"tile": idx // n_ports, "port": idx % n_ports, "packets": packets,
            "flits": packets * 2, "busy_ps": packets * 2000,
            "max_queue_flits": np.where(used, rng.integers(0, 9, idx.size), 0),
            "blocked_ps": np.where(used & (rng.random(idx.size) < 0.5),
                                   rng.integers(1, 10**6, idx.size), 0)}


def write_noc_trace(path, arrays, links, msgs, lat):
    w = TraceWriter(path, metadata={"mode": "timestep", "dt_ps": DT_PS, "populations": POPS,
                                    **GEOMETRY})
    w.append_spikes(arrays["t_ps"], arrays["neuron"])
    w.append_step_durations(arrays["durations"])
    w.write_array("run/core_of", arrays["core_of"])
    w.write_links(links, duration_ps=int(arrays["durations"].sum()))
    w.append_messages(**msgs)
    w.write_latency(*lat)
    w.close()
    return read_trace(path)


@pytest.fixture
def noc(tmp_path, arrays):
    rng = np.random.default_rng(7)
    links = link_table(rng)
    n = 4000
    arrival = np.sort(rng.integers(0, 10**9, n))
    start = arrival + np.where(rng.random(n) < 0.3, rng.integers(1, 10**5, n), 0)
    msgs = {"message": np.arange(n), "src_core": rng.integers(0, 12, n),
            "dst_core": rng.integers(0, 12, n), "arrival_ps": arrival, "start_ps": start,
            "end_ps": start + 500, "send_ps": arrival - rng.integers(1000, 9000, n),
            "hops": rng.integers(0, 5, n)}
    t_in = np.sort(rng.integers(0, 10**10, 800))
    lat = (t_in, np.where(rng.random(800) < 0.9, rng.integers(0, 10**7, 800), -1),
           rng.integers(0, 10, 800) * DT_PS)
    tr = write_noc_trace(tmp_path / "noc.h5", arrays, links, msgs, lat)
    return tr, links, msgs, lat, int(arrays["durations"].sum())


def test_link_report_matches_arrays(noc):
    tr, links, _, _, duration = noc
    k = rp.link_report(tr, top=5)
    mesh = links["port"] < 4
    util = links["busy_ps"] / duration
    assert k["duration_ps"] == duration
    assert k["links"] == mesh.sum() and k["ejection_ports"] == (~mesh).sum()
    assert k["links_used"] == np.count_nonzero(mesh & (links["packets"] > 0))
    assert k["packets_on_links"] == links["packets"][mesh].sum()
    assert k["packets_ejected"] == links["packets"][~mesh].sum()
    for d, name in enumerate(rp.LINK_DIRECTIONS):
        assert k["flits_by_direction"][name] == links["flits"][links["port"] == d].sum()
    assert k["max_utilisation"] == pytest.approx(util[mesh].max())
    assert k["mean_utilisation_used"] == pytest.approx(
        util[mesh & (links["packets"] > 0)].mean())
    assert k["blocked_ps_total"] == links["blocked_ps"].sum()
    assert k["links_blocked"] == np.count_nonzero(links["blocked_ps"])
    assert k["max_queue_flits"] == links["max_queue_flits"].max()
    expected = np.argsort(-util, kind="stable")[:5]
    assert [(r["tile"], r["port"]) for r in k["top_links"]] == \
        [(links["tile"][i], links["port"][i]) for i in expected]
    top = k["top_links"][0]
    assert top["utilisation"] == pytest.approx(util.max())
    assert (top["x"], top["y"]) == (top["tile"] % 3, top["tile"] // 3)
    assert top["link"] == rp.link_name(top["port"])
    assert [r["blocked_ps"] for r in k["top_blocked"]] == \
        sorted(links["blocked_ps"], reverse=True)[:5]
    assert rp.link_name(1) == "west" and rp.link_name(5) == "core 1"


def test_event_latency_and_messages_match_arrays(noc):
    tr, _, msgs, (t_in, lat, alg), _ = noc
    e = rp.event_latency_report(tr)
    ok = lat[lat >= 0]
    assert e["events"] == t_in.size and e["responded"] == ok.size
    assert e["mean_ps"] == pytest.approx(ok.mean()) and e["max_ps"] == ok.max()
    for q in (50, 95, 99):
        assert e[f"p{q}_ps"] == pytest.approx(np.percentile(ok, q))
        assert e[f"algorithmic_p{q}_ps"] == pytest.approx(np.percentile(alg, q))
    m = rp.message_report(tr, top=3)
    queue = msgs["start_ps"] - msgs["arrival_ps"]
    assert m["messages"] == queue.size and m["messages_queued"] == np.count_nonzero(queue)
    assert m["queue_mean_ps"] == pytest.approx(queue.mean())
    assert m["queue_p95_ps"] == pytest.approx(np.percentile(queue, 95))
    assert m["mean_hops"] == pytest.approx(msgs["hops"].mean())
    assert m["network_mean_ps"] == pytest.approx((msgs["arrival_ps"] - msgs["send_ps"]).mean())
    per_core = np.bincount(msgs["dst_core"], weights=queue)
    assert [c["core"] for c in m["top_cores"]] == np.argsort(-per_core)[:3].tolist()
    assert m["top_cores"][0]["queue_ps"] == per_core.max()


def test_noc_sections_in_text_json_and_compare(noc, trace):
    tr = noc[0]
    rep = rp.report(tr, top=3)
    text = rp.format_report(rep)
    for words in ("link load", "busiest links", "most blocked", "latency per input event",
                  "messages (log"):
        assert words in text
    json.dumps(rp.to_json(rep), allow_nan=False)
    rows = {r["key"]: r for r in cp.compare(tr, tr)["rows"]}
    assert rows["links.max_utilisation"]["ratio"] == 1.0
    assert rows["event_latency.p95_ps"]["ratio"] == 1.0
    plain = rp.report(trace)
    for section in ("links", "messages", "event_latency"):
        assert not plain[section]["available"]
    assert "record_messages" in plain["messages"]["reason"]
