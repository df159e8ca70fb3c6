"""Reading and writing NIR files (the Neuromorphic Intermediate Representation).

``load_nir`` reads a ``.nir`` HDF5 file with the ``nir`` package and lowers it into a ``Network``
under an import profile (see ``models.loaders.profiles`` and ``models.loaders.nir_lower``).
``save_nir`` writes a ``Network`` back as a NIR graph: populations become neuron nodes, CSR
projections ``Linear`` nodes (``Affine`` on one incoming projection when the population has a
bias), convolutions ``Conv1d``/``Conv2d``/pooling nodes, and synaptic delays beyond the profile's
structural ones ``Delay`` nodes. Weights are written as NIR weights (the profile's ``input_gain``
is re-derived on load), so a load-save-load round trip gives the same arrays.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from aersim.models.errors import ModelError, ModelWarning
from aersim.models.loaders.nir_graph import FlatGraph, order
from aersim.models.loaders.nir_lower import bias_factor, lower
from aersim.models.loaders.profiles import detect_profile, get_profile, profile_from_dict


def import_nir():
    """The ``nir`` module, or a ModelError telling how to install it."""
    try:
        import nir
    except ImportError:
        raise ModelError("reading or writing NIR files needs the 'nir' package, which aersim "
                         "depends on; reinstall aersim (pip install -e . from a checkout) or "
                         "pip install nir") from None
    return nir


def read_nir_graph(path) -> object:
    """Read a NIR file into a ``nir.NIRGraph``.

    Tries a type-checked read first and falls back to ``type_check=False`` with a
    ``ModelWarning`` (some exporters write shapes that ``nir`` rejects although the loader's own
    checks accept them).

    Raises
    ------
    ModelError
        If the file is missing, not HDF5, truncated, or not a NIR graph.
    """
    import h5py

    nir = import_nir()
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"NIR file {str(path)!r} does not exist")
    size = path.stat().st_size
    if not h5py.is_hdf5(path):
        raise ModelError(f"{str(path)!r} ({size} bytes) is not an HDF5 file, so not a NIR file; "
                         "expected the output of nir.write")
    try:
        with h5py.File(path, "r") as f:
            if "node" not in f:
                raise ModelError(f"{str(path)!r} is HDF5 but has no 'node' group at its root; "
                                 f"it holds {sorted(f.keys())}; expected a file written by "
                                 "nir.write")
            version = f["version"][()] if "version" in f else b"?"
            exporter = f["node/metadata/exporter"][()] if "node/metadata/exporter" in f else b""
    except OSError as err:
        raise ModelError(f"{str(path)!r} ({size} bytes) cannot be opened as HDF5, it is "
                         f"probably truncated or corrupt: {err}") from None
    version = version.decode() if isinstance(version, bytes) else str(version)
    try:
        graph = nir.read(str(path))
    except Exception as first:  # nir raises many types; any failure means "try unchecked"
        try:
            graph = nir.read(str(path), type_check=False)
        except Exception as err:
            raise ModelError(f"{str(path)!r}: the nir package cannot read it ({type(err).__name__}"
                             f": {err}); checked read failed with {type(first).__name__}: "
                             f"{first}") from None
        # aersim writes flat Linear nodes between shaped populations (NIR has no reshape
        # node), which nir's strict type check rejects; that is expected, not suspicious.
        if exporter not in (b"aersim", "aersim"):
            warnings.warn(f"{path}: nir's type check failed ({first}); read without it, the "
                          "loader checks shapes itself", ModelWarning, stacklevel=3)
    if type(graph).__name__ != "NIRGraph":
        raise ModelError(f"{str(path)!r}: the top-level node is {type(graph).__name__}; expected "
                         "a NIRGraph")
    graph._aersim_version = version
    return graph


def load_nir(source, profile=None):
    """Load a NIR graph (a file path or a ``nir.NIRGraph``) into a ``Network``.

    Parameters
    ----------
    source : str, Path or nir.NIRGraph
    profile : str or ImportProfile, optional
        How the exporter discretised the network; detected from the graph (with a
        ``ModelWarning`` saying what was assumed) when omitted.

    Returns
    -------
    Network
        ``metadata`` holds the source, the profile, and what was assumed.
    """
    is_file = isinstance(source, (str, os.PathLike))
    given = None
    if profile is not None:  # checked before the file is read, so a typo fails fast
        try:
            given = get_profile(profile)
        except ModelError as err:
            raise ModelError(f"{source}: {err}" if is_file else str(err)) from None
    if is_file:
        graph = read_nir_graph(source)
        where = str(source)
        extra = {"nir_file_version": getattr(graph, "_aersim_version", "?")}
    else:
        graph = source
        where = "<nir graph>"
        extra = {}
    if profile is None:
        prof, reason = detect_profile(graph)
        msg = (f"{where}: no import profile given; assumed {prof.name!r} (dt={prof.dt_s} s, "
               f"{prof.integrator}, reset {prof.reset}) because of {reason}; pass profile= to "
               "choose")
        warnings.warn(msg, ModelWarning, stacklevel=2)
        extra["profile_assumed"] = msg
    else:
        prof = given
    return lower(graph, prof, where, extra)


# -- saving ----------------------------------------------------------------------------------------


def _full(arr, shape):
    return np.ascontiguousarray(np.broadcast_to(np.asarray(arr, dtype=np.float64),
                                                (int(np.prod(shape)),)).reshape(shape))


def _cuba_fields(p, s):
    return dict(tau_syn=_full(p.tau_syn_s, s), tau_mem=_full(p.tau_mem_s, s), r=_full(p.r, s),
                v_leak=_full(p.v_leak, s), w_in=_full(p.w_in, s))


# model kind -> NIR node; the LIF entry also serves Threshold populations (see nir_lower)
NIR_NODES = {
    "lif": lambda nir, p, s, t: (
        nir.Threshold(threshold=_full(p.v_th, s)) if t == "Threshold" else
        nir.LIF(tau=_full(p.tau_s, s), r=_full(p.r, s), v_leak=_full(p.v_leak, s),
                v_threshold=_full(p.v_th, s), v_reset=_full(p.v_reset, s))),
    "if": lambda nir, p, s, t: nir.IF(r=_full(p.r, s), v_threshold=_full(p.v_th, s),
                                      v_reset=_full(p.v_reset, s)),
    "integrator": lambda nir, p, s, t: nir.I(r=_full(p.r, s)),
    "li": lambda nir, p, s, t: nir.LI(tau=_full(p.tau_s, s), r=_full(p.r, s),
                                      v_leak=_full(p.v_leak, s)),
    "cuba_li": lambda nir, p, s, t: nir.CubaLI(**_cuba_fields(p, s)),
    "cuba_lif": lambda nir, p, s, t: nir.CubaLIF(**_cuba_fields(p, s),
                                                 v_threshold=_full(p.v_th, s),
                                                 v_reset=_full(p.v_reset, s)),
}


def _neuron_node(nir, pop, nir_type):
    try:
        make = NIR_NODES[pop.kind]
    except KeyError:
        raise ModelError(f"population {pop.name!r}: neuron model {pop.kind!r} has no NIR "
                         f"equivalent; NIR can hold input and {sorted(NIR_NODES)}") from None
    return make(nir, pop.params, pop.shape, nir_type)


def _conv_node(nir, proj, bias):
    g = proj.geometry
    pt, pb, pl, pr = g.padding
    if proj.source in ("SumPool2d", "AvgPool2d"):
        if bias is not None:
            raise ModelError(f"projection {proj.name!r}: a pooling projection cannot carry the "
                             "target's bias in NIR")
        cls = nir.SumPool2d if proj.source == "SumPool2d" else nir.AvgPool2d
        return cls(kernel_size=np.array(g.kernel[2:]), stride=np.array(g.stride),
                   padding=np.array([pt, pl]))
    same = (pt != pb) or (pl != pr)
    c_out = g.kernel[0]
    b = np.zeros(c_out) if bias is None else bias
    if proj.source == "Conv1d":
        return nir.Conv1d(input_shape=int(g.in_shape[2]), weight=proj.weight.reshape(
            c_out, g.kernel[1], g.kernel[3]), stride=int(g.stride[1]),
            padding="same" if same else int(pl), dilation=int(g.dilation[1]), groups=g.groups,
            bias=b)
    return nir.Conv2d(input_shape=tuple(g.in_shape[1:]), weight=proj.weight,
                      stride=tuple(g.stride), padding="same" if same else (int(pt), int(pl)),
                      dilation=tuple(g.dilation), groups=g.groups, bias=b)


def _per_channel_bias(bias, shape):
    """The bias as one value per channel if it is constant within each channel, else None."""
    b = np.asarray(bias, dtype=np.float64).reshape(shape[0], -1)
    return b[:, 0].copy() if np.all(b == b[:, :1]) else None


def _bias_factor(pop, prof):
    """The lowering's model-bias / file-bias factor for ``pop`` (see ``nir_lower``)."""
    p = pop.params.per_neuron(pop.size)
    kind = {"lif": "lif", "li": "lif", "if": "if", "integrator": "if"}.get(pop.kind, "cuba")
    return bias_factor(kind, prof, gain=p.get("input_gain", 1.0), r=p.get("r", 1.0),
                       tau=p.get("tau_s", p.get("tau_mem_s", 1.0)),
                       tau_syn=p.get("tau_syn_s", 1.0), w_in=p.get("w_in", 1.0))


