"""The ``.npz`` layered weight format: a ``Network`` as plain NumPy arrays.

Unlike NIR, the file stores the *discrete* parameters (``input_gain``, reset, integrator) and
the CSR synapse tables exactly as the ``Network`` holds them, so no import profile is needed and
a round trip is bit-exact. It is read with ``numpy.load(allow_pickle=False)``: every entry is a
numeric or unicode array.

Layout (format version 1). Layers are the populations in network order, numbered ``i = 0..L-1``;
projections are numbered ``k = 0..P-1``.

=================================  ===========  ==============================================
key                                dtype/shape  meaning
=================================  ===========  ==============================================
``format``                         str ()       ``"aersim-layered-weights"``
``format_version``                 int64 ()     ``1``
``layer_names``, ``layer_kinds``   str (L,)     population names and model kinds
``inputs``, ``outputs``            str (n,)     names of the input and output populations
``metadata_json``                  str ()       ``Network.metadata`` as JSON (JSON-able part)
``layer{i}_shape``                 int64 (d,)   logical shape of population ``i``
``layer{i}_p_<field>``             float64      numeric parameter: () shared or (n,) per neuron
``layer{i}_s_<field>``             str ()       option: ``reset``, ``integrator``, ``order``
``layer{i}_r_<field>``             str ()       a ``SpikeRule`` as JSON (``spike_rule``)
``proj{k}_name``                   str ()       projection name
``proj{k}_pre``, ``proj{k}_post``  int64 ()     layer numbers
``proj{k}_indptr``                 int64        CSR row pointer (n_pre + 1,)
``proj{k}_indices``                int32        postsynaptic indices (n_syn,)
``proj{k}_weights``                float32      weights (n_syn,)
``proj{k}_delays_ps``              int64        () shared or (n_syn,) delays, picoseconds
``proj{k}_conv_weight``            float32      convolutions only, instead of the CSR arrays:
``proj{k}_conv_geometry``          int64 (16,)  in_shape(3) kernel(4) stride(2) padding(4)
                                                dilation(2) groups(1)
``proj{k}_conv_source``            str ()       NIR type it came from (``"Conv2d"``...)
=================================  ===========  ==============================================
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import numpy as np

from aersim.models.conv import ConvGeometry, ConvProjection
from aersim.models.errors import ModelError
from aersim.models.network import Network, Projection
from aersim.models.neurons.cuba import CubaLIFParams, CubaLIParams, LIParams
from aersim.models.neurons.integrator import IFParams, IntegratorParams
from aersim.models.neurons.lif import LIFParams
from aersim.models.neurons.params import SpikeRule
from aersim.models.neurons.source import InputParams

FORMAT = "aersim-layered-weights"
FORMAT_VERSION = 1
PARAMS = {cls.kind: cls for cls in (InputParams, LIFParams, IFParams, IntegratorParams,
                                    LIParams, CubaLIParams, CubaLIFParams)}


def _json_safe(obj):
    try:
        return json.loads(json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist")
                                     else str(o)))
    except (TypeError, ValueError):
        return {}


def _spike_rule(value, path, key) -> SpikeRule:
    """A :class:`SpikeRule` stored as JSON text."""
    try:
        fields = json.loads(str(value))
        return SpikeRule(**fields)
    except (ValueError, TypeError) as err:
        raise ModelError(f"{str(path)!r}: key {key!r} is not a spike rule ({err}); the file is "
                         "corrupt") from None


def save_npz(network: Network, path) -> None:
    """Write ``network`` to ``path`` in the layered ``.npz`` format (see module doc).

    Raises
    ------
    ModelError
        If a population's model has no entry in ``PARAMS``.
    """
    arrays = {"format": np.array(FORMAT), "format_version": np.array(FORMAT_VERSION),
              "inputs": np.array(list(network.inputs), dtype=str),
              "outputs": np.array(list(network.outputs), dtype=str),
              "metadata_json": np.array(json.dumps(_json_safe(network.metadata)))}
    names = list(network.populations)
    kinds = []
    for i, pop in enumerate(network.populations.values()):
        if pop.kind not in PARAMS:
            raise ModelError(f"population {pop.name!r}: model {pop.kind!r} cannot be saved to "
                             f".npz; supported models are {sorted(PARAMS)}")
        kinds.append(pop.kind)
        arrays[f"layer{i}_shape"] = np.array(pop.shape, dtype=np.int64)
        for f in dataclasses.fields(pop.params):
            value = getattr(pop.params, f.name)
            if isinstance(value, str):
                arrays[f"layer{i}_s_{f.name}"] = np.array(value)
            elif isinstance(value, SpikeRule):
                arrays[f"layer{i}_r_{f.name}"] = np.array(json.dumps(dataclasses.asdict(value)))
            else:
                arrays[f"layer{i}_p_{f.name}"] = np.asarray(value, dtype=np.float64)
    arrays["layer_names"] = np.array(names, dtype=str)
    arrays["layer_kinds"] = np.array(kinds, dtype=str)
    for k, proj in enumerate(network.projections):
        arrays[f"proj{k}_name"] = np.array(proj.name)
        arrays[f"proj{k}_pre"] = np.array(names.index(proj.pre), dtype=np.int64)
        arrays[f"proj{k}_post"] = np.array(names.index(proj.post), dtype=np.int64)
        if isinstance(proj, ConvProjection):
            g = proj.geometry
            arrays[f"proj{k}_conv_weight"] = proj.weight
            arrays[f"proj{k}_conv_geometry"] = np.array(
                [*g.in_shape, *g.kernel, *g.stride, *g.padding, *g.dilation, g.groups],
                dtype=np.int64)
            arrays[f"proj{k}_conv_source"] = np.array(proj.source)
            arrays[f"proj{k}_delays_ps"] = proj.delays_ps
        else:
            indptr, indices, weights, delays = proj.to_csr_arrays()
            arrays[f"proj{k}_indptr"] = indptr
            arrays[f"proj{k}_indices"] = indices
            arrays[f"proj{k}_weights"] = weights
            arrays[f"proj{k}_delays_ps"] = np.asarray(delays, dtype=np.int64)
    try:
        with open(path, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    except OSError as err:
        raise ModelError(f"cannot write {str(path)!r}: {err}") from None


#: Largest array a network file may hold, bytes (decompressed). A file whose zip entry or
#: array header claims more is refused before anything is allocated.
MAX_ARRAY_BYTES = 8 << 30
#: Largest population a network file may declare.
MAX_POPULATION = 1 << 31


def _header(npz, key: str, path: Path):
    """``(shape, dtype)`` of entry ``key`` from its .npy header alone, checked against the zip
    entry's size, so that a lying header never makes numpy allocate what the file cannot hold."""
    try:
        info = npz.zip.getinfo(key + ".npy")
        with npz.zip.open(info) as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            header_len = fh.tell()
    except (KeyError, ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
        raise ModelError(f"{str(path)!r}: key {key!r} is not a readable array ({err}); the file "
                         "is corrupt") from None
    if dtype.hasobject:
        raise ModelError(f"{str(path)!r}: key {key!r} holds Python objects; expected numbers "
                         "or text")
    nbytes = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if nbytes > MAX_ARRAY_BYTES or header_len + nbytes != info.file_size:
        raise ModelError(f"{str(path)!r}: key {key!r} claims shape {shape} of {dtype} "
                         f"({nbytes} bytes) but its entry holds {info.file_size - header_len} "
                         "bytes; the file is corrupt")
    return shape, dtype


def load_npz(path) -> Network:
    """Read a network written by :func:`save_npz`.

    Raises
    ------
    ModelError
        If the file is not a zip/npz, lacks the format keys, has another format version, or
        holds inconsistent arrays (the message names the key).
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as err:
        raise ModelError(f"cannot read network file {str(path)!r}: {err.strerror}") from None
    if magic != b"PK\x03\x04":
        raise ModelError(f"{str(path)!r} is not a readable .npz file (no zip header; "
                         f"its first bytes are {magic!r}); expected a file written by "
                         "models.save_network")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise ModelError(f"{str(path)!r} is not a readable .npz file: {err}") from None
    try:
        with data:
            return _load(data, path)
    except (TypeError, ValueError, IndexError, KeyError, OverflowError) as err:
        if isinstance(err, ModelError):
            raise
        raise ModelError(f"{str(path)!r}: inconsistent network file ({type(err).__name__}: "
                         f"{err}); it was not written by models.save_network, or is "
                         "damaged") from None


def _load(data, path: Path) -> Network:
    keys = set(data.files)

    def get(key, ndim=None, kind=None):
        """Entry ``key``; with ``ndim``/``kind`` (``"i"`` integer, ``"f"`` number, ``"U"``
        text) its shape and type are checked from the header before it is read."""
        if key not in keys:
            raise ModelError(f"{str(path)!r}: key {key!r} is missing; expected a file written "
                             f"by models.save_network (format {FORMAT!r})")
        shape, dtype = _header(data, key, path)
        if ndim is not None and len(shape) != ndim:
            raise ModelError(f"{str(path)!r}: key {key!r} has shape {shape}; expected "
                             f"{'a single value' if ndim == 0 else f'{ndim}-D'}")
        kinds = {"i": "iu", "f": "iuf", "U": "U"}.get(kind, None)
        if kinds is not None and dtype.kind not in kinds:
            raise ModelError(f"{str(path)!r}: key {key!r} has type {dtype}; expected "
                             f"{dict(i='integers', f='numbers', U='text')[kind]}")
        try:
            return data[key]
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
            raise ModelError(f"{str(path)!r}: key {key!r} cannot be read ({err}); the file "
                             "is corrupt") from None

    def index(key, n, what):
        value = int(get(key, 0, "i"))
        if not 0 <= value < n:
            raise ModelError(f"{str(path)!r}: {key} = {value} is not a {what} (0..{n - 1})")
        return value

    fmt = str(get("format", 0))
    if fmt != FORMAT:
        raise ModelError(f"{str(path)!r}: format is {fmt!r}; expected {FORMAT!r}")
    version = int(get("format_version", 0, "i"))
    if version != FORMAT_VERSION:
        raise ModelError(f"{str(path)!r}: format_version is {version}; this aersim reads "
                         f"version {FORMAT_VERSION}; save it again with a matching version")
    net = Network()
    names = [str(n) for n in get("layer_names", 1, "U")]
    kinds = [str(k) for k in get("layer_kinds", 1, "U")]
    if len(names) != len(kinds):
        raise ModelError(f"{str(path)!r}: {len(names)} layer_names but {len(kinds)} "
                         "layer_kinds; give one kind per layer")
    for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        if kind not in PARAMS:
            raise ModelError(f"{str(path)!r}: layer {i} ({name!r}) has model {kind!r}; "
                             f"supported models are {sorted(PARAMS)}")
        shape = tuple(int(s) for s in get(f"layer{i}_shape", 1, "i"))
        size = int(np.prod(shape, dtype=np.float64)) if shape else 1
        if any(s < 1 for s in shape) or size > MAX_POPULATION:
            raise ModelError(f"{str(path)!r}: layer {i} ({name!r}) has shape {shape}; every "
                             f"dimension must be >= 1 and the size at most {MAX_POPULATION}")
        cls = PARAMS[kind]
        kw = {}
        for f in dataclasses.fields(cls):
            key_p, key_s = f"layer{i}_p_{f.name}", f"layer{i}_s_{f.name}"
            key_r = f"layer{i}_r_{f.name}"
            if key_s in keys:
                kw[f.name] = str(get(key_s, 0))
            elif key_r in keys:
                kw[f.name] = _spike_rule(get(key_r, 0, "U"), path, key_r)
            elif key_p in keys:
                value = get(key_p, None, "f")
                if value.ndim > 1 or (value.ndim == 1 and value.shape[0] != size):
                    raise ModelError(f"{str(path)!r}: {key_p} has shape {value.shape}; "
                                     f"expected one value or one per neuron ({size},)")
                kw[f.name] = float(value) if value.ndim == 0 else np.asarray(value)
        try:
            net.add_population(name, size, cls(**kw), shape)
        except (ModelError, TypeError, ValueError) as err:
            raise ModelError(f"{str(path)!r}: layer {i} ({name!r}): {err}") from None
    k = 0
    while f"proj{k}_name" in keys:
        pre = names[index(f"proj{k}_pre", len(names), "layer number")]
        post = names[index(f"proj{k}_post", len(names), "layer number")]
        pname = str(get(f"proj{k}_name", 0))
        try:
            if f"proj{k}_conv_weight" in keys:
                g = [int(v) for v in get(f"proj{k}_conv_geometry", 1, "i")]
                if len(g) != 16:
                    raise ModelError(f"conv_geometry has {len(g)} values; expected 16")
                geom = ConvGeometry(tuple(g[0:3]), tuple(g[3:7]), tuple(g[7:9]),
                                    tuple(g[9:13]), tuple(g[13:15]), g[15])
                net.add_projection(ConvProjection(
                    pname, pre, post, get(f"proj{k}_conv_weight", None, "f"), geom,
                    get(f"proj{k}_delays_ps", None, "i"), str(get(f"proj{k}_conv_source", 0))))
            else:
                net.add_projection(Projection(
                    pname, pre, post, get(f"proj{k}_indptr", 1, "i"),
                    get(f"proj{k}_indices", 1, "i"), get(f"proj{k}_weights", 1, "f"),
                    get(f"proj{k}_delays_ps", None, "i")))
        except (ModelError, IndexError, ValueError, TypeError) as err:
            raise ModelError(f"{str(path)!r}: projection {k} ({pname!r}): {err}") from None
        k += 1
    for key in ("inputs", "outputs"):
        listed = [str(n) for n in get(key, 1, "U")]
        unknown = [n for n in listed if n not in net.populations]
        if unknown:
            raise ModelError(f"{str(path)!r}: {key} names {unknown}, which are not layers "
                             f"(layers: {names})")
        setattr(net, key, listed)
    try:
        meta = json.loads(str(get("metadata_json", 0)))
    except ValueError as err:
        raise ModelError(f"{str(path)!r}: metadata_json is not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{str(path)!r}: metadata_json is {type(meta).__name__}; expected a "
                         "JSON object")
    if "source" in meta:
        meta["origin"] = meta["source"]
    meta["source"] = str(path)
    meta["format"] = "npz"
    net.metadata = meta
    return net
