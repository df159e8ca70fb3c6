"""Sweep specifications: parse, validate and expand into points.

A sweep spec (YAML or a dict) names a *base run* and the *axes* to vary::

    base:
      network: random          # built-in (demo, brunel, ff, random) or a .nir/.npz file
      chip: minimal            # preset or chip .yaml
      duration_s: 0.02
    axes:
      chip.core.neurons: [32, 64, 128]
      run.mode: [timestep, async]
    sample: grid               # or {random: 20, seed: 1}; or give `points:` instead of axes
    reference: first           # compare every point's output spikes with the first point

Every axis key is handled by an entry of :data:`AXES`, found by exact key or by prefix
(``chip.`` takes any chip-file key path), so a new kind of axis is one registry entry. The base
chip may be a system of chips (``hardware.system``): ``chip.`` keys then change every chip of
the system, and ``system.`` keys the system file (``system.link_types.board.latency_ns``).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from aersim.simcore.errors import ConfigError

#: Keys of ``base`` with their defaults. ``None`` means "the network's / the chip's own".
BASE_DEFAULTS = {
    "network": "random",
    "network_seed": 0,
    "profile": None,
    "chip": None,
    "strategy": "sequential",
    "mode": None,
    "duration_s": None,
    "dt_ms": None,
    "seed": 0,
    "stimulus": {"rate_hz": None, "population": None, "recording": None},
}
TOP_KEYS = ("name", "base", "axes", "points", "sample", "reference")
#: Most points a sweep may have (a grid's product of axis lengths, or a random sample's N).
MAX_POINTS = 100_000
SAMPLE_KINDS = ("grid", "random", "points")


class SweepSpecError(ConfigError):
    """A sweep spec is invalid: names the file, the key path, the value and what is allowed."""


class _Bad(ValueError):
    """Raised by an axis check; the text says what is allowed."""


# ----------------------------------------------------------------------------------------------
# The axis registry.

@dataclass(frozen=True)
class AxisKind:
    """How one kind of axis checks its values and applies them to a run description.

    Attributes
    ----------
    key : str
        Exact axis key, or a prefix ending in ``.`` that takes a sub-path (``chip.``).
    help : str
        One line for error messages and ``aersim sweep --help``.
    check : callable
        ``(sub_key, value) -> value``: the value normalised (``int``, ``float``, ``str``), or
        ``_Bad`` with what is allowed.
    apply : callable
        ``(run, sub_key, value) -> None``: set the value in a run description (a dict shaped
        like :data:`BASE_DEFAULTS`, plus ``chip_overrides``).
    """

    key: str
    help: str
    check: Callable
    apply: Callable


def _as_int(lo=None):
    def check(_, v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not float(v).is_integer():
            raise _Bad(f"an integer{'' if lo is None else f' >= {lo}'}")
        if lo is not None and v < lo:
            raise _Bad(f"an integer >= {lo}")
        return int(v)
    return check


def _as_float(lo=0.0, strict=False):
    def check(_, v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or v < lo or (strict and v == lo):
            raise _Bad(f"a number {'>' if strict else '>='} {lo:g}")
        return float(v)
    return check


def _one_of(choices_fn):
    def check(_, v):
        choices = choices_fn()
        if v not in choices:
            raise _Bad(f"one of {', '.join(map(str, choices))}")
        return v
    return check


def _as_path_or_none(_, v):
    if v is not None and not isinstance(v, str):
        raise _Bad("a file path (text) or null")
    return v


def _chip_leaf(sub: str):
    """The schema rule of a chip key path such as ``core.neurons``; ``_Bad`` if there is none."""
    from aersim.hardware.chip import SCHEMA

    node = SCHEMA
    for part in sub.split("."):
        if not isinstance(node, dict) or part not in node:
            here = sorted(node) if isinstance(node, dict) else []
            raise _Bad(f"a chip-file key path; {part!r} is not a key here (keys: "
                       f"{', '.join(here)})")
        node = node[part]
    if isinstance(node, dict):
        raise _Bad(f"a key path down to a value; {sub!r} is a section with keys "
                   f"{', '.join(node)}")
    return node


def _check_chip(sub, v):
    kind, _, rule, allowed = _chip_leaf(sub)
    try:
        if kind == "int":
            v = _as_int()(sub, v)
        elif kind == "float":
            v = _as_float(-math.inf)(sub, v)
        elif kind == "str" and not isinstance(v, str):
            raise _Bad(allowed)
    except _Bad:
        raise _Bad(allowed) from None
    if rule is not None and not rule(v):
        raise _Bad(allowed)
    return v


def _set(*path):
    def apply(run, _, v):
        node = run
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = v
    return apply


def _strategies():
    from aersim.hardware.mapping import STRATEGIES
    return tuple(STRATEGIES)


def _modes():
    from aersim.hardware.chip import EXECUTION_MODES
    return EXECUTION_MODES


def _profiles():
    from aersim.models.loaders.profiles import PROFILES
    return (None, *sorted(PROFILES))


def _chip_apply(run, sub, v):
    run["chip_overrides"][sub] = v


def _check_system(sub, v):
    """Values of ``system.<keypath>`` axes: a chip (preset name or path) for ``system.chip``,
    else a finite number; the key and the value's range are checked against the base system
    (:func:`_check_chip_values`)."""
    if sub == "chip":
        if not isinstance(v, str):
            raise _Bad("a chip preset name or a chip .yaml path")
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _Bad("a number")
    return v


def _system_apply(run, sub, v):
    # Only runs with a system axis carry the key, so other runs keep their point ids.
    run.setdefault("system_overrides", {})[sub] = v


AXES: dict[str, AxisKind] = {a.key: a for a in (
    AxisKind("chip.", "any chip-file key path, e.g. chip.core.neurons, "
             "chip.noc.hop_energy_pj.east_west", _check_chip, _chip_apply),
    AxisKind("mapping.strategy", "mapping strategy", _one_of(_strategies), _set("strategy")),
    AxisKind("run.seed", "seed of the run's random streams", _as_int(0), _set("seed")),
    AxisKind("run.mode", "execution mode", _one_of(_modes), _set("mode")),
    AxisKind("run.dt_ms", "time step, ms", _as_float(0.0, strict=True), _set("dt_ms")),
    AxisKind("run.duration_s", "simulated seconds", _as_float(0.0, strict=True),
             _set("duration_s")),
    AxisKind("stimulus.rate_hz", "rate of every Poisson stimulus, Hz", _as_float(0.0),
             _set("stimulus", "rate_hz")),
    AxisKind("stimulus.recording", "event recording that drives the input population",
             _as_path_or_none, _set("stimulus", "recording")),
    AxisKind("network.profile", "NIR import profile", _one_of(_profiles), _set("profile")),
    AxisKind("network.seed", "seed of a built-in network's generator", _as_int(0),
             _set("network_seed")),
    AxisKind("network.name", "built-in network or network file", _as_path_or_none,
             _set("network")),
    AxisKind("system.", "a key of the base system file, e.g. "
             "system.link_types.board.bandwidth_gbit_s, system.barrier.latency_ns",
             _check_system, _system_apply),
)}


def axis_kind(key: str) -> tuple[AxisKind, str]:
    """The registry entry for axis ``key`` and the sub-key it passes on (``""`` if exact).

    Raises
    ------
    ValueError
        Unknown axis; the message lists the known kinds.
    """
    if not isinstance(key, str):
        raise _Bad(f"axis names are text, got {key!r}")
    if key in AXES and not key.endswith("."):
        return AXES[key], ""
    for prefix, kind in AXES.items():
        if prefix.endswith(".") and key.startswith(prefix) and len(key) > len(prefix):
            return kind, key[len(prefix):]
    raise _Bad("one of " + ", ".join(k + ("<keypath>" if k.endswith(".") else "")
                                      for k in AXES))


# ----------------------------------------------------------------------------------------------
# The spec.

@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep.

    Attributes
    ----------
    name : str
    base : dict
        The base run (keys of :data:`BASE_DEFAULTS`).
    axes : tuple of str
        Axis keys, in the order given.
    points : tuple of dict
        Every point as ``{axis: value}``, in sweep order.
    reference : int or None
        Index of the point whose output spikes every point is compared with.
    where : str
        The spec file (or ``"<dict>"``), for messages.
    root : str
        Folder that relative file paths in the spec are resolved against.
    text : str
        The spec as YAML, stored with the results.
    """

    name: str
    base: dict
    axes: tuple
    points: tuple
    reference: int | None = None
    where: str = "<dict>"
    root: str = "."
    text: str = ""
    ids: tuple = field(default=(), repr=False)
    #: The base chip is a system of chips (the table gets chip-to-chip link columns).
    system: bool = False

    def run_of(self, i: int) -> dict:
        """The full run description of point ``i`` (base with the point's values applied)."""
        return resolve_run(self.base, self.points[i])

    def __len__(self) -> int:
        return len(self.points)


