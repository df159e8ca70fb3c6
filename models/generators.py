"""Seeded generators of test and benchmark networks.

Every generator takes a ``seed`` and builds the same network, bit for bit, from the same seed
(numpy PCG64). Times are picoseconds; voltages are in the units of the neuron parameters (mV for
the benchmark networks).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from aersim.models.errors import NetworkError
from aersim.models.memory import GENERATE_BYTES_PER_SYNAPSE, require_bytes
from aersim.models.network import Network, Projection, synapse_arena
from aersim.models.neurons.lif import LIFParams
from aersim.models.neurons.source import InputParams

PS_PER_MS = 1_000_000_000


def brunel_network(n_exc: int = 8000, n_inh: int = 2000, epsilon: float = 0.1,
                   j_mv: float = 0.1, g: float = 5.0, delay_ms: float = 1.5,
                   seed: int = 0) -> Network:
    """Brunel (2000) sparse balanced network, the ``brunel`` workload of performance.md §2A.

    LIF with delta synapses: tau 20 ms, threshold 20 mV, reset 10 mV, refractory 2 ms,
    V(0) ~ U(0, 20 mV). Fixed in-degree ``epsilon * n_exc`` from E and ``epsilon * n_inh`` from I,
    partners drawn uniformly with replacement (multapses and autapses allowed), weights ``j_mv``
    (E) and ``-g * j_mv`` (I), one delay for every synapse. The external Poisson drive is a
    stimulus (``simcore.PoissonDrive``), not part of the network.
    """
    rng = np.random.default_rng(seed)
    n = n_exc + n_inh
    c_e, c_i = int(round(epsilon * n_exc)), int(round(epsilon * n_inh))
    n_syn = n * (c_e + c_i)
    require_bytes(n_syn * GENERATE_BYTES_PER_SYNAPSE,
                  f"the Brunel network ({n:,} neurons, {n_syn / 1e6:.1f} M synapses)",
                  "use fewer neurons or a smaller epsilon")
    params = LIFParams(tau_s=0.020, v_th=20.0, v_leak=0.0, v_reset=10.0, t_ref_s=0.002,
                       v_init=rng.uniform(0.0, 20.0, n))
    net = Network(metadata={"generator": "brunel", "seed": seed, "n_exc": n_exc,
                            "n_inh": n_inh, "epsilon": epsilon, "j_mv": j_mv, "g": g,
                            "delay_ms": delay_ms})
    net.add_population("exc", n_exc, _slice_params(params, 0, n_exc))
    net.add_population("inh", n_inh, _slice_params(params, n_exc, n))
    delay = int(round(delay_ms * PS_PER_MS))
    pairs = [(pre, n_pre, c, w, post, n_post)
             for pre, n_pre, c, w in (("exc", n_exc, c_e, j_mv), ("inh", n_inh, c_i, -g * j_mv))
             for post, n_post in (("exc", n_exc), ("inh", n_inh))]
    arena = synapse_arena([n_post * c for _, _, c, _, _, n_post in pairs])
    for (pre, n_pre, c, w, post, n_post), out in zip(pairs, arena, strict=True):
        _add_fixed_indegree(net, rng, pre, post, n_pre, n_post, c, delay, weight=w, out=out)
    net.inputs, net.outputs = [], ["exc", "inh"]
    return net


def ff_network(n_input: int = 1000, layer_size: int = 2000, n_layers: int = 3,
               fan_in: int = 200, w_mean_mv: float = 0.175, w_std_mv: float = 1.0,
               delay_ms: float = 1.0, seed: int = 0) -> Network:
    """Sparse feed-forward layered network, the ``ff`` workload of performance.md §2B.

    ``n_input`` input neurons (driven by a Poisson stimulus at run time) feed ``n_layers`` LIF
    layers of ``layer_size``; every neuron has a fixed in-degree ``fan_in`` from the previous
    population, weights N(``w_mean_mv``, ``w_std_mv``), one delay for all synapses.
    """
    rng = np.random.default_rng(seed)
    n_syn = n_layers * layer_size * fan_in
    require_bytes(n_syn * GENERATE_BYTES_PER_SYNAPSE,
                  f"the feed-forward network ({n_syn / 1e6:.1f} M synapses)",
                  "use smaller layers, fewer layers or a smaller fan_in")
    net = Network(metadata={"generator": "ff", "seed": seed, "fan_in": fan_in})
    net.add_population("input", n_input, InputParams())
    prev, n_prev = "input", n_input
    delay = int(round(delay_ms * PS_PER_MS))
    arena = synapse_arena([layer_size * fan_in] * n_layers)
    for k in range(1, n_layers + 1):
        name = f"L{k}"
        net.add_population(name, layer_size, LIFParams(
            tau_s=0.020, v_th=20.0, v_reset=10.0, t_ref_s=0.002,
            v_init=rng.uniform(0.0, 20.0, layer_size)))
        _add_fixed_indegree(net, rng, prev, name, n_prev, layer_size, fan_in, delay,
                            normal=(w_mean_mv, w_std_mv), out=arena[k - 1])
        prev, n_prev = name, layer_size
    net.inputs, net.outputs = ["input"], [prev]
    return net


def random_network(n_neurons: int = 200, n_inputs: int = 20, p_connect: float = 0.1,
                   frac_inhibitory: float = 0.2, w_exc: float = 0.2, w_inh: float = -0.8,
                   delay_range_ms: tuple = (0.5, 3.0), t_ref_ms: float = 1.0,
                   reset: str = "value", integrator: str = "exact", bias: float = 0.0,
                   seed: int = 0) -> Network:
    """A small random recurrent network with inputs, inhibition and heterogeneous delays.

    ``n_inputs`` input neurons project to the LIF population with probability ``p_connect``; the
    LIF population is recurrently connected with the same probability. A fraction
    ``frac_inhibitory`` of LIF neurons are inhibitory. Weights are jittered by ±20 %; delays are
    uniform in ``delay_range_ms``, rounded to whole 0.1 ms steps so that the same network also
    runs in ``timestep`` mode at dt = 0.1 ms.
    """
    if not 0.0 < p_connect <= 1.0:
        raise NetworkError(f"p_connect must be in (0, 1], got {p_connect}")
    n_syn = p_connect * (n_inputs + n_neurons) * n_neurons      # expected
    require_bytes(n_syn * (GENERATE_BYTES_PER_SYNAPSE + 8),      # + its own int64 delay
                  f"the random network ({n_neurons:,} neurons, {n_syn / 1e6:.1f} M synapses)",
                  "use fewer neurons or a smaller p_connect")
    rng = np.random.default_rng(seed)
    net = Network(metadata={"generator": "random", "seed": seed})
    net.add_population("input", n_inputs, InputParams())
    net.add_population("neurons", n_neurons, LIFParams(
        tau_s=0.010, v_th=1.0, v_reset=0.0, t_ref_s=t_ref_ms * 1e-3, reset=reset,
        integrator=integrator, bias=bias, v_init=rng.uniform(0.0, 0.5, n_neurons)))
    inhibitory = rng.random(n_neurons) < frac_inhibitory
    step_ps = PS_PER_MS // 10
    lo, hi = (int(round(d * 10)) for d in delay_range_ms)
    # Streamed into the CSR arrays in blocks; the draws are those of the coordinate lists
    # (pairs, then every weight jitter, then every delay), each list already in CSR order.
    for pre, n_pre in (("input", n_inputs), ("neurons", n_neurons)):
        indptr, indices = _bernoulli_csr(rng, n_pre, n_neurons, p_connect)
        n_syn = indices.shape[0]
        weights = np.empty(n_syn, dtype=np.float32)
        for a in range(0, n_syn, _BLOCK_SYNAPSES):
            b = min(a + _BLOCK_SYNAPSES, n_syn)
            src = np.searchsorted(indptr, np.arange(a, b), side="right") - 1
            base = np.full(b - a, w_exc) if pre == "input" else \
                np.where(inhibitory[src], w_inh, w_exc)
            weights[a:b] = base * rng.uniform(0.8, 1.2, b - a)
        delays = np.empty(n_syn, dtype=np.int64)
        for a in range(0, n_syn, _BLOCK_SYNAPSES):
            b = min(a + _BLOCK_SYNAPSES, n_syn)
            delays[a:b] = rng.integers(lo, hi + 1, b - a) * step_ps
        net.add_projection(Projection(f"{pre}->neurons", pre, "neurons", indptr, indices,
                                      weights, delays))
    net.inputs, net.outputs = ["input"], ["neurons"]
    return net


#: Synapses drawn per block while a fixed in-degree projection is generated (bounds the
#: temporaries: about 16 bytes each).
_BLOCK_SYNAPSES = 1 << 20


def _add_fixed_indegree(net: Network, rng, pre: str, post: str, n_pre: int, n_post: int,
                        c: int, delay_ps: int, weight: float | None = None,
                        normal: tuple | None = None, out: tuple | None = None) -> None:
    """Add projection ``pre->post``: every post neuron draws ``c`` partners uniformly from ``pre``.

    Draws the same numbers in the same order as ``rng.integers(0, n_pre, n_post * c)`` (partner
    of synapse ``k``, whose post neuron is ``k // c``) followed, for ``normal=(mean, std)``, by
    ``rng.normal(mean, std, n_post * c)`` (its weight; else every weight is ``weight``), and
    stores them as ``Network.connect`` would: CSR over the pre neurons, each row in synapse
    order. It streams instead of holding the coordinate lists: a first pass counts the partners
    of every pre neuron, a second pass draws the partners again from the same generator state
    and writes each synapse straight into its CSR slot (int32 index, float32 weight), so the
    peak is the final arrays plus one block. ``out``: the ``(indices, weights)`` views of a
    :func:`~aersim.models.network.synapse_arena` to fill (``n_post * c`` each), else new arrays.
    """
    n_syn = n_post * c
    rows_per_block = max(1, _BLOCK_SYNAPSES // max(c, 1))
    blocks = [(lo, min(lo + rows_per_block, n_post)) for lo in range(0, n_post, rows_per_block)]
    replay = np.random.Generator(type(rng.bit_generator)())
    replay.bit_generator.state = rng.bit_generator.state
    counts = np.zeros(n_pre, dtype=np.int64)
    for lo, hi in blocks:
        counts += np.bincount(rng.integers(0, n_pre, size=(hi - lo) * c, dtype=np.int64),
                              minlength=n_pre)
    indptr = np.zeros(n_pre + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    del counts
    indices, weights = out if out is not None else \
        (np.empty(n_syn, dtype=np.int32), np.empty(n_syn, dtype=np.float32))
    if normal is None:
        weights[:] = np.float32(weight)
    cursor = indptr[:-1].copy()
    for lo, hi in blocks:
        src = replay.integers(0, n_pre, size=(hi - lo) * c, dtype=np.int64)
        w = rng.normal(normal[0], normal[1], size=src.shape[0]).astype(np.float32) \
            if normal is not None else np.zeros(0, dtype=np.float32)
        _scatter_block_kernel(cursor, indices, weights, src, w, lo, c)
    net.add_projection(Projection(f"{pre}->{post}", pre, post, indptr, indices, weights,
                                  np.asarray(delay_ps, dtype=np.int64)))


@njit(cache=True)
def _scatter_block_kernel(cursor, indices, weights, src, w, post_lo, c):
    """Write synapse ``k`` of a block (pre ``src[k]``, post ``post_lo + k // c``, weight
    ``w[k]`` unless ``w`` is empty) into the next free slot of its CSR row."""
    has_w = w.shape[0] > 0
    for k in range(src.shape[0]):
        at = cursor[src[k]]
        indices[at] = post_lo + k // c
        if has_w:
            weights[at] = w[k]
        cursor[src[k]] = at + 1


def _bernoulli_csr(rng, n_pre: int, n_post: int, p: float):
    """Every (pre, post) pair independently with probability ``p``, as CSR over the pre neurons:
    ``(indptr int64 (n_pre + 1,), indices int32)``, targets ascending within a row.

    Small networks draw a dense mask (so their realisation never changes); large ones draw a
    binomial count per presynaptic neuron and that many distinct targets, without ever holding
    an ``n_pre x n_post`` array.
    """
    indptr = np.zeros(n_pre + 1, dtype=np.int64)
    if n_pre * n_post <= 4_000_000:
        src, dst = np.nonzero(rng.random((n_pre, n_post)) < p)
        np.cumsum(np.bincount(src, minlength=n_pre), out=indptr[1:])
        return indptr, dst.astype(np.int32)
    counts = rng.binomial(n_post, p, size=n_pre)
    np.cumsum(counts, out=indptr[1:])
    indices = np.empty(int(indptr[-1]), dtype=np.int32)
    for i, c in enumerate(counts if indices.size else ()):   # no draws when nothing connects
        indices[indptr[i]:indptr[i + 1]] = np.sort(rng.choice(n_post, c, replace=False))
    return indptr, indices


def _slice_params(params: LIFParams, start: int, stop: int) -> LIFParams:
    """The parameters of neurons ``start:stop`` of a population described by ``params``."""
    fields = {}
    for name, arr in params.__dict__.items():
        if isinstance(arr, np.ndarray) and arr.ndim == 1 and arr.shape[0] > 1:
            fields[name] = arr[start:stop]
        else:
            fields[name] = arr
    return LIFParams(**fields)


#: Unit steps (dx, dy) of the four motion directions, image coordinates (y grows downwards).
MOTION_DIRECTIONS = {"right": (1, 0), "left": (-1, 0), "down": (0, 1), "up": (0, -1)}


def direction_network(width: int = 32, height: int = 32, shift_px: int = 2,
                      speed_px_s: float = 60.0, w_pixel: float = 0.35, w_out: float = 0.05,
                      tau_ms: float = 2.0, seed: int = 0) -> Network:
    """Direction-selective network for an event camera, built on synaptic delays.

    A Hassenstein-Reichardt / Barlow-Levick correlator per pixel and direction: the detector of
    direction ``(dx, dy)`` at pixel ``(x, y)`` receives the events of pixel ``(x, y)`` at once
    and those of the pixel ``shift_px`` behind it, ``(x - dx s, y - dy s)``, delayed by
    ``s / speed_px_s``. An edge moving that way at that speed makes both arrive together and the
    detector (a LIF neuron needing both inputs) fires; the opposite motion separates them by
    twice the delay. Four output neurons sum their direction's detectors.

    Populations: ``retina`` (input, shape ``(2, height, width)``: OFF and ON channels),
    ``ds_right``, ``ds_left``, ``ds_down``, ``ds_up`` (shape ``(height, width)``) and
    ``direction`` (4 neurons, in the order above). Thresholds are 1; ``w_pixel`` < 1 per input.
    """
    delay_ps = int(round(shift_px / speed_px_s * 1e12 / 1e8)) * 100_000_000  # whole 0.1 ms steps
    net = Network(metadata={"generator": "direction", "seed": seed, "width": width,
                            "height": height, "shift_px": shift_px, "speed_px_s": speed_px_s,
                            "delay_ps": delay_ps, "directions": list(MOTION_DIRECTIONS)})
    net.add_population("retina", 2 * width * height, InputParams(), shape=(2, height, width))
    lif = LIFParams(tau_s=tau_ms * 1e-3, v_th=1.0, v_reset=0.0, t_ref_s=1e-3)
    yy, xx = np.mgrid[0:height, 0:width]
    for name, (dx, dy) in MOTION_DIRECTIONS.items():
        pop = f"ds_{name}"
        net.add_population(pop, width * height, lif, shape=(height, width))
        x0, y0 = xx - dx * shift_px, yy - dy * shift_px
        ok = (x0 >= 0) & (x0 < width) & (y0 >= 0) & (y0 < height)
        here = (yy * width + xx).ravel()
        behind = (y0 * width + x0)[ok]
        pre, post, delay = [], [], []
        for channel in (0, 1):
            base = channel * width * height
            pre += [base + here, base + behind]
            post += [here, here.reshape(height, width)[ok]]
            delay += [np.full(here.size, 100_000_000), np.full(behind.size, 100_000_000
                                                                + delay_ps)]
        net.connect("retina", pop, np.concatenate(pre), np.concatenate(post), w_pixel,
                    np.concatenate(delay), name=f"retina->{pop}")
    net.add_population("direction", 4, LIFParams(tau_s=0.02, v_th=1.0, v_reset=0.0))
    for k, name in enumerate(MOTION_DIRECTIONS):
        n = width * height
        net.connect(f"ds_{name}", "direction", np.arange(n), np.full(n, k), w_out,
                    100_000_000, name=f"ds_{name}->direction")
    net.inputs, net.outputs = ["retina"], ["direction"]
    return net
