"""Memristive crossbar cores: weights stored as device conductances, and what they compute.

A weight matrix ``W`` of shape ``(n_out, n_in)`` computes ``y = W x``. Inputs drive the crossbar's
rows, outputs are sensed on its columns: ``W[j, i]`` sits at row ``i % rows`` and column
``j % columns`` of tile ``(i // rows, j // columns)``. A matrix larger than one crossbar is split
over several tiles; every tile converts its own column currents and the partial sums are added
digitally.

Programming (:func:`program`, :func:`program_csr`):

1. scale: ``ŵ = w / s`` with ``s = max |w|`` per tile column (``scale_mode="column"``) or per
   tile (``"tile"``); ``s`` is applied digitally after the ADC;
2. quantise ``ŵ`` to the device's ``levels`` (``None`` = analog programming);
3. conductances: differential pair ``G± = g_min + max(±ŵ, 0)·Δg`` (``Δg = g_max − g_min``), or
   one device ``G = g_min + (ŵ + 1)/2·Δg`` against an ideal mid-range reference column;
4. device-to-device variation: ``G = g_min + (G − g_min)·(1 + d2d_sigma·z)``;
5. programming noise (:data:`hardware.crossbar.devices.PROG_NOISE_MODELS`), clipped at >= 0;
6. stuck-at faults: a device is stuck at ``g_min`` with probability ``stuck_low_rate``, at
   ``g_max`` with probability ``stuck_high_rate`` (stuck devices neither drift nor get noise);
7. stochastic switching: a device aimed above ``g_min`` leaves its rest state only with the
   probability of the spec's switching law at ``program_voltage_v``
   (:func:`hardware.crossbar.devices.switching_probability`); one that fails stays at ``g_min``;
8. retention: a volatile device gets its own relaxation time constant ``tau``
   (:func:`hardware.crossbar.devices.draw_retention_tau_s`).

Reading (:func:`read_weights`, :func:`mvm`): drift ``G(t) = G·(t/t0)^−ν``, volatile relaxation
``g_min + (G(t) − g_min)·exp(−t/tau)`` (``t`` seconds after programming), fresh read noise on
every read, first-order IR drop (:func:`hardware.crossbar.devices.ir_drop_kernel`), optional
global drift compensation (the whole array is rescaled by the ratio of its summed absolute
weights now and at programming, as a reference read would measure). :func:`mvm` further
quantises the inputs (DAC, per-vector abs-max scaling) and the column outputs (signed ADC with
``2**adc_bits`` codes over ``[−adc_bound, adc_bound)``, in units of one full-range device driven
at the full read voltage), with Gaussian output noise before the ADC.

The two devices of a differential pair are modelled as two identical arrays of ``rows x columns``
(one for ``G+``, one for ``G−``) whose column currents are subtracted before the ADC, so one
conversion serves one weight column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from aersim.hardware.crossbar import devices as dev
from aersim.hardware.crossbar.devices import (
    DEVICE_KINDS,
    PRESETS,
    SCALE_MODES,
    STUCK_HIGH,
    STUCK_LOW,
    STUCK_NONE,
    CrossbarSpec,
    crossbar_from_dict,
    crossbar_preset,
)
from aersim.hardware.errors import HardwareError

__all__ = ["DEVICE_KINDS", "PRESETS", "SCALE_MODES", "CrossbarSpec", "CrossbarState",
           "MvmResult", "crossbar_from_dict", "crossbar_preset", "mvm", "program",
           "program_csr", "quantise_inputs", "quantise_outputs", "read_weights"]

# ------------------------------------------------------------------------------------------------
# State

@dataclass(eq=False)
class CrossbarState:
    """Programmed devices of a weight matrix, one entry per weight cell.

    Attributes
    ----------
    shape : tuple of int
        ``(n_out, n_in)`` of the weight matrix.
    dense : bool
        Every matrix entry is a cell, in C order (from :func:`program`); otherwise the cells are
        the synapses of a CSR projection, in CSR order (from :func:`program_csr`).
    in_idx, out_idx : int32 (n_cells,)
        Input (row) and output (column) index of each cell.
    scale : float64 (n_cells,)
        Weight of a normalised full-range cell (``max |w|`` of its tile column or tile).
    w_target : float64 (n_cells,)
        Ideal quantised weight of each cell.
    g_pos, g_neg : float64 (n_cells,)
        Programmed conductances, µS (``g_neg`` is ``None`` without differential pairs).
    nu_pos, nu_neg : float64 (n_cells,)
        Drift exponents.
    tau_pos, tau_neg : float64 (n_cells,) or None
        Retention time constants, seconds (``inf``: non-volatile; ``None``: a state built
        without them, taken as non-volatile).
    stuck_pos, stuck_neg : int8 (n_cells,)
        0 = healthy, 1 = stuck at ``g_min``, 2 = stuck at ``g_max``.
    tile, local_row, local_col : int64, int32, int32 (n_cells,)
        Tile ``row_block * n_col_blocks + col_block`` and position inside it.
    n_row_blocks, n_col_blocks : int
    """

    shape: tuple
    dense: bool
    in_idx: np.ndarray
    out_idx: np.ndarray
    scale: np.ndarray
    w_target: np.ndarray
    g_pos: np.ndarray
    g_neg: np.ndarray | None
    nu_pos: np.ndarray
    nu_neg: np.ndarray | None
    stuck_pos: np.ndarray
    stuck_neg: np.ndarray | None
    tile: np.ndarray
    local_row: np.ndarray
    local_col: np.ndarray
    n_row_blocks: int
    n_col_blocks: int
    tau_pos: np.ndarray | None = None
    tau_neg: np.ndarray | None = None
    _orders: tuple | None = None

    @property
    def n_cells(self) -> int:
        return int(self.in_idx.shape[0])

    @property
    def n_devices(self) -> int:
        return self.n_cells * (1 if self.g_neg is None else 2)

    def stuck_fraction(self) -> float:
        """Fraction of devices stuck at either bound."""
        stuck = np.count_nonzero(self.stuck_pos)
        if self.stuck_neg is not None:
            stuck += np.count_nonzero(self.stuck_neg)
        return stuck / max(self.n_devices, 1)

    def layout(self, values: np.ndarray) -> np.ndarray:
        """Per-cell ``values`` in the layout given to the programming function.

        Dense states give an ``(n_out, n_in)`` matrix; CSR states return ``values`` as they are.
        """
        return values.reshape(self.shape) if self.dense else values

    def to_matrix(self, values: np.ndarray) -> np.ndarray:
        """Per-cell ``values`` scattered into a dense ``(n_out, n_in)`` float64 matrix (summed)."""
        out = np.zeros(self.shape, dtype=np.float64)
        np.add.at(out, (self.out_idx, self.in_idx), values)
        return out

    def orders(self):
        """Cell permutations sorted by (tile, row, column) and by (tile, column, row)."""
        if self._orders is None:
            self._orders = (np.lexsort((self.local_col, self.local_row, self.tile)),
                            np.lexsort((self.local_row, self.local_col, self.tile)))
        return self._orders


# ------------------------------------------------------------------------------------------------
# Programming

def _as_rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def program(weights, spec: CrossbarSpec, rng) -> CrossbarState:
    """Program a dense weight matrix onto crossbar tiles.

    Parameters
    ----------
    weights : array_like of float, shape (n_out, n_in)
        ``y = weights @ x``; inputs drive rows, outputs are sensed on columns.
    spec : CrossbarSpec
    rng : numpy.random.Generator or int
        Source of programming noise, variation, faults and drift exponents.

    Returns
    -------
    CrossbarState
        :func:`read_weights` of it returns an ``(n_out, n_in)`` matrix.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.size == 0:
        raise HardwareError(f"weights must be a non-empty 2-d (n_out, n_in) matrix, got shape "
                            f"{w.shape}")
    _check_finite(w, "weights")
    n_out, n_in = w.shape
    out_idx, in_idx = np.divmod(np.arange(w.size, dtype=np.int64), n_in)
    return _program_cells(in_idx, out_idx, w.ravel(), (n_out, n_in), spec, _as_rng(rng), True)