def resolve_run(base: dict, point: dict) -> dict:
    """Apply a point's axis values to a copy of ``base``."""
    run = copy.deepcopy(base)
    run["chip_overrides"] = dict(run.get("chip_overrides") or {})
    for key, value in point.items():
        kind, sub = axis_kind(key)
        kind.apply(run, sub, value)
    return run


def point_id(run: dict) -> str:
    """A stable 16-hex-digit identity of a run description (same values, same id, any machine)."""
    text = json.dumps(run, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load_spec(spec) -> SweepSpec:
    """Read and validate a sweep spec.

    Parameters
    ----------
    spec : str, Path, dict or SweepSpec
        A YAML file, or its content as a dict.

    Returns
    -------
    SweepSpec

    Raises
    ------
    SweepSpecError
        The message names the file, the key path, the offending value and what is allowed.
    """
    if isinstance(spec, SweepSpec):
        return spec
    if isinstance(spec, dict):
        where, root, data = "<dict>", ".", copy.deepcopy(spec)
    else:
        from aersim.hardware.chip import (
            YamlInputError,
            load_yaml,
            read_yaml_file,
            yaml_error_text,
        )

        path = Path(spec)
        where, root = str(path), str(path.parent)
        try:
            data = load_yaml(read_yaml_file(path))
        except OSError as exc:
            raise SweepSpecError(f"cannot read sweep spec {where}: {exc.strerror or exc}") \
                from None
        except (yaml.YAMLError, YamlInputError) as exc:
            raise SweepSpecError(f"{where}: {yaml_error_text(exc)}") from None
    return _parse(data, where, root)


def _err(where, key, value, allowed) -> SweepSpecError:
    return SweepSpecError(f"{where}: {key} = {value!r} is not allowed; expected {allowed}")


def _parse(data, where: str, root: str) -> SweepSpec:
    if not isinstance(data, dict):
        raise SweepSpecError(f"{where}: a sweep spec is a mapping with keys "
                             f"{', '.join(TOP_KEYS)}, got {type(data).__name__}")
    for key in data:
        if key not in TOP_KEYS:
            raise SweepSpecError(f"{where}: unknown key {key!r} (allowed: {', '.join(TOP_KEYS)})")
    base = _parse_base(data.get("base") or {}, where)
    has_axes, has_points = data.get("axes") is not None, data.get("points") is not None
    if has_axes == has_points:
        raise SweepSpecError(f"{where}: give either 'axes' (a mapping of axis to values) or "
                             "'points' (a list of mappings of axis to value), not "
                             f"{'both' if has_axes else 'neither'}")
    sample = data.get("sample", "points" if has_points else "grid")
    if has_points:
        if sample != "points":
            raise _err(where, "sample", sample, "'points' (or no 'sample') with 'points'")
        axes, points = _parse_points(data["points"], where)
    else:
        axes, points = _parse_axes(data["axes"], sample, where)
    if not points:
        raise SweepSpecError(f"{where}: the sweep has no points")
    _check_inputs(base, axes, points, where, root)
    system = _check_chip_values(base, axes, points, where, root)
    reference = _parse_reference(data.get("reference"), len(points), where)
    base_resolved = dict(base)
    ids = tuple(point_id(resolve_run(base_resolved, p)) for p in points)
    if len(set(ids)) != len(ids):
        first = next(i for i, x in enumerate(ids) if ids.index(x) != i)
        raise SweepSpecError(f"{where}: point {first} ({points[first]}) repeats an earlier "
                             "point; every point must differ in some value")
    name = data.get("name") or (Path(where).stem if where != "<dict>" else "sweep")
    return SweepSpec(str(name), base_resolved, tuple(axes), tuple(points), reference, where,
                     root, yaml.safe_dump(data, sort_keys=False), ids, system)


def _parse_base(raw, where) -> dict:
    if not isinstance(raw, dict):
        raise _err(where, "base", raw, "a mapping with keys " + ", ".join(BASE_DEFAULTS))
    base = copy.deepcopy(BASE_DEFAULTS)
    checks = {
        "network": ("network.name", None), "network_seed": ("network.seed", None),
        "profile": ("network.profile", None), "strategy": ("mapping.strategy", None),
        "mode": ("run.mode", None), "duration_s": ("run.duration_s", None),
        "dt_ms": ("run.dt_ms", None), "seed": ("run.seed", None),
    }
    for key, value in raw.items():
        if key == "stimulus":
            base["stimulus"].update(_parse_stimulus(value, where))
        elif key == "chip":
            if value is not None and not isinstance(value, str):
                raise _err(where, "base.chip", value, "a chip preset name or a chip .yaml path")
            base["chip"] = value
        elif key in checks:
            if value is None and key in ("profile", "mode", "duration_s", "dt_ms"):
                continue
            kind, sub = axis_kind(checks[key][0])
            try:
                base[key] = kind.check(sub, value)
            except _Bad as exc:
                raise _err(where, f"base.{key}", value, exc) from None
        else:
            raise SweepSpecError(f"{where}: unknown key 'base.{key}' (allowed: "
                                 f"{', '.join(BASE_DEFAULTS)})")
    if not isinstance(base["network"], str):
        raise _err(where, "base.network", base["network"], "a built-in name or a network file")
    return base


def _parse_stimulus(raw, where) -> dict:
    allowed = tuple(BASE_DEFAULTS["stimulus"])
    if not isinstance(raw, dict):
        raise _err(where, "base.stimulus", raw, "a mapping with keys " + ", ".join(allowed))
    out = {}
    for key, value in raw.items():
        if key not in allowed:
            raise SweepSpecError(f"{where}: unknown key 'base.stimulus.{key}' (allowed: "
                                 f"{', '.join(allowed)})")
        if value is None:
            out[key] = None
        elif key == "rate_hz":
            try:
                out[key] = _as_float(0.0)(key, value)
            except _Bad as exc:
                raise _err(where, f"base.stimulus.{key}", value, exc) from None
        elif not isinstance(value, str):
            raise _err(where, f"base.stimulus.{key}", value, "text")
        else:
            out[key] = value
    return out


def _check_key(key, where, at):
    try:
        kind, sub = axis_kind(key)
        if kind.key == "chip.":
            _chip_leaf(sub)
    except _Bad as exc:
        what = f"unknown axis {key!r}; axes are" if not str(key).startswith("chip.") else \
            f"{at}: {key!r} is not a chip axis; expected"
        raise SweepSpecError(f"{where}: {what} {exc}") from None
    # A system key is checked against the base system (_check_chip_values).


def _check_value(key, value, where, at):
    try:
        kind, sub = axis_kind(key)
    except _Bad as exc:
        raise SweepSpecError(f"{where}: unknown axis {key!r}; axes are {exc}") from None
    try:
        return kind.check(sub, value)
    except _Bad as exc:
        raise _err(where, at, value, f"{exc} ({key}: {kind.help})") from None


def _parse_axes(raw, sample, where):
    if not isinstance(raw, dict) or not raw:
        raise _err(where, "axes", raw, "a non-empty mapping of axis key to a list of values")
    kind, n, seed = _parse_sample(sample, where)
    axes, values = [], []
    for key, vals in raw.items():
        _check_key(key, where, f"axes.{key}")
        if isinstance(vals, dict):
            if kind != "random":
                raise _err(where, f"axes.{key}", vals, "a list of values (a range "
                           "{low, high} needs 'sample: {random: N}')")
            values.append(_parse_range(key, vals, where))
        elif isinstance(vals, list) and vals:
            checked = [_check_value(key, v, where, f"axes.{key}[{i}]") for i, v in
                       enumerate(vals)]
            if len(set(map(repr, checked))) != len(checked):
                raise _err(where, f"axes.{key}", vals, "a list of distinct values")
            values.append(checked)
        else:
            raise _err(where, f"axes.{key}", vals, "a non-empty list of values")
        axes.append(key)
    if kind == "grid":
        size = math.prod(len(v) for v in values)
        if size > MAX_POINTS:
            raise SweepSpecError(f"{where}: the grid has {size} points ("
                                 + " x ".join(str(len(v)) for v in values)
                                 + f"); at most {MAX_POINTS} are allowed; use fewer values or "
                                 "'sample: {random: N}'")
        points = [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*values)]
    else:
        points = _random_points(axes, values, n, seed, where)
    return axes, points


