"""Flattening, ordering and shape inference of NIR graphs (shared by loader and saver).

``flatten`` inlines nested ``NIRGraph`` nodes: the node ``x`` of subgraph ``g`` becomes ``g.x``
(the same dotted names snnTorch writes when it flattens recurrent blocks itself), an edge into
``g`` goes to ``g``'s Input node and an edge out of ``g`` leaves from its Output node. Inner
Input/Output nodes become pass-through nodes of kind ``"_Port"``.

``order`` runs a depth-first search from the top-level Input nodes (in sorted name order,
successors in sorted name order). An edge to a node still on the search stack closes a cycle:
in layer-synchronous mode it carries a one-step delay, as NIRTorch does. The reverse post-order of
the search is the update order within a step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aersim.models.conv import ConvGeometry, pool_geometry
from aersim.models.errors import ModelError

NEURON_KINDS = ("I", "IF", "LI", "LIF", "CubaLI", "CubaLIF", "Threshold")
SPIKING_KINDS = ("IF", "LIF", "CubaLIF", "Threshold")
LINEAR_KINDS = ("Affine", "Linear", "Scale", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d",
                "Flatten", "Delay", "_Port")
PASS_KINDS = ("Input", "Output")


@dataclass
class FlatGraph:
    """A NIR graph with subgraphs inlined.

    Attributes
    ----------
    nodes : dict[str, object]
        Flat name -> NIR node (inner Input/Output nodes kept as objects, kind "_Port").
    kinds : dict[str, str]
        Flat name -> node type name.
    edges : list[tuple[str, str]]
    inputs, outputs : list[str]
        Top-level Input and Output node names.
    """

    nodes: dict = field(default_factory=dict)
    kinds: dict = field(default_factory=dict)
    edges: list = field(default_factory=list)
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    in_shapes: dict = field(default_factory=dict)

    def preds(self) -> dict:
        """Name -> list of predecessor names (one entry per edge)."""
        out = {n: [] for n in self.nodes}
        for a, b in self.edges:
            out[b].append(a)
        return out

    def succs(self) -> dict:
        """Name -> sorted list of successor names."""
        out = {n: [] for n in self.nodes}
        for a, b in self.edges:
            out[a].append(b)
        return {n: sorted(s) for n, s in out.items()}


def flatten(graph, where: str) -> FlatGraph:
    """Inline every nested subgraph of ``graph``; ``where`` names the source in errors."""
    flat = FlatGraph()
    _inline(graph, "", flat, where, top=True)
    return flat


def _inline(graph, prefix: str, flat: FlatGraph, where: str, top: bool):
    """Add the nodes and edges of ``graph`` under ``prefix``; return (entry, exit) names."""
    label = f"subgraph {prefix[:-1]!r}" if prefix else "the top-level graph"
    nodes = getattr(graph, "nodes", None)
    if not isinstance(nodes, dict):
        raise ModelError(f"{where}: {label} has no 'nodes' dictionary; expected a nir.NIRGraph")
    entry = {}
    for key, node in nodes.items():
        name = prefix + str(key)
        kind = type(node).__name__
        if kind == "NIRGraph":
            entry[key] = _inline(node, name + ".", flat, where, top=False)
            continue
        if name in flat.nodes:
            raise ModelError(f"{where}: node name {name!r} occurs twice after inlining "
                             "subgraphs; rename one of them")
        if kind in PASS_KINDS and not top:
            flat.kinds[name] = "_Port"
        else:
            flat.kinds[name] = kind
        flat.nodes[name] = node
        entry[key] = (name, name)
        if top and kind == "Input":
            flat.inputs.append(name)
        if top and kind == "Output":
            flat.outputs.append(name)
    for edge in getattr(graph, "edges", []):
        if len(edge) != 2:
            raise ModelError(f"{where}: {label} has a malformed edge {edge!r}; expected a pair "
                             "(source, target)")
        a, b = (str(e) for e in edge)
        for end in (a, b):
            if end not in entry:
                raise ModelError(f"{where}: edge ({a!r}, {b!r}) in {label} names node {end!r}, "
                                 f"which does not exist; the nodes are {sorted(entry)}")
        flat.edges.append((entry[a][1], entry[b][0]))
    if top:
        return None
    ins = [k for k, n in nodes.items() if type(n).__name__ == "Input"]
    outs = [k for k, n in nodes.items() if type(n).__name__ == "Output"]
    if len(ins) != 1 or len(outs) != 1:
        raise ModelError(f"{where}: {label} must have exactly one Input and one Output node to be "
                         f"inlined, it has inputs {ins} and outputs {outs}")
    return prefix + ins[0], prefix + outs[0]


def order(flat: FlatGraph, where: str) -> tuple[list, set]:
    """Depth-first order of ``flat``.

    Returns
    -------
    topo : list of str
        Reverse post-order (the update order within a step).
    back : set of (str, str)
        Edges that close a cycle.
    """
    succ = flat.succs()
    state = {}  # 1 = on the stack, 2 = finished
    post, back = [], set()
    roots = sorted(flat.inputs) + sorted(n for n in flat.nodes if n not in flat.inputs)
    for root in roots:
        if root in state:
            continue
        stack = [(root, iter(succ[root]))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                state[node] = 2
                post.append(node)
            elif state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    return post[::-1], back


# ----------------------------------------------------------------------------------------------
# Shapes. Each function returns (expected input shape or None, output shape) given the shape that
# arrives on the node's edges (None for a source).


def field_array(node, name: str, where: str, dtype=np.float64) -> np.ndarray:
    """Field ``name`` of ``node`` as an array; ModelError naming the field if absent or NaN."""
    value = getattr(node, name, None)
    if value is None:
        raise ModelError(f"{where}: field {name!r} is missing; the {type(node).__name__} node "
                         "needs it")
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise ModelError(f"{where}: field {name!r} is {value!r}, not numeric") from None
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ModelError(f"{where}: field {name!r} contains NaN or infinity; expected finite "
                         "values")
    return arr


def _port_shape(node, attr: str, where: str):
    types = getattr(node, attr, None)
    if not isinstance(types, dict) or not types:
        return None
    try:
        s = tuple(int(v) for v in np.asarray(next(iter(types.values()))).ravel())
    except (TypeError, ValueError):
        raise ModelError(f"{where}: field {attr!r} is {types!r}; expected a shape") from None
    if min(s, default=1) < 1:
        raise ModelError(f"{where}: field {attr!r} is {s}; expected positive sizes")
    return s


def _shape_input(node, shp, where):
    s = _port_shape(node, "input_type", where)
    if not s:
        raise ModelError(f"{where}: field 'shape' is missing or empty; an Input needs the shape "
                         "of its data")
    return None, s


def _shape_output(node, shp, where):
    s = _port_shape(node, "output_type", where) or shp
    return s, s


def _shape_same(node, shp, where):
    return None, shp


def _shape_dense(node, shp, where):
    w = field_array(node, "weight", where)
    if w.ndim != 2:
        raise ModelError(f"{where}: field 'weight' has shape {w.shape}; expected (out, in)")
    if type(node).__name__ == "Affine":
        b = field_array(node, "bias", where)
        if b.size != w.shape[0]:
            raise ModelError(f"{where}: field 'bias' has {b.size} values; expected {w.shape[0]} "
                             f"(one per output of weight {w.shape})")
    return (w.shape[1],), (w.shape[0],)


def _shape_param(fieldname):
    def shape(node, shp, where):
        arr = field_array(node, fieldname, where)
        return (tuple(arr.shape) or None), (tuple(arr.shape) or shp)
    return shape


def conv_geometry(node, shp, where) -> ConvGeometry:
    """The ``ConvGeometry`` of a NIR Conv1d/Conv2d node receiving shape ``shp``."""
    kind = type(node).__name__
    ndim = 1 if kind == "Conv1d" else 2
    w = field_array(node, "weight", where)
    if w.ndim != ndim + 2:
        raise ModelError(f"{where}: field 'weight' has shape {w.shape}; a {kind} needs "
                         f"{ndim + 2} dimensions (C_out, C_in/groups, kernel...)")
    groups = int(np.asarray(getattr(node, "groups", 1)).ravel()[0])
    c_in = w.shape[1] * groups
    spatial = getattr(node, "input_shape", None)
    if spatial is not None:
        spatial = tuple(int(v) for v in np.atleast_1d(np.asarray(spatial)).ravel())
    elif shp is not None and len(shp) == ndim + 1:
        spatial = tuple(shp[1:])
    else:
        raise ModelError(f"{where}: cannot tell the input size: field 'input_shape' is absent and "
                         f"the incoming shape is {shp}; expected (C_in, *spatial)")
    try:
        geom = ConvGeometry.from_nir((c_in,) + spatial, w.shape, getattr(node, "stride", 1),
                                     getattr(node, "padding", 0), getattr(node, "dilation", 1),
                                     groups, ndim)
    except ModelError as err:
        raise ModelError(f"{where}: {err}") from None
    return geom


def _shape_conv(node, shp, where):
    geom = conv_geometry(node, shp, where)
    ndim = 1 if type(node).__name__ == "Conv1d" else 2
    in_shape = geom.in_shape if ndim == 2 else (geom.in_shape[0], geom.in_shape[2])
    out = geom.out_shape if ndim == 2 else (geom.out_shape[0], geom.out_shape[2])
    return in_shape, out


def pool_geom(node, shp, where) -> ConvGeometry:
    """The ``ConvGeometry`` of a NIR SumPool2d/AvgPool2d node receiving shape ``shp``."""
    if shp is None or len(shp) != 3:
        raise ModelError(f"{where}: pooling needs a (C, H, W) input, got {shp}")
    try:
        return pool_geometry(shp, getattr(node, "kernel_size", None),
                             getattr(node, "stride", None), getattr(node, "padding", 0))
    except (ModelError, TypeError, ValueError) as err:
        raise ModelError(f"{where}: fields kernel_size/stride/padding are invalid: {err}") from None


def _shape_pool(node, shp, where):
    return None, pool_geom(node, shp, where).out_shape


def _shape_flatten(node, shp, where):
    itype = getattr(node, "input_type", None)
    if isinstance(itype, dict) and itype:
        shp_in = tuple(int(v) for v in np.asarray(next(iter(itype.values()))).ravel())
    else:
        shp_in = shp
    if shp_in is None:
        raise ModelError(f"{where}: cannot tell the input shape of Flatten")
    nd = len(shp_in)
    start = int(np.asarray(getattr(node, "start_dim", 1)))
    end = int(np.asarray(getattr(node, "end_dim", -1)))
    s, e = start % nd if nd else 0, end % nd if nd else 0
    if nd and (not -nd <= start < nd or not -nd <= end < nd or s > e):
        raise ModelError(f"{where}: fields start_dim={start}, end_dim={end} do not fit an input "
                         f"of shape {shp_in}")
    out = shp_in[:s] + (int(np.prod(shp_in[s:e + 1])),) + shp_in[e + 1:] if nd else shp_in
    return shp_in, out


def _shape_neuron(node, shp, where):
    first = {"I": "r", "IF": "r", "LI": "tau", "LIF": "tau", "CubaLI": "tau_mem",
             "CubaLIF": "tau_mem", "Threshold": "threshold"}[type(node).__name__]
    arr = field_array(node, first, where)
    s = tuple(arr.shape)
    return (s or None), (s or shp)


SHAPES = {
    "Input": _shape_input, "Output": _shape_output, "_Port": _shape_same,
    "Affine": _shape_dense, "Linear": _shape_dense, "Scale": _shape_param("scale"),
    "Conv1d": _shape_conv, "Conv2d": _shape_conv, "SumPool2d": _shape_pool,
    "AvgPool2d": _shape_pool, "Flatten": _shape_flatten, "Delay": _shape_param("delay"),
    **{k: _shape_neuron for k in NEURON_KINDS},
}


def check_kinds(flat: FlatGraph, where: str) -> None:
    """Raise a ModelError for a node type the loader does not know."""
    for name, kind in flat.kinds.items():
        if kind not in SHAPES:
            raise ModelError(f"{where}: node {name!r} has unsupported type {kind!r}; supported "
                             f"types are {sorted(set(SHAPES) - {'_Port'}) + ['NIRGraph']}")


def infer_shapes(flat: FlatGraph, topo: list, where: str) -> tuple[dict, dict]:
    """Input and output shape of every node; ModelError on an edge whose sizes disagree.

    Returns
    -------
    in_shapes, out_shapes : dict[str, tuple]
    """
    preds = flat.preds()
    in_shapes, out_shapes = {}, {}
    for name in topo:
        kind = flat.kinds[name]
        arriving = [p for p in preds[name] if p in out_shapes]
        shp = out_shapes[arriving[0]] if arriving else None
        node_where = f"{where}: node {name!r} ({kind})"
        expected, out = SHAPES[kind](flat.nodes[name], shp, node_where)
        in_shapes[name] = expected if expected is not None else shp
        out_shapes[name] = out
        if out is None:
            raise ModelError(f"{node_where}: no input reaches it, so its shape is unknown; "
                             "connect it to an Input node")
    notes = []
    for a, b in flat.edges:
        want = in_shapes[b]
        have = out_shapes[a]
        if want is not None and int(np.prod(have)) != int(np.prod(want)):
            raise ModelError(f"{where}: edge ({a!r}, {b!r}): {a!r} outputs shape {tuple(have)} "
                             f"but {b!r} ({flat.kinds[b]}) expects {tuple(want)}; fix the "
                             "weights or insert a matching layer")
        if want is not None and tuple(have) != tuple(want) and flat.kinds[a] == "Flatten":
            # torch exporters often keep torch's start_dim (counted with the batch dimension)
            notes.append(f"Flatten {a!r} gives {tuple(have)} but {b!r} takes {tuple(want)}; "
                         "read as the same flat vector (start_dim counted with a batch "
                         "dimension)")
    flat.notes = notes
    flat.in_shapes = in_shapes
    return in_shapes, out_shapes


def reaches_itself(name: str, edges) -> bool:
    """Whether node ``name`` is on a cycle of ``edges`` (pairs ``(source, target)``)."""
    succ = {}
    for a, b in edges:
        succ.setdefault(a, []).append(b)
    seen, todo = set(), list(succ.get(name, ()))
    while todo:
        node = todo.pop()
        if node == name:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(succ.get(node, ()))
    return False