def program_csr(indptr, indices, weights, n_pre: int, n_post: int, spec: CrossbarSpec,
                rng) -> CrossbarState:
    """Program the synapses of a CSR projection (rows = presynaptic = crossbar inputs).

    Parameters
    ----------
    indptr : int64 (n_pre + 1,)
    indices : int32 (n_syn,)
        Postsynaptic neuron of each synapse.
    weights : float (n_syn,)
    n_pre, n_post : int
    spec : CrossbarSpec
    rng : numpy.random.Generator or int

    Returns
    -------
    CrossbarState
        One cell per synapse, in CSR order; :func:`read_weights` returns ``(n_syn,)``. Cells
        absent from the projection hold the zero-weight conductance. A repeated (pre, post) pair
        is programmed as its own device pair at the same position (a real array would merge them
        into one cell).
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64)
    _check_csr(indptr, indices, w, n_pre, n_post)
    pre = np.repeat(np.arange(n_pre, dtype=np.int64), np.diff(indptr))
    return _program_cells(pre, indices, w, (int(n_post), int(n_pre)), spec, _as_rng(rng), False)


def _check_finite(w, what):
    if not np.all(np.isfinite(w)):
        raise HardwareError(f"{what} contain NaN or infinite values; a crossbar stores finite "
                            "weights only")


def _check_csr(indptr, indices, w, n_pre, n_post):
    if n_pre < 1 or n_post < 1:
        raise HardwareError(f"n_pre = {n_pre} and n_post = {n_post} must both be >= 1")
    if indptr.shape != (n_pre + 1,) or indptr[0] != 0 or np.any(np.diff(indptr) < 0) \
            or indptr[-1] != indices.shape[0]:
        raise HardwareError(f"indptr is not a CSR row pointer of shape ({n_pre + 1},) over "
                            f"{indices.shape[0]} synapses")
    if w.shape != indices.shape:
        raise HardwareError(f"{w.shape[0]} weights for {indices.shape[0]} synapses; give one "
                            "weight per synapse")
    if indices.size and (indices.min() < 0 or indices.max() >= n_post):
        raise HardwareError(f"postsynaptic index {int(indices.max())} is outside 0..{n_post - 1}")
    _check_finite(w, "weights")


def _group_max(key: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``max(values)`` over cells sharing ``key``, returned per cell."""
    uniq, inv = np.unique(key, return_inverse=True)
    m = np.zeros(uniq.shape[0], dtype=np.float64)
    np.maximum.at(m, inv, values)
    return m[inv]