def _parse_sample(sample, where):
    if sample == "grid":
        return "grid", 0, 0
    if isinstance(sample, dict) and "random" in sample:
        extra = set(sample) - {"random", "seed"}
        n, seed = sample["random"], sample.get("seed", 0)
        if extra or isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_POINTS \
                or isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise _err(where, "sample", sample,
                       f"{{random: N (1..{MAX_POINTS}), seed: S >= 0}}")
        return "random", n, seed
    raise _err(where, "sample", sample, "'grid', {random: N, seed: S}, or 'points' with a "
               "'points' list")


def _parse_range(key, spec, where):
    allowed = ("{low: A, high: B, log: false, integer: false} with finite A < B (and A > 0 "
               "for log)")
    extra = set(spec) - {"low", "high", "log", "integer"}
    lo, hi = spec.get("low"), spec.get("high")
    if extra or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                        and math.isfinite(x) for x in (lo, hi)) or not lo < hi or \
            (spec.get("log") and lo <= 0):
        raise _err(where, f"axes.{key}", spec, allowed)
    return {"low": float(lo), "high": float(hi), "log": bool(spec.get("log", False)),
            "integer": bool(spec.get("integer", False))}


def _random_points(axes, values, n, seed, where):
    """``n`` distinct points: lists are drawn from uniformly, ranges sampled (log-)uniformly."""
    rng = np.random.default_rng(seed)
    discrete = all(isinstance(v, list) for v in values)
    if discrete:
        size = math.prod(len(v) for v in values)
        if n > size:
            raise SweepSpecError(f"{where}: sample.random = {n} but the grid has only {size} "
                                 "points; lower N or use 'sample: grid'")
        # Draw without replacement from the grid's mixed-radix indices.
        flat = rng.choice(size, size=n, replace=False) if size <= 10**7 else \
            _distinct_randints(rng, size, n)
        points = []
        for idx in np.sort(flat):
            point, rest = {}, int(idx)
            for key, vals in zip(reversed(axes), reversed(values), strict=True):
                rest, r = divmod(rest, len(vals))
                point[key] = vals[r]
            points.append({k: point[k] for k in axes})
        return points
    points, seen = [], set()
    for _ in range(n * 20 + 100):
        point = {}
        for key, vals in zip(axes, values, strict=True):
            if isinstance(vals, list):
                point[key] = vals[int(rng.integers(len(vals)))]
            else:
                lo, hi = (math.log(vals["low"]), math.log(vals["high"])) if vals["log"] \
                    else (vals["low"], vals["high"])
                x = float(rng.uniform(lo, hi))
                x = math.exp(x) if vals["log"] else x
                x = int(round(x)) if vals["integer"] else x
                point[key] = _check_value(key, x, where, f"axes.{key}")
        sig = repr(sorted(point.items()))
        if sig not in seen:
            seen.add(sig)
            points.append(point)
        if len(points) == n:
            return points
    raise SweepSpecError(f"{where}: could not draw {n} distinct points from the axes' values")