def _warn_unreproducible(network, prof) -> None:
    """Warn about populations whose dynamics NIR cannot hold and ``prof`` would not restore.

    NIR has no field for when a reset acts, for resets that do nothing, or for spike counts;
    a file reloaded under ``prof`` gets the profile's choices, so a population that differs
    from them would come back as a different network.
    """
    types = network.metadata.get("nir_types", {})
    for pop in network.populations.values():
        params = pop.params
        if not hasattr(params, "reset_timing") or types.get(pop.name) == "Threshold":
            continue
        wanted = {"reset": prof.reset, "reset_timing": prof.reset_timing,
                  "spike_rule": prof.spike_rule}
        if prof.feedforward_zero_immediate and pop.kind == "lif":
            wanted.pop("reset_timing")
        for name, value in wanted.items():
            if getattr(params, name) != value:
                warnings.warn(f"population {pop.name!r}: {name} = {getattr(params, name)!r} is "
                              f"not stored in NIR, and the profile {prof.name!r} it is saved "
                              f"for gives {value!r}; reload it with a profile that has "
                              f"{name} = {getattr(params, name)!r}", ModelWarning, stacklevel=3)


def to_nir_graph(network, profile=None):
    """Convert a ``Network`` into a ``nir.NIRGraph`` (see module doc).

    Parameters
    ----------
    network : Network
    profile : str or ImportProfile, optional
        Gives ``dt`` and the structural delays; defaults to the profile in
        ``network.metadata``, else ``"exact"``.
    """
    nir = import_nir()
    meta_prof = network.metadata.get("profile")
    if profile is None and isinstance(meta_prof, dict):
        prof = profile_from_dict(meta_prof)
    else:
        prof = get_profile(profile or "exact")
    _warn_unreproducible(network, prof)
    types = network.metadata.get("nir_types", {})
    nodes, edges = {}, []
    biased = {}
    for pop in network.populations.values():
        if pop.kind == "input":
            nodes[pop.name] = nir.Input(input_type={"input": np.array(pop.shape)})
            continue
        nodes[pop.name] = _neuron_node(nir, pop, types.get(pop.name))
        bias = np.broadcast_to(getattr(pop.params, "bias", 0.0), (pop.size,))
        if np.any(bias != 0):
            biased[pop.name] = np.array(bias, dtype=np.float64) / _bias_factor(pop, prof)
    # Skeleton edges first (population -> linear node -> population) to find the cycle edges.
    links = []
    for proj in network.projections:
        links.append((proj.pre, proj.name, proj.post))
    skel = FlatGraph()
    for name in nodes:
        skel.nodes[name] = None
        skel.kinds[name] = "x"
    for pre, mid, post in links:
        skel.nodes[mid] = None
        skel.kinds[mid] = "x"
        skel.edges += [(pre, mid), (mid, post)]
    skel.inputs = list(network.inputs)
    _, back = order(skel, "save")
    dt_ps = prof.dt_ps
    for proj in network.projections:
        pre, post, name = proj.pre, proj.post, proj.name
        shift = prof.layer_delay_steps
        if prof.layer_delay_steps == 0 and ((pre, name) in back or (name, post) in back):
            shift += 1
        bias = biased.pop(post, None)
        if hasattr(proj, "geometry"):
            if bias is not None:
                cb = _per_channel_bias(bias, network.population(post).shape)
                if cb is None:
                    raise ModelError(f"population {post!r}: its bias varies within a channel "
                                     "and its only input is a convolution; NIR cannot hold it")
                bias = cb
            steps = int(proj.delays_ps) // dt_ps - shift
            classes = {steps: None}
        else:
            d = np.broadcast_to(proj.delays_ps, (proj.n_synapses,)) // dt_ps - shift
            classes = {int(k): d == k for k in np.unique(d)} or {0: None}
        for k, (steps, mask) in enumerate(sorted(classes.items(), key=lambda x: x[0])):
            if steps < 0:
                raise ModelError(f"projection {name!r}: delay of {steps + shift} steps is below "
                                 f"the {shift} step(s) the NIR structure implies; NIR cannot "
                                 "express it")
            lin = name if k == 0 else f"{name}@{steps}"
            if hasattr(proj, "geometry"):
                nodes[lin] = _conv_node(nir, proj, bias)
            else:
                npre = network.population(pre).size
                npost = network.population(post).size
                w = np.zeros((npost, npre), dtype=np.float32)
                rows = np.repeat(np.arange(npre), np.diff(proj.indptr))
                sel = slice(None) if mask is None else mask
                np.add.at(w, (proj.indices[sel], rows[sel]), proj.weights[sel])
                if bias is not None and k == 0:
                    nodes[lin] = nir.Affine(weight=w, bias=bias)
                else:
                    nodes[lin] = nir.Linear(weight=w)
            edges.append((pre, lin))
            if steps:
                dname = lin + ".delay"
                shp = network.population(post).shape
                nodes[dname] = nir.Delay(delay=np.full(shp, steps * prof.dt_s))
                edges += [(lin, dname), (dname, post)]
            else:
                edges.append((lin, post))
    if biased:
        raise ModelError(f"populations {sorted(biased)} have a bias but no incoming projection; "
                         "NIR carries biases only on Affine or convolution nodes")
    outs = list(network.outputs)
    for i, name in enumerate(outs):
        oname = "output" if len(outs) == 1 else f"output_{i}"
        nodes[oname] = nir.Output(output_type={"output": np.array(network.population(name).shape)})
        edges.append((name, oname))
    meta = {"exporter": "aersim", "profile": prof.name, "dt": float(prof.dt_s)}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=False)


def save_nir(network, path, profile=None) -> None:
    """Write ``network`` as a NIR file at ``path`` (see :func:`to_nir_graph`)."""
    nir = import_nir()
    graph = to_nir_graph(network, profile)
    try:
        nir.write(str(path), graph)
    except (OSError, TypeError, KeyError) as err:
        raise ModelError(f"cannot write NIR file {str(path)!r}: {err}") from None
