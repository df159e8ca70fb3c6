"""Compare aersim (preset ``loihi_calibrated``, ``timestep`` mode) with SANA-FE, same networks.

SANA-FE (Boyle et al., IEEE TCAD 2025; PyPI ``sanafe``, GPL) is used here only as an outside
program: the bench builds each network through its Python API, runs it on the Loihi architecture
file bundled in the installed package, and reads its results. Nothing of it is part of aersim.

Workloads (identical in both)
-----------------------------
* ``random_n{n}_k{k}``: ``n`` LIF neurons, each with ``k`` outgoing synapses to distinct random
  targets, one-step delay, integer weights (excitatory and inhibitory), a fraction driven above
  threshold by a bias. aersim: Euler LIF with ``tau_s = 2 dt`` (``v <- v/2 + v_inf/2 + input``);
  SANA-FE: ``leak_decay 0.5``, ``bias = v_inf / 2``, ``force_update`` (every neuron updated every
  step; aersim's comparison chip then prices no idle neuron). Weights, biases and thresholds are
  multiples of 16, so SANA-FE's 1/64 fixed-point grid does not bite. Neuron blocks on all 128
  cores; aersim core ``c`` is put on the SANA-FE core of the same physical tile and offset.
* ``layered_conv_dense``: a 3x3 convolution, a dense and a sparse projection between three
  memoryless layers (``leak_decay`` 0) on 4 tiles; it has idle neurons, three synapse prices and
  the barrier of 4 tiles. SANA-FE maps a connection to the synapse unit its postsynaptic group
  names, so each group names the unit of the projection into it.

The comparison chip is ``loihi_calibrated`` without Loihi's fan-in/fan-out limits (SANA-FE does
not enforce them; the 10,000-neuron network needs ~5,500 input axons per core).

Output: a table (spike mismatches, whether every operation count is identical, energy ratio,
mean step time of both, and the ratio of the mean and of the 95th percentile of the per-step
times, aersim over SANA-FE's "detailed" model), then one JSON line per network. The timing
semantics are in ``docs/hardware.md``: receive concurrent with the update pass, the flow
estimate of network delay and sender blocking, column-major send order, the sync table by tiles
in use. SANA-FE's detailed run of 10,000 neurons takes about two minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from aersim.hardware import load_chip, map_network
from aersim.models import LIFParams, Network
from aersim.simcore.engine.build import build_chip
from aersim.simcore.run.config import RunConfig
from aersim.simcore.run.simulation import Simulation

try:
    import sanafe
except ImportError:  # the comparison needs the outside program; aersim itself does not
    sanafe = None

DT_PS = 100_000_000          # 0.1 ms algorithmic step (irrelevant to hardware time)
V_TH = 256.0                 # threshold, a multiple of 64 (SANA-FE's fixed-point grid)
WIDTH, HEIGHT, CORES_PER_TILE = 8, 4, 4
N_CORES = WIDTH * HEIGHT * CORES_PER_TILE


def make_network(n: int, fan_out: int, seed: int, bias_fraction: float, w_exc: int,
                 w_inh: int, p_inh: float):
    """The random network as plain arrays.

    Returns
    -------
    pre, post : ndarray, int64, (n * fan_out,)
        Synapses (local ids), sorted by ``pre``; the targets of one neuron are distinct.
    weight : ndarray, float64, (n * fan_out,)
        Integers: ``w_exc`` or ``-w_inh``.
    v_inf : ndarray, float64, (n,)
        Resting level each neuron relaxes to; above ``V_TH`` for bias-driven neurons, else 0.
    """
    rng = np.random.default_rng(seed)
    post = np.concatenate([rng.choice(n, fan_out, replace=False) for _ in range(n)])
    pre = np.repeat(np.arange(n, dtype=np.int64), fan_out)
    weight = np.where(rng.random(n * fan_out) < p_inh, -float(w_inh), float(w_exc))
    driven = rng.random(n) < bias_fraction
    # v_inf in {320, 384, ..., 768}: fires every 2 or 3 steps when alone.
    v_inf = np.where(driven, 64.0 * rng.integers(5, 13, n), 0.0)
    return pre, post.astype(np.int64), weight, v_inf


def core_blocks(n: int) -> np.ndarray:
    """aersim core of every neuron: contiguous blocks over all cores, int64 ``(n,)``."""
    return np.arange(n, dtype=np.int64) * N_CORES // n


def sanafe_core_id(aersim_core: np.ndarray) -> np.ndarray:
    """SANA-FE core on the same physical tile (x, y) and offset as each aersim core.

    aersim: tile = core // 4, x = tile % width, y = tile // width (row by row).
    SANA-FE (its arch.cpp): x = tile // height, y = tile % height (column by column).
    """
    tile, offset = aersim_core // CORES_PER_TILE, aersim_core % CORES_PER_TILE
    x, y = tile % WIDTH, tile // WIDTH
    return (x * HEIGHT + y) * CORES_PER_TILE + offset


# ----------------------------------------------------------------------------------------------
# aersim


def comparison_chip(idle: bool = True):
    """``loihi_calibrated`` without Loihi's fan-in/fan-out limits, which SANA-FE does not
    enforce (a 10,000-neuron random network with 100 synapses per neuron needs ~5,500 input
    axons per core, beyond Loihi's 4,096). ``idle=False``: every neuron pays a full update,
    as SANA-FE's ``force_update`` does."""
    chip = load_chip("loihi_calibrated")
    core = replace(chip.core, max_fan_in=0, max_fan_out=0)
    if not idle:
        energy = dict(core.energy_pj, neuron_idle=core.energy_pj["neuron_update"])
        latency = dict(core.latency_ps, neuron_idle=core.latency_ps["neuron_update"])
        core = replace(core, energy_pj=energy, latency_ps=latency,
                       priced=tuple(k for k in core.priced if k != "neuron_idle"))
    return replace(chip, core=core)


def simulate_aersim(net, core_of, steps, idle: bool = True):
    """Run ``net`` on :func:`comparison_chip` with neurons on ``core_of``; a dict of results."""
    chip = comparison_chip(idle)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mapping.npy"
        np.save(path, core_of)
        mapping = map_network(net, chip, str(path))
    sim = Simulation(net, chip, mapping=mapping, config=RunConfig(mode="timestep", dt_ps=DT_PS))
    # The network tells each synapse's storage (sparse, dense, conv), priced apart.
    sim.chip_tables = build_chip(chip, sim.neurons, sim.syn, net)
    t0 = time.perf_counter()
    res = sim.run(duration_ps=steps * DT_PS)
    wall = time.perf_counter() - t0
    ops = res.op_totals()
    return {
        "energy_j": res.ledger.total_j,
        "step_latency_s": res.step_duration_ps * 1e-12,
        "ops": {"neuron_updates": ops["neuron_update"], "neuron_idle": ops["neuron_idle"],
                "spikes": ops["spike_out"] + ops["input_spike"],
                "messages": ops["message_out"],
                "synaptic_ops": ops["synaptic_op"] + ops["synaptic_op_dense"]
                + ops["synaptic_op_conv"],
                "hops": ops["hop_east"] + ops["hop_west"] + ops["hop_north"] + ops["hop_south"]},
        "wall_s": wall,
        "spike_steps": (res.spikes_t_ps // DT_PS).astype(np.int64),
        "spike_neurons": res.spikes_neuron.astype(np.int64),
    }


def run_aersim(n, pre, post, weight, v_inf, steps):
    dt_s = DT_PS * 1e-12
    net = Network()
    net.add_population("pop", n, LIFParams(tau_s=2.0 * dt_s, v_th=V_TH, v_leak=0.0, v_reset=0.0,
                                           r=1.0, bias=v_inf, integrator="euler"))
    net.connect("pop", "pop", pre, post, weight.astype(np.float32), DT_PS)
    return simulate_aersim(net, core_blocks(n), steps, idle=False)


# ----------------------------------------------------------------------------------------------
# SANA-FE


def build_sanafe(n, pre, post, weight, v_inf):
    arch = sanafe.load_loihi()
    cores = arch.cores()
    net = sanafe.Network()
    group = net.create_neuron_group(
        "pop", n, {"threshold": V_TH, "reset": 0.0, "leak_decay": 0.5, "force_update": True},
        default_synapse_hw_name="loihi_sparse_synapse", soma_hw_name="loihi_lif",
        log_spikes=True)
    target = sanafe_core_id(core_blocks(n))
    neurons = group.neurons
    for i in range(n):
        neuron = neurons[i]
        if v_inf[i] != 0.0:
            neuron.set_attributes(model_attributes={"bias": float(v_inf[i] / 2.0)})
        neuron.map_to_core(cores[int(target[i])])
    group.connect_neurons_sparse(group, {"weight": [float(w) for w in weight]},
                                 list(zip(pre.tolist(), post.tolist(), strict=True)))
    return arch, net


def simulate_sanafe(arch, net, steps, timing_model, offsets=None):
    """Run a built SANA-FE network; spikes as (step, neuron) with neuron ids from
    ``offsets[group] + offset`` (one group ``pop`` when ``offsets`` is None)."""
    offsets = offsets or {"pop": 0}
    chip = sanafe.SpikingChip(arch)
    chip.load(net)
    t0 = time.perf_counter()
    r = chip.sim(steps, timing_model=timing_model, spike_trace=True, perf_trace=True,
                 processing_threads=1)
    wall = time.perf_counter() - t0
    perf = r["perf_trace"]
    steps_k, neurons_k = [], []
    for k, fired in enumerate(r["spike_trace"]):
        for neuron in fired:
            steps_k.append(k)
            neurons_k.append(offsets[_group(neuron)] + _offset(neuron))
    n_updated = int(sum(perf["updated"]))
    return {
        "energy_j": r["energy"]["total"],
        "step_latency_s": np.asarray(perf["sim_time"], dtype=np.float64),
        "ops": {"neuron_updates": n_updated, "spikes": int(r["neurons_fired"]),
                "messages": int(r["packets_sent"]), "synaptic_ops": int(r["spikes"]),
                "hops": int(sum(perf["hops"]))},
        "wall_s": wall,
        "spike_steps": np.asarray(steps_k, dtype=np.int64),
        "spike_neurons": np.asarray(neurons_k, dtype=np.int64),
    }


def run_sanafe(n, pre, post, weight, v_inf, steps, timing_model):
    arch, net = build_sanafe(n, pre, post, weight, v_inf)
    return simulate_sanafe(arch, net, steps, timing_model)


def _group(neuron) -> str:
    """Group name from a spike-trace entry."""
    for name in ("group_name", "parent_group_name", "group"):
        if hasattr(neuron, name):
            return str(getattr(neuron, name))
    return "pop"


def _offset(neuron) -> int:
    """Neuron offset within its group from a spike-trace entry (object or mapping)."""
    for name in ("offset", "neuron_offset"):
        if hasattr(neuron, name):
            return int(getattr(neuron, name))
    return int(neuron["offset"])


# ----------------------------------------------------------------------------------------------
# Layered networks (structured: a convolution and a dense layer), built alike on both sides.


def layered_network(seed: int = 3, side: int = 12, kernels: int = 6, n_out: int = 16,
                    steps_memory: bool = False):
    """A three-layer network as plain data, with one projection of each storage kind.

    ``src`` (``side`` x ``side`` LIF neurons driven by biases) -> 3x3 convolution with
    ``kernels`` output channels -> ``conv`` ((kernels, side-2, side-2)) -> all-to-all ->
    ``out`` (``n_out``) -> sparse random (10 per neuron) -> ``src``. All weights are positive
    multiples of 16 (no two inputs can cancel) and every neuron is memoryless
    (``leak_decay`` 0; ``v <- v_inf + input``) unless ``steps_memory``, so a neuron with no
    input and no bias is at rest, and idle, in both simulators. Returns ``(layers, projections,
    core_of)`` where ``core_of`` puts ``src`` on tile 0, ``conv`` on tiles 1-2 and ``out`` on
    tile 4 (4 tiles in use).
    """
    from aersim.models.conv import ConvGeometry

    rng = np.random.default_rng(seed)
    n_src = side * side
    geo = ConvGeometry(in_shape=(1, side, side), kernel=(kernels, 1, 3, 3))
    n_conv = int(np.prod(geo.out_shape))
    kernel = 16.0 * rng.integers(1, 6, size=geo.kernel)
    layers = [
        {"name": "src", "size": n_src, "v_inf": 16.0 * rng.integers(0, 24, n_src) *
         (rng.random(n_src) < 0.5)},
        {"name": "conv", "size": n_conv, "v_inf": np.zeros(n_conv)},
        {"name": "out", "size": n_out, "v_inf": np.zeros(n_out)},
    ]
    pre_c, post_c, w_c = geo.unroll(kernel)
    pre_d = np.repeat(np.arange(n_conv), n_out)
    post_d = np.tile(np.arange(n_out), n_conv)
    w_d = 16.0 * rng.integers(1, 3, size=pre_d.size)
    pre_s = np.repeat(np.arange(n_out), 10)
    post_s = np.concatenate([rng.choice(n_src, 10, replace=False) for _ in range(n_out)])
    w_s = np.full(pre_s.size, 64.0)
    projections = [
        {"pre": "src", "post": "conv", "kind": "conv", "geometry": geo, "kernel": kernel,
         "pre_idx": pre_c, "post_idx": post_c, "weight": w_c.astype(np.float64)},
        {"pre": "conv", "post": "out", "kind": "dense", "pre_idx": pre_d, "post_idx": post_d,
         "weight": w_d},
        {"pre": "out", "post": "src", "kind": "sparse", "pre_idx": pre_s, "post_idx": post_s,
         "weight": w_s},
    ]
    core_of = np.concatenate([
        np.arange(n_src) * 4 // n_src,                    # tile 0: cores 0-3
        4 + np.arange(n_conv) * 8 // n_conv,              # tiles 1-2: cores 4-11
        np.full(n_out, 16),                               # tile 4: core 16
    ]).astype(np.int64)
    for layer in layers:
        layer["leak"] = 0.5 if steps_memory else 0.0
    return layers, projections, core_of


def dvs_network(scale_bias: float = 1.0):
    """The DVS-gesture CNN of SANA-FE's example data (``sanafe/examples/dvs_challenge.npz``):
    a 32x32 frame -> 3x3 convolutions with 16 (stride 2), 32, 64 and 11 kernels -> dense 11.

    The frame (0..255) drives the first layer as biases; every layer is a leaky integrator
    (``leak_decay`` 0.5) with the file's integer thresholds and weights; SANA-FE's
    ``force_update`` (no idle neurons). Synapses are unrolled from aersim's convolution
    geometry and given to SANA-FE as lists, so both run the same connections. Returns
    ``(layers, projections, core_of)`` with the 18,667 neurons in blocks over all 128 cores.
    """
    from aersim.models.conv import ConvGeometry

    with np.load(Path(sanafe.__file__).parent / "examples" / "dvs_challenge.npz") as d:
        data = {k: d[k] for k in d.files}
    th = data["thresholds"].astype(np.float64)
    shape = (1, 32, 32)
    layers = [{"name": "frame", "size": 1024, "v_inf": 2.0 * scale_bias * data["inputs"],
               "v_th": th[0]}]
    projections = []
    for i, (name, stride) in enumerate((("conv1", 2), ("conv2", 1), ("conv3", 1),
                                        ("conv4", 1))):
        w = data[name]                                   # (kW, kH, C_in, C_out)
        kernel = np.transpose(w, (3, 2, 1, 0)).astype(np.float64)   # (C_out, C_in, kH, kW)
        geo = ConvGeometry(in_shape=shape, kernel=kernel.shape, stride=(stride, stride))
        pre, post, wv = geo.unroll(kernel)
        size = int(np.prod(geo.out_shape))
        layers.append({"name": name, "size": size, "v_inf": np.zeros(size), "v_th": th[i + 1]})
        projections.append({"pre": layers[-2]["name"], "post": name, "kind": "conv",
                            "geometry": geo, "kernel": kernel, "pre_idx": pre,
                            "post_idx": post, "weight": wv.astype(np.float64)})
        shape = geo.out_shape
    dense = data["dense1"]                               # (891, 11)
    n_in, n_out = dense.shape
    layers.append({"name": "dense1", "size": n_out, "v_inf": np.zeros(n_out), "v_th": th[5]})
    projections.append({"pre": "conv4", "post": "dense1", "kind": "dense",
                        "pre_idx": np.repeat(np.arange(n_in), n_out),
                        "post_idx": np.tile(np.arange(n_out), n_in),
                        "weight": dense.ravel().astype(np.float64)})
    for layer in layers:
        layer["leak"] = 0.5
        layer["force_update"] = True
    n = sum(layer["size"] for layer in layers)
    return layers, projections, np.arange(n, dtype=np.int64) * N_CORES // n


def run_layered_aersim(layers, projections, core_of, steps):
    from aersim.models.conv import ConvProjection

    dt_s = DT_PS * 1e-12
    net = Network()
    for layer in layers:
        # Euler LIF: v <- v (1 - dt/tau) + v_inf dt/tau + input; leak 0 is tau = dt.
        tau = dt_s / (1.0 - layer["leak"])
        bias = layer["v_inf"] * (1.0 - layer["leak"])
        net.add_population(layer["name"], layer["size"], LIFParams(
            tau_s=tau, v_th=layer.get("v_th", V_TH), v_leak=0.0, v_reset=0.0, r=1.0,
            bias=bias / (1.0 - layer["leak"]), integrator="euler"))
    for i, pj in enumerate(projections):
        if pj["kind"] == "conv":
            net.add_projection(ConvProjection(f"p{i}", pj["pre"], pj["post"],
                                              pj["kernel"].astype(np.float32), pj["geometry"],
                                              np.int64(DT_PS)))
        else:
            net.connect(pj["pre"], pj["post"], pj["pre_idx"], pj["post_idx"],
                        pj["weight"].astype(np.float32), DT_PS, name=f"p{i}")
    forced = any(layer.get("force_update", False) for layer in layers)
    return simulate_aersim(net, core_of, steps, idle=not forced)


SANAFE_SYNAPSE = {"sparse": "loihi_sparse_synapse", "dense": "loihi_dense_synapse",
                  "conv": "loihi_conv_synapse"}


def build_layered_sanafe(layers, projections, core_of):
    arch = sanafe.load_loihi()
    cores = arch.cores()
    net = sanafe.Network()
    groups, offsets, start = {}, {}, 0
    # SANA-FE maps a connection to the synapse unit its *postsynaptic* group names.
    kind_of = {pj["post"]: pj["kind"] for pj in projections}
    target = sanafe_core_id(core_of)
    for layer in layers:
        g = net.create_neuron_group(
            layer["name"], layer["size"],
            {"threshold": float(layer.get("v_th", V_TH)), "reset": 0.0,
             "leak_decay": layer["leak"], "force_update": layer.get("force_update", False)},
            default_synapse_hw_name=SANAFE_SYNAPSE[kind_of.get(layer["name"], "sparse")],
            soma_hw_name="loihi_lif", log_spikes=True)
        for i in range(layer["size"]):
            neuron = g.neurons[i]
            if layer["v_inf"][i] != 0.0:
                bias = float(layer["v_inf"][i] * (1.0 - layer["leak"]))
                neuron.set_attributes(model_attributes={"bias": bias})
            neuron.map_to_core(cores[int(target[start + i])])
        groups[layer["name"]] = g
        offsets[layer["name"]] = start
        start += layer["size"]
    for pj in projections:
        groups[pj["pre"]].connect_neurons_sparse(
            groups[pj["post"]], {"weight": [float(w) for w in pj["weight"]]},
            list(zip(pj["pre_idx"].tolist(), pj["post_idx"].tolist(), strict=True)))
    return arch, net, offsets


def compare_layered(case, steps, steps_memory=False, network=None, **kw) -> dict:
    layers, projections, core_of = network if network is not None else \
        layered_network(steps_memory=steps_memory, **kw)
    a = run_layered_aersim(layers, projections, core_of, steps)
    arch, net, offsets = build_layered_sanafe(layers, projections, core_of)
    d = simulate_sanafe(arch, net, steps, "detailed", offsets)
    return agreement(case, a, d)


# ----------------------------------------------------------------------------------------------


def spike_set(side) -> set:
    return set(zip(side["spike_steps"].tolist(), side["spike_neurons"].tolist(), strict=True))


def agreement(case, a, d, simple=None) -> dict:
    """Compare an aersim run ``a`` with SANA-FE runs (``d`` detailed, ``simple`` optional)."""
    sa, sd = spike_set(a), spike_set(d)
    la, ld = a["step_latency_s"], d["step_latency_s"]
    ops_a, ops_d = a["ops"], d["ops"]
    same_ops = all(ops_a[k] == ops_d[k] for k in ("neuron_updates", "spikes", "messages",
                                                    "synaptic_ops", "hops"))
    out = {
        "case": case, "spikes": len(sa), "spike_mismatches": len(sa ^ sd),
        "counts_identical": bool(same_ops),
        "energy_ratio": a["energy_j"] / d["energy_j"],
        "latency_ratio_mean": float(la.mean() / ld.mean()),
        "latency_ratio_p95": float(np.percentile(la, 95) / np.percentile(ld, 95)),
        "aersim": {"energy_j": a["energy_j"], "step_latency_mean_s": float(la.mean()),
                   "ops": ops_a, "wall_s": round(a["wall_s"], 3)},
        "sanafe_detailed": {"energy_j": d["energy_j"], "step_latency_mean_s": float(ld.mean()),
                            "ops": ops_d, "wall_s": round(d["wall_s"], 3)},
    }
    if simple is not None:
        out["sanafe_simple"] = {"step_latency_mean_s": float(simple["step_latency_s"].mean())}
    return out


def compare(case, n, fan_out, steps, seed, args) -> dict:
    pre, post, weight, v_inf = make_network(n, fan_out, seed, args.bias_fraction, args.w_exc,
                                            args.w_inh, args.p_inh)
    a = run_aersim(n, pre, post, weight, v_inf, steps)
    detailed = run_sanafe(n, pre, post, weight, v_inf, steps, "detailed")
    simple = run_sanafe(n, pre, post, weight, v_inf, steps, "simple") if args.simple else None
    return agreement(case, a, detailed, simple)


def print_table(rows) -> None:
    print(f"{'case':<24}{'spikes':>8}{'mism.':>6}{'counts':>8}{'E ratio':>9}"
          f"{'t aersim us':>13}{'t SANA-FE us':>14}{'t mean':>8}{'t p95':>8}")
    for r in rows:
        print(f"{r['case']:<24}{r['spikes']:>8}{r['spike_mismatches']:>6}"
              f"{'same' if r['counts_identical'] else 'DIFF':>8}{r['energy_ratio']:>9.4f}"
              f"{r['aersim']['step_latency_mean_s'] * 1e6:>13.3f}"
              f"{r['sanafe_detailed']['step_latency_mean_s'] * 1e6:>14.3f}"
              f"{r['latency_ratio_mean']:>8.3f}{r['latency_ratio_p95']:>8.3f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--fan-out", type=int, default=100)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bias-fraction", type=float, default=0.1)
    ap.add_argument("--w-exc", type=int, default=32)
    ap.add_argument("--w-inh", type=int, default=48)
    ap.add_argument("--p-inh", type=float, default=0.5)
    ap.add_argument("--simple", action="store_true", help="also run SANA-FE's simple model")
    ap.add_argument("--dvs", action="store_true", help="also the DVS-gesture CNN (minutes)")
    ap.add_argument("--dvs-steps", type=int, default=40)
    ap.add_argument("--dvs-drive", type=float, default=4.0,
                    help="scale of the frame's bias drive (1: the file's values)")
    args = ap.parse_args(argv)
    if sanafe is None:
        print("SANA-FE is not installed: `pip install sanafe` (GPL; used only as an outside "
              "program by this bench)", file=sys.stderr)
        return 2
    rows = []
    for n in args.sizes:
        case = f"random_n{n}_k{args.fan_out}"
        rows.append(compare(case, n, args.fan_out, args.steps, args.seed, args))
    rows.append(compare_layered("layered_conv_dense", args.steps))
    if args.dvs:
        rows.append(compare_layered("dvs_gesture_cnn", args.dvs_steps,
                                    network=dvs_network(args.dvs_drive)))
    print_table(rows)
    for r in rows:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
