"""snnTorch networks, exported with snnTorch's own ``export_to_nir``, spike identically in aersim.

Covers Leaky, Synaptic, RLeaky and RSynaptic with reset_mechanism subtract / zero / none,
per-neuron betas and thresholds (learnable ones too), biases on and off. The reset mechanism is
not written into the file, so each has its profile (``snntorch``, ``snntorch-zero``,
``snntorch-none``).
"""

import numpy as np
import pytest
from conformance_harness import dyadic, mismatches, run_aersim, spikes_in

torch = pytest.importorskip("torch", reason="the snnTorch oracle needs torch (CPU build)")
snn = pytest.importorskip("snntorch", reason="the snnTorch oracle needs snntorch")
export_nir = pytest.importorskip("snntorch.export_nir",
                                 reason="snntorch without its NIR exporter").export_to_nir
nir = pytest.importorskip("nir")

PROFILE = {"subtract": "snntorch", "zero": "snntorch-zero", "none": "snntorch-none"}
STEPS = 60


def _neuron(kind, n, rng, reset, learn):
    beta = torch.tensor(rng.uniform(0.5, 0.98, n), dtype=torch.float32)
    thr = torch.tensor(rng.uniform(0.5, 1.5, n), dtype=torch.float32)
    kw = dict(threshold=thr, init_hidden=True, reset_mechanism=reset, learn_beta=learn,
              learn_threshold=learn)
    if kind == "leaky":
        return snn.Leaky(beta=beta, **kw)
    alpha = torch.tensor(rng.uniform(0.3, 0.95, n), dtype=torch.float32)
    if kind == "synaptic":
        return snn.Synaptic(alpha=alpha, beta=beta, **kw)
    cls, scale = (snn.RLeaky, 0.6) if kind == "rleaky" else (snn.RSynaptic, 0.3)
    extra = {} if kind == "rleaky" else {"alpha": alpha}
    m = cls(beta=beta, linear_features=n, **extra, **kw)
    with torch.no_grad():
        m.recurrent.weight.copy_(torch.tensor(dyadic(rng.normal(0, scale / np.sqrt(n), (n, n)))))
        m.recurrent.bias.copy_(torch.tensor(dyadic(rng.normal(0, 0.1 * scale, n))))
    return m


def _build(kind, seed, reset, bias, learn):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    sizes = [int(rng.integers(10, 41)) for _ in range(int(rng.integers(2, 4)) + 1)]
    gain = 0.5 if kind in ("synaptic", "rsynaptic") else 1.0
    mods = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        lin = torch.nn.Linear(a, b, bias=bias)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(dyadic(rng.normal(0.15, 1.0, (b, a)) * gain * 2
                                                 / np.sqrt(a)), dtype=torch.float32))
            if bias:
                lin.bias.copy_(torch.tensor(dyadic(rng.normal(0.05, 0.1, b) * gain),
                                            dtype=torch.float32))
        mods += [lin, _neuron(kind, b, rng, reset, learn)]
    return torch.nn.Sequential(*mods), sizes[0], rng


def _run_snntorch(net, x):
    spikes = {}
    with torch.no_grad():
        for t in range(x.shape[0]):
            h = torch.tensor(x[t][None])
            for i, m in enumerate(net):
                h = m(h)
                if isinstance(m, snn.SpikingNeuron):
                    spikes.setdefault(i, []).append(h[0].numpy().copy())
    return {i: np.stack(v) for i, v in spikes.items()}


CASES = [(kind, reset, True, False) for kind in ("leaky", "synaptic", "rleaky", "rsynaptic")
         for reset in ("subtract", "zero", "none")]
CASES += [("leaky", "subtract", False, False), ("leaky", "subtract", True, True),
          ("synaptic", "subtract", False, True)]


@pytest.mark.parametrize("kind, reset, bias, learn", CASES,
                         ids=[f"{k}-{r}-bias{int(b)}-learn{int(lr)}" for k, r, b, lr in CASES])
def test_spikes_identical_to_snntorch(kind, reset, bias, learn, tmp_path):
    for seed in range(3):
        net, n_in, rng = _build(kind, 100 + seed, reset, bias, learn)
        x = spikes_in(rng, STEPS, (n_in,))
        reference = _run_snntorch(net, x)
        graph = export_nir(net, torch.zeros((1, n_in)), ignore_dims=[0])
        path = tmp_path / f"{kind}-{seed}.nir"
        nir.write(str(path), graph)
        total, bad = mismatches(reference, run_aersim(path, PROFILE[reset], x))
        assert total > 20, "the network hardly spikes; the comparison would prove little"
        assert bad == 0, f"seed {100 + seed}: {bad} of {total} spikes differ from snnTorch"


def _build_conv(kind, seed, reset):
    """Conv2d(2 -> C, 3x3, pad 1) -> AvgPool2d(2) -> neurons (C, 4, 4) -> Flatten -> Linear ->
    neurons. snnTorch's exporter needs per-neuron parameters of the layer's full shape."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    c, h = int(rng.integers(3, 7)), 8
    conv = torch.nn.Conv2d(2, c, 3, padding=1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(dyadic(rng.normal(0.0, 0.8, conv.weight.shape))))
        conv.bias.copy_(torch.tensor(dyadic(rng.normal(0.05, 0.1, c))))
    shape = (c, h // 2, h // 2)
    n_out = int(rng.integers(10, 30))
    lin = torch.nn.Linear(int(np.prod(shape)), n_out)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(dyadic(rng.normal(0.1, 1.0, lin.weight.shape) * 2
                                             / np.sqrt(np.prod(shape))), dtype=torch.float32))
        lin.bias.copy_(torch.tensor(dyadic(rng.normal(0.0, 0.1, n_out)), dtype=torch.float32))

    def neurons(shp):
        beta = torch.tensor(rng.uniform(0.5, 0.98, shp), dtype=torch.float32)
        thr = torch.tensor(rng.uniform(0.5, 1.5, shp), dtype=torch.float32)
        if kind == "leaky":
            return snn.Leaky(beta=beta, threshold=thr, init_hidden=True, reset_mechanism=reset)
        alpha = torch.tensor(rng.uniform(0.5, 0.95, shp), dtype=torch.float32)
        return snn.Synaptic(alpha=alpha, beta=beta, threshold=thr, init_hidden=True,
                            reset_mechanism=reset)

    net = torch.nn.Sequential(conv, torch.nn.AvgPool2d(2), neurons(shape), torch.nn.Flatten(),
                              lin, neurons((n_out,)))
    return net, (2, h, h), rng


CONV_CASES = [("leaky", "subtract"), ("leaky", "zero"), ("synaptic", "subtract")]


@pytest.mark.parametrize("kind, reset", CONV_CASES, ids=[f"conv-{k}-{r}" for k, r in CONV_CASES])
def test_conv_networks_spike_identically_to_snntorch(kind, reset, tmp_path):
    for seed in range(2):
        net, in_shape, rng = _build_conv(kind, 400 + seed, reset)
        x = spikes_in(rng, STEPS, in_shape)
        reference = _run_snntorch(net, x)
        graph = export_nir(net, torch.zeros((1,) + in_shape), ignore_dims=[0])
        path = tmp_path / f"conv-{kind}-{seed}.nir"
        nir.write(str(path), graph)
        total, bad = mismatches(reference, run_aersim(path, PROFILE[reset], x))
        assert total > 20, "the network hardly spikes; the comparison would prove little"
        assert bad == 0, f"seed {400 + seed}: {bad} of {total} spikes differ from snnTorch"