def _distinct_randints(rng, size, n):
    out = set()
    while len(out) < n:
        out.update(int(x) for x in rng.integers(0, size, n - len(out)))
    return np.array(sorted(out), dtype=np.int64)


def _parse_points(raw, where):
    if not isinstance(raw, list) or not raw:
        raise _err(where, "points", raw, "a non-empty list of mappings of axis to value")
    axes, points = [], []
    for i, p in enumerate(raw):
        if not isinstance(p, dict) or not p:
            raise _err(where, f"points[{i}]", p, "a non-empty mapping of axis to value")
        for key in p:
            _check_key(key, where, f"points[{i}].{key}")
            if key not in axes:
                axes.append(key)
        points.append({k: _check_value(k, v, where, f"points[{i}].{k}") for k, v in p.items()})
    return axes, points


def _parse_reference(raw, n, where):
    if raw is None or raw is False:
        return None
    if raw == "first":
        return 0
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < n:
        return raw
    raise _err(where, "reference", raw, f"null, 'first', or a point index 0..{n - 1}")


def _check_inputs(base, axes, points, where, root):
    """Files, the chip and the stimulus population are checked before any point runs, so a
    typo fails here and not on a worker: every network file, recording and chip named by the
    base or an axis exists, and a named input population exists in every network."""
    from aersim.simcore.run.catalog import BUILTIN_RUNS

    def values(key, axis):
        return [base[key]] + [p[axis] for p in points if p.get(axis) is not None]

    networks = values("network", "network.name")
    for net in dict.fromkeys(networks):
        if net not in BUILTIN_RUNS and not (Path(root) / net).is_file():
            raise SweepSpecError(f"{where}: network {net!r} is neither a built-in "
                                 f"({', '.join(BUILTIN_RUNS)}) nor a file "
                                 f"({Path(root) / net} does not exist)")
    recordings = [base["stimulus"]["recording"]] + \
        [p["stimulus.recording"] for p in points if p.get("stimulus.recording") is not None]
    for rec in dict.fromkeys(r for r in recordings if r):
        if not (Path(root) / rec).is_file():
            raise SweepSpecError(f"{where}: recording {rec!r} does not exist (looked for "
                                 f"{Path(root) / rec})")
    from aersim.hardware.errors import HardwareError

    try:
        make_chip(base, root, where=f"{where}: base.chip {base_chip_name(base)!r}")
    except HardwareError as exc:
        raise SweepSpecError(str(exc)) from None
    pop = base["stimulus"]["population"]
    if pop:
        for net in dict.fromkeys(networks):
            names = _population_names(net, base, root, where)
            if pop not in names:
                raise SweepSpecError(f"{where}: base.stimulus.population = {pop!r} is not a "
                                     f"population of network {net!r} (populations: "
                                     f"{', '.join(names)})")


