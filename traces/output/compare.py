"""Two traces side by side: every number of their reports with the ratio B / A."""

from __future__ import annotations

import math

import numpy as np

from aersim.traces.output.report import _si, report

_NOT_COMPARED = ("top_cores", "top_links", "top_blocked", "warnings", "seed")


def flatten(rep: dict) -> dict:
    """Every number of a report as ``{"section.key": value}``, in report order.

    Per-core tables are left out: the busiest cores of two runs are usually different cores.
    Population rates are kept under ``summary.population.<name>.*``.
    """
    flat = {}

    def walk(prefix, obj):
        for key, value in obj.items():
            name = f"{prefix}.{key}" if prefix else key
            # The seed and per-core tables are not quantities whose ratio means anything.
            if key in _NOT_COMPARED or isinstance(value, (str, list)):
                continue
            if isinstance(value, dict):
                walk(name, value)
            elif isinstance(value, (bool, np.bool_)) or value is None:
                continue
            elif isinstance(value, (int, float, np.integer, np.floating)):
                flat[name] = value
        if "populations" in obj:
            for p in obj["populations"]:
                for key in ("spikes", "rate_hz"):
                    flat[f"{prefix}.population.{p['name']}.{key}"] = p[key]

    walk("", rep)
    return flat


def ratio(a, b) -> float:
    """B/A; 1 when both are zero (nothing changed), infinity when only A is zero."""
    if a == 0:
        return 1.0 if b == 0 else math.inf
    return b / a


def compare(trace_a, trace_b, top: int = 10) -> dict:
    """Two runs side by side: every number of both reports and the ratio B/A.

    Returns
    -------
    dict
        ``{"a": path, "b": path, "rows": [{"key", "a", "b", "ratio"}, ...], "warnings": [...]}``.
        A number present in only one report has None on the other side and ratio None.
    """
    ra, rb = report(trace_a, top), report(trace_b, top)
    fa, fb = flatten(ra), flatten(rb)
    rows = []
    for key in list(fa) + [k for k in fb if k not in fa]:
        a, b = fa.get(key), fb.get(key)
        r = ratio(a, b) if a is not None and b is not None else None
        rows.append({"key": key, "a": a, "b": b, "ratio": r})
    labels = {}
    for side, rep in (("A", ra), ("B", rb)):
        s = rep["summary"]
        labels[side] = f"{s['network']} on {s['chip']}, {s['mode']}"
    return {"a": trace_a.path, "b": trace_b.path, "labels": labels, "rows": rows,
            "warnings": [f"A: {w}" for w in ra["warnings"]] +
                        [f"B: {w}" for w in rb["warnings"]]}


_UNIT_SUFFIXES = (("_ps", 1e-12, "s"), ("_j", 1.0, "J"), ("_s", 1.0, "s"), ("_hz", 1.0, "Hz"))


def _num(key: str, v) -> str:
    """A number of the comparison, with the SI unit its key names."""
    if v is None:
        return "-"
    # A table's unit sits on its own name: "energy.by_operation_j.router" is in joules.
    unit_key = key.rsplit(".", 1)[0] if ".by_operation_j." in key else key
    for suffix, scale, unit in _UNIT_SUFFIXES:
        if unit_key.endswith(suffix):
            return _si(v * scale, unit)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{v:.4g}"


def format_compare(cmp: dict) -> str:
    """The comparison of :func:`compare` as text; ratios far from 1 are marked."""
    lines = [f"A: {cmp['a']} ({cmp['labels']['A']})",
             f"B: {cmp['b']} ({cmp['labels']['B']})", ""]
    width = max([len(r["key"]) for r in cmp["rows"]] + [6])
    lines.append(f"{'number':{width}s} {'A':>14s} {'B':>14s} {'B/A':>10s}")
    section = None
    for r in cmp["rows"]:
        head = r["key"].split(".", 1)[0]
        if head != section and section is not None:
            lines.append("")
        section = head
        rr = r["ratio"]
        mark = "" if rr is None or (0.9 <= rr <= 1.1) else "  *"
        rtext = "-" if rr is None else ("inf" if math.isinf(rr) else f"{rr:.4g}")
        lines.append(f"{r['key']:{width}s} {_num(r['key'], r['a']):>14s} "
                     f"{_num(r['key'], r['b']):>14s} "
                     f"{rtext:>10s}{mark}")
    lines += ["", "* ratio outside 0.9 .. 1.1"]
    lines += [f"warning: {w}" for w in cmp["warnings"]]
    return "\n".join(lines)
