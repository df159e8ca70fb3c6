"""Lowering a NIR graph into a ``Network`` under an import profile.

Neuron nodes (I, IF, LI, LIF, CubaLI, CubaLIF, Threshold) and top-level Input nodes become
populations, named after their (flattened) nodes. Every chain of linear nodes (Affine, Linear,
Scale, Conv1d/2d, Sum/AvgPool2d, Flatten, Delay and inlined subgraph ports) from one population to
another is composed into one projection: the operator from a source to each node is the sum, over
the node's incoming edges, of the node's own matrix applied to the operator of its predecessor, so
branches that merge are summed as NIR's fan-in rule says. Operators are kept as
``{delay_steps: scipy.sparse matrix}`` so that Delay nodes become synaptic delays. A projection
that is exactly one convolution or pooling (possibly followed by Flatten) stays a shared-weight
``ConvProjection``. Affine and convolution biases, carried through the rest of the chain, become
the target population's constant ``bias``. Exact zero weights are not stored as synapses.

Synaptic delays are whole steps of the profile's ``dt``: ``layer_delay_steps`` on every projection,
plus one step on a chain that crosses an edge closing a cycle when the profile is
layer-synchronous, plus the Delay nodes on the chain.

Threshold nodes (``z = H(x - theta)``, stateless) become LIF populations with ``tau = dt``,
forward Euler, ``v_leak = 0`` and ``r = 1``: one Euler step then sets ``v`` to the step's input,
so the population spikes exactly when that input exceeds ``theta``.

``Network.metadata`` records ``source`` (file), ``format``, ``profile`` (its fields),
``nir_types`` (population -> NIR node type, so a saver can tell a Threshold from a LIF),
``cycle_edges`` (the edges given a one-step delay), and ``assumptions`` (rounded delays, Flatten
conventions); the NIR front end adds ``nir_file_version`` and, when the profile was detected,
``profile_assumed``.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from aersim.models.conv import ConvProjection, csr_from_coo
from aersim.models.errors import ModelError, ModelWarning, ParameterError
from aersim.models.loaders.nir_graph import (
    LINEAR_KINDS,
    NEURON_KINDS,
    SPIKING_KINDS,
    check_kinds,
    conv_geometry,
    field_array,
    flatten,
    infer_shapes,
    order,
    pool_geom,
    reaches_itself,
)
from aersim.models.loaders.profiles import ImportProfile
from aersim.models.network import Network, Projection
from aersim.models.neurons.cuba import CubaLIFParams, CubaLIParams, LIParams
from aersim.models.neurons.integrator import IFParams, IntegratorParams
from aersim.models.neurons.lif import LIFParams
from aersim.models.neurons.source import InputParams


def _compact(arr: np.ndarray) -> float | np.ndarray:
    """A parameter as a float when all neurons share it, else a flat float64 array."""
    flat = np.asarray(arr, dtype=np.float64).ravel()
    if flat.size and np.all(flat == flat[0]):
        return float(flat[0])
    return flat


def _fields(node, where, names, n, defaults=None):
    out = {}
    for name in names:
        if defaults and name in defaults and getattr(node, name, None) is None:
            arr = np.full(n, defaults[name], dtype=np.float64)
        else:
            arr = field_array(node, name, where)
        if arr.size not in (1, n):
            raise ModelError(f"{where}: field {name!r} has {arr.size} values; expected 1 or {n} "
                             "(one per neuron)")
        out[name] = np.broadcast_to(arr.ravel(), (n,))
    return out


# -- neuron translation registry: NIR node -> params, under a profile ----------------------------


def _tau(tau, p: ImportProfile):
    """A time constant as the profile's exporter wrote it -> seconds.

    Under ``tau_convention="dt_times_tau"`` (Norse 1.1) a node whose every ``tau`` is below the
    step holds ``dt * tau``; a true time constant below the step would make the Euler decay
    negative, so older files, which hold ``tau`` itself (all above the step), keep it.
    """
    tau = np.asarray(tau, dtype=np.float64)
    if p.tau_convention == "dt_times_tau" and np.all(tau < p.dt_s):
        return tau / p.dt_s
    return tau


def _v_init(f, p: ImportProfile):
    return _compact(f["v_leak"]) if p.initial_state == "v_leak" else 0.0


def _lif(node, p: ImportProfile, bias, n, where):
    f = _fields(node, where, ("tau", "r", "v_leak", "v_threshold", "v_reset"), n,
                {"v_reset": 0.0})
    tau = _tau(f["tau"], p)
    gain = _lif_gain(f["r"], tau, p)
    return LIFParams(tau_s=_compact(tau), v_th=_compact(f["v_threshold"]),
                     v_leak=_compact(f["v_leak"]), v_reset=_compact(f["v_reset"]),
                     r=_compact(f["r"]),
                     bias=_compact(np.asarray(bias, dtype=np.float64)
                                   * bias_factor("lif", p, r=f["r"], gain=gain, tau=tau)),
                     input_gain=_compact(gain),
                     reset=p.reset, reset_timing=p.reset_timing, integrator=p.integrator,
                     v_init=_v_init(f, p), spike_rule=p.spike_rule)


def _decay(tau, p: ImportProfile):
    return np.exp(-p.dt_s / tau) if p.integrator == "exact" else 1.0 - p.dt_s / tau


def bias_factor(kind: str, p: ImportProfile, *, gain, r=1.0, tau=1.0, tau_syn=1.0, w_in=1.0):
    """Model bias / file bias, per neuron (float64 array or 1.0).

    A time-stepped framework adds a bias like an input of that weight every step (``gain``
    times it lands on the membrane, or on the current); the models take a constant input
    instead (``v_inf = v_leak + r * bias``; ``i_inf = w_in * bias``; IF drift ``r * bias``), so
    the model's bias is the one whose relaxation over a step adds the same. Profiles without
    ``bias_per_step`` keep NIR's constant current (factor 1). A factor within rounding of 1
    is 1, so that files round-trip exactly.
    """
    if not p.bias_per_step:
        return 1.0
    if kind == "lif":
        factor = gain / (r * (1.0 - _decay(tau, p)))
    elif kind == "if":
        factor = gain / (r * p.dt_s)
    else:
        if p.cuba_order == "decay_after_input" or p.integrator == "exact":
            decay = np.exp(-p.dt_s / tau_syn)
            factor = gain * decay / ((1.0 - decay) * w_in)
        else:
            factor = gain * tau_syn / (p.dt_s * w_in)
    factor = np.asarray(factor, dtype=np.float64)
    return np.where(np.abs(factor - 1.0) <= 1e-12, 1.0, factor)


def _lif_gain(r, tau, p: ImportProfile):
    """What an input spike through a unit weight adds to a LIF (or LI) membrane."""
    if p.lif_gain == "one":
        return np.ones_like(tau)
    if p.lif_gain == "one_minus_decay":
        return 1.0 - _decay(tau, p)
    return r * p.spike_area / tau


def _if(node, p, bias, n, where):
    f = _fields(node, where, ("r", "v_threshold", "v_reset"), n, {"v_reset": 0.0})
    gain = f["r"] if p.unit_jump else f["r"] * p.spike_area
    bias = np.asarray(bias, dtype=np.float64) * bias_factor("if", p, r=f["r"], gain=gain)
    return IFParams(v_th=_compact(f["v_threshold"]), v_reset=_compact(f["v_reset"]),
                    r=_compact(f["r"]), bias=_compact(bias), input_gain=_compact(gain),
                    reset=p.reset, reset_timing=p.reset_timing,
                    v_init=_compact(f["v_reset"]) if p.initial_state == "v_leak" else 0.0,
                    spike_rule=p.spike_rule)


def _i(node, p, bias, n, where):
    f = _fields(node, where, ("r",), n)
    return IntegratorParams(r=_compact(f["r"]), bias=_compact(bias),
                            input_gain=_compact(f["r"] * p.spike_area))


def _li(node, p, bias, n, where):
    f = _fields(node, where, ("tau", "r", "v_leak"), n)
    tau = _tau(f["tau"], p)
    gain = np.ones_like(tau) if p.lif_gain != "nir" else f["r"] * p.spike_area / tau
    return LIParams(tau_s=_compact(tau), v_leak=_compact(f["v_leak"]), r=_compact(f["r"]),
                    bias=_compact(bias), input_gain=_compact(gain),
                    integrator=p.integrator, v_init=_v_init(f, p))


def _cuba(node, p, bias, n, where):
    spiking = type(node).__name__ == "CubaLIF"
    names = ("tau_syn", "tau_mem", "r", "v_leak", "w_in")
    f = _fields(node, where, names + (("v_threshold", "v_reset") if spiking else ()), n,
                {"v_reset": 0.0, "w_in": 1.0})
    tau_syn, tau_mem = _tau(f["tau_syn"], p), _tau(f["tau_mem"], p)
    gain = f["w_in"] if p.unit_jump else f["w_in"] * p.spike_area / tau_syn
    bias = np.asarray(bias, dtype=np.float64) * bias_factor(
        "cuba", p, gain=gain, tau_syn=tau_syn, w_in=f["w_in"])
    r = np.ones_like(f["r"]) if p.r_convention == "dt_only" else f["r"]
    common = dict(tau_syn_s=_compact(tau_syn), tau_mem_s=_compact(tau_mem),
                  v_leak=_compact(f["v_leak"]), r=_compact(r), w_in=_compact(f["w_in"]),
                  bias=_compact(bias), input_gain=_compact(gain),
                  integrator=p.integrator, order=p.cuba_order, v_init=_v_init(f, p))
    if spiking:
        return CubaLIFParams(**common, v_th=_compact(f["v_threshold"]),
                             v_reset=_compact(f["v_reset"]), reset=p.reset,
                             reset_timing=p.reset_timing, spike_rule=p.spike_rule)
    return CubaLIParams(**common)


def _threshold(node, p, bias, n, where):
    f = _fields(node, where, ("threshold",), n)
    return LIFParams(tau_s=p.dt_s, v_th=_compact(f["threshold"]), v_leak=0.0, v_reset=0.0, r=1.0,
                     bias=_compact(bias), input_gain=p.spike_amplitude, reset="value",
                     integrator="euler")


NEURONS = {"LIF": _lif, "IF": _if, "I": _i, "LI": _li, "CubaLI": _cuba, "CubaLIF": _cuba,
           "Threshold": _threshold}


# -- linear operator registry: NIR node -> (sparse matrix out x in, bias or None) ----------------


def _op_dense(node, shp_in, where):
    w = field_array(node, "weight", where)
    b = field_array(node, "bias", where).ravel() if type(node).__name__ == "Affine" else None
    return sp.csr_matrix(w), b


def _op_scale(node, shp_in, where):
    s = field_array(node, "scale", where).ravel()
    n = int(np.prod(shp_in))
    return sp.diags(np.broadcast_to(s, (n,)).astype(np.float64), format="csr"), None


def _op_identity(node, shp_in, where):
    n = int(np.prod(shp_in))
    return sp.identity(n, dtype=np.float64, format="csr"), None


def _op_conv(node, shp_in, where):
    geom = conv_geometry(node, shp_in, where)
    w = field_array(node, "weight", where).reshape(geom.kernel)
    bias = getattr(node, "bias", None)
    b = None
    if bias is not None:
        b = np.repeat(field_array(node, "bias", where).ravel(), int(np.prod(geom.out_shape[1:])))
    return geom.matrix(w), b


def _op_pool(node, shp_in, where):
    geom = pool_geom(node, shp_in, where)
    w = np.ones(geom.kernel, dtype=np.float64)
    if type(node).__name__ == "AvgPool2d":
        w /= geom.kernel[2] * geom.kernel[3]
    return geom.matrix(w), None


OPERATORS = {"Affine": _op_dense, "Linear": _op_dense, "Scale": _op_scale,
             "Flatten": _op_identity, "_Port": _op_identity, "Conv1d": _op_conv,
             "Conv2d": _op_conv, "SumPool2d": _op_pool, "AvgPool2d": _op_pool}
CONV_KINDS = ("Conv1d", "Conv2d", "SumPool2d", "AvgPool2d")


def _delay_terms(node, shp_in, profile, where, assumed):
    """Delay node as ``{steps: diagonal selector}``."""
    d = np.broadcast_to(field_array(node, "delay", where).ravel(), (int(np.prod(shp_in)),))
    if np.any(d < 0):
        raise ModelError(f"{where}: field 'delay' has a negative value {d.min()!r}; expected "
                         "delays >= 0 seconds")
    steps = np.rint(d / profile.dt_s).astype(np.int64)
    if not np.allclose(steps * profile.dt_s, d, rtol=1e-6, atol=1e-12 * profile.dt_s):
        msg = (f"{where}: delays {np.unique(d)[:4]} s are not whole steps of dt = "
               f"{profile.dt_s} s; rounded to {np.unique(steps)[:4]} steps")
        warnings.warn(msg, ModelWarning, stacklevel=4)
        assumed.append(msg)
    return {int(k): sp.diags((steps == k).astype(np.float64), format="csr")
            for k in np.unique(steps)}


# -- lowering ------------------------------------------------------------------------------------


class _Term:
    """Operator from one source to one node: {delay steps: sparse} plus a conv-only marker."""

    __slots__ = ("mats", "conv")

    def __init__(self, mats, conv=None):
        self.mats, self.conv = mats, conv


def _compose(term: _Term, mats: dict, kind: str, name: str, shift: int) -> _Term:
    out = {}
    for d1, a in mats.items():
        for d0, m in term.mats.items():
            key = d0 + d1 + shift
            prod = a @ m
            out[key] = out[key] + prod if key in out else prod
    conv = None
    if term.conv == "identity" and kind in CONV_KINDS:
        conv = name
    elif term.conv == "identity" and kind in ("Flatten", "_Port"):
        conv = "identity"
    elif term.conv not in (None, "identity") and kind in ("Flatten", "_Port"):
        conv = term.conv
    return _Term(out, conv)


def _add(a: _Term | None, b: _Term) -> _Term:
    if a is None:
        return b
    mats = dict(a.mats)
    for k, m in b.mats.items():
        mats[k] = mats[k] + m if k in mats else m
    return _Term(mats, None)


def lower(graph, profile: ImportProfile, where: str, metadata: dict | None = None) -> Network:
    """Lower a ``nir.NIRGraph`` into a ``Network`` (see module doc).

    Parameters
    ----------
    graph : nir.NIRGraph
    profile : ImportProfile
    where : str
        Name of the source (file path) used in error messages and metadata.
    metadata : dict, optional
        Extra provenance merged into ``Network.metadata``.

    Raises
    ------
    ModelError
        On an unsupported node, a malformed field, a shape mismatch, a broken edge, a cycle made
        only of linear nodes, a non-spiking node that drives other nodes, or a profile whose
        exporter aersim cannot reproduce exactly yet.
    """
    if profile.unsupported:
        raise ModelError(f"{where}: import profile {profile.name!r} is not supported: "
                         f"{profile.unsupported}")
    flat = flatten(graph, where)
    check_kinds(flat, where)
    topo, back = order(flat, where)
    in_shapes, out_shapes = infer_shapes(flat, topo, where)
    preds = flat.preds()
    kinds = flat.kinds
    assumed = list(flat.notes)
    sources = [n for n in topo if kinds[n] in NEURON_KINDS or n in flat.inputs]
    for name in sources:
        if kinds[name] in NEURON_KINDS and kinds[name] not in SPIKING_KINDS:
            for a, b in flat.edges:
                if a == name and not _feeds_only_outputs(flat, b):
                    raise ModelError(f"{where}: node {name!r} ({kinds[name]}) is non-spiking but "
                                     f"drives {b!r}; aersim carries spikes between populations, "
                                     "so a non-spiking node may only feed an Output")
    linear = [n for n in topo if kinds[n] in LINEAR_KINDS]
    _check_linear_acyclic(flat, linear, back, where)
    lin_rank = {n: i for i, n in enumerate(_linear_order(flat, linear, where))}
    ops, biases = {}, {}
    for name in lin_rank:
        node_where = f"{where}: node {name!r} ({kinds[name]})"
        if kinds[name] == "Delay":
            ops[name], biases[name] = _delay_terms(flat.nodes[name], in_shapes[name], profile,
                                                   node_where, assumed), None
        else:
            mat, b = OPERATORS[kinds[name]](flat.nodes[name], in_shapes[name], node_where)
            ops[name], biases[name] = {0: sp.csr_matrix(mat)}, b
    net = Network()
    pop_kind = {}
    # Bias reaching each linear node (its own bias plus what flows in through linear nodes).
    bias_at = {}
    for name in sorted(lin_rank, key=lin_rank.get):
        acc = None
        for p in preds[name]:
            if p in bias_at and bias_at[p] is not None:
                acc = bias_at[p] if acc is None else acc + bias_at[p]
        out = None
        if acc is not None:
            out = sum(m for m in ops[name].values()) @ acc
        if biases[name] is not None:
            out = biases[name] if out is None else out + biases[name]
        bias_at[name] = out
    for name in sources:
        size = int(np.prod(out_shapes[name]))
        shape = tuple(out_shapes[name])
        node_where = f"{where}: node {name!r} ({kinds[name]})"
        if name in flat.inputs:
            net.add_population(name, size, InputParams(), shape)
            pop_kind[name] = "Input"
            continue
        bias = np.zeros(size)
        for p in preds[name]:
            if p in bias_at and bias_at[p] is not None:
                bias = bias + np.broadcast_to(bias_at[p], (size,))
        try:
            params = NEURONS[kinds[name]](flat.nodes[name], profile, bias, size, node_where)
        except ParameterError as err:
            raise ParameterError(f"{node_where}: {err}") from None
        if profile.feedforward_zero_immediate and kinds[name] == "LIF" \
                and not reaches_itself(name, flat.edges):
            params = replace(params, reset_timing="immediate")
        net.add_population(name, size, params, shape)
        pop_kind[name] = kinds[name]
    for src in sources:
        _project_from(net, flat, src, ops, lin_rank, back, profile, where)
    net.inputs = list(flat.inputs)
    outs = []
    for o in flat.outputs:
        for p in _source_of_output(flat, o, preds, where):
            if p not in outs:
                outs.append(p)
    net.outputs = outs
    net.metadata.update({
        "source": where, "format": "nir", "profile": profile.as_dict(),
        "nir_types": pop_kind, "assumptions": assumed,
        "cycle_edges": sorted(f"{a}->{b}" for a, b in back),
    })
    net.metadata.update(metadata or {})
    return net


def _feeds_only_outputs(flat, name) -> bool:
    """True if ``name`` is an Output or a chain of pass-through ports ending in Outputs."""
    if name in flat.outputs:
        return True
    if flat.kinds[name] != "_Port":
        return False
    return all(_feeds_only_outputs(flat, b) for a, b in flat.edges if a == name)


def _check_linear_acyclic(flat, linear, back, where):
    lin = set(linear)
    for a, b in back:
        if a in lin and b in lin:
            # a cycle through linear nodes only has no neuron to break it with a time step
            raise ModelError(f"{where}: edge ({a!r}, {b!r}) closes a cycle made only of linear "
                             "nodes (an algebraic loop); put a neuron node in the cycle")


def _linear_order(flat, linear, where):
    """Linear nodes in an order where every linear predecessor comes first (Kahn)."""
    lin = set(linear)
    preds = flat.preds()
    indeg = {n: sum(1 for p in preds[n] if p in lin) for n in linear}
    ready = sorted(n for n in linear if indeg[n] == 0)
    out = []
    succ = flat.succs()
    while ready:
        n = ready.pop(0)
        out.append(n)
        for s in succ[n]:
            if s in lin:
                indeg[s] -= 1
                if indeg[s] == 0:
                    ready.append(s)
    if len(out) != len(linear):
        stuck = sorted(set(linear) - set(out))
        raise ModelError(f"{where}: nodes {stuck} form a cycle made only of linear nodes (an "
                         "algebraic loop); put a neuron node in the cycle")
    return out


def _edge_shift(a, b, back, profile, is_source):
    shift = profile.layer_delay_steps if is_source else 0
    if (a, b) in back and profile.layer_delay_steps == 0:
        shift += 1
    return shift


def _project_from(net, flat, src, ops, lin_rank, back, profile, where):
    """Add the projections from population ``src`` to every population its chains reach."""
    succ = flat.succs()
    kinds = flat.kinds
    n_src = net.population(src).size
    eye = sp.identity(n_src, dtype=np.float64, format="csr")
    terms: dict[str, _Term] = {}
    targets: dict[str, _Term] = {}
    # Edges leaving the source itself.
    frontier = {}
    for b in sorted(set(succ[src])):
        for _ in range(sum(1 for e in flat.edges if e == (src, b))):
            shift = _edge_shift(src, b, back, profile, True)
            t = _Term({shift: eye}, "identity")
            frontier.setdefault(b, []).append(t)
    # Walk the linear nodes in dependency order.
    pending = sorted((n for n in frontier if n in lin_rank), key=lin_rank.get)
    seen = set()
    while pending:
        pending.sort(key=lin_rank.get)
        name = pending.pop(0)
        if name in seen:
            continue
        seen.add(name)
        acc = None
        for t in frontier.get(name, []):
            acc = _add(acc, t)
        term = _compose(acc, ops[name], kinds[name], name, 0)
        terms[name] = term
        for b in sorted(set(succ[name])):
            for _ in range(sum(1 for e in flat.edges if e == (name, b))):
                shift = _edge_shift(name, b, back, profile, False)
                shifted = _Term({k + shift: m for k, m in term.mats.items()}, term.conv)
                frontier.setdefault(b, []).append(shifted)
            if b in lin_rank and b not in seen and b not in pending:
                pending.append(b)
    for b, lst in frontier.items():
        if b in lin_rank:
            continue
        if b in flat.outputs:
            if any(t.conv != "identity" for t in lst):
                raise ModelError(f"{where}: Output node {b!r} is fed through linear nodes from "
                                 f"{src!r}; aersim's outputs are populations, so end the graph "
                                 "with a neuron node")
            continue
        if b not in net.populations:
            raise ModelError(f"{where}: node {b!r} ({kinds.get(b)}) cannot receive input")
        acc = None
        for t in lst:
            acc = _add(acc, t)
        targets[b] = acc
    for dst, term in targets.items():
        _emit(net, flat, src, dst, term, profile)


def _emit(net, flat, src, dst, term: _Term, profile):
    dt_ps = profile.dt_ps
    name = f"{src}->{dst}"
    if term.conv not in (None, "identity") and len(term.mats) == 1:
        node = flat.nodes[term.conv]
        kind = flat.kinds[term.conv]
        shp = flat.in_shapes.get(term.conv) or tuple(net.population(src).shape)
        (steps,) = term.mats
        if kind in ("SumPool2d", "AvgPool2d"):
            geom = pool_geom(node, shp, name)
            w = np.ones(geom.kernel, dtype=np.float64)
            if kind == "AvgPool2d":
                w /= geom.kernel[2] * geom.kernel[3]
        else:
            geom = conv_geometry(node, shp, name)
            w = np.asarray(node.weight, dtype=np.float64).reshape(geom.kernel)
        net.add_projection(ConvProjection(name, src, dst, w.astype(np.float32), geom,
                                          np.asarray(steps * dt_ps, dtype=np.int64), kind))
        return
    pres, posts, ws, ds = [], [], [], []
    for steps, m in sorted(term.mats.items()):
        coo = sp.coo_matrix(m)
        keep = coo.data != 0
        posts.append(coo.row[keep].astype(np.int64))
        pres.append(coo.col[keep].astype(np.int64))
        ws.append(coo.data[keep])
        ds.append(np.full(int(keep.sum()), steps * dt_ps, dtype=np.int64))
    pre, post, w, d = (np.concatenate(x) for x in (pres, posts, ws, ds))
    if not pre.size:
        return
    delays = d if len(term.mats) > 1 else np.asarray(d[0], dtype=np.int64)
    n_pre = net.population(src).size
    indptr, indices, weights, delays = csr_from_coo(pre, post, w, n_pre, delays)
    net.add_projection(Projection(name, src, dst, indptr, indices, weights, delays))


def _source_of_output(flat, out, preds, where):
    """Populations feeding Output node ``out`` (through inlined pass-through ports)."""
    found = []
    stack = list(preds[out])
    while stack:
        p = stack.pop()
        kind = flat.kinds[p]
        if kind == "_Port":
            stack.extend(preds[p])
        elif kind in NEURON_KINDS or p in flat.inputs:
            found.append(p)
        else:
            raise ModelError(f"{where}: Output node {out!r} is fed by {kind} node {p!r}; aersim's "
                             "outputs are populations, so end the graph with a neuron node")
    return found
