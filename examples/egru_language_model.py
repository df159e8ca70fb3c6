"""A character-level EGRU language model, trained in PyTorch and run on a SpiNNaker 2-like chip.

1. Trains a small EGRU (embedding -> one EGRU layer -> linear readout) on the Gettysburg Address
   (public domain, ``gettysburg.txt`` beside this file) for a fixed wall-clock budget. The EGRU
   is written out in PyTorch with ``torch.nn.GRU``'s parameter names (gates r, z, n) and a
   per-unit threshold; its update is the one of ``aersim.models.neurons.egru`` (reset-after
   GRU, events ``y = c^`` when ``c^ > theta``, reset by subtraction), trained with a surrogate
   gradient for the threshold.
2. Saves the weights as ``.npz`` and loads them with ``aersim.models.loaders.torch_gru``.
3. Builds the aersim network: token embeddings as graded input spikes (``GradedInput``) ->
   EGRU layer -> readout (a leaky integrator with ``tau << dt``, so ``v_t = W y_t + b``), and
   runs it over the whole text on ``spinnaker2_like`` in ``timestep`` mode, one step per token.
4. Evaluates the same model in PyTorch (float64, and the float32 it was trained in) and compares.

Needs PyTorch (CPU).

    python examples/egru_language_model.py [--seconds 90] [--iterations N] [--hidden 128]

prints: energy per token, activity sparsity, hardware latency per token, and the agreement of
the chip's events, cell states and logits with PyTorch.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from aersim.models import InputParams, LIParams, Network
from aersim.models.loaders.torch_gru import egru_from_torch_gru, linear_from_state, read_state_dict
from aersim.models.neurons.egru import add_egru_layer
from aersim.simcore import RunConfig, Simulation
from aersim.simcore.run.stimulus import GradedInput

TEXT = Path(__file__).with_name("gettysburg.txt")
STEP_PS = 1_000_000_000          # one token per millisecond of algorithmic time


class Spike(torch.autograd.Function):
    """Heaviside step with a triangular surrogate gradient (width ``EPS``, height ``GAMMA``)."""

    GAMMA, EPS = 0.3, 0.5

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * Spike.GAMMA * torch.clamp(1.0 - x.abs() / Spike.EPS, min=0.0)


class EGRULayer(nn.Module):
    """One EGRU layer with ``torch.nn.GRU``'s parameter names and a threshold ``theta_l0``."""

    def __init__(self, n_in, n_units, theta=0.2):
        super().__init__()
        k = n_units ** -0.5
        self.weight_ih_l0 = nn.Parameter(torch.empty(3 * n_units, n_in).uniform_(-k, k))
        self.weight_hh_l0 = nn.Parameter(torch.empty(3 * n_units, n_units).uniform_(-k, k))
        self.bias_ih_l0 = nn.Parameter(torch.zeros(3 * n_units))
        self.bias_hh_l0 = nn.Parameter(torch.zeros(3 * n_units))
        self.theta_l0 = nn.Parameter(torch.full((n_units,), theta))

    def forward(self, x):
        """``x`` (batch, steps, n_in) -> payloads ``y`` and post-reset cells ``c`` (batch, steps,
        units). The aersim EGRU's update, in PyTorch's gate naming (``u = 1 - z``)."""
        h = self.weight_hh_l0.shape[1]
        theta = self.theta_l0.clamp(0.0, 1.0)
        gi = x @ self.weight_ih_l0.T + self.bias_ih_l0          # all steps' input terms at once
        c = x.new_zeros(x.shape[0], h)
        y = x.new_zeros(x.shape[0], h)
        ys, cs = [], []
        for t in range(x.shape[1]):
            gh = y @ self.weight_hh_l0.T + self.bias_hh_l0
            r = torch.sigmoid(gi[:, t, :h] + gh[:, :h])
            z = torch.sigmoid(gi[:, t, h:2 * h] + gh[:, h:2 * h])
            n = torch.tanh(gi[:, t, 2 * h:] + r * gh[:, 2 * h:])
            c_hat = (1.0 - z) * n + z * c
            e = Spike.apply(c_hat - theta)
            y = e * c_hat
            c = c_hat - e * theta
            ys.append(y)
            cs.append(c)
        return torch.stack(ys, 1), torch.stack(cs, 1)


class CharLM(nn.Module):
    def __init__(self, vocab, n_embed, n_units):
        super().__init__()
        self.embedding = nn.Embedding(vocab, n_embed)
        self.rnn = EGRULayer(n_embed, n_units)
        self.readout = nn.Linear(n_units, vocab)

    def forward(self, tokens):
        y, c = self.rnn(self.embedding(tokens))
        return self.readout(y), y, c


