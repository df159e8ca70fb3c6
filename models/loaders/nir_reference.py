"""A plain NumPy, time-stepped reference simulator of NIR graphs, under an import profile.

It reads the ``nir`` graph objects directly (not a lowered ``Network``), so comparing it with a
simulation of ``models.load_network``'s result checks the loader. It is written for clarity, not
speed.

Semantics (layer-synchronous, as NIRTorch): in step ``t`` nodes are evaluated in depth-first
order from the Input nodes; an edge that closes a cycle reads its source's output of step
``t - 1``; with ``layer_delay_steps = k > 0`` every edge leaving a neuron or Input node reads step
``t - k`` instead. Every signal has two parts that travel together through linear nodes: a held
part (biases, voltages of non-spiking neurons) and an impulsive part (spikes: a spike is
``spike_amplitude`` held for one step, area ``A = spike_amplitude * dt``). Neurons integrate the
held part as a current and the impulsive part as a kick of its area:

* LIF, Euler: ``v <- v + dt/tau (v_leak - v + r (h + s))``; exact:
  ``v <- v_inf + (v - v_inf) e^(-dt/tau) + r s dt/tau`` with ``v_inf = v_leak + r h``.
* IF / I: ``v <- v + r dt (h + s)``. LI: as LIF without threshold.
* CubaLI(F): current ``tau_syn di/dt = -i + w_in x``, membrane ``tau_mem dv/dt = v_leak - v + r i``;
  the profile's ``cuba_order`` says whether ``v`` sees this step's current.
* Threshold: ``z = (h + s > theta)``.

Spiking neurons test ``v > v_th`` and reset to ``v_reset`` or by subtracting ``v_th``. Before step
0 the network is at rest: delayed reads return each node's rest output (its biases propagated
with all neurons silent).
"""

from __future__ import annotations

import numpy as np

from aersim.models.errors import ModelError
from aersim.models.loaders.nir_graph import reaches_itself
from aersim.models.loaders.profiles import get_profile

_NEURONS = ("I", "IF", "LI", "LIF", "CubaLI", "CubaLIF", "Threshold")
_SPIKING = ("IF", "LIF", "CubaLIF", "Threshold")


def _arr(node, name, default=None):
    value = getattr(node, name, None)
    if value is None:
        if default is None:
            raise ModelError(f"reference: {type(node).__name__} node lacks field {name!r}")
        return np.asarray(default, dtype=np.float64)
    return np.asarray(value, dtype=np.float64)


def _inline(graph, prefix, nodes, kinds, edges, top):
    ports = {}
    for key, node in graph.nodes.items():
        name = prefix + key
        if type(node).__name__ == "NIRGraph":
            ports[key] = _inline(node, name + ".", nodes, kinds, edges, False)
        else:
            nodes[name] = node
            kind = type(node).__name__
            kinds[name] = "Pass" if (kind in ("Input", "Output") and not top) else kind
            ports[key] = (name, name)
    for a, b in graph.edges:
        edges.append((ports[a][1], ports[b][0]))
    if not top:
        i = [k for k, n in graph.nodes.items() if type(n).__name__ == "Input"][0]
        o = [k for k, n in graph.nodes.items() if type(n).__name__ == "Output"][0]
        return prefix + i, prefix + o
    return None


def _dfs(names, inputs, edges):
    succ = {n: sorted(b for a, b in edges if a == n) for n in names}
    mark, post, back = {}, [], set()

    def visit(n):
        mark[n] = "open"
        for m in succ[n]:
            if mark.get(m) == "open":
                back.add((n, m))
            elif m not in mark:
                visit(m)
        mark[n] = "done"
        post.append(n)

    for root in sorted(inputs) + sorted(set(names) - set(inputs)):
        if root not in mark:
            visit(root)
    return post[::-1], back


def _pair(v):
    a = np.atleast_1d(np.asarray(v)).astype(int).ravel()
    return (int(a[0]), int(a[0])) if a.size == 1 else (int(a[0]), int(a[1]))


