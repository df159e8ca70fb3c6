"""Event-based GRU (EGRU; Subramoney et al., ICLR 2023): a GRU whose units send graded events.

**Discrete update** (reference: neurons.md §1.1; reset-after GRU form, one step per input
sample, everything dimensionless; ``c_0 = y_0 = 0``)::

    u   = sigmoid(W_u x_t + bx_u + R_u y_{t-1} + br_u)
    r   = sigmoid(W_r x_t + bx_r + R_r y_{t-1} + br_r)
    z   = tanh   (W_z x_t + bx_z + r * (R_z y_{t-1} + br_z))
    c^  = u * z + (1 - u) * c_{t-1}
    c^ <- p c_{t-1} + (1 - p) c^                  (zoneout at inference, p = ``zoneout``)
    e_t = H(c^ - theta)   (strict);   y_t = e_t * c^
    c_t = c^ - e_t * theta  (``reset="subtract"``)  or  c^ - y_t  (``reset="zero"``)

``theta`` is a per-unit threshold, so the payload of an event lies in ``(theta, 1)``.

**PyTorch's GRU naming.** ``torch.nn.GRU`` stacks its gates as r, z, n and updates
``h' = (1 - z) n + z h``: its ``z`` is a *keep* gate and its ``n`` is ``z`` here. So
``u = 1 - z_torch``, i.e. ``W_u = -W_iz``, ``R_u = -W_hz`` and both u biases negated, while r
and n map unchanged (``models.loaders.torch_gru.egru_from_torch_gru``). A GRU trained with
``h`` replaced by the events ``y`` in its recurrent terms and a threshold is this model.

**Event-driven split** (neurons.md §1.2). Reset-after means ``r`` multiplies the *summed*
recurrent input, so no gate value is needed while events arrive:

- per event ``(j, y_j)``: for each target ``i`` of source ``j``,
  ``acc_g[i] += R_g[i, j] y_j`` for ``g`` in ``u, r, z`` (3 MACs per event and target);
- per step and unit: add the (dense) input term ``W x_t + bx``, evaluate 2 sigmoids and 1 tanh,
  update ``c``, threshold, emit, reset, clear the accumulators.

``c`` relaxes towards ``z`` even without input, so unit updates are dense in time: an EGRU needs
a step clock even in ``async`` mode; only the synaptic work scales with activity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from aersim.models.errors import ParameterError
from aersim.models.neurons.params import broadcast_fields, check_choice, validate_fields
from aersim.models.neurons.registry import NeuronModel, register

RESETS = ("subtract", "zero")
GATES = ("u", "r", "z")

_VEC_FIELDS = ("bx_u", "bx_r", "bx_z", "br_u", "br_r", "br_z", "theta", "c_init")


def _matrix(name: str, value) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim < 2:
        arr = arr.reshape(1, -1) if arr.ndim == 1 else arr.reshape(1, 1)
    if arr.ndim != 2:
        raise ParameterError(f"EGRU weight {name!r} must be a 2-d (units, inputs) matrix, got "
                             f"shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"EGRU weight {name!r} contains NaN or infinity")
    return np.ascontiguousarray(arr)


@dataclass(frozen=True, eq=False)
class EGRUParams:
    """Parameters of an EGRU layer of ``N`` units with ``K`` inputs.

    Parameters
    ----------
    w_u, w_r, w_z : ndarray, shape (N, K)
        Input weights per gate (a scalar is a 1 x 1 matrix).
    r_u, r_r, r_z : ndarray, shape (N, N)
        Recurrent weights per gate; ``r_g[i, j]`` weighs the event of unit ``j`` into unit ``i``.
    bx_u, bx_r, bx_z : float or ndarray, shape (N,)
        Input biases.
    br_u, br_r, br_z : float or ndarray, shape (N,)
        Recurrent biases; ``br_z`` sits inside the reset product.
    theta : float or ndarray, shape (N,)
        Per-unit threshold (>= 0).
    reset : str
        ``"subtract"`` (``c -= theta``, the authors' code) or ``"zero"`` (``c -= y``).
    zoneout : float
        Inference-time zoneout ``p`` in ``[0, 1)``; 0 disables it.
    c_init : float or ndarray
        Cell state at step 0.
    """

    w_u: np.ndarray
    w_r: np.ndarray
    w_z: np.ndarray
    r_u: np.ndarray
    r_r: np.ndarray
    r_z: np.ndarray
    bx_u: float | np.ndarray = 0.0
    bx_r: float | np.ndarray = 0.0
    bx_z: float | np.ndarray = 0.0
    br_u: float | np.ndarray = 0.0
    br_r: float | np.ndarray = 0.0
    br_z: float | np.ndarray = 0.0
    theta: float | np.ndarray = 0.3
    reset: str = "subtract"
    zoneout: float = 0.0
    c_init: float | np.ndarray = 0.0

    kind = "egru"
    spiking = True
    graded = True
    #: Input channels of a unit in a network: the u and r gates, the input part of z, and the
    #: recurrent part of z (which the reset gate multiplies); see :func:`add_egru_layer`.
    input_channels = 4

    def __post_init__(self):
        for g in GATES:
            object.__setattr__(self, f"w_{g}", _matrix(f"w_{g}", getattr(self, f"w_{g}")))
            object.__setattr__(self, f"r_{g}", _matrix(f"r_{g}", getattr(self, f"r_{g}")))
        n, k = self.w_u.shape
        for g in GATES:
            w_shape, r_shape = getattr(self, f"w_{g}").shape, getattr(self, f"r_{g}").shape
            if w_shape != (n, k):
                raise ParameterError(f"EGRU weight 'w_{g}' has shape {w_shape} but 'w_u' has "
                                     f"{(n, k)}; every gate needs (N, K)")
            if r_shape != (n, n):
                raise ParameterError(f"EGRU weight 'r_{g}' has shape {r_shape}, expected "
                                     f"({n}, {n}) for {n} units")
        validate_fields(self, "EGRU", _VEC_FIELDS, {"theta": dict(nonneg=True)})
        for name in _VEC_FIELDS:
            arr = getattr(self, name)
            if arr.ndim == 1 and arr.shape[0] != n:
                raise ParameterError(f"EGRU parameter {name!r} has {arr.shape[0]} values for "
                                     f"{n} units")
        check_choice("EGRU", "reset", self.reset, RESETS)
        if not 0.0 <= float(self.zoneout) < 1.0:
            raise ParameterError(f"EGRU zoneout must be in [0, 1), got {self.zoneout!r}")
        object.__setattr__(self, "zoneout", float(self.zoneout))

    @property
    def n_units(self) -> int:
        """``N``."""
        return self.w_u.shape[0]

    @property
    def n_inputs(self) -> int:
        """``K``."""
        return self.w_u.shape[1]

    def per_neuron(self, n: int) -> dict[str, np.ndarray]:
        """Biases, ``theta`` and ``c_init`` as contiguous float64 ``(n,)`` arrays."""
        if n != self.n_units:
            raise ParameterError(f"EGRU has {self.n_units} units but the population has {n}")
        return broadcast_fields(self, "EGRU", _VEC_FIELDS, n)

    def recurrent_csr(self):
        """Recurrent weights as CSR rows over the *source* unit, three weights per synapse.

        Returns
        -------
        indptr : ndarray of int64, shape (N + 1,)
        indices : ndarray of int32, shape (n_syn,)
            Target unit of each synapse.
        weights : ndarray of float64, shape (n_syn, 3)
            ``(R_u, R_r, R_z)[target, source]``; a synapse exists where any gate is non-zero.
        """
        stacked = np.stack([self.r_u, self.r_r, self.r_z], axis=-1)   # (N_tgt, N_src, 3)
        by_src = np.transpose(stacked, (1, 0, 2))                       # (N_src, N_tgt, 3)
        src, tgt = np.nonzero(np.any(by_src != 0.0, axis=-1))
        indptr = np.zeros(self.n_units + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=self.n_units), out=indptr[1:])
        return (indptr, np.ascontiguousarray(tgt, dtype=np.int32),
                np.ascontiguousarray(by_src[src, tgt], dtype=np.float64))


def egru_from_evnn(kernel, recurrent_kernel, bias, recurrent_bias, thr, **kwargs) -> EGRUParams:
    """Build :class:`EGRUParams` from EvNN's layout (neurons.md §1.1).

    EvNN stores ``kernel`` [K, 3N] and ``recurrent_kernel`` [N, 3N] in blocks (k, r, z) with the
    keep gate ``k = 1 - u``; so ``W_u = -W_k``, ``b_u = -b_k`` (both biases). This follows the
    documented layout; it has not been checked against a trained EvNN checkpoint.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    rec = np.asarray(recurrent_kernel, dtype=np.float64)
    n = rec.shape[0]
    if kernel.ndim != 2 or rec.shape != (n, 3 * n) or kernel.shape[1] != 3 * n:
        raise ParameterError(f"EvNN kernels must be [K, 3N] and [N, 3N], got {kernel.shape} and "
                             f"{rec.shape}")
    bias = np.broadcast_to(np.asarray(bias, dtype=np.float64), (3 * n,))
    rbias = np.broadcast_to(np.asarray(recurrent_bias, dtype=np.float64), (3 * n,))
    blk = [slice(0, n), slice(n, 2 * n), slice(2 * n, 3 * n)]
    sign = (-1.0, 1.0, 1.0)
    args = {}
    for g, s, b in zip(GATES, sign, blk, strict=True):
        args[f"w_{g}"] = s * kernel[:, b].T
        args[f"r_{g}"] = s * rec[:, b].T
        args[f"bx_{g}"] = s * bias[b]
        args[f"br_{g}"] = s * rbias[b]
    return EGRUParams(theta=np.clip(np.asarray(thr, dtype=np.float64), 0.0, 1.0), **args,
                      **kwargs)


# ----------------------------------------------------------------------------------------------
# Kernels. The unit update is scalar in, scalar out; the accumulation loops over one step's events.


@njit(cache=True, inline="always")
def _sigmoid(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@njit(cache=True, inline="always")
def egru_unit_step(c, in_u, in_r, in_z, acc_u, acc_r, acc_z, br_u, br_r, br_z, theta,
                   reset_zero, zoneout):
    """One step of one unit from its input terms and recurrent accumulators.

    Parameters
    ----------
    c : float
        Cell state after the previous step.
    in_u, in_r, in_z : float
        Input terms ``W_g x_t + bx_g``.
    acc_u, acc_r, acc_z : float
        Recurrent sums ``R_g y_{t-1}`` accumulated from the previous step's events.
    br_u, br_r, br_z, theta : float
    reset_zero : bool
        ``reset="zero"``.
    zoneout : float

    Returns
    -------
    (c, y, fired) : (float, float, bool)
        ``y`` is the event payload (0.0 when nothing is sent).
    """
    u = _sigmoid(in_u + acc_u + br_u)
    r = _sigmoid(in_r + acc_r + br_r)
    z = math.tanh(in_z + r * (acc_z + br_z))
    ch = u * z + (1.0 - u) * c
    if zoneout > 0.0:
        ch = zoneout * c + (1.0 - zoneout) * ch
    if ch > theta:
        if reset_zero:
            return ch - ch, ch, True
        return ch - theta, ch, True
    return ch, 0.0, False


@njit(cache=True)
def egru_accumulate_kernel(indptr, indices, weights, ev_src, ev_y, acc_u, acc_r, acc_z):
    """Add every event ``(ev_src[e], ev_y[e])`` of a step into the three accumulators.

    ``indptr``/``indices``/``weights`` are :meth:`EGRUParams.recurrent_csr`; the accumulators
    are float64 ``(N,)`` arrays updated in place. Returns the number of MACs done (3 per target).
    """
    macs = 0
    for e in range(ev_src.shape[0]):
        j = ev_src[e]
        y = ev_y[e]
        for s in range(indptr[j], indptr[j + 1]):
            i = indices[s]
            acc_u[i] += weights[s, 0] * y
            acc_r[i] += weights[s, 1] * y
            acc_z[i] += weights[s, 2] * y
            macs += 3
    return macs


@njit(cache=True)
def _egru_units_kernel(c, in_u, in_r, in_z, acc_u, acc_r, acc_z, br_u, br_r, br_z, theta,
                       reset_zero, zoneout, y_out):
    n_ev = 0
    for i in range(c.shape[0]):
        c[i], y_out[i], fired = egru_unit_step(c[i], in_u[i], in_r[i], in_z[i], acc_u[i],
                                               acc_r[i], acc_z[i], br_u[i], br_r[i], br_z[i],
                                               theta[i], reset_zero, zoneout)
        if fired:
            n_ev += 1
    return n_ev


# ----------------------------------------------------------------------------------------------
# Reference runs: a plain NumPy dense update and the event-driven split built on the kernels.


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def egru_run_dense(params: EGRUParams, x) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the discrete update with dense matrices (plain NumPy reference).

    Parameters
    ----------
    x : array_like, shape (T, K)
        Inputs per step (a 1-d sequence is taken as ``K = 1``).

    Returns
    -------
    c_hat, y, c : ndarray of float64, shape (T, N)
        Pre-reset cell state, payloads (0 where no event) and post-reset state.
    """
    x = _inputs(params, x)
    p = params.per_neuron(params.n_units)
    c, y = p["c_init"].copy(), np.zeros(params.n_units)
    out = np.zeros((3, x.shape[0], params.n_units))
    for t, xt in enumerate(x):
        u = _sig(params.w_u @ xt + p["bx_u"] + params.r_u @ y + p["br_u"])
        r = _sig(params.w_r @ xt + p["bx_r"] + params.r_r @ y + p["br_r"])
        z = np.tanh(params.w_z @ xt + p["bx_z"] + r * (params.r_z @ y + p["br_z"]))
        ch = u * z + (1.0 - u) * c
        if params.zoneout:
            ch = params.zoneout * c + (1.0 - params.zoneout) * ch
        e = ch > p["theta"]
        y = np.where(e, ch, 0.0)
        c = ch - (y if params.reset == "zero" else e * p["theta"])
        out[:, t] = ch, y, c
    return out[0], out[1], out[2]


def egru_run_events(params: EGRUParams, x) -> tuple[np.ndarray, np.ndarray, int]:
    """Run the event-driven split: per-event accumulation, per-step unit updates.

    Returns
    -------
    y : ndarray of float64, shape (T, N)
        Payloads (0 where no event).
    c : ndarray of float64, shape (T, N)
        Post-reset state.
    macs : int
        Recurrent multiply-accumulates done (3 per event and target).
    """
    x = _inputs(params, x)
    p = params.per_neuron(params.n_units)
    indptr, indices, weights = params.recurrent_csr()
    n = params.n_units
    c = p["c_init"].copy()
    acc = np.zeros((3, n))
    y = np.zeros(n)
    ys, cs, macs = np.zeros((x.shape[0], n)), np.zeros((x.shape[0], n)), 0
    for t, xt in enumerate(x):
        in_u = params.w_u @ xt + p["bx_u"]
        in_r = params.w_r @ xt + p["bx_r"]
        in_z = params.w_z @ xt + p["bx_z"]
        _egru_units_kernel(c, in_u, in_r, in_z, acc[0], acc[1], acc[2], p["br_u"], p["br_r"],
                           p["br_z"], p["theta"], params.reset == "zero", params.zoneout, y)
        acc[:] = 0.0
        src = np.flatnonzero(y).astype(np.int64)
        macs += egru_accumulate_kernel(indptr, indices, weights, src, y[src], acc[0], acc[1],
                                       acc[2])
        ys[t], cs[t] = y, c
    return ys, cs, macs


def _inputs(params: EGRUParams, x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != params.n_inputs:
        raise ParameterError(f"EGRU input must have shape (T, {params.n_inputs}), got {x.shape}")
    return x


#: Channels of an EGRU unit's inputs (``Projection.channel``).
CHANNEL_U, CHANNEL_R, CHANNEL_Z_IN, CHANNEL_Z_REC = range(4)


def add_egru_layer(network, name: str, params: EGRUParams, source: str, step_ps: int):
    """Add an EGRU layer fed by population ``source`` (``K`` neurons) to ``network``.

    The input weights become three zero-delay projections from ``source`` (channels u, r and
    the input part of z: ``x_t`` acts in the step it arrives) and the recurrent weights three
    projections of the layer onto itself with a delay of one step ``step_ps`` (``y_{t-1}``),
    the z part on its own channel because the reset gate multiplies it. Exact zeros are not
    stored (pruned weights cost nothing). Returns the new population.
    """
    n, k = params.n_units, params.n_inputs
    if network.population(source).size != k:
        raise ParameterError(f"EGRU layer {name!r} has {k} inputs but population {source!r} "
                             f"has {network.population(source).size} neurons")
    pop = network.add_population(name, n, params)
    for gate, channel in (("u", CHANNEL_U), ("r", CHANNEL_R), ("z", CHANNEL_Z_IN)):
        post, pre = np.nonzero(getattr(params, f"w_{gate}"))
        network.connect(source, name, pre, post, getattr(params, f"w_{gate}")[post, pre], 0,
                        name=f"{source}->{name}.{gate}", channel=channel)
    for gate, channel in (("u", CHANNEL_U), ("r", CHANNEL_R), ("z", CHANNEL_Z_REC)):
        post, pre = np.nonzero(getattr(params, f"r_{gate}"))
        network.connect(name, name, pre, post, getattr(params, f"r_{gate}")[post, pre],
                        int(step_ps), name=f"{name}.rec_{gate}", channel=channel)
    return pop


def _engine_columns(params, p, n) -> dict:
    """Engine columns of an EGRU population (``v`` holds the cell state ``c``)."""
    return {"v_th": p["theta"], "v_init": p["c_init"], "zoneout": np.full(n, params.zoneout),
            "gate_bias": np.stack([p[f"{b}_{g}"] for b in ("bx", "br") for g in "urz"], axis=1)}


#: An EGRU updates every unit every step even when only its synaptic work is event-driven.
MODEL = register(NeuronModel("egru", kinds=("egru",), columns=_engine_columns, code=7,
                             timestep_only=True, graded=lambda params: True))
