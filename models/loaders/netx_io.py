"""Load a Lava-DL netx ``.net`` file (HDF5) into a :class:`Network`.

Layout read (as documented for lava-dl's netx; see ``nir.md`` §3.3)::

    /layer/<i>/            i = 0 .. n-1 in network order
        type               bytes: input | dense | conv | pool | flatten | average | concat
        shape              neuron shape of the layer
        weight             dense (out, in); conv (out, in/groups, kH, kW[, 1]); pool scalar
        bias               optional, per output neuron (bias mantissa, exponent 6)
        delay              optional: per synapse (weight's shape) or per output neuron, in steps
        inFeatures, outFeatures                                  dense
        inChannels, outChannels, kernelSize, stride, padding, dilation, groups   conv
        kernelSize, stride, padding                              pool
        layers             concat: the ids of the layers it joins
        neuron/            type (CUBA | LOIHI | SDNN), iDecay, vDecay, vThMant, refDelay,
                           gradedSpike, optional wgtExp
    /simulation/{Ts, tSample}   optional

Mapping (neurons.md §3.2): a CUBA neuron becomes :class:`LoihiCubaParams` with
``D_u = iDecay``, ``D_v = vDecay``, ``vth = vThMant``, ``bias_mant = bias`` and ``bias_exp = 6``,
``weight_exp = wgtExp`` (0 when absent), ``hold_steps = refDelay - 1`` and, for
``gradedSpike``, 16 message bits. An SDNN neuron becomes :class:`SigmaDeltaParams` with
``theta = vThMant / 64`` and ``bias / 64``. A spike at step ``t`` arrives at ``t + 1 + d``
(Lava's one-step Dense buffer plus a delay of ``d`` steps), so a projection's delay is
``(1 + d) * step_ps``.

What this loader has **not** been checked against (no real ``.net`` file was available; the
tests round-trip files written from the layout above):

- whether ``shape`` is stored as (C, H, W) or reversed -- both orders are accepted for a conv
  or pool layer, and its own geometry decides;
- the orientation of conv kernels (lava-dl convolves over (x, y); the kernel is used here as
  PyTorch's ``(out, in, kH, kW)`` over ``(C, H, W)``), and a trailing singleton time axis;
- whether a per-neuron ``delay`` is axonal (applied here to every synapse leaving the layer);
- the message width of graded CUBA spikes and the SDNN bias scaling;
- ``average`` layers, conv after ``concat``, and the input layer's own neuron/transform (the
  input layer is a plain spike source here; a ``ModelWarning`` says so when it has a neuron).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from aersim.models.conv import ConvGeometry, ConvProjection, pool_geometry
from aersim.models.errors import ModelError, ModelWarning
from aersim.models.network import Network
from aersim.models.neurons.loihi_cuba import LoihiCubaParams
from aersim.models.neurons.sigma_delta import SigmaDeltaParams
from aersim.models.neurons.source import InputParams

LAYER_TYPES = ("input", "dense", "conv", "pool", "flatten", "concat")
NEURON_TYPES = ("CUBA", "LOIHI", "SDNN")
MAX_DELAY_STEPS = 63
STEP_PS = 1_000_000_000  # 1 ms


class _Layer:
    """Reads fields of one ``/layer/<i>`` group with errors that name file, layer and field."""

    def __init__(self, path, idx, group):
        self.path, self.idx, self.group = path, idx, group
        self.type = self.text("type") if "type" in group else None

    @property
    def where(self) -> str:
        return f"{str(self.path)!r}: layer {self.idx} ({self.type or '?'})"

    def error(self, msg: str) -> ModelError:
        return ModelError(f"{self.where}: {msg}")

    def has(self, name: str) -> bool:
        return name in self.group

    def array(self, name: str, group=None) -> np.ndarray:
        group = self.group if group is None else group
        if name not in group:
            raise self.error(f"missing field {name!r}; a netx layer of this type needs it")
        try:
            arr = np.asarray(group[name][()], dtype=np.float64)
        except (TypeError, ValueError, OSError) as exc:
            raise self.error(f"field {name!r} is not numeric ({exc})") from None
        if not np.all(np.isfinite(arr)):
            raise self.error(f"field {name!r} contains NaN or infinity")
        return arr

    def ints(self, name: str, group=None, low=None) -> np.ndarray:
        arr = self.array(name, group)
        if np.any(arr != np.round(arr)):
            raise self.error(f"field {name!r} must hold integers, got {arr.ravel()[:4]}")
        if low is not None and arr.size and arr.min() < low:
            raise self.error(f"field {name!r} has {int(arr.min())}, expected >= {low}")
        return arr.astype(np.int64)

    def scalar(self, name: str, group=None, low=None) -> int:
        arr = self.ints(name, group, low).ravel()
        if arr.size != 1:
            raise self.error(f"field {name!r} must be one integer, got {arr.size} values")
        return int(arr[0])

    def text(self, name: str, group=None) -> str:
        group = self.group if group is None else group
        value = group[name][()]
        if isinstance(value, np.ndarray):
            value = value.ravel()[0] if value.size else b""
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        return str(value).strip().strip("\x00")


def load_netx(path, step_ps: int = STEP_PS) -> Network:
    """Read a netx ``.net`` file into a :class:`Network` (see module doc for the mapping).

    Parameters
    ----------
    path : str or Path
        The ``.net`` HDF5 file.
    step_ps : int
        Length of one Loihi step in picoseconds (delays are whole steps); 1 ms by default.

    Returns
    -------
    Network
        One population per neuron layer (``"layer<i>"``), an input population, CSR projections
        for dense layers and :class:`ConvProjection` for conv and pool layers.

    Raises
    ------
    ModelError
        On an unreadable file, a missing or malformed field, or an unsupported layer or neuron
        type; the message names the file, the layer and the field.
    """
    import h5py

    path = Path(path)
    if int(step_ps) <= 0:
        raise ModelError(f"netx step_ps must be > 0, got {step_ps!r}")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ModelError(f"{str(path)!r}: cannot open as a netx HDF5 file ({exc})") from None
    with f:
        if "layer" not in f or not isinstance(f["layer"], h5py.Group):
            raise ModelError(f"{str(path)!r}: no 'layer' group; not a lava-dl netx file")
        keys = list(f["layer"].keys())
        if sorted(keys, key=lambda k: int(k) if k.isdigit() else -1) != [str(i) for i in
                                                                         range(len(keys))]:
            raise ModelError(f"{str(path)!r}: layer groups must be named 0..{len(keys) - 1}, "
                             f"got {sorted(keys)}")
        if not keys:
            raise ModelError(f"{str(path)!r}: the 'layer' group is empty")
        net = Network(metadata={"source": str(path), "format": "netx", "step_ps": int(step_ps),
                                "assumptions": []})
        if "simulation" in f:
            for k in f["simulation"]:
                net.metadata[f"simulation.{k}"] = np.asarray(f["simulation"][k][()]).tolist()
        _Builder(net, path, int(step_ps)).run([_Layer(path, i, f["layer"][str(i)])
                                                for i in range(len(keys))])
    return net


class _Builder:
    """Walks the layers in order; ``self.out[i]`` is layer ``i``'s output as a list of
    ``(population, shape)`` segments (several after a concat)."""

    def __init__(self, net, path, step_ps):
        self.net, self.path, self.step_ps = net, path, step_ps
        self.out = {}
        self.axonal = {}   # population -> per-neuron delay steps (int64 (n,))

    def run(self, layers):
        for lay in layers:
            if lay.type is None:
                raise lay.error("missing field 'type'")
            if lay.type not in LAYER_TYPES:
                raise lay.error(f"layer type {lay.type!r} is not supported; supported types are "
                                f"{LAYER_TYPES}")
            prev = self.out.get(lay.idx - 1)
            if lay.type != "input" and lay.type != "concat" and prev is None:
                prev = self._implicit_input(lay)
            self.out[lay.idx] = getattr(self, f"_{lay.type}")(lay, prev)
        last = self.out[len(layers) - 1]
        self.net.outputs = [name for name, _ in last]

    # -- layers --------------------------------------------------------------------------------

    def _input(self, lay, prev):
        if prev is not None:
            raise lay.error("an input layer must come first")
        shape = tuple(int(s) for s in lay.ints("shape", low=1).ravel())
        name = f"layer{lay.idx}"
        self.net.add_population(name, int(np.prod(shape)), InputParams(), shape)
        self.net.inputs.append(name)
        if "neuron" in lay.group:
            msg = (f"{lay.where}: the input layer's neuron is not simulated; the layer is a plain "
                   "spike source")
            warnings.warn(msg, ModelWarning, stacklevel=4)
            self.net.metadata["assumptions"].append(msg)
        return [(name, shape)]

    def _implicit_input(self, lay):
        if lay.type != "dense":
            raise lay.error("the first layer must be 'input' or 'dense' (a conv layer needs the "
                            "input's (C, H, W) shape from an input layer)")
        n_in = lay.scalar("inFeatures", low=1)
        name = "input"
        self.net.add_population(name, n_in, InputParams(), (n_in,))
        self.net.inputs.append(name)
        return [(name, (n_in,))]

    def _flatten(self, lay, prev):
        return [(name, (int(np.prod(shape)),)) for name, shape in prev]

    def _concat(self, lay, prev):
        ids = lay.ints("layers", low=0).ravel()
        segs = []
        for i in ids:
            if int(i) not in self.out:
                raise lay.error(f"field 'layers' names layer {int(i)}, which does not come "
                                "before this one")
            segs.extend((name, (int(np.prod(s)),)) for name, s in self.out[int(i)])
        return segs

    def _dense(self, lay, prev):
        w = lay.array("weight")
        n_out = lay.scalar("outFeatures", low=1)
        n_in = lay.scalar("inFeatures", low=1) if lay.has("inFeatures") else None
        total = sum(int(np.prod(s)) for _, s in prev)
        if w.ndim != 2 or w.shape[0] != n_out or w.shape[1] != total or n_in not in (None, total):
            raise lay.error(f"field 'weight' has shape {w.shape}; expected ({n_out}, {total}) "
                            f"(outFeatures x the {total} outputs of the previous layer)")
        if np.any(w != np.round(w)):
            raise lay.error("field 'weight' holds non-integer values; a netx file for Loihi "
                            "stores integer weight mantissas")
        params = self._neuron(lay, n_out)
        name = f"layer{lay.idx}"
        self.net.add_population(name, n_out, params, (n_out,))
        delay = self._delays(lay, w.shape, n_out)
        col = 0
        for k, (src, shape) in enumerate(prev):
            n_src = int(np.prod(shape))
            block = w[:, col:col + n_src]
            post, pre = np.nonzero(block)
            steps = np.zeros(pre.shape[0], dtype=np.int64)
            if delay is not None:
                steps += delay[post, col + pre] if delay.ndim == 2 else delay[post]
            steps += self.axonal.get(src, np.zeros(n_src, dtype=np.int64))[pre]
            label = f"{src}->{name}" if len(prev) == 1 else f"{src}->{name}[{k}]"
            self.net.connect(src, name, pre, post, block[post, pre],
                             (1 + steps) * self.step_ps, name=label)
            col += n_src
        return [(name, (n_out,))]

    def _conv(self, lay, prev):
        src, in_shape = self._single_3d(lay, prev)
        w = lay.array("weight")
        while w.ndim > 4 and w.shape[-1] == 1:
            w = w[..., 0]
        c_out = lay.scalar("outChannels", low=1)
        if lay.has("inChannels") and lay.scalar("inChannels", low=1) != in_shape[0]:
            raise lay.error(f"field 'inChannels' is {lay.scalar('inChannels')} but the previous "
                            f"layer has {in_shape[0]} channels")
        if w.ndim != 4 or w.shape[0] != c_out:
            raise lay.error(f"field 'weight' has shape {w.shape}; expected (outChannels={c_out}, "
                            "in/groups, kH, kW)")
        pad = self._pair(lay, "padding", 0)
        try:
            geom = ConvGeometry(in_shape, tuple(int(s) for s in w.shape),
                                self._pair(lay, "stride", 1), (pad[0], pad[0], pad[1], pad[1]),
                                self._pair(lay, "dilation", 1),
                                lay.scalar("groups", low=1) if lay.has("groups") else 1)
        except ModelError as exc:
            raise lay.error(str(exc)) from None
        return self._shared(lay, src, geom, w, "Conv2d")

    def _pool(self, lay, prev):
        src, in_shape = self._single_3d(lay, prev)
        scale = lay.array("weight").ravel() if lay.has("weight") else np.ones(1)
        if scale.size != 1:
            raise lay.error(f"field 'weight' of a pool layer must be one value, got {scale.size}")
        try:
            geom = pool_geometry(in_shape, self._pair(lay, "kernelSize", None),
                                 self._pair(lay, "stride", None) if lay.has("stride")
                                 else self._pair(lay, "kernelSize", None),
                                 self._pair(lay, "padding", 0))
        except ModelError as exc:
            raise lay.error(str(exc)) from None
        w = np.full(geom.kernel, float(scale[0]))
        return self._shared(lay, src, geom, w, "SumPool2d")

    # -- helpers -------------------------------------------------------------------------------

    def _shared(self, lay, src, geom, w, source):
        out_shape = geom.out_shape
        stored = tuple(int(s) for s in lay.ints("shape", low=1).ravel()) if lay.has("shape") \
            else out_shape
        if stored not in (out_shape, out_shape[::-1]):
            raise lay.error(f"field 'shape' is {stored} but the layer's geometry gives "
                            f"{out_shape} (C, H, W)")
        if np.any(w != np.round(w)):
            raise lay.error("field 'weight' holds non-integer values; a netx file for Loihi "
                            "stores integer weight mantissas")
        if lay.has("delay"):
            raise lay.error("field 'delay' on a conv or pool layer is not supported (a "
                            "convolution here has one shared delay)")
        axonal = self.axonal.get(src)
        if axonal is not None and np.any(axonal != axonal[0]):
            raise lay.error("the previous layer has per-neuron delays; a convolution from it "
                            "cannot carry them (one shared delay)")
        steps = 0 if axonal is None else int(axonal[0])
        n_out = int(np.prod(out_shape))
        params = self._neuron(lay, n_out)
        name = f"layer{lay.idx}"
        self.net.add_population(name, n_out, params, out_shape)
        self.net.add_projection(ConvProjection(f"{src}->{name}", src, name, w.astype(np.float32),
                                               geom, np.asarray((1 + steps) * self.step_ps),
                                               source))
        return [(name, out_shape)]

    def _single_3d(self, lay, prev):
        if len(prev) != 1:
            raise lay.error("a conv or pool layer after 'concat' is not supported")
        src, shape = prev[0]
        if len(shape) != 3:
            raise lay.error(f"needs a (C, H, W) input, but the previous layer has shape {shape}")
        return src, shape

    def _pair(self, lay, name, default):
        if not lay.has(name):
            if default is None:
                raise lay.error(f"missing field {name!r}")
            return (default, default)
        arr = lay.ints(name, low=0).ravel()
        if arr.size not in (1, 2):
            raise lay.error(f"field {name!r} must be an integer or a pair, got {arr.tolist()}")
        return (int(arr[0]), int(arr[-1]))

    def _delays(self, lay, w_shape, n_out):
        if not lay.has("delay"):
            return None
        d = lay.ints("delay", low=0)
        if d.size and d.max() > MAX_DELAY_STEPS:
            raise lay.error(f"field 'delay' has {int(d.max())} steps; Loihi delays are "
                            f"0..{MAX_DELAY_STEPS}")
        if d.shape == tuple(w_shape):
            return d
        if d.size == n_out:
            # per output neuron: an axonal delay of this layer, applied to its outgoing synapses
            self.axonal[f"layer{lay.idx}"] = d.ravel()
            return None
        raise lay.error(f"field 'delay' has shape {d.shape}; expected the weight's {w_shape} or "
                        f"one per output neuron ({n_out})")

    def _neuron(self, lay, n):
        if "neuron" not in lay.group:
            raise lay.error("missing group 'neuron'")
        g = lay.group["neuron"]
        if "type" not in g:
            raise lay.error("missing field 'neuron/type'")
        kind = lay.text("type", g).upper()
        if kind not in NEURON_TYPES:
            raise lay.error(f"neuron type {kind!r} is not supported; supported types are "
                            f"{NEURON_TYPES}")
        bias = lay.array("bias").ravel() if lay.has("bias") else np.zeros(1)
        if bias.size not in (1, n):
            raise lay.error(f"field 'bias' has {bias.size} values for {n} neurons")
        if bias.size == 1:
            bias = bias[:1].reshape(())
        try:
            if kind == "SDNN":
                return SigmaDeltaParams(threshold=lay.scalar("vThMant", g, low=1) / 64.0,
                                        bias=bias / 64.0)
            if np.any(bias != np.round(bias)):
                raise lay.error("field 'bias' holds non-integer values; expected bias mantissas")
            ref = lay.scalar("refDelay", g, low=1) if "refDelay" in g else 1
            graded = bool(lay.scalar("gradedSpike", g)) if "gradedSpike" in g else False
            return LoihiCubaParams(d_u=lay.scalar("iDecay", g), d_v=lay.scalar("vDecay", g),
                                   vth=lay.scalar("vThMant", g), bias_mant=bias.astype(np.int64),
                                   bias_exp=6, hold_steps=ref - 1,
                                   weight_exp=lay.scalar("wgtExp", g) if "wgtExp" in g else 0,
                                   num_message_bits=16 if graded else 0)
        except ModelError as exc:
            if str(exc).startswith(lay.where):
                raise
            raise lay.error(f"neuron: {exc}") from None