def _population_names(net, base, root, where) -> list[str]:
    from aersim.models.errors import ModelError
    from aersim.simcore.run.catalog import BUILTIN_RUNS

    try:
        if net in BUILTIN_RUNS:
            network, _ = BUILTIN_RUNS[net].build(base["network_seed"])
        else:
            from aersim.models.loaders.loading import load_network
            network = load_network(Path(root) / net, profile=base["profile"])
    except ModelError as exc:
        raise SweepSpecError(f"{where}: network {net!r}: {exc}") from None
    return list(network.populations)


def _check_chip_values(base, axes, points, where, root) -> bool:
    """Every chip and system override is applied to the base chip (or system) once, so a bad
    key or value fails here and not on a worker hours later; a value that only breaks the
    mapping is left to the point. Returns whether the base chip is a system of chips."""
    from aersim.hardware.errors import ChipSpecError
    from aersim.hardware.system import check_sweep_keypath

    name = base_chip_name(base)
    base_dict = chip_dict(name, root=root)
    system = is_system_dict(base_dict)
    for key in axes:
        if not key.startswith("system."):
            continue
        if not system:
            raise SweepSpecError(f"{where}: axes.{key}: system axes need a system of chips as "
                                 f"base.chip; {name!r} is a single chip (give a system file, "
                                 "e.g. loihi2_board_like, or vary chip.<keypath>)")
        try:
            check_sweep_keypath(base_dict, key[len("system."):])
        except ValueError as exc:
            raise SweepSpecError(f"{where}: axes.{key}: {key[len('system.'):]!r} is not a "
                                 f"key of system {name!r} a sweep can vary; expected {exc}") \
                from None
    varied = [a for a in axes if a.startswith(("chip.", "system."))]
    seen = set()
    for p in points:
        for key in varied:
            if key not in p or (key, repr(p[key])) in seen:
                continue
            seen.add((key, repr(p[key])))
            run = resolve_run(base, {key: p[key]})
            try:
                make_chip(run, root, where=f"{where}: {key}")
            except ChipSpecError as exc:
                raise SweepSpecError(str(exc)) from None
    return system


