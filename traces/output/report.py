"""Reports read from a trace: plain tables (dicts of numbers) and the text that shows them.

Every function takes a :class:`traces.Trace` (from :func:`traces.read_trace`) and returns a dict
of Python numbers, lists and strings, ready for ``json.dumps``. :func:`format_report` turns the
whole report into text; :func:`compare` puts two reports side by side with the ratio B/A of every
number. What each number means is in ``docs/reports.md``.

Units are in the key names: ``_ps`` picoseconds, ``_s`` seconds, ``_j`` joules, ``_hz`` hertz.
A section whose data the trace does not hold (an interrupted run, an ``async`` run without step
durations) has ``"available": False`` and a ``"reason"``.
"""

from __future__ import annotations

import math
import re

import numpy as np

from aersim.traces.output.units import si

#: Percentiles of the step duration reported by :func:`latency_report`.
PERCENTILES = (50, 95, 99)

#: The hop counter columns, one per direction of the mesh.
HOP_COLUMNS = ("hop_east", "hop_west", "hop_north", "hop_south")

#: Names of the router output ports 0..3 of the link tables; port ``4 + k`` ejects to core ``k``.
LINK_DIRECTIONS = ("east", "west", "north", "south")

_PS_PER_S = 1e12


# -- what the trace knows about the run ----------------------------------------------------

def column(trace, name: str) -> np.ndarray | None:
    """Counts of operation ``name`` per core (int64, shape ``(n_cores,)``), or None if absent."""
    if trace.counters is None or name not in trace.counter_columns:
        return None
    return trace.counters[:, trace.counter_columns.index(name)]


def n_cores(trace) -> int:
    """Number of cores of the chip: from the counters, else the metadata, else the mapping."""
    if trace.counters is not None:
        return int(trace.counters.shape[0])
    meta = trace.metadata
    if all(k in meta for k in ("chip_width", "chip_height", "cores_per_tile")):
        return int(meta["chip_width"]) * int(meta["chip_height"]) * int(meta["cores_per_tile"])
    if trace.core_of is not None and trace.core_of.size:
        return int(trace.core_of.max()) + 1
    return 0


def chip_layout(trace) -> tuple[int, int, int]:
    """Mesh geometry ``(width, height, cores_per_tile)`` in tiles and cores.

    Read from the metadata keys ``chip_width``, ``chip_height`` and ``cores_per_tile``. A trace
    without them gets one core per tile on the most square mesh that holds every core, so that
    plots still show each core in its own cell (but not on its real tile).
    """
    meta = trace.metadata
    if all(k in meta for k in ("chip_width", "chip_height", "cores_per_tile")):
        return int(meta["chip_width"]), int(meta["chip_height"]), int(meta["cores_per_tile"])
    n = max(n_cores(trace), 1)
    width = math.ceil(math.sqrt(n))
    return width, math.ceil(n / width), 1


