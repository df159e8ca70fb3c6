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
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise ModelError(f"{str(path)!r} is not a readable .npz file: {err}") from None
    with data:
        keys = set(data.files)

        def get(key):
            if key not in keys:
                raise ModelError(f"{str(path)!r}: key {key!r} is missing; expected a file written "
                                 f"by models.save_network (format {FORMAT!r})")
            try:
                return data[key]
            except (ValueError, OSError, zipfile.BadZipFile) as err:
                raise ModelError(f"{str(path)!r}: key {key!r} cannot be read ({err}); the file "
                                 "is corrupt") from None

        if str(get("format")) != FORMAT:
            raise ModelError(f"{str(path)!r}: format is {str(get('format'))!r}; expected "
                             f"{FORMAT!r}")
        version = int(get("format_version"))
        if version != FORMAT_VERSION:
            raise ModelError(f"{str(path)!r}: format_version is {version}; this aersim reads "
                             f"version {FORMAT_VERSION}; save it again with a matching version")
        net = Network()
        names = [str(n) for n in get("layer_names")]
        kinds = [str(k) for k in get("layer_kinds")]
        for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
            if kind not in PARAMS:
                raise ModelError(f"{str(path)!r}: layer {i} ({name!r}) has model {kind!r}; "
                                 f"supported models are {sorted(PARAMS)}")
            cls = PARAMS[kind]
            kw = {}
            for f in dataclasses.fields(cls):
                for prefix in ("p", "s", "r"):
                    key = f"layer{i}_{prefix}_{f.name}"
                    if key in keys:
                        value = get(key)
                        kw[f.name] = str(value) if prefix == "s" else _spike_rule(
                            value, path, key) if prefix == "r" else (
                            float(value) if value.ndim == 0 else value)
            shape = tuple(int(s) for s in get(f"layer{i}_shape"))
            try:
                net.add_population(name, int(np.prod(shape)), cls(**kw), shape)
            except (ModelError, TypeError) as err:
                raise ModelError(f"{str(path)!r}: layer {i} ({name!r}): {err}") from None
        k = 0
        while f"proj{k}_name" in keys:
            pre, post = names[int(get(f"proj{k}_pre"))], names[int(get(f"proj{k}_post"))]
            pname = str(get(f"proj{k}_name"))
            try:
                if f"proj{k}_conv_weight" in keys:
                    g = [int(v) for v in get(f"proj{k}_conv_geometry")]
                    geom = ConvGeometry(tuple(g[0:3]), tuple(g[3:7]), tuple(g[7:9]),
                                        tuple(g[9:13]), tuple(g[13:15]), g[15])
                    net.add_projection(ConvProjection(pname, pre, post, get(f"proj{k}_conv_weight"),
                                                      geom, get(f"proj{k}_delays_ps"),
                                                      str(get(f"proj{k}_conv_source"))))
                else:
                    net.add_projection(Projection(pname, pre, post, get(f"proj{k}_indptr"),
                                                  get(f"proj{k}_indices"), get(f"proj{k}_weights"),
                                                  get(f"proj{k}_delays_ps")))
            except (ModelError, IndexError, ValueError) as err:
                raise ModelError(f"{str(path)!r}: projection {k} ({pname!r}): {err}") from None
            k += 1
        net.inputs = [str(n) for n in get("inputs")]
        net.outputs = [str(n) for n in get("outputs")]
        meta = json.loads(str(get("metadata_json")))
        if "source" in meta:
            meta["origin"] = meta["source"]
        meta["source"] = str(path)
        meta["format"] = "npz"
        net.metadata = meta
    return net