# ----------------------------------------------------------------------------------------------
# Chip dictionaries (shared with the runner).

def base_chip_name(base: dict) -> str:
    """The base chip: the spec's, else the built-in network's own, else ``minimal``."""
    if base.get("chip"):
        return base["chip"]
    from aersim.simcore.run.catalog import BUILTIN_RUNS

    net = base.get("network")
    return BUILTIN_RUNS[net].chip if net in BUILTIN_RUNS else "minimal"


def chip_dict(name_or_path: str, root: str = ".") -> dict:
    """The YAML dictionary of a chip preset or chip file (before validation)."""
    from importlib import resources

    from aersim.hardware.chip import (
        YamlInputError,
        load_yaml,
        preset_names,
        read_yaml_file,
        yaml_error_text,
    )
    from aersim.hardware.errors import ChipSpecError

    if name_or_path in preset_names():
        text = (resources.files("aersim.hardware") / "presets" / f"{name_or_path}.yaml"
                ).read_text(encoding="utf-8")
    else:
        path = Path(root) / name_or_path
        try:
            text = read_yaml_file(path)
        except YamlInputError as exc:
            raise ChipSpecError(f"chip file {path}: {exc}") from None
        except OSError:
            raise ChipSpecError(f"unknown chip {name_or_path!r} (no file {path}); presets are "
                                f"{', '.join(preset_names())}, or give a path to a .yaml "
                                "file") from None
    try:
        data = load_yaml(text)
    except (yaml.YAMLError, YamlInputError) as exc:
        raise ChipSpecError(f"chip {name_or_path!r}: {yaml_error_text(exc)}") from None
    if not isinstance(data, dict):
        raise ChipSpecError(f"chip {name_or_path!r} is not a mapping")
    return data


