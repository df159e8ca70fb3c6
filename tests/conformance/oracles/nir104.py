"""Networks built, stepped and exported by Sinabs and Rockpool, written for the conformance tests.

Sinabs 3.1.3 and Rockpool 3.1.0 pin ``nir <= 1.0.4`` while snnTorch's exporter needs a newer
``nir``, so these two run in an interpreter of their own (``.venv-oracle``, made by ``.ci/run``)
and hand their results over as files::

    python nir104.py OUTDIR [STEPS]

writes, for every case, ``OUTDIR/<case>.nir`` (the framework's own export) and
``OUTDIR/<case>.npz`` (``x``: the input spikes (steps, n); ``layer_<node>``: the framework's
output of every spiking layer (steps, n), spike counts), and ``OUTDIR/cases.json`` listing
``{case: {"framework", "profile", "layers"}}``. Only this file imports the frameworks.
"""

import json
import sys
import warnings
from pathlib import Path

sys.modules["samna"] = None  # Rockpool's optional 'samna' reinstalls itself on import: keep it out

import nir  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

warnings.simplefilter("ignore")
torch.set_num_threads(1)


def t32(a):
    return torch.tensor(np.asarray(a), dtype=torch.float32)


def dyadic(a, bits=8):
    return np.round(np.asarray(a, np.float64) * 2**bits) / 2**bits


def sinabs_case(seed, steps, kind, spike_fn, reset):
    import sinabs.layers as sl
    import sinabs.nir as snir
    from sinabs.activation import MembraneReset, MembraneSubtract, MultiSpike, SingleSpike

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    sizes = [int(rng.integers(10, 41)) for _ in range(int(rng.integers(2, 4)) + 1)]
    gain = {"iaf": 0.8, "lif": 5.0}[kind]
    mods, layers = [], []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        lin = torch.nn.Linear(a, b)
        with torch.no_grad():
            lin.weight.copy_(t32(dyadic(rng.normal(0.1, 1.0, (b, a)) * gain * 2 / np.sqrt(a))))
            lin.bias.copy_(t32(dyadic(rng.normal(0.05, 0.1, b) * gain)))
        kw = dict(spike_threshold=t32(rng.uniform(0.5, 1.5, b)),
                  spike_fn=MultiSpike if spike_fn == "multi" else SingleSpike,
                  reset_fn=MembraneSubtract() if reset == "subtract" else MembraneReset(0.0))
        if kind == "lif":
            kw["tau_mem"] = t32(rng.uniform(2.0, 30.0, b))
            neuron = sl.LIF(**kw)
        else:
            neuron = sl.IAF(**kw)
        mods += [lin, neuron]
        layers.append(str(len(mods) - 1))
    net = torch.nn.Sequential(*mods)
    x = (rng.random((steps, sizes[0])) < 0.3).astype(np.float32)
    out = {}
    with torch.no_grad():
        h = t32(x)[None]                          # (batch, time, n)
        for i, m in enumerate(net):
            h = m(h)
            if str(i) in layers:
                out[str(i)] = h[0].numpy().copy()
    graph = snir.to_nir(net, torch.zeros((1, 1, sizes[0])))
    return graph, x, out