def train(model, ids, seconds, iterations=None, seq=32, batch=32, sparsity=0.02, seed=0):
    """Random windows of the text, Adam, until ``seconds`` of wall time have passed (or after
    ``iterations`` updates, which makes a run repeatable)."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    data = torch.as_tensor(ids)
    t0, it, loss = time.perf_counter(), 0, float("nan")
    while time.perf_counter() - t0 < seconds and (iterations is None or it < iterations):
        start = torch.randint(0, len(ids) - seq - 1, (batch,), generator=gen)
        win = torch.stack([data[s:s + seq + 1] for s in start.tolist()])
        logits, y, _ = model(win[:, :-1])
        ce = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                         win[:, 1:].reshape(-1))
        # A small penalty on the payloads keeps the activity sparse.
        total = ce + sparsity * y.abs().mean()
        opt.zero_grad()
        total.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss, it = float(ce.detach()), it + 1
    return loss, it, time.perf_counter() - t0


def save_npz(model, path):
    np.savez(path, **{k: v.detach().numpy() for k, v in model.state_dict().items()})


def build_network(path, n_vocab):
    """Embedding input -> EGRU -> readout, all from the saved state dict."""
    egru = egru_from_torch_gru(path)                       # finds the prefix "rnn."
    w_out, b_out = linear_from_state(path, "readout.")
    net = Network()
    net.add_population("embed", egru.n_inputs, InputParams())
    add_egru_layer(net, "egru", egru, "embed", STEP_PS)
    # tau << dt: exp(-dt / tau) is exactly 0, so the readout holds W y_t + b of this step only.
    net.add_population("logits", n_vocab, LIParams(tau_s=1e-12, bias=b_out))
    post, pre = np.nonzero(w_out)
    net.connect("egru", "logits", pre, post, w_out[post, pre], 0, name="readout")
    net.inputs, net.outputs = ["embed"], ["logits"]
    return net, egru


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=90.0, help="training wall-time budget")
    ap.add_argument("--iterations", type=int, default=None,
                    help="stop after this many updates (within the time budget)")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--embed", type=int, default=16)
    ap.add_argument("--out", type=Path, default=None, help="where to keep the .npz")
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)    # small matrices: a second thread costs more than it gives

    text = TEXT.read_text(encoding="utf-8")
    chars = sorted(set(text))
    ids = np.array([chars.index(ch) for ch in text], dtype=np.int64)
    model = CharLM(len(chars), args.embed, args.hidden)
    loss, iters, wall = train(model, ids, args.seconds, args.iterations)
    print(f"trained {iters} iterations in {wall:.0f} s: cross-entropy {loss:.3f} nats/char "
          f"(text: {len(text)} chars, vocabulary {len(chars)})")

    out_dir = args.out or Path(tempfile.mkdtemp(prefix="egru_lm_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "egru_lm.npz"
    save_npz(model, path)

    # The chip: one step per token over the whole text (the last token has nothing to predict).
    net, egru = build_network(path, len(chars))
    tokens = ids[:-1]
    table = read_state_dict(path)["embedding.weight"]
    stim = GradedInput.from_tokens("embed", tokens, table, STEP_PS)
    sim = Simulation(net, "spinnaker2_like", config=RunConfig(mode="timestep", dt_ps=STEP_PS),
                     stimuli=[stim], probes={"egru": None, "logits": None})
    res = sim.run(duration_ps=len(tokens) * STEP_PS)
    c_chip, logits_chip = res.probes["v"][:, :egru.n_units], res.probes["v"][:, egru.n_units:]
    sp = res.spikes("egru")
    fired_chip = np.zeros((len(tokens), egru.n_units), dtype=bool)
    fired_chip[np.round(sp["t_s"] * 1e12 / STEP_PS).astype(np.int64), sp["neuron"]] = True

    # The same model in PyTorch: float64 (what the chip computes) and float32 (as trained).
    with torch.no_grad():
        x = torch.as_tensor(tokens)[None]
        ref = {}
        for name, dtype in (("float64", torch.float64), ("float32", torch.float32)):
            m = CharLM(len(chars), args.embed, args.hidden).to(dtype)
            m.load_state_dict({k: v.to(dtype) for k, v in model.state_dict().items()})
            lg, y, c = m(x)
            ref[name] = (lg[0].double().numpy(), y[0].double().numpy(), c[0].double().numpy())

    n_tok = len(tokens)
    e = res.ledger
    ops = res.op_totals()
    print(f"aersim, spinnaker2_like, timestep mode: {n_tok} tokens, {egru.n_units} EGRU units, "
          f"{res.info['n_synapses']} synapses on {res.info['cores_used']} cores")
    print(f"energy per token: {e.total_j / n_tok * 1e6:.3f} uJ total = "
          f"{e.dynamic_j / n_tok * 1e6:.3f} uJ dynamic + {e.static_j / n_tok * 1e6:.3f} uJ static "
          f"(over the hardware time)")
    print(f"activity sparsity: {fired_chip.mean():.3f} of EGRU units emit an event per token "
          f"({1 - fired_chip.mean():.1%} silent); input spikes per token "
          f"{res.spike_counts('embed').sum() / n_tok:.1f}, synaptic ops per token "
          f"{(ops['synaptic_op'] + ops['synaptic_op_dense']) / n_tok:.0f}")
    d = res.step_duration_ps * 1e-12
    print(f"latency per token (hardware step time): mean {d.mean() * 1e6:.2f} us, "
          f"max {d.max() * 1e6:.2f} us")
    acc = float(np.mean(logits_chip.argmax(1) == ids[1:]))
    print(f"next-character accuracy on the chip: {acc:.3f}")
    for name, (lg, y, c) in ref.items():
        fired_ref = y != 0
        print(f"vs PyTorch {name}: events differ in {int((fired_ref != fired_chip).sum())} of "
              f"{fired_ref.size} (unit, token); max |c diff| {np.abs(c - c_chip).max():.2e}; "
              f"max |logit diff| {np.abs(lg - logits_chip).max():.2e}; "
              f"same argmax {np.mean(lg.argmax(1) == logits_chip.argmax(1)):.4f}")
    print(f"weights: {path}")


if __name__ == "__main__":
    main()