def is_system_dict(data: dict) -> bool:
    """True for the YAML dictionary of a system of chips (it has ``boards``)."""
    return isinstance(data, dict) and "boards" in data


def make_chip(run: dict, root: str = ".", where: str | None = None, read=None):
    """The chip (or system) of a run description, with its overrides applied.

    ``run["chip_overrides"]`` set chip-file keys (of every chip, when the base is a system);
    ``run["system_overrides"]`` set system-file keys. ``read(name, root)`` returns a chip or
    system file's dictionary (default :func:`chip_dict`; the runner passes a cached one).

    Raises
    ------
    ChipSpecError
        A value the chip or system schema refuses; the message starts with ``where`` (default:
        the chip's name and the overrides).
    """
    from aersim.hardware.chip import chip_from_dict, preset_names
    from aersim.hardware.errors import ChipSpecError
    from aersim.hardware.system import member_chip_path, system_from_dict

    read = read or chip_dict
    name = base_chip_name(run)
    chip_over = run.get("chip_overrides") or {}
    sys_over = run.get("system_overrides") or {}
    if where is None:
        changes = [f"{k}={v}" for k, v in chip_over.items()] \
            + [f"system.{k}={v}" for k, v in sys_over.items()]
        where = name + (" with " + ", ".join(changes) if changes else "")
    data = copy.deepcopy(read(name, root))
    if not is_system_dict(data):
        if sys_over:
            raise ChipSpecError(f"{where}: system.{next(iter(sys_over))} needs a system of "
                                f"chips; {name!r} is a single chip")
        for keypath, value in chip_over.items():
            set_keypath(data, keypath, value)
        return chip_from_dict(data, where=where)
    # Relative chip paths: against the system file's folder, or for a preset system (whose own
    # chip is a preset) against the spec's folder, where a ``system.chip`` axis was written.
    folder = Path(root).resolve() if name in preset_names() else \
        (Path(root) / name).resolve().parent
    for keypath, value in sys_over.items():
        set_keypath(data, keypath, value)
    member = None
    if chip_over:
        ref = data.get("chip")
        if not isinstance(ref, str):
            raise ChipSpecError(f"{where}: chip = {ref!r} is not valid; expected a preset "
                                "name or a path")
        member_data = copy.deepcopy(read(member_chip_path(data, folder), root))
        for keypath, value in chip_over.items():
            set_keypath(member_data, keypath, value)
        member = chip_from_dict(member_data, where=f"{where}: chip {ref!r}")
    return system_from_dict(data, where=where, base=folder, member=member)


def set_keypath(d: dict, keypath: str, value) -> dict:
    """Set ``d[a][b][c] = value`` for ``keypath = "a.b.c"``, creating sections; return ``d``."""
    parts = keypath.split(".")
    node = d
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return d
