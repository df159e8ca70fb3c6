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