def sinabs_conv_case(seed, steps):
    """Conv2d(2 -> C, 3x3, pad 1) -> IAFSqueeze -> SumPool2d(2) -> Flatten -> Linear ->
    IAFSqueeze, with MultiSpike and MembraneSubtract (Sinabs' defaults)."""
    import sinabs.layers as sl
    import sinabs.nir as snir

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    c, h = int(rng.integers(3, 7)), 8
    conv = torch.nn.Conv2d(2, c, 3, padding=1, bias=bool(seed % 2))
    with torch.no_grad():
        conv.weight.copy_(t32(dyadic(rng.normal(0.05, 0.6, conv.weight.shape))))
        if conv.bias is not None:
            conv.bias.copy_(t32(dyadic(rng.normal(0.0, 0.1, c))))
    n_out = int(rng.integers(10, 30))
    n_flat = c * (h // 2) ** 2
    lin = torch.nn.Linear(n_flat, n_out)
    with torch.no_grad():
        lin.weight.copy_(t32(dyadic(rng.normal(0.05, 1.0, (n_out, n_flat)) * 2
                                    / np.sqrt(n_flat))))
        lin.bias.copy_(t32(dyadic(rng.normal(0.0, 0.1, n_out))))
    net = torch.nn.Sequential(
        conv, sl.IAFSqueeze(batch_size=1, spike_threshold=t32(rng.uniform(0.5, 1.5))),
        sl.SumPool2d(2), torch.nn.Flatten(), lin,
        sl.IAFSqueeze(batch_size=1, spike_threshold=t32(rng.uniform(0.5, 1.5))))
    x = (rng.random((steps, 2, h, h)) < 0.3).astype(np.float32)
    out = {}
    with torch.no_grad():
        hh = t32(x)                                # (time, ...) for the squeezed layers
        for i, m in enumerate(net):
            hh = m(hh)
            if isinstance(m, sl.IAFSqueeze):
                out[str(i)] = hh.numpy().reshape(steps, -1).copy()
    graph = snir.to_nir(net, torch.zeros((1, 2, h, h)))
    graph.infer_types()        # nir 1.0.4 cannot write convolutions without their types
    return graph, x.reshape(steps, -1), out


def rockpool_case(seed, steps, kind, dt):
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFNeuronTorch, LIFTorch, LinearTorch
    from rockpool.nn.modules.torch.nir import to_nir

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    sizes = [int(rng.integers(10, 41)) for _ in range(int(rng.integers(2, 4)) + 1)]
    gain = {"lif": 0.12, "lifneuron": 0.7}[kind]
    mods = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        w = dyadic(rng.normal(0.1, 1.0, (a, b)) * gain * 2 / np.sqrt(a))
        mods.append(LinearTorch((a, b), weight=t32(w),
                                bias=t32(dyadic(rng.normal(0.05, 0.1, b) * gain)), has_bias=True))
        tm, th = t32(rng.uniform(0.005, 0.03, b)), t32(rng.uniform(0.5, 1.5, b))
        if kind == "lif":
            mods.append(LIFTorch(b, tau_mem=tm, tau_syn=t32(rng.uniform(0.002, 0.01, b)),
                                 threshold=th, dt=dt))
        else:
            mods.append(LIFNeuronTorch(b, tau_mem=tm, threshold=th, dt=dt))
    x = (rng.random((steps, sizes[0])) < 0.3).astype(np.float32)
    net = Sequential(*mods)
    names = list(net._submodulenames)
    out = {}
    with torch.no_grad():
        h = t32(x)[None]
        for i, m in enumerate(mods):
            h, _, _ = m(h, record=True)
            if not isinstance(m, LinearTorch):
                out[names[i]] = h[0].numpy().copy()
    return to_nir(net), x, out


CASES = (
    [(f"sinabs-{k}-{f}-{r}-{s}", "sinabs", (k, f, r)) for k in ("iaf", "lif")
     for f, r in (("multi", "subtract"), ("single", "subtract"), ("multi", "reset"))
     for s in range(3)]
    + [(f"rockpool-{k}-{dt:g}-{s}", "rockpool", (k, dt)) for k in ("lif", "lifneuron")
       for dt in (1e-3, 5e-4) for s in range(3)]
    + [(f"sinabs-conv-{s}", "sinabs-conv", ()) for s in range(2)]
)
PROFILES = {("multi", "subtract"): "sinabs", ("single", "subtract"): "sinabs-single",
            ("multi", "reset"): "sinabs-reset"}


def main(outdir: str, steps: int = 60) -> None:
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    listing = {}
    for i, (name, framework, args) in enumerate(CASES):
        seed = 300 + i
        if framework == "sinabs":
            graph, x, spikes = sinabs_case(seed, steps, *args)
            profile = PROFILES[args[1:]]
        elif framework == "sinabs-conv":
            graph, x, spikes = sinabs_conv_case(seed, steps)
            framework, profile = "sinabs", "sinabs"
        else:
            graph, x, spikes = rockpool_case(seed, steps, *args)
            profile = "rockpool" if args[1] == 1e-3 else f"rockpool@{args[1]:g}"
        nir.write(str(out / f"{name}.nir"), graph)
        np.savez(out / f"{name}.npz", x=x, **{f"layer_{k}": v for k, v in spikes.items()})
        listing[name] = {"framework": framework, "profile": profile, "layers": sorted(spikes)}
    (out / "cases.json").write_text(json.dumps(listing, indent=1))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 60)