def core_xy(width: int, cores_per_tile: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Tile column and row (int32, shape ``(n,)``) of cores ``0 .. n-1``.

    Core ``c`` sits on tile ``c // cores_per_tile``; tiles are numbered row by row from the
    top-left, ``x`` growing east — the chip description's numbering.
    """
    tile = np.arange(n, dtype=np.int32) // cores_per_tile
    return (tile % width).astype(np.int32), (tile // width).astype(np.int32)


_POPULATION_LINE = re.compile(r"^\s*population (\S+): (\d+) x", re.MULTILINE)


def populations(trace) -> list[dict]:
    """Populations in network order: ``[{"name", "start", "size"}, ...]`` (global neuron ids).

    Read from the metadata key ``populations`` (a list of ``{"name", "size"}`` in network order,
    ``start`` optional). Traces that lack it but carry the network's text summary are parsed
    from it, because global ids follow network order. Empty if neither is there.
    """
    meta = trace.metadata
    pops = []
    if isinstance(meta.get("populations"), list):
        start = 0
        for item in meta["populations"]:
            size = int(item["size"])
            start = int(item.get("start", start))
            pops.append({"name": str(item["name"]), "start": start, "size": size})
            start += size
    elif isinstance(meta.get("network_summary"), str):
        start = 0
        for name, size in _POPULATION_LINE.findall(meta["network_summary"]):
            pops.append({"name": name, "start": start, "size": int(size)})
            start += int(size)
    return pops


def simulated_ps(trace) -> tuple[int, str]:
    """Simulated time of the run, picoseconds, and where the number came from.

    In order: metadata ``t_start_ps``/``t_stop_ps``; steps × ``dt_ps`` in ``timestep`` mode;
    the energy ledger's duration in ``async`` mode (the hardware runs in real time there); the
    last spike time as a lower bound.
    """
    meta = trace.metadata
    if "t_stop_ps" in meta:
        return int(meta["t_stop_ps"]) - int(meta.get("t_start_ps", 0)), "metadata"
    mode = meta.get("mode")
    if mode == "timestep" and "dt_ps" in meta and trace.step_duration_ps.size:
        return int(trace.step_duration_ps.size) * int(meta["dt_ps"]), "steps x dt"
    if mode == "async" and "duration_ps" in trace.energy:
        return int(trace.energy["duration_ps"]), "energy ledger"
    if trace.spikes_t_ps.size:
        return int(trace.spikes_t_ps[-1]), "last spike"
    return 0, "unknown"


def hardware_ps(trace) -> int | None:
    """Hardware (wall-clock on chip) time of the run, picoseconds, or None if unknown."""
    if "duration_ps" in trace.energy:
        return int(trace.energy["duration_ps"])
    if trace.step_duration_ps.size:
        return int(trace.step_duration_ps.sum())
    return None


def _unavailable(reason: str) -> dict:
    return {"available": False, "reason": reason}


# -- the sections -------------------------------------------------------------------------------

def summary(trace) -> dict:
    """The run at a glance: what ran, how long, how many spikes, rates per population."""
    meta = trace.metadata
    sim_ps, source = simulated_ps(trace)
    sim_s = sim_ps / _PS_PER_S
    hw = hardware_ps(trace)
    n_spikes = int(trace.spikes_t_ps.size)
    n_neurons = int(trace.core_of.size) if trace.core_of is not None else None
    counts = (np.bincount(trace.spikes_neuron, minlength=n_neurons or 0)
              if n_spikes else np.zeros(n_neurons or 0, dtype=np.int64))
    pops = []
    for p in populations(trace):
        k = int(counts[p["start"]:p["start"] + p["size"]].sum())
        pops.append({"name": p["name"], "neurons": p["size"], "spikes": k,
                     "rate_hz": k / p["size"] / sim_s if sim_s > 0 and p["size"] else 0.0})
    return {
        "path": trace.path, "complete": bool(trace.complete), "format_version": trace.version,
        "network": meta.get("network"), "chip": meta.get("chip"), "mode": meta.get("mode"),
        "seed": meta.get("seed"), "dt_ps": meta.get("dt_ps"), "command": meta.get("command"),
        "neurons": n_neurons, "spikes": n_spikes,
        "mean_rate_hz": (n_spikes / n_neurons / sim_s
                         if n_neurons and sim_s > 0 else 0.0),
        "simulated_s": sim_s, "simulated_source": source,
        "hardware_s": hw / _PS_PER_S if hw is not None else None,
        # How much faster than real time the chip runs the network (>1: faster).
        "speedup_vs_real_time": sim_ps / hw if hw else None,
        "populations": pops,
    }


def energy_report(trace, top: int = 10) -> dict:
    """Energy by operation kind, by core (the ``top`` largest) and in total, joules."""
    e = trace.energy_by_core_op_j
    if e is None:
        return _unavailable("the trace has no energy ledger (the run did not finish)")
    columns = trace.counter_columns or tuple(f"op{i}" for i in range(e.shape[1]))
    per_core = e.sum(axis=1)
    dynamic = float(e.sum())
    total = float(trace.energy.get("total_j", dynamic))
    by_op = {name: float(v) for name, v in zip(columns, e.sum(axis=0), strict=True)}
    order = np.argsort(-per_core, kind="stable")[:max(top, 0)]
    order = order[per_core[order] > 0]
    n_spikes = int(trace.spikes_t_ps.size)
    n_syn = column(trace, "synaptic_op")
    return {
        "available": True,
        "total_j": total, "dynamic_j": dynamic,
        "static_j": float(trace.energy.get("static_j", 0.0)),
        "barrier_j": float(trace.energy.get("barrier_j", 0.0)),
        "by_operation_j": by_op,
        "per_spike_j": total / n_spikes if n_spikes else None,
        "per_synaptic_op_j": (total / int(n_syn.sum())
                              if n_syn is not None and n_syn.sum() else None),
        "cores_with_energy": int(np.count_nonzero(per_core)),
        "top_cores": [{"core": int(c), "dynamic_j": float(per_core[c]),
                       "share": float(per_core[c] / dynamic) if dynamic else 0.0,
                       "by_operation_j": {name: float(v) for name, v
                                          in zip(columns, e[c], strict=True)}}
                      for c in order],
    }


def latency_report(trace) -> dict:
    """Statistics of the hardware duration of each step (``timestep`` mode), picoseconds.

    Percentiles use :func:`numpy.percentile` with its default (linear) interpolation.
    """
    d = trace.step_duration_ps
    if d.size == 0:
        mode = trace.metadata.get("mode")
        why = ("an async run has no steps" if mode == "async"
               else "the trace holds no step durations")
        return _unavailable(why)
    df = d.astype(np.float64)
    out = {"available": True, "steps": int(d.size), "total_ps": int(d.sum()),
           "mean_ps": float(df.mean()), "std_ps": float(df.std()),
           "min_ps": int(d.min()), "max_ps": int(d.max())}
    for q, v in zip(PERCENTILES, np.percentile(df, PERCENTILES), strict=True):
        out[f"p{q}_ps"] = float(v)
    dt = trace.metadata.get("dt_ps")
    # Steps whose hardware work takes longer than dt would stall a chip that must keep pace
    # with the sensor; their number tells whether the mapping can run in real time.
    out["steps_over_dt"] = int(np.count_nonzero(d > int(dt))) if dt else None
    return out


def traffic_report(trace, top: int = 10) -> dict:
    """Messages and hops: totals, per direction of the mesh, and per core (the ``top`` busiest)."""
    sent, received = column(trace, "message_out"), column(trace, "message_in")
    if sent is None:
        return _unavailable("the trace has no operation counters (the run did not finish)")
    if received is None:
        received = np.zeros_like(sent)
    hops = {name: int(v.sum()) if (v := column(trace, name)) is not None else 0
            for name in HOP_COLUMNS}
    total_hops = sum(hops.values())
    n_msg = int(sent.sum())
    router = column(trace, "router")
    hop_per_core = sum(v for name in HOP_COLUMNS if (v := column(trace, name)) is not None)
    if np.isscalar(hop_per_core):
        hop_per_core = np.zeros_like(sent)
    busy = sent + received
    order = np.argsort(-busy, kind="stable")[:max(top, 0)]
    order = order[busy[order] > 0]
    return {
        "available": True,
        "messages_sent": n_msg, "messages_received": int(received.sum()),
        "router_traversals": int(router.sum()) if router is not None else None,
        "hops": hops, "hops_total": total_hops,
        "mean_hops_per_message": total_hops / n_msg if n_msg else 0.0,
        "cores_sending": int(np.count_nonzero(sent)),
        "cores_receiving": int(np.count_nonzero(received)),
        "top_cores": [{"core": int(c), "sent": int(sent[c]), "received": int(received[c]),
                       "hops": int(hop_per_core[c])} for c in order],
    }


def link_name(port: int, cores_per_tile: int | None = None) -> str:
    """``"east"``, ``"west"``, ``"north"``, ``"south"``, ``"core k"`` (ejection port) or, in a
    system of chips (ports past the cores, ``cores_per_tile`` given), ``"chip link k"``."""
    port = int(port)
    if port < 4:
        return LINK_DIRECTIONS[port]
    if cores_per_tile is not None and port >= 4 + cores_per_tile:
        return f"chip link {port - 4 - cores_per_tile}"
    return f"core {port - 4}"


def link_utilisation(trace) -> np.ndarray | None:
    """Busy fraction of every link of ``trace.links`` (float64), or None without links.

    ``busy_ps`` over the hardware time the counters cover (``links_duration_ps``, else the run's
    hardware time).
    """
    if trace.links is None:
        return None
    duration = trace.links_duration_ps or hardware_ps(trace) or 0
    return trace.links["busy_ps"] / max(int(duration), 1)


def _link_rows(trace, order, util) -> list[dict]:
    width, _, cpt = chip_layout(trace)
    rows = []
    for i in order:
        row = trace.links[i]
        tile = int(row["tile"])
        rows.append({"tile": tile, "x": tile % width, "y": tile // width,
                     "port": int(row["port"]), "link": link_name(row["port"], cpt),
                     "packets": int(row["packets"]), "flits": int(row["flits"]),
                     "busy_ps": int(row["busy_ps"]), "utilisation": float(util[i]),
                     "blocked_ps": int(row["blocked_ps"]),
                     "max_queue_flits": int(row["max_queue_flits"])})
    return rows


def link_report(trace, top: int = 10) -> dict:
    """Load of every network-on-chip link: totals, the ``top`` busiest and most blocked links.

    Mesh links are the router outputs 0..3 (east, west, north, south); ejection ports (router to
    core) are counted apart. Utilisation is ``busy_ps`` over ``links_duration_ps``.
    """
    links = trace.links
    if links is None:
        return _unavailable("the trace has no per-link counters (the chip did not model "
                            "network-on-chip contention, or the run did not finish)")
    util = link_utilisation(trace)
    mesh = links["port"] < 4
    used = mesh & (links["packets"] > 0)
    # Ports past the cores are a system's chip-to-chip links (their own report section).
    eject = ~mesh & (links["port"] < 4 + chip_layout(trace)[2])
    by_util = np.argsort(-util, kind="stable")
    by_util = by_util[links["packets"][by_util] > 0][:max(top, 0)]
    by_block = np.argsort(-links["blocked_ps"], kind="stable")
    by_block = by_block[links["blocked_ps"][by_block] > 0][:max(top, 0)]
    return {
        "available": True,
        "duration_ps": int(trace.links_duration_ps or hardware_ps(trace) or 0),
        "links": int(np.count_nonzero(mesh)), "ejection_ports": int(np.count_nonzero(eject)),
        "links_used": int(np.count_nonzero(used)),
        "packets_on_links": int(links["packets"][mesh].sum()),
        "flits_on_links": int(links["flits"][mesh].sum()),
        "packets_ejected": int(links["packets"][eject].sum()),
        "flits_by_direction": {d: int(links["flits"][links["port"] == k].sum())
                               for k, d in enumerate(LINK_DIRECTIONS)},
        "busy_ps_total": int(links["busy_ps"][mesh].sum()),
        "max_utilisation": float(util[mesh].max()) if mesh.any() else 0.0,
        "mean_utilisation_used": float(util[used].mean()) if used.any() else 0.0,
        "max_ejection_utilisation": float(util[eject].max()) if eject.any() else 0.0,
        "blocked_ps_total": int(links["blocked_ps"].sum()),
        "links_blocked": int(np.count_nonzero(links["blocked_ps"] > 0)),
        "max_blocked_ps": int(links["blocked_ps"].max()) if links.size else 0,
        "max_queue_flits": int(links["max_queue_flits"].max()) if links.size else 0,
        "top_links": _link_rows(trace, by_util, util),
        "top_blocked": _link_rows(trace, by_block, util),
    }


def chip_link_report(trace, top: int = 10) -> dict:
    """Traffic on the chip-to-chip links of a system of chips: totals and the ``top`` busiest
    directed links (packets, bits, energy, utilisation over the hardware time)."""
    cl = trace.chip_links
    if cl is None:
        return _unavailable("the run was on one chip (no chip-to-chip links)")
    labels = trace.metadata.get("chip_labels") or []
    duration = hardware_ps(trace) or 0

    def name(c):
        return labels[c] if 0 <= c < len(labels) else str(c)

    order = np.argsort(-cl["packets"], kind="stable")
    order = order[cl["packets"][order] > 0][:max(top, 0)]
    rows = [{"link": int(cl["link"][i]), "from": name(int(cl["from_chip"][i])),
             "to": name(int(cl["to_chip"][i])), "packets": int(cl["packets"][i]),
             "bits": int(cl["bits"][i]), "energy_j": float(cl["energy_j"][i]),
             "utilisation": float(cl["busy_ps"][i]) / max(int(duration), 1)} for i in order]
    return {"available": True, "links": int(cl.size),
            "links_used": int(np.count_nonzero(cl["packets"])),
            "packets": int(cl["packets"].sum()), "bits": int(cl["bits"].sum()),
            "energy_j": float(cl["energy_j"].sum()), "duration_ps": int(duration),
            "top_links": rows}


def _distribution(values: np.ndarray, prefix: str = "") -> dict:
    """mean, min, p50/p95/p99 (linear interpolation) and max of int64 ``values``, ps."""
    v = values.astype(np.float64)
    out = {f"{prefix}mean_ps": float(v.mean()), f"{prefix}min_ps": int(values.min())}
    for q, x in zip(PERCENTILES, np.percentile(v, PERCENTILES), strict=True):
        out[f"{prefix}p{q}_ps"] = float(x)
    out[f"{prefix}max_ps"] = int(values.max())
    return out


def event_latency_report(trace) -> dict:
    """Latency from every input event to the first output spike after it, picoseconds.

    ``latency_ps`` is hardware time; ``algorithmic_*`` the network's own (whole steps in
    ``timestep`` mode). Events that no output spike followed count in ``events`` only.
    """
    lat = trace.latency
    if lat is None or lat.size == 0:
        return _unavailable("the trace has no per-input-event latencies (the network has no "
                            "input and output populations, or the run did not finish)")
    ok = lat["latency_ps"] >= 0
    out = {"available": True, "events": int(lat.size), "responded": int(ok.sum()),
           "responded_fraction": float(ok.mean())}
    if ok.any():
        out.update(_distribution(lat["latency_ps"][ok]))
    alg = lat["algorithmic_ps"][lat["algorithmic_ps"] >= 0]
    if alg.size:
        out.update(_distribution(alg, "algorithmic_"))
    return out


def message_report(trace, top: int = 10) -> dict:
    """The message log: queueing at destination cores, service time, hops, network delay."""
    m = trace.messages
    if m is None:
        return _unavailable("the trace has no message log (run with record_messages / "
                            "--messages to record one)")
    if m.size == 0:
        return {"available": True, "messages": 0}
    queue = m["queue_ps"]
    out = {"available": True, "messages": int(m.size),
           "messages_queued": int(np.count_nonzero(queue > 0)),
           "queued_fraction": float(np.count_nonzero(queue > 0) / m.size)}
    out.update(_distribution(queue, "queue_"))
    out["service_mean_ps"] = float((m["end_ps"] - m["start_ps"]).mean())
    hops = m["hops"][m["hops"] >= 0]
    out["mean_hops"] = float(hops.mean()) if hops.size else None
    sent = m["send_ps"] >= 0
    out["network_mean_ps"] = (float((m["arrival_ps"][sent] - m["send_ps"][sent]).mean())
                              if sent.any() else None)
    total = np.bincount(m["dst_core"], weights=queue).astype(np.int64)
    count = np.bincount(m["dst_core"], minlength=total.size)
    order = np.argsort(-total, kind="stable")
    order = order[total[order] > 0][:max(top, 0)]
    worst = np.zeros(total.size, dtype=np.int64)
    np.maximum.at(worst, m["dst_core"], queue)
    out["top_cores"] = [{"core": int(c), "messages": int(count[c]), "queue_ps": int(total[c]),
                         "max_queue_ps": int(worst[c])} for c in order]
    return out


def spike_step_counts(trace) -> np.ndarray | None:
    """Spikes in each step (int64, shape ``(n_steps,)``), or None without steps and ``dt_ps``."""
    dt = trace.metadata.get("dt_ps")
    n_steps = trace.step_duration_ps.size
    if not dt or n_steps == 0:
        return None
    step = np.minimum(trace.spikes_t_ps // int(dt), n_steps - 1)
    return np.bincount(step, minlength=n_steps).astype(np.int64)


def utilisation_report(trace) -> dict:
    """How much of the chip and of the time budget the run used."""
    width, height, per_tile = chip_layout(trace)
    total = n_cores(trace)
    mapped = (np.unique(trace.core_of) if trace.core_of is not None and trace.core_of.size
              else np.zeros(0, dtype=np.int32))
    active = (int(np.count_nonzero(trace.counters.sum(axis=1)))
              if trace.counters is not None else None)
    spiking = (np.unique(trace.core_of[trace.spikes_neuron]).size
               if trace.core_of is not None and trace.spikes_neuron.size else 0)
    out = {"chip_width": width, "chip_height": height, "cores_per_tile": per_tile,
           "layout_source": ("metadata" if "chip_width" in trace.metadata else "inferred"),
           "cores": total, "cores_mapped": int(mapped.size), "cores_active": active,
           "cores_spiking": int(spiking),
           "mapped_fraction": mapped.size / total if total else 0.0}
    per_step = spike_step_counts(trace)
    if per_step is not None:
        out["steps"] = int(per_step.size)
        out["steps_with_spikes"] = int(np.count_nonzero(per_step))
        out["busy_step_fraction"] = float(np.count_nonzero(per_step) / per_step.size)
        sim_ps = per_step.size * int(trace.metadata["dt_ps"])
        # Share of each dt the chip spends working: the rest is idle until the next step.
        out["duty_cycle"] = float(trace.step_duration_ps.sum() / sim_ps)
    return out


def report(trace, top: int = 10) -> dict:
    """The whole report: every section, plus warnings about the trace itself."""
    warnings = []
    if not trace.complete:
        warnings.append(f"trace {trace.path} is incomplete (the run did not finish); numbers "
                        "cover what was written before it stopped")
    rep = {"summary": summary(trace), "energy": energy_report(trace, top),
           "latency": latency_report(trace), "traffic": traffic_report(trace, top),
           "utilisation": utilisation_report(trace),
           "event_latency": event_latency_report(trace), "links": link_report(trace, top),
           "chip_links": chip_link_report(trace, top),
           "messages": message_report(trace, top), "warnings": warnings}
    if rep["utilisation"]["layout_source"] == "inferred":
        warnings.append("chip geometry is not in the trace; a square layout was assumed")
    return rep


# -- text -----------------------------------------------------------------------------------

def _si(value, unit: str) -> str:
    """``value`` with an SI prefix: ``_si(3.2e-6, "J") == "3.2 uJ"``."""
    return si(value, unit)


def _ps(value) -> str:
    return "-" if value is None else _si(value * 1e-12, "s")


def format_report(rep: dict) -> str:
    """The report of :func:`report` as readable text."""
    s = rep["summary"]
    lines = [f"trace {s['path']} (format {s['format_version']}"
             f"{'' if s['complete'] else ', INCOMPLETE'})",
             f"  {s['network'] or '?'} on {s['chip'] or '?'}, mode {s['mode'] or '?'}, "
             f"dt {_ps(s['dt_ps'])}, seed {s['seed']}"]
    if s["command"]:
        lines.append(f"  command: {s['command']}")
    lines += ["", "summary",
              f"  simulated time   {_si(s['simulated_s'], 's')} ({s['simulated_source']})",
              f"  hardware time    {_si(s['hardware_s'], 's')}"
              + (f"  ({s['speedup_vs_real_time']:.4g}x real time)"
                 if s["speedup_vs_real_time"] else ""),
              f"  spikes           {s['spikes']} from {s['neurons']} neurons, mean rate "
              f"{s['mean_rate_hz']:.4g} Hz"]
    if s["populations"]:
        lines.append(f"  {'population':16s} {'neurons':>8s} {'spikes':>10s} {'rate':>12s}")
        for p in s["populations"]:
            lines.append(f"  {p['name']:16s} {p['neurons']:8d} {p['spikes']:10d} "
                         f"{p['rate_hz']:9.4g} Hz")

    e = rep["energy"]
    lines += ["", "energy"]
    if not e["available"]:
        lines.append(f"  not available: {e['reason']}")
    else:
        lines += [f"  total {_si(e['total_j'], 'J')} = dynamic {_si(e['dynamic_j'], 'J')} + "
                  f"static {_si(e['static_j'], 'J')} + barrier {_si(e['barrier_j'], 'J')}",
                  f"  per spike {_si(e['per_spike_j'], 'J')}, per synaptic op "
                  f"{_si(e['per_synaptic_op_j'], 'J')}"]
        dyn = e["dynamic_j"] or 1.0
        for name, v in sorted(e["by_operation_j"].items(), key=lambda kv: -kv[1]):
            if v:
                lines.append(f"  {name:16s} {_si(v, 'J'):>12s} {100 * v / dyn:6.2f} %")
        lines.append(f"  top cores (dynamic energy; {e['cores_with_energy']} cores spent any):")
        for c in e["top_cores"]:
            lines.append(f"    core {c['core']:5d} {_si(c['dynamic_j'], 'J'):>12s} "
                         f"{100 * c['share']:6.2f} %")

    lat = rep["latency"]
    lines += ["", "latency (hardware duration of each step)"]
    if not lat["available"]:
        lines.append(f"  not available: {lat['reason']}")
    else:
        lines.append(f"  {lat['steps']} steps: mean {_ps(lat['mean_ps'])}, p50 "
                     f"{_ps(lat['p50_ps'])}, p95 {_ps(lat['p95_ps'])}, p99 "
                     f"{_ps(lat['p99_ps'])}, max {_ps(lat['max_ps'])}")
        if lat["steps_over_dt"] is not None:
            lines.append(f"  steps longer than dt: {lat['steps_over_dt']}")

    t = rep["traffic"]
    lines += ["", "traffic"]
    if not t["available"]:
        lines.append(f"  not available: {t['reason']}")
    else:
        lines += [f"  messages sent {t['messages_sent']}, received {t['messages_received']}, "
                  f"router traversals {t['router_traversals']}",
                  f"  hops {t['hops_total']} (east {t['hops']['hop_east']}, west "
                  f"{t['hops']['hop_west']}, north {t['hops']['hop_north']}, south "
                  f"{t['hops']['hop_south']}), {t['mean_hops_per_message']:.3g} per message"]
        if t["top_cores"]:
            lines.append(f"    {'core':>9s} {'sent':>10s} {'received':>10s} {'hops':>10s}")
            for c in t["top_cores"]:
                lines.append(f"    core {c['core']:4d} {c['sent']:10d} {c['received']:10d} "
                             f"{c['hops']:10d}")

    u = rep["utilisation"]
    lines += ["", "utilisation",
              f"  chip {u['chip_width']}x{u['chip_height']} tiles x {u['cores_per_tile']} "
              f"cores = {u['cores']} cores ({u['layout_source']})",
              f"  cores mapped {u['cores_mapped']} ({100 * u['mapped_fraction']:.3g} %), active "
              f"{u['cores_active']}, spiking {u['cores_spiking']}"]
    if "steps" in u:
        lines.append(f"  steps with spikes {u['steps_with_spikes']} of {u['steps']} "
                     f"({100 * u['busy_step_fraction']:.3g} %), duty cycle "
                     f"{100 * u['duty_cycle']:.3g} % of dt")
    lines += _format_event_latency(rep["event_latency"]) + _format_links(rep["links"]) + \
        _format_chip_links(rep.get("chip_links")) + _format_messages(rep["messages"])
    for w in rep["warnings"]:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def _format_event_latency(lat: dict) -> list[str]:
    lines = ["", "latency per input event (to the first output spike)"]
    if not lat["available"]:
        return lines + [f"  not available: {lat['reason']}"]
    lines.append(f"  {lat['responded']} of {lat['events']} events answered "
                 f"({100 * lat['responded_fraction']:.3g} %)")
    if "mean_ps" in lat:
        lines.append(f"  hardware: mean {_ps(lat['mean_ps'])}, p50 {_ps(lat['p50_ps'])}, p95 "
                     f"{_ps(lat['p95_ps'])}, p99 {_ps(lat['p99_ps'])}, max {_ps(lat['max_ps'])}")
    if "algorithmic_mean_ps" in lat:
        lines.append(f"  algorithmic: mean {_ps(lat['algorithmic_mean_ps'])}, p50 "
                     f"{_ps(lat['algorithmic_p50_ps'])}, p95 {_ps(lat['algorithmic_p95_ps'])}, "
                     f"max {_ps(lat['algorithmic_max_ps'])}")
    return lines


def _format_links(k: dict) -> list[str]:
    lines = ["", "link load (network-on-chip contention)"]
    if not k["available"]:
        return lines + [f"  not available: {k['reason']}"]
    d = k["flits_by_direction"]
    lines += [f"  {k['links_used']} of {k['links']} links used, {k['packets_on_links']} packets "
              f"and {k['flits_on_links']} flits on links (east {d['east']}, west {d['west']}, "
              f"north {d['north']}, south {d['south']} flits), {k['packets_ejected']} ejected",
              f"  utilisation over {_ps(k['duration_ps'])}: max "
              f"{100 * k['max_utilisation']:.3g} %, mean of used links "
              f"{100 * k['mean_utilisation_used']:.3g} %, busiest ejection port "
              f"{100 * k['max_ejection_utilisation']:.3g} %",
              f"  blocked: {k['links_blocked']} links, total {_ps(k['blocked_ps_total'])}, "
              f"max {_ps(k['max_blocked_ps'])}; deepest queue {k['max_queue_flits']} flits"]
    for title, rows in (("busiest links", k["top_links"]), ("most blocked", k["top_blocked"])):
        if rows:
            lines.append(f"  {title}:")
            lines.append(f"    {'tile (x,y)':>14s} {'link':>8s} {'packets':>9s} {'util':>8s} "
                         f"{'blocked':>12s} {'queue':>6s}")
            for r in rows:
                where = f"{r['tile']} ({r['x']},{r['y']})"
                lines.append(f"    {where:>14s} {r['link']:>8s} {r['packets']:9d} "
                             f"{100 * r['utilisation']:7.3g}% {_ps(r['blocked_ps']):>12s} "
                             f"{r['max_queue_flits']:6d}")
    return lines


def _format_chip_links(k: dict | None) -> list[str]:
    if k is None or not k["available"]:
        return []     # a single chip: no section
    lines = ["", "chip-to-chip links",
             f"  {k['links_used']} of {k['links']} directed links used: {k['packets']} packets, "
             f"{k['bits']} bits, {_si(k['energy_j'], 'J')}"]
    if k["top_links"]:
        lines.append(f"    {'link':>24s} {'packets':>10s} {'bits':>12s} {'energy':>10s} "
                     f"{'util':>8s}")
        for r in k["top_links"]:
            where = f"{r['from']}->{r['to']}"
            lines.append(f"    {where:>24s} {r['packets']:10d} {r['bits']:12d} "
                         f"{_si(r['energy_j'], 'J'):>10s} {100 * r['utilisation']:7.3g}%")
    return lines


def _format_messages(m: dict) -> list[str]:
    lines = ["", "messages (log of every message served)"]
    if not m["available"]:
        return lines + [f"  not available: {m['reason']}"]
    if not m["messages"]:
        return lines + ["  no messages"]
    lines.append(f"  {m['messages']} messages, {m['messages_queued']} waited for their core "
                 f"({100 * m['queued_fraction']:.3g} %): queue mean {_ps(m['queue_mean_ps'])}, "
                 f"p95 {_ps(m['queue_p95_ps'])}, max {_ps(m['queue_max_ps'])}")
    extra = [f"service mean {_ps(m['service_mean_ps'])}"]
    if m["mean_hops"] is not None:
        extra.append(f"{m['mean_hops']:.3g} hops per message")
    if m["network_mean_ps"] is not None:
        extra.append(f"network delay mean {_ps(m['network_mean_ps'])}")
    lines.append("  " + ", ".join(extra))
    for c in m["top_cores"]:
        lines.append(f"    core {c['core']:5d} {c['messages']:9d} messages, queued "
                     f"{_ps(c['queue_ps'])} in total, at most {_ps(c['max_queue_ps'])}")
    return lines


# -- comparison -------------------------------------------------------------------------------

def to_json(obj):
    """``obj`` with NumPy scalars made Python numbers and infinities made None (strict JSON)."""
    if isinstance(obj, dict):
        return {k: to_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