def _program_cells(in_idx, out_idx, w, shape, spec, rng, dense) -> CrossbarState:
    n_out, n_in = shape
    rb, lr = np.divmod(in_idx, spec.rows)
    cb, lc = np.divmod(out_idx, spec.columns)
    n_rb, n_cb = -(-n_in // spec.rows), -(-n_out // spec.columns)
    tile = rb * n_cb + cb
    key = tile * spec.columns + lc if spec.scale_mode == "column" else tile
    scale = _group_max(key, np.abs(w)) if w.size else np.zeros(0)
    scale[scale == 0] = 1.0
    wn = np.clip(w / scale, -1.0, 1.0)
    lv = spec.levels
    if spec.differential:
        q = wn if lv is None else np.round(wn * (lv - 1)) / (lv - 1)
    else:
        q = wn if lv is None else 2.0 * np.round((wn + 1.0) / 2.0 * (lv - 1)) / (lv - 1) - 1.0
    w_target = q * scale
    # Independent child streams for the two devices of a pair: the draws of G+ do not depend on
    # whether the spec is differential.
    rng_pos, rng_neg = rng.spawn(2)
    if spec.differential:
        g_pos, nu_pos, st_pos, tau_pos = _program_devices(
            spec.g_min_us + np.maximum(q, 0.0) * spec.delta_g_us, spec, rng_pos)
        g_neg, nu_neg, st_neg, tau_neg = _program_devices(
            spec.g_min_us + np.maximum(-q, 0.0) * spec.delta_g_us, spec, rng_neg)
    else:
        g_pos, nu_pos, st_pos, tau_pos = _program_devices(
            spec.g_min_us + (q + 1.0) / 2.0 * spec.delta_g_us, spec, rng_pos)
        g_neg = nu_neg = st_neg = tau_neg = None
    return CrossbarState(
        shape=(int(n_out), int(n_in)), dense=dense,
        in_idx=in_idx.astype(np.int32), out_idx=out_idx.astype(np.int32), scale=scale,
        w_target=w_target, g_pos=g_pos, g_neg=g_neg, nu_pos=nu_pos, nu_neg=nu_neg,
        stuck_pos=st_pos, stuck_neg=st_neg, tile=tile.astype(np.int64),
        local_row=lr.astype(np.int32), local_col=lc.astype(np.int32),
        n_row_blocks=int(n_rb), n_col_blocks=int(n_cb), tau_pos=tau_pos, tau_neg=tau_neg)


def _program_devices(g_target, spec, rng):
    """Programmed conductance, drift exponent, stuck flag and retention time constant (s) of each
    device aimed at a target."""
    n = g_target.shape[0]
    # One draw per device and effect, always in this order, so that a seed gives the same devices
    # whichever effects are switched on.
    z_d2d = rng.standard_normal(n)
    z_prog = rng.standard_normal(n)
    u_stuck = rng.random(n)
    g = g_target.copy()
    if spec.d2d_sigma > 0:
        g = spec.g_min_us + (g - spec.g_min_us) * np.maximum(1.0 + spec.d2d_sigma * z_d2d, 0.0)
    sigma = dev.programming_sigma_us(g_target, spec)
    g = np.maximum(g + sigma * z_prog, 0.0)
    stuck = np.zeros(n, dtype=np.int8)
    stuck[u_stuck < spec.stuck_low_rate] = STUCK_LOW
    stuck[(u_stuck >= spec.stuck_low_rate)
          & (u_stuck < spec.stuck_low_rate + spec.stuck_high_rate)] = STUCK_HIGH
    g[stuck == STUCK_LOW] = spec.g_min_us
    g[stuck == STUCK_HIGH] = spec.g_max_us
    nu = dev.draw_drift_nu(g, spec, rng)
    nu[stuck != STUCK_NONE] = 0.0
    # Drawn after the drift exponents, always, so that switching them on leaves the earlier
    # draws (and the devices of a non-volatile spec) unchanged.
    u_switch = rng.random(n)
    tau = dev.draw_retention_tau_s(n, spec, rng)
    if spec.switching != "deterministic":
        p = float(dev.switching_probability(spec.program_voltage_v, spec))
        failed = (g_target > spec.g_min_us) & (u_switch >= p) & (stuck == STUCK_NONE)
        g[failed] = spec.g_min_us
    tau[stuck != STUCK_NONE] = np.inf
    return g, nu, stuck, tau


# ------------------------------------------------------------------------------------------------
# Reading

def _mean_conductance(g0, nu, tau, t_s, spec):
    """Noise-free conductance ``t_s`` after programming: drift, then volatile relaxation."""
    g_t = dev.drift(g0, nu, t_s, spec.drift_t0_s)
    if tau is not None:
        g_t = dev.relax(g_t, tau, t_s, spec.g_min_us)
    return g_t


def _conductance_now(g0, nu, stuck, t_s, spec, rng, noisy, tau=None):
    g_t = _mean_conductance(g0, nu, tau, t_s, spec)
    if noisy:
        sigma = dev.read_sigma_us(g0, g_t, t_s, spec)
        if sigma is not None:
            sigma = np.where(stuck != STUCK_NONE, 0.0, sigma)
            g_t = np.maximum(g_t + sigma * rng.standard_normal(g_t.shape), 0.0)
    return g_t


def _zero_conductance(spec) -> float:
    """Conductance of a cell holding weight 0 (a cell absent from a sparse projection)."""
    return spec.g_min_us if spec.differential else spec.g_min_us + 0.5 * spec.delta_g_us


def _exact_ir_drop(state, g, v_in, spec, g_bg):
    """Cell currents (µA) from the nodal solution of every tile (``spec.ir_drop == "exact"``);
    cells not listed hold ``g_bg``. A zero wire resistance is taken as 1 µohm."""
    from aersim.hardware.crossbar.ir_drop import currents_exact

    n_rows, n_cols = spec.rows, spec.columns
    v = np.zeros(state.n_row_blocks * n_rows, dtype=np.float64)
    v[:v_in.shape[0]] = v_in
    v = v.reshape(state.n_row_blocks, n_rows)
    r_row = max(float(spec.row_wire_ohm), 1e-6)
    r_col = max(float(spec.col_wire_ohm), 1e-6)
    out = np.empty(g.shape[0], dtype=np.float64)
    for t in np.unique(state.tile):
        cells = np.flatnonzero(state.tile == t)
        tile_g = np.full((n_rows, n_cols), float(g_bg))
        tile_g[state.local_row[cells], state.local_col[cells]] = g[cells]
        cur = currents_exact(tile_g, v[int(t) // state.n_col_blocks], r_row, r_col)
        out[cells] = cur[state.local_row[cells], state.local_col[cells]]
    return out


def _with_ir_drop(state, g, v_in, spec, g_bg):
    """Cell currents (µA) for inputs ``v_in`` (V, per input), with IR drop when wires resist."""
    v_cell = v_in[state.in_idx]
    if spec.row_wire_ohm == 0 and spec.col_wire_ohm == 0:
        return g * v_cell
    if getattr(spec, "ir_drop", "first_order") == "exact":
        return _exact_ir_drop(state, g, v_in, spec, g_bg)
    order_row, order_col = state.orders()
    bg_col = dev.ir_background_columns(v_in, spec.rows, state.n_row_blocks, g_bg)
    return dev.ir_drop_kernel(g, v_cell, state.local_row, state.local_col, state.tile,
                              order_row, order_col, float(g_bg), spec.rows, spec.columns,
                              float(spec.row_wire_ohm), float(spec.col_wire_ohm), bg_col,
                              state.n_col_blocks)


def _normalised_weights(g_pos, g_neg, spec):
    if g_neg is not None:
        return (g_pos - g_neg) / spec.delta_g_us
    return 2.0 * (g_pos - spec.g_min_us) / spec.delta_g_us - 1.0


def _drift_factor(state, spec, t_s):
    """Global drift compensation: summed |w| now over summed |w| at programming (noise-free;
    volatile relaxation included, as a reference read would see it)."""
    now = _normalised_weights(
        _mean_conductance(state.g_pos, state.nu_pos, state.tau_pos, t_s, spec),
        None if state.g_neg is None else _mean_conductance(state.g_neg, state.nu_neg,
                                                           state.tau_neg, t_s, spec), spec)
    ref = _normalised_weights(state.g_pos, state.g_neg, spec)
    den = float(np.abs(ref).sum())
    num = float(np.abs(now).sum())
    return num / den if den > 0 and num > 0 else 1.0


def read_weights(state: CrossbarState, spec: CrossbarSpec, t_since_program_s: float,
                 rng) -> np.ndarray:
    """Effective weights a read of the crossbar sees ``t_since_program_s`` after programming.

    Applies drift, volatile relaxation, a fresh draw of read noise, first-order IR drop with
    every row driven at the read voltage (the worst case), and drift compensation if the spec
    asks for it.

    Returns
    -------
    ndarray of float64
        ``(n_out, n_in)`` for a state from :func:`program`, ``(n_syn,)`` from
        :func:`program_csr`.
    """
    t = _check_time(t_since_program_s)
    rng = _as_rng(rng)
    v_in = np.full(state.shape[1], spec.read_voltage_v, dtype=np.float64)
    g_bg = _zero_conductance(spec)
    gp = _conductance_now(state.g_pos, state.nu_pos, state.stuck_pos, t, spec, rng, True,
                          state.tau_pos)
    gp = _with_ir_drop(state, gp, v_in, spec, g_bg) / spec.read_voltage_v
    gn = None
    if state.g_neg is not None:
        gn = _conductance_now(state.g_neg, state.nu_neg, state.stuck_neg, t, spec, rng, True,
                              state.tau_neg)
        gn = _with_ir_drop(state, gn, v_in, spec, g_bg) / spec.read_voltage_v
    w = _normalised_weights(gp, gn, spec) * state.scale
    if spec.drift_compensation:
        w /= _drift_factor(state, spec, t)
    return state.layout(w)


def _check_time(t) -> float:
    t = float(t)
    if not np.isfinite(t) or t < 0:
        raise HardwareError(f"t_since_program_s = {t!r} is not allowed; expected a time >= 0 s")
    return t


class MvmResult(NamedTuple):
    """Output of :func:`mvm` and what it cost.

    Attributes
    ----------
    y : float64 (n_out,) or (n_batch, n_out)
    adc_conversions : int
        Column conversions: one per used column of every tile that received a non-zero input.
    dac_activations : int
        Row drives: one per non-zero quantised input per tile it enters.
    array_energy_pj : float
        Energy dissipated in the devices, ``Σ G·v²·t_pulse``, picojoules.
    """

    y: np.ndarray
    adc_conversions: int
    dac_activations: int
    array_energy_pj: float


def quantise_inputs(x: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """DAC: ``x`` scaled by its abs-max per vector to [−1, 1] and rounded to ``bits`` (signed).

    Returns ``(x_norm, x_max)``: quantised normalised inputs (same shape as ``x``) and the scale
    of each vector, ``(n_batch,)``.
    """
    x_max = np.abs(x).max(axis=1)
    safe = np.where(x_max > 0, x_max, 1.0)
    xn = x / safe[:, None]
    if bits:
        steps = 2 ** (bits - 1) - 1
        xn = np.round(xn * steps) / steps
    return xn, x_max


def quantise_outputs(y: np.ndarray, bits: int, bound: float) -> np.ndarray:
    """ADC: signed, ``2**bits`` codes of width ``bound / 2**(bits-1)`` over ``[−bound, bound)``.

    ``bits = 0`` is an ideal converter (no rounding, no clipping).
    """
    if not bits:
        return y
    step = bound / 2 ** (bits - 1)
    codes = np.clip(np.round(y / step), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return codes * step


def mvm(state: CrossbarState, x, spec: CrossbarSpec, rng,
        t_since_program_s: float | None = None) -> MvmResult:
    """Analog matrix-vector product ``y = W_eff x`` through DACs, the arrays and ADCs.

    Parameters
    ----------
    state : CrossbarState
    x : array_like of float, (n_in,) or (n_batch, n_in)
    spec : CrossbarSpec
    rng : numpy.random.Generator or int
        Read noise and output noise (fresh on every call).
    t_since_program_s : float, optional
        Time of the read after programming, seconds (default ``spec.drift_t0_s``).

    Returns
    -------
    MvmResult
    """
    x = np.asarray(x, dtype=np.float64)
    single = x.ndim == 1
    xb = np.atleast_2d(x)
    if xb.ndim != 2 or xb.shape[1] != state.shape[1]:
        raise HardwareError(f"x must have shape ({state.shape[1]},) or (n_batch, "
                            f"{state.shape[1]}), got {x.shape}")
    _check_finite(xb, "inputs")
    t = spec.drift_t0_s if t_since_program_s is None else _check_time(t_since_program_s)
    rng = _as_rng(rng)
    n_out, n_in = state.shape
    n_rb = state.n_row_blocks
    xn, x_max = quantise_inputs(xb, spec.dac_bits)
    # Column groups (row block, output) and the tiles that hold cells.
    rb_cell = state.in_idx.astype(np.int64) // spec.rows
    group = rb_cell * n_out + state.out_idx
    groups, g_inv = np.unique(group, return_inverse=True)
    g_rb = groups // n_out
    g_out = groups % n_out
    g_scale = np.empty(groups.shape[0], dtype=np.float64)
    g_scale[g_inv] = state.scale
    tiles_rb = np.unique(state.tile) // state.n_col_blocks
    g_bg = _zero_conductance(spec)
    g_ref = 0.0 if spec.differential else g_bg
    unit = spec.delta_g_us * spec.read_voltage_v / (1.0 if spec.differential else 2.0)
    t_pulse_s = spec.read_pulse_ns * 1e-9
    y = np.zeros((xb.shape[0], n_out), dtype=np.float64)
    n_adc = n_dac = 0
    energy_pj = 0.0
    for b in range(xb.shape[0]):
        v_in = xn[b] * spec.read_voltage_v
        active = np.zeros(n_rb, dtype=np.int64)
        np.add.at(active, np.arange(n_in) // spec.rows, (xn[b] != 0).astype(np.int64))
        n_dac += int(active[tiles_rb].sum())
        gp = _conductance_now(state.g_pos, state.nu_pos, state.stuck_pos, t, spec, rng, True,
                              state.tau_pos)
        cur = _with_ir_drop(state, gp, v_in, spec, g_bg) - g_ref * v_in[state.in_idx]
        e = float(np.sum(gp * v_in[state.in_idx] ** 2))
        if state.g_neg is not None:
            gn = _conductance_now(state.g_neg, state.nu_neg, state.stuck_neg, t, spec, rng, True,
                                  state.tau_neg)
            cur -= _with_ir_drop(state, gn, v_in, spec, g_bg)
            e += float(np.sum(gn * v_in[state.in_idx] ** 2))
        energy_pj += e * t_pulse_s * 1e6          # µS·V²·s = µJ
        col = np.bincount(g_inv, weights=cur, minlength=groups.shape[0]) / unit
        if spec.output_noise > 0:
            col = col + spec.output_noise * rng.standard_normal(col.shape)
        col = quantise_outputs(col, spec.adc_bits, spec.adc_bound)
        on = active[g_rb] > 0
        n_adc += int(np.count_nonzero(on))
        y[b] = np.bincount(g_out[on], weights=(col * g_scale)[on], minlength=n_out) * x_max[b]
    return MvmResult(y[0] if single else y, n_adc, n_dac, energy_pj)
