"""Norse networks, exported with Norse's own ``to_nir``, spike identically in aersim.

Covers LIFBoxCell (NIR LIF), LIFCell (CubaLIF), IAFCell (IF) and a LIBoxCell readout (LI), with
per-neuron time constants, leak potentials and thresholds, biases on and off, two time steps.
"""

import numpy as np
import pytest
from conformance_harness import dyadic, mismatches, run_aersim, spikes_in

torch = pytest.importorskip("torch", reason="the Norse oracle needs torch (CPU build)")
nt = pytest.importorskip("norse.torch", reason="the Norse oracle needs norse")
nir = pytest.importorskip("nir")
from norse.torch.functional.iaf import IAFParameters  # noqa: E402
from norse.torch.functional.leaky_integrator_box import LIBoxParameters  # noqa: E402
from norse.torch.functional.lif import LIFParameters  # noqa: E402
from norse.torch.functional.lif_box import LIFBoxParameters  # noqa: E402

STEPS = 60
GAIN = {"lifbox": 6.0, "lif": 2.0, "iaf": 0.7}


def _t(a):
    return torch.tensor(np.asarray(a), dtype=torch.float32)


def _cell(kind, n, rng, dt):
    tmi, tsi = _t(rng.uniform(50, 250, n)), _t(rng.uniform(100, 400, n))
    vl, th = _t(rng.uniform(-0.3, 0.3, n)), _t(rng.uniform(0.5, 1.5, n))
    vr = _t(np.zeros(n))
    if kind == "lifbox":
        return nt.LIFBoxCell(LIFBoxParameters(tau_mem_inv=tmi, v_leak=vl, v_th=th, v_reset=vr),
                             dt=dt)
    if kind == "lif":
        return nt.LIFCell(LIFParameters(tau_syn_inv=tsi, tau_mem_inv=tmi, v_leak=vl, v_th=th,
                                        v_reset=vr), dt=dt)
    if kind == "iaf":
        return nt.IAFCell(IAFParameters(v_th=th, v_reset=vr), dt=dt)
    return nt.LIBoxCell(LIBoxParameters(tau_mem_inv=tmi, v_leak=vl), dt=dt)


def _build(kind, seed, dt, bias, readout):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    sizes = [int(rng.integers(10, 41)) for _ in range(int(rng.integers(2, 4)) + 1)]
    mods = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        lin = torch.nn.Linear(a, b, bias=bias)
        with torch.no_grad():
            lin.weight.copy_(_t(dyadic(rng.normal(0.15, 1.0, (b, a)) * GAIN[kind] * 2
                                       / np.sqrt(a))))
            if bias:
                lin.bias.copy_(_t(dyadic(rng.normal(0.1, 0.2, b) * GAIN[kind])))
        mods += [lin, _cell(kind, b, rng, dt)]
    if readout:
        lin = torch.nn.Linear(sizes[-1], 5)
        with torch.no_grad():
            lin.weight.copy_(_t(dyadic(rng.normal(0, 4, (5, sizes[-1])))))
            lin.bias.copy_(_t(dyadic(rng.normal(0, 1, 5))))
        mods += [lin, _cell("libox", 5, rng, dt)]
    return nt.SequentialState(*mods), sizes[0], rng


def _run_norse(net, x):
    spikes, states = {}, {}
    with torch.no_grad():
        for t in range(x.shape[0]):
            h = _t(x[t])
            for i, m in enumerate(net):
                if isinstance(m, torch.nn.Linear):
                    h = m(h)
                    continue
                h, states[i] = m(h, states.get(i))
                if not isinstance(m, nt.LIBoxCell):
                    spikes.setdefault(i, []).append(h.numpy().copy())
    return {i: np.stack(v) for i, v in spikes.items()}


CASES = [(kind, 1e-3, True, False) for kind in ("lifbox", "lif", "iaf")]
CASES += [("lifbox", 1e-3, False, False), ("lif", 1e-3, True, True),
          ("lifbox", 5e-4, True, True), ("lif", 5e-4, True, False)]


@pytest.mark.parametrize("kind, dt, bias, readout", CASES,
                         ids=[f"{k}-dt{d:g}-bias{int(b)}-readout{int(r)}"
                              for k, d, b, r in CASES])
def test_spikes_identical_to_norse(kind, dt, bias, readout, tmp_path):
    for seed in range(3):
        net, n_in, rng = _build(kind, 200 + seed, dt, bias, readout)
        x = spikes_in(rng, STEPS, (n_in,))
        reference = _run_norse(net, x)
        graph = nt.to_nir(net, torch.zeros(n_in), dt=dt)
        path = tmp_path / f"{kind}-{seed}.nir"
        nir.write(str(path), graph)
        profile = "norse" if dt == 1e-3 else f"norse@{dt}"
        total, bad = mismatches(reference, run_aersim(path, profile, x))
        assert total > 20, "the network hardly spikes; the comparison would prove little"
        assert bad == 0, f"seed {200 + seed}: {bad} of {total} spikes differ from Norse"
