"""The NIR paper's networks: its reference neuron under each platform's profile, and its Braille
RNN rebuilt in snnTorch from the file's own weights."""

import warnings

import numpy as np
import pytest
from conformance_harness import run_aersim

#: The paper's 1000-step input train into its single LIF neuron (dt = 1e-4 s).
LIF_INPUT_STEPS = [60, 220, 270, 310, 320, 350, 370, 400, 410, 430, 440, 450, 460, 470, 480, 490,
                   500, 510, 520, 530, 670, 680, 690, 700, 710, 720, 730, 740, 750, 760, 770, 780,
                   840, 850]


@pytest.mark.parametrize("profile, expected", [
    ("norse@1e-4", [460, 510, 710, 760]),     # forward-Euler platforms (Norse, snnTorch, ...)
    ("snntorch", [460, 510, 710, 760]),
    ("exact@1e-4", [450, 500, 710, 760]),     # exact decay (Rockpool's and Sinabs' imports)
    ("lava", [461, 511, 711, 761]),           # Lava: one step per layer
])
def test_paper_reference_neuron_per_platform(shared_data, profile, expected):
    x = np.zeros((1000, 1), dtype=np.float32)
    x[LIF_INPUT_STEPS] = 1.0
    spikes = run_aersim(shared_data / "nir" / "lif_norse.nir", profile, x)
    assert np.flatnonzero(spikes["1"][:, 0]).tolist() == expected


def test_braille_rnn_rebuilt_in_snntorch_spikes_identically(shared_data):
    torch = pytest.importorskip("torch", reason="the snnTorch oracle needs torch (CPU build)")
    snn = pytest.importorskip("snntorch", reason="the snnTorch oracle needs snntorch")
    nir = pytest.importorskip("nir")
    path = shared_data / "nir" / "braille_subtract.nir"
    graph = nir.read(str(path))
    lif1, lif2 = graph.nodes["lif1.lif"], graph.nodes["lif2"]   # dotted names, not nested
    dt = 1e-4                                  # snnTorch's exporter folds this dt in

    def f32(a):
        return torch.tensor(np.asarray(a), dtype=torch.float32)

    fc1 = torch.nn.Linear(12, 40, bias=False)
    fc2 = torch.nn.Linear(40, 7, bias=False)
    rec = snn.RSynaptic(alpha=f32(1 - dt / lif1.tau_syn), beta=f32(1 - dt / lif1.tau_mem),
                        threshold=f32(lif1.v_threshold), linear_features=40,
                        reset_mechanism="subtract", init_hidden=True)
    out = snn.Synaptic(alpha=f32(1 - dt / lif2.tau_syn), beta=f32(1 - dt / lif2.tau_mem),
                       threshold=f32(lif2.v_threshold), reset_mechanism="subtract",
                       init_hidden=True)
    with torch.no_grad():
        fc1.weight.copy_(f32(graph.nodes["fc1"].weight))
        fc2.weight.copy_(f32(graph.nodes["fc2"].weight))
        rec.recurrent.weight.copy_(f32(graph.nodes["lif1.w_rec"].weight))
        rec.recurrent.bias.zero_()
    rng = np.random.default_rng(7)
    x = (rng.random((200, 12)) < 0.4).astype(np.float32)
    ref = {"lif1.lif": [], "lif2": []}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in range(x.shape[0]):
            s1 = rec(fc1(f32(x[t][None])))
            s2 = out(fc2(s1))
            ref["lif1.lif"].append(s1[0].numpy().copy())
            ref["lif2"].append(s2[0].numpy().copy())
    spikes = run_aersim(path, "snntorch", x)
    for name, frames in ref.items():
        expected = np.stack(frames) != 0
        assert expected.sum() > 50
        np.testing.assert_array_equal(spikes[name], expected, err_msg=name)