def _conv2d(x, w, stride, pad, dil, groups):
    """Direct 2-d convolution of ``x (C, H, W)`` with zero padding ``pad (t, b, l, r)``."""
    c_in, h, wd = x.shape
    c_out, cpg, kh, kw = w.shape
    xp = np.zeros((c_in, h + pad[0] + pad[1], wd + pad[2] + pad[3]))
    xp[:, pad[0]:pad[0] + h, pad[2]:pad[2] + wd] = x
    ho = (xp.shape[1] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (xp.shape[2] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((c_out, ho, wo))
    opg = c_out // groups
    for g in range(groups):
        xs_g = xp[g * cpg:(g + 1) * cpg]
        for a in range(kh):
            for b in range(kw):
                r0, c0 = a * dil[0], b * dil[1]
                patch = xs_g[:, r0:r0 + stride[0] * (ho - 1) + 1:stride[0],
                             c0:c0 + stride[1] * (wo - 1) + 1:stride[1]]
                y[g * opg:(g + 1) * opg] += np.tensordot(w[g * opg:(g + 1) * opg, :, a, b],
                                                         patch, axes=(1, 0))
    return y


def _conv_apply(node, x_flat, in_shape):
    kind = type(node).__name__
    w = _arr(node, "weight")
    groups = int(np.asarray(node.groups).ravel()[0])
    if kind == "Conv1d":
        c_in = w.shape[1] * groups
        x = x_flat.reshape(c_in, 1, -1)
        w = w[:, :, None, :]
        stride, dil = (1, _pair(node.stride)[0]), (1, _pair(node.dilation)[0])
        padding = node.padding
        p = None if isinstance(padding, str) else (0, _pair(padding)[0])
    else:
        c_in = w.shape[1] * groups
        if getattr(node, "input_shape", None) is not None:
            x = x_flat.reshape((c_in,) + tuple(np.asarray(node.input_shape).astype(int)))
        else:
            x = x_flat.reshape((c_in,) + tuple(in_shape[1:]))
        stride, dil = _pair(node.stride), _pair(node.dilation)
        padding = node.padding
        p = None if isinstance(padding, str) else _pair(padding)
    if isinstance(padding, str) and padding == "same":
        th, tw = dil[0] * (w.shape[2] - 1), dil[1] * (w.shape[3] - 1)
        pad, stride = (th // 2, th - th // 2, tw // 2, tw - tw // 2), (1, 1)
    elif isinstance(padding, str):
        pad = (0, 0, 0, 0)
    else:
        pad = (p[0], p[0], p[1], p[1])
    y = _conv2d(x, w, stride, pad, dil, groups)
    return y, (y.shape if kind == "Conv2d" else (y.shape[0], y.shape[2]))


def _pool_apply(node, x_flat, in_shape):
    k, s, p = _pair(node.kernel_size), _pair(node.stride), _pair(node.padding)
    c = in_shape[0]
    x = x_flat.reshape(in_shape)
    w = np.zeros((c, 1, k[0], k[1]))
    w[:] = 1.0 / (k[0] * k[1]) if type(node).__name__ == "AvgPool2d" else 1.0
    y = _conv2d(x, w, s, (p[0], p[0], p[1], p[1]), (1, 1), c)
    return y, y.shape


class _Linear:
    """Applies one linear node to a (flat) signal; remembers its output shape."""

    def __init__(self, node, kind, in_shape):
        self.node, self.kind, self.in_shape = node, kind, tuple(in_shape)
        zero = np.zeros(int(np.prod(in_shape)))
        self.out_shape = self._apply(zero)[1]

    def _apply(self, x):
        node, kind = self.node, self.kind
        if kind in ("Affine", "Linear"):
            y = _arr(node, "weight") @ x
            return y, y.shape
        if kind == "Scale":
            return x * _arr(node, "scale").ravel(), self.in_shape
        if kind in ("Conv1d", "Conv2d"):
            y, shp = _conv_apply(node, x, self.in_shape)
            return y.ravel(), shp
        if kind in ("SumPool2d", "AvgPool2d"):
            y, shp = _pool_apply(node, x, self.in_shape)
            return y.ravel(), shp
        if kind == "Flatten":
            s, e = int(node.start_dim), int(node.end_dim)
            nd = len(self.in_shape)
            s, e = s % nd, e % nd
            shp = (self.in_shape[:s] + (int(np.prod(self.in_shape[s:e + 1])),)
                   + self.in_shape[e + 1:])
            return x, shp
        return x, self.in_shape  # Pass, Output, Delay (delay applied by the caller)

    def __call__(self, held, imp):
        h, _ = self._apply(held)
        s, _ = self._apply(imp)
        if self.kind == "Affine":
            h = h + _arr(self.node, "bias").ravel()
        if self.kind in ("Conv1d", "Conv2d") and getattr(self.node, "bias", None) is not None:
            h = h + np.repeat(_arr(self.node, "bias").ravel(), h.size // self.out_shape[0])
        return h, s


class _Neuron:
    """State and one-step update of one NIR neuron node under a profile."""

    def __init__(self, node, kind, shape, prof, recurrent=False):
        self.node, self.kind, self.prof = node, kind, prof
        self.n = int(np.prod(shape)) if shape else 1
        self.out_shape = tuple(shape)
        self.i = np.zeros(self.n)
        self.v = np.zeros(self.n)
        if prof.initial_state == "v_leak":
            self.v = self.f("v_reset", 0.0).copy() if kind == "IF" else \
                self.f("v_leak", 0.0).copy()
        self.pending = np.zeros(self.n, dtype=bool)
        self.late = prof.reset_timing == "next_step" and not (
            prof.feedforward_zero_immediate and kind == "LIF" and not recurrent)

    def f(self, name, default=None):
        value = np.broadcast_to(_arr(self.node, name, default).ravel(), (self.n,))
        if name in ("tau", "tau_syn", "tau_mem") and self.prof.tau_convention == \
                "dt_times_tau" and np.all(value < self.prof.dt_s):
            return value / self.prof.dt_s
        return value

    def _reset(self, z):
        th = self.f("v_threshold")
        if self.prof.reset == "subtract":
            return self.v - z * th
        if self.prof.reset == "value":
            return np.where(z, self.f("v_reset", 0.0), self.v)
        return self.v

    def step(self, h, s):
        """Advance one step with held input ``h`` and impulsive input ``s``; (held, imp) out."""
        p, kind = self.prof, self.kind
        dt, euler = p.dt_s, p.integrator == "euler"
        if p.bias_per_step:
            # A time-stepped framework adds the bias like an input every step.
            h, s = np.zeros_like(h), s + h
        if kind == "Threshold":
            z = (h + s) > self.f("threshold")
            return np.zeros(self.n), z * p.spike_amplitude
        if kind in ("I", "IF"):
            area = 1.0 if p.unit_jump and kind == "IF" else dt
            self.v = self.v + self.f("r") * area * (h + s)
        elif kind in ("LI", "LIF") and p.lif_gain != "nir":
            tau, r, vl = self.f("tau"), self.f("r"), self.f("v_leak")
            decay = 1.0 - dt / tau if euler else np.exp(-dt / tau)
            gain = 1.0 - decay if p.lif_gain == "one_minus_decay" and kind == "LIF" else 1.0
            v_inf = vl + r * h
            self.v = v_inf + (self.v - v_inf) * decay + gain * s
        elif kind in ("LI", "LIF"):
            tau, r, vl = self.f("tau"), self.f("r"), self.f("v_leak")
            if euler:
                self.v = self.v + dt / tau * (vl - self.v + r * (h + s))
            else:
                v_inf = vl + r * h
                self.v = v_inf + (self.v - v_inf) * np.exp(-dt / tau) + r * s * dt / tau
        else:
            self._cuba(h, s)
        if kind not in _SPIKING:
            return self.v.copy(), np.zeros(self.n)
        th = self.f("v_threshold")
        if self.late:
            self.v = self._reset(self.pending)
        rule = p.spike_rule
        if rule.count:
            z = np.where(self.v > 0, np.minimum(np.floor(self.v / th), rule.max_count), 0.0)
        else:
            z = (self.v >= th if rule.test == ">=" else self.v > th).astype(np.float64)
        if self.late:
            self.pending = z
        else:
            self.v = self._reset(z)
        self.v = np.maximum(self.v, rule.v_min)
        return np.zeros(self.n), z * p.spike_amplitude

    def _cuba(self, h, s):
        p = self.prof
        dt = p.dt_s
        ts, tm = self.f("tau_syn"), self.f("tau_mem")
        r, vl, w_in = self.f("r"), self.f("v_leak"), self.f("w_in", 1.0)
        if p.r_convention == "dt_only":
            r = np.ones(self.n)
        first = p.cuba_order == "current_first"
        kick = w_in * s if p.unit_jump else w_in * s * dt / ts
        if p.integrator == "euler":
            if first:
                self.i = self.i + dt / ts * (w_in * h - self.i) + kick
                self.v = self.v + dt / tm * (vl - self.v + r * self.i)
            else:
                self.v = self.v + dt / tm * (vl - self.v + r * self.i)
                self.i = self.i + dt / ts * (w_in * h - self.i) + kick
            return
        if p.cuba_order == "decay_after_input":
            i_inf = w_in * h
            self.i = i_inf + (self.i + kick - i_inf) * np.exp(-dt / ts)
            self.v = vl + (self.v - vl) * np.exp(-dt / tm) + r * self.i
            return
        if first:
            self.i = self.i + kick
        i_inf = w_in * h
        j = self.i - i_inf
        v_inf = vl + r * i_inf
        em, es = np.exp(-dt / tm), np.exp(-dt / ts)
        close = np.abs(ts - tm) < 1e-9 * tm
        coupling = np.where(close, dt / tm * em,
                            ts / np.where(close, 1.0, ts - tm) * (es - em))
        self.v = v_inf + (self.v - v_inf) * em + r * j * coupling
        self.i = i_inf + j * es
        if not first:
            self.i = self.i + kick


def simulate_nir(graph, inputs, profile="exact", return_all: bool = False) -> dict:
    """Simulate a NIR graph for ``T`` steps.

    Parameters
    ----------
    graph : nir.NIRGraph
    inputs : ndarray, shape (T, *input_shape), or dict[str, ndarray]
        Spike counts per step (usually 0/1) for the Input node (a dict names each Input node).
        A count ``c`` becomes the impulsive signal ``c * spike_amplitude``.
    profile : str or ImportProfile
    return_all : bool
        Also return every node's output (``value`` below), keyed by flattened node name.

    Returns
    -------
    dict[str, ndarray]
        For each Output node, ``(T, *shape)`` float64: its held signal plus its impulsive signal
        divided by ``spike_amplitude`` (so spikes count as 1).
    """
    prof = get_profile(profile)
    nodes, kinds, edges = {}, {}, []
    _inline(graph, "", nodes, kinds, edges, True)
    in_names = sorted(n for n, k in kinds.items() if k == "Input")
    out_names = sorted(n for n, k in kinds.items() if k == "Output")
    if not isinstance(inputs, dict):
        if len(in_names) != 1:
            raise ModelError(f"reference: the graph has inputs {in_names}; pass a dict")
        inputs = {in_names[0]: inputs}
    steps = int(next(iter(inputs.values())).shape[0])
    topo, back = _dfs(list(nodes), in_names, edges)
    preds = {n: [a for a, b in edges if b == n] for n in nodes}
    lag = {}
    for a, b in edges:
        d = prof.layer_delay_steps if kinds[a] in _NEURONS + ("Input",) else 0
        if (a, b) in back and prof.layer_delay_steps == 0:
            d += 1
        lag[(a, b)] = d
    # Within a step, a node is evaluated after every source it reads without lag; the lag-free
    # edges form a DAG (each cycle has a back edge or a neuron edge with a layer delay).
    shape_order = topo
    rank = {n: k for k, n in enumerate(topo)}
    waiting = {n: {a for a in preds[n] if lag[(a, n)] == 0} for n in nodes}
    topo, done = [], set()
    while len(topo) < len(nodes):
        ready = min((n for n in nodes if n not in done and waiting[n] <= done), key=rank.get)
        topo.append(ready)
        done.add(ready)
    # Build the node evaluators, in order (shapes flow forward).
    shape, units, rest = {}, {}, {}
    for n in shape_order:
        kind = kinds[n]
        arriving = [shape[p] for p in preds[n] if p in shape]
        in_shape = arriving[0] if arriving else None
        if kind == "Input":
            shape[n] = tuple(int(v) for v in np.asarray(nodes[n].input_type["input"]).ravel())
        elif kind in _NEURONS:
            first = {"I": "r", "IF": "r", "LI": "tau", "LIF": "tau", "CubaLI": "tau_mem",
                     "CubaLIF": "tau_mem", "Threshold": "threshold"}[kind]
            shp = _arr(nodes[n], first).shape or in_shape
            units[n] = _Neuron(nodes[n], kind, shp, prof, reaches_itself(n, edges))
            shape[n] = tuple(shp)
        else:
            units[n] = _Linear(nodes[n], kind, in_shape)
            shape[n] = tuple(units[n].out_shape)
    size = {n: int(np.prod(s)) for n, s in shape.items()}
    for n in topo:  # rest outputs: biases propagated with every neuron silent
        if kinds[n] in _NEURONS or kinds[n] == "Input":
            rest[n] = np.zeros(size[n])
            continue
        x = np.zeros(int(np.prod(units[n].in_shape)))
        for p in preds[n]:
            x = x + rest.get(p, 0.0)
        rest[n] = units[n](x, np.zeros_like(x))[0]
    delay_steps = {n: np.rint(np.broadcast_to(_arr(nodes[n], "delay").ravel(),
                                              (size[n],)) / prof.dt_s).astype(int)
                   for n in nodes if kinds[n] == "Delay"}
    held = {n: np.zeros((steps, size[n])) for n in nodes}
    imp = {n: np.zeros((steps, size[n])) for n in nodes}
    d_in = {n: (np.zeros((steps, size[n])), np.zeros((steps, size[n]))) for n in delay_steps}

    def read(a, t):
        if t >= 0:
            return held[a][t], imp[a][t]
        return rest[a], np.zeros(size[a])

    for t in range(steps):
        for n in topo:
            kind = kinds[n]
            if kind == "Input":
                spikes = np.asarray(inputs[n][t], dtype=np.float64).ravel()
                imp[n][t] = spikes * prof.spike_amplitude
                continue
            h = np.zeros(size[n] if kind in _NEURONS else int(np.prod(units[n].in_shape)))
            s = np.zeros_like(h)
            for a in preds[n]:
                ha, sa = read(a, t - lag[(a, n)])
                h, s = h + ha, s + sa
            if kind in _NEURONS:
                held[n][t], imp[n][t] = units[n].step(h, s)
            elif kind == "Delay":
                d_in[n][0][t], d_in[n][1][t] = h, s
                k = t - delay_steps[n]
                idx = np.arange(size[n])
                ok = k >= 0
                held[n][t] = np.where(ok, d_in[n][0][np.maximum(k, 0), idx], rest[n])
                imp[n][t] = np.where(ok, d_in[n][1][np.maximum(k, 0), idx], 0.0)
            else:
                held[n][t], imp[n][t] = units[n](h, s)
    result = {}
    for n in (list(nodes) if return_all else out_names):
        value = held[n] + imp[n] / prof.spike_amplitude
        result[n] = value.reshape((steps,) + tuple(shape[n]))
    return result


__all__ = ["simulate_nir"]
