"""Memristive crossbar descriptions and device physics.

:class:`CrossbarSpec` (frozen, validated) and its presets (:data:`PRESETS`, every value with its
source), and the device physics: programming noise, drift, read noise, IR drop, ADC energy.

The physics are pure functions over conductance arrays in microsiemens (µS). Each non-ideality
is chosen by name from a registry (:data:`PROG_NOISE_MODELS`, :data:`DRIFT_MODELS`,
:data:`READ_NOISE_MODELS`); the numbers a model needs come from the spec passed as ``spec``.

The PCM models follow the published formulas of aihwkit's ``PCMLikeNoiseModel`` (fit to measured
PCM by Nandakumar et al., ICECS 2019), as transcribed in the project's hardware-numbers note §4.1.
With ``ĝ = g / g_max`` (``g_max`` the spec's maximum conductance):

programming noise (additive Gaussian, result clipped at >= 0)::

    σ_prog(g) = (0.26348 + 1.9650 ĝ − 1.1731 ĝ²) µS · (g_max / 25 µS)

drift, with an exponent ``ν`` drawn once per device at programming::

    G(t) = G_prog · (t / t0)^(−ν)        for t > t0, G_prog otherwise
    ν ~ N(μ_ν, σ_ν),  μ_ν = clamp(−0.0155 ln ĝ + 0.0244, 0.049, 0.1),
                      σ_ν = clamp(−0.0125 ln ĝ − 0.0059, 0.008, 0.045)

1/f read noise (fresh on every read)::

    σ_read = G(t) · Q_s · sqrt(ln((t + t_read) / (2 t_read))),   Q_s = min(0.2, 0.0088 / ĝ^0.65)

Modelling choices that the formulas leave open, stated here once: ``ĝ`` is the programmed
conductance (not the drifted one) in ``μ_ν``, ``σ_ν`` and ``Q_s``, floored at 1e-6 so that
``ln ĝ`` stays finite; a drawn ``ν`` is clipped at >= 0 (conductance never grows by drift);
the 1/f variance is taken as 0 while ``t < t_read``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, fields

import numpy as np
from numba import njit

from aersim.hardware.errors import ChipSpecError

#: Reference maximum conductance of aihwkit's PCM fit, µS (hardware-numbers §4.1 [V]).
PCM_G_REF_US = 25.0

#: 32 nm SAR ADC energy per conversion by resolution, pJ: ISAAC (Shafiee et al., ISCA 2016) after
#: Saberi et al. 2011, as transcribed by Accelergy ``hwcomponents-library/isaac.py``
#: (hardware-numbers §4.3 [V]); the 8-bit point is Kull et al., ISSCC 2013.
ADC_ENERGY_PJ_32NM = {4: 0.79, 5: 0.99, 6: 1.20, 7: 1.42, 8: 1.67, 9: 1.97, 10: 2.38}

_G_FLOOR = 1e-6

# -- programming noise ---------------------------------------------------------------------------

def _prog_none(g_target, spec):
    return np.zeros_like(g_target)


def _prog_pcm(g_target, spec):
    gn = g_target / spec.g_max_us
    sigma = (0.26348 + 1.9650 * gn - 1.1731 * gn * gn) * (spec.g_max_us / PCM_G_REF_US)
    return np.maximum(sigma, 0.0) * spec.prog_noise_scale


def _prog_constant(g_target, spec):
    # MLP-NeuroSim RealDevice: σ_cycle-to-cycle = 0.5 % of (G_max − G_min) (hardware-numbers §4.2)
    sigma = spec.prog_noise_frac * (spec.g_max_us - spec.g_min_us) * spec.prog_noise_scale
    return np.full_like(g_target, sigma)


#: Programming-noise models: name -> ``sigma_us(g_target_us, spec)``.
PROG_NOISE_MODELS = {"none": _prog_none, "pcm_aihwkit": _prog_pcm, "constant": _prog_constant}


def programming_sigma_us(g_target_us: np.ndarray, spec) -> np.ndarray:
    """Standard deviation of the programming error of devices aimed at ``g_target_us``, µS."""
    return PROG_NOISE_MODELS[spec.prog_noise](np.asarray(g_target_us, dtype=np.float64), spec)


# -- drift ---------------------------------------------------------------------------------------

def _nu_none(g_prog, spec, rng):
    return np.zeros_like(g_prog)


def pcm_nu_moments(g_prog_us: np.ndarray, g_max_us: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the PCM drift exponent at conductance ``g_prog_us``."""
    log_g = np.log(np.maximum(np.asarray(g_prog_us, dtype=np.float64) / g_max_us, _G_FLOOR))
    mu = np.clip(-0.0155 * log_g + 0.0244, 0.049, 0.1)
    sig = np.clip(-0.0125 * log_g - 0.0059, 0.008, 0.045)
    return mu, sig


def _nu_pcm(g_prog, spec, rng):
    mu, sig = pcm_nu_moments(g_prog, spec.g_max_us)
    return np.maximum(mu + sig * rng.standard_normal(g_prog.shape), 0.0)


def _nu_constant(g_prog, spec, rng):
    return np.maximum(spec.drift_nu_mean + spec.drift_nu_std * rng.standard_normal(g_prog.shape),
                      0.0)


#: Drift models: name -> ``nu(g_prog_us, spec, rng)``, one exponent per device.
DRIFT_MODELS = {"none": _nu_none, "pcm_aihwkit": _nu_pcm, "constant": _nu_constant}


def draw_drift_nu(g_prog_us: np.ndarray, spec, rng: np.random.Generator) -> np.ndarray:
    """Drift exponent ``ν`` of every device (float64, same shape as ``g_prog_us``)."""
    return DRIFT_MODELS[spec.drift](np.asarray(g_prog_us, dtype=np.float64), spec, rng)


def drift(g_prog_us: np.ndarray, nu: np.ndarray, t_s: float, t0_s: float) -> np.ndarray:
    """Conductance at ``t_s`` seconds after programming: ``G·(t/t0)^−ν`` for ``t > t0``."""
    ratio = max(float(t_s), float(t0_s)) / float(t0_s)
    if ratio == 1.0:
        return np.array(g_prog_us, dtype=np.float64, copy=True)
    return g_prog_us * np.power(ratio, -nu)


# -- read noise ----------------------------------------------------------------------------------

def _read_none(g_prog, g_t, t_s, spec):
    return None


def _read_pcm(g_prog, g_t, t_s, spec):
    t_read = spec.t_read_s
    arg = (float(t_s) + t_read) / (2.0 * t_read)
    if arg <= 1.0:
        return None
    gn = np.maximum(g_prog / spec.g_max_us, _G_FLOOR)
    q_s = np.minimum(0.2, 0.0088 / np.power(gn, 0.65))
    return np.abs(g_t) * q_s * np.sqrt(np.log(arg))


def _read_gaussian(g_prog, g_t, t_s, spec):
    # aihwkit ``w_noise``: Gaussian per read, relative to the weight range (hardware-numbers §4.1)
    sigma = spec.read_noise_frac * (spec.g_max_us - spec.g_min_us)
    return np.full_like(g_t, sigma) if sigma > 0 else None


#: Read-noise models: name -> ``sigma_us(g_prog_us, g_t_us, t_s, spec)`` (``None`` = no noise).
READ_NOISE_MODELS = {"none": _read_none, "pcm_1f": _read_pcm, "gaussian": _read_gaussian}


def read_sigma_us(g_prog_us, g_t_us, t_s: float, spec):
    """Standard deviation of one read of each device, µS, or ``None`` when the model is silent."""
    return READ_NOISE_MODELS[spec.read_noise](g_prog_us, g_t_us, t_s, spec)


# -- volatility: retention and stochastic switching -------------------------------------------

#: Retention models: ``"none"`` (the device keeps its conductance) or ``"lognormal"`` (volatile:
#: one relaxation time constant per device, lognormally spread).
RETENTION_MODELS = ("none", "lognormal")


def draw_retention_tau_s(n: int, spec, rng: np.random.Generator) -> np.ndarray:
    """Retention time constant of each of ``n`` devices, seconds (float64; ``inf`` = none).

    The ``"lognormal"`` model draws ``tau = retention_tau_s * exp(retention_sigma * z)``,
    ``z ~ N(0, 1)``: ``retention_tau_s`` is the median and ``retention_sigma`` the standard
    deviation of ``ln tau``. The draw always consumes ``n`` normals, whatever the model.
    """
    z_tau = rng.standard_normal(n)
    if spec.retention == "none":
        return np.full(n, np.inf)
    return spec.retention_tau_s * np.exp(spec.retention_sigma * z_tau)


def relax(g_us: np.ndarray, tau_s: np.ndarray, t_s: float, g_rest_us: float) -> np.ndarray:
    """Volatile relaxation toward the rest state: ``g_rest + (g − g_rest)·exp(−t/tau)``."""
    if not np.any(np.isfinite(tau_s)) or t_s <= 0:
        return np.array(g_us, dtype=np.float64, copy=True)
    with np.errstate(divide="ignore", over="ignore"):
        keep = np.exp(-float(t_s) / tau_s)
    return g_rest_us + (g_us - g_rest_us) * keep


def mean_retained_fraction(t_s: float, tau_median_s: float, sigma: float,
                           n_nodes: int = 64) -> float:
    """``E[exp(−t/tau)]`` over ``ln tau ~ N(ln tau_median, sigma²)`` (Gauss–Hermite quadrature).

    The mean of a relaxing population: ``E[G(t)] = g_rest + (G0 − g_rest)·mean_retained_fraction``.
    """
    if sigma == 0:
        return float(np.exp(-t_s / tau_median_s))
    x, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    tau = tau_median_s * np.exp(sigma * x)
    return float(np.sum(w * np.exp(-t_s / tau)) / np.sqrt(2.0 * np.pi))


def _switch_always(v, spec):
    return np.ones_like(v)


def _switch_exponential(v, spec):
    # Poisson switching with a voltage-dependent mean wait tau(V) = tau0 exp(−V / V0): the
    # probability that one pulse of width t_p switches the device is 1 − exp(−t_p / tau(V)).
    tau = spec.switch_tau0_s * np.exp(-v / spec.switch_v0_v)
    return -np.expm1(-spec.program_pulse_s / tau)


def _switch_sigmoid(v, spec):
    return 1.0 / (1.0 + np.exp(-(v - spec.switch_v50_v) / spec.switch_width_v))


#: Switching laws: name -> ``p(v_program, spec)``, the probability that one programming pulse at
#: ``v_program`` volts takes a device out of its rest state.
SWITCHING_MODELS = {"deterministic": _switch_always, "exponential": _switch_exponential,
                    "sigmoid": _switch_sigmoid}


def switching_probability(v_program, spec) -> np.ndarray:
    """Probability that one programming pulse at ``v_program`` (V) switches a device."""
    v = np.asarray(v_program, dtype=np.float64)
    return SWITCHING_MODELS[spec.switching](v, spec)


# -- IR drop -------------------------------------------------------------------------------------

def ir_background_columns(v_in: np.ndarray, n_rows: int, n_row_blocks: int,
                          g_bg_us: float) -> np.ndarray:
    """Column-wire term of the cells *not* listed (held at ``g_bg_us``), per row block and row.

    Returns float64 ``(n_row_blocks, n_rows)``: ``g_bg · Σ_n v_n (R − max(n, r))`` in µS·V.
    """
    v = np.zeros(n_row_blocks * n_rows, dtype=np.float64)
    v[:v_in.shape[0]] = v_in
    v = v.reshape(n_row_blocks, n_rows)
    dist = n_rows - np.arange(n_rows, dtype=np.float64)            # R − n
    p = np.cumsum(v, axis=1)                                        # Σ_{n<=r} v_n
    q = np.cumsum(v * dist, axis=1)                                 # Σ_{n<=r} v_n (R − n)
    return g_bg_us * (dist * p + (q[:, -1:] - q))


@njit(cache=True)
def ir_drop_kernel(g, v, lr, lc, tile, order_row, order_col, g_bg, n_rows, n_cols,
                   r_row, r_col, bg_col, n_col_blocks):
    """Cell currents with first-order IR drop on the row and column wires.

    Rows are driven from column 0; columns are sensed (virtual ground) below row ``n_rows − 1``.
    Every wire segment between two cells has resistance ``r_row`` (rows) or ``r_col`` (columns),
    ohms. The wire currents are those of the ideal array (first order), so a cell at local
    ``(r, c)`` sees::

        ΔV_row = r_row · Σ_m I(r, m) · (min(c, m) + 1)
        V_col  = r_col · Σ_n I(n, c) · (R − max(n, r))
        I(r, c) = g · (v_r − ΔV_row − V_col)

    Cells that are not listed hold ``g_bg`` (their contribution is added in closed form for rows
    and through ``bg_col`` for columns).

    Parameters
    ----------
    g : float64 (n,)          conductances, µS
    v : float64 (n,)          drive voltage of each cell's row, V
    lr, lc : int32 (n,)       local row and column inside the tile
    tile : int64 (n,)         tile id ``row_block * n_col_blocks + col_block``
    order_row, order_col : int64 (n,)   cells sorted by (tile, lr, lc) and by (tile, lc, lr)
    bg_col : float64 (n_row_blocks, n_rows)   see :func:`ir_background_columns`

    Returns
    -------
    float64 (n,) : cell currents, µA.
    """
    n = g.shape[0]
    drop_row = np.zeros(n, dtype=np.float64)
    v_col = np.zeros(n, dtype=np.float64)
    # Row wires: S(c) = Σ_{m<=c} G'_m (m + 1) + (c + 1) Σ_{m>c} G'_m, G' = g − g_bg.
    i = 0
    while i < n:
        first = order_row[i]
        j = i
        total = 0.0
        while j < n and tile[order_row[j]] == tile[first] and lr[order_row[j]] == lr[first]:
            total += g[order_row[j]] - g_bg
            j += 1
        a = 0.0
        p = 0.0
        k = i
        while k < j:
            col = lc[order_row[k]]
            m = k
            while m < j and lc[order_row[m]] == col:
                gp = g[order_row[m]] - g_bg
                a += gp * (col + 1)
                p += gp
                m += 1
            bg = g_bg * ((col + 1) * (col + 2) / 2.0 + (n_cols - 1 - col) * (col + 1))
            s = a + (col + 1) * (total - p) + bg
            for q in range(k, m):
                drop_row[order_row[q]] = r_row * 1e-6 * s * v[order_row[q]]
            k = m
        i = j
    # Column wires: Σ_n I_n (R − max(n, r)) = (R − r) P(r) + Q_tot − Q(r).
    i = 0
    while i < n:
        first = order_col[i]
        j = i
        q_tot = 0.0
        while j < n and tile[order_col[j]] == tile[first] and lc[order_col[j]] == lc[first]:
            c = order_col[j]
            q_tot += (g[c] - g_bg) * v[c] * (n_rows - lr[c])
            j += 1
        rb = tile[first] // n_col_blocks
        p = 0.0
        qq = 0.0
        k = i
        while k < j:
            row = lr[order_col[k]]
            m = k
            while m < j and lr[order_col[m]] == row:
                c = order_col[m]
                cur = (g[c] - g_bg) * v[c]
                p += cur
                qq += cur * (n_rows - row)
                m += 1
            s = (n_rows - row) * p + q_tot - qq + bg_col[rb, row]
            for q in range(k, m):
                v_col[order_col[q]] = r_col * 1e-6 * s
            k = m
        i = j
    out = np.empty(n, dtype=np.float64)
    for c in range(n):
        out[c] = g[c] * (v[c] - drop_row[c] - v_col[c])
    return out


# ------------------------------------------------------------------------------------------------
# The crossbar description

DEVICE_KINDS = ("ideal", "pcm", "rram", "volatile", "other")
SCALE_MODES = ("column", "tile")
STUCK_NONE, STUCK_LOW, STUCK_HIGH = 0, 1, 2


@dataclass(frozen=True)
class CrossbarSpec:
    """One kind of memristive crossbar core (frozen; validated on construction).

    The defaults describe an ideal crossbar (no noise, no drift, no faults, ideal converters);
    :func:`crossbar_preset` gives published device models.

    Attributes
    ----------
    name : str
    rows, columns : int
        Weights per tile: inputs (rows) x outputs (columns). A differential pair uses two devices.
    device : str
        What the numbers describe, one of :data:`DEVICE_KINDS` (a label; the models below act).
    g_min_us, g_max_us : float
        Device conductance range, µS, ``0 <= g_min < g_max``.
    levels : int or None
        Programmable conductance levels per device (>= 2), or ``None`` for analog programming.
    differential : bool
        Differential pair ``G+ − G−`` per weight; otherwise one device against a reference.
    scale_mode : str
        ``"column"`` or ``"tile"``: over which cells ``max |w|`` maps to ``g_max``.
    prog_noise : str
        Programming-noise model (:data:`~hardware.crossbar.devices.PROG_NOISE_MODELS`).
    prog_noise_scale : float
        Multiplies the model's σ (aihwkit's ``prog_noise_scale``).
    prog_noise_frac : float
        σ of the ``"constant"`` model as a fraction of ``g_max − g_min``.
    read_noise : str
        Read-noise model (:data:`~hardware.crossbar.devices.READ_NOISE_MODELS`).
    read_noise_frac : float
        σ of the ``"gaussian"`` model as a fraction of ``g_max − g_min``.
    t_read_s : float
        Read duration of the 1/f model, seconds.
    drift : str
        Drift model (:data:`~hardware.crossbar.devices.DRIFT_MODELS`).
    drift_nu_mean, drift_nu_std : float
        ``ν`` distribution of the ``"constant"`` drift model.
    drift_t0_s : float
        Reference time of drift, seconds after programming.
    drift_compensation : bool
        Rescale read weights globally to undo the mean drift.
    stuck_low_rate, stuck_high_rate : float
        Probability that a device is stuck at ``g_min`` / ``g_max``; their sum is <= 1.
    d2d_sigma : float
        Relative device-to-device variation of the programmed conductance range.
    dac_bits : int
        Input resolution including sign: 0 = ideal, else 2..16 (``2**(bits-1) − 1`` steps per sign).
    adc_bits : int
        Output resolution including sign: 0 = ideal, else 2..16.
    adc_bound : float
        ADC full scale, in units of one full-range device at full input (aihwkit ``out_bound``).
    output_noise : float
        Gaussian σ added to every column output before the ADC, same units as ``adc_bound``.
    adc_energy_pj, dac_energy_pj : float
        Energy per ADC conversion and per DAC (row driver) activation, pJ.
    columns_per_adc : int
        Columns sharing one ADC (sets the conversion time of one MVM).
    adc_time_ns : float
        Time of one conversion, ns.
    read_voltage_v, read_pulse_ns : float
        Read voltage (V) and pulse width (ns) of one MVM; they set the array's read energy.
    row_wire_ohm, col_wire_ohm : float
        Wire resistance per cell along a row and along a column, ohms (0 = no IR drop).
    retention : str
        ``"none"`` or ``"lognormal"`` (:data:`RETENTION_MODELS`): a volatile device relaxes
        toward its rest state ``g_min`` as ``g_min + (G − g_min)·exp(−t/tau)``, with one ``tau``
        per device drawn at programming.
    retention_tau_s : float
        Median retention time constant, seconds.
    retention_sigma : float
        Standard deviation of ``ln tau`` (device-to-device spread).
    switching : str
        Law of the probability that a programming pulse takes a device out of its rest state
        (:data:`SWITCHING_MODELS`): ``"deterministic"`` (always), ``"exponential"``
        (``1 − exp(−t_p / (tau0·exp(−V/V0)))``) or ``"sigmoid"``
        (``1 / (1 + exp(−(V − V50)/width))``). A device that fails stays at ``g_min``.
    program_voltage_v, program_pulse_s : float
        Amplitude (V) and width (s) of the programming pulse.
    switch_tau0_s, switch_v0_v : float
        ``tau0`` (s) and ``V0`` (V) of the exponential law.
    switch_v50_v, switch_width_v : float
        ``V50`` (V, half switching) and ``width`` (V) of the sigmoid law.
    ir_drop : str
        ``"first_order"`` (default, fast: :func:`ir_drop_kernel`) or ``"exact"`` (nodal
        solution of each tile, :mod:`hardware.crossbar.ir_drop`; a sparse solve per tile read).
    sources : dict
        Field name -> citation of its value.
    """

    name: str = "custom"
    rows: int = 256
    columns: int = 256
    device: str = "ideal"
    g_min_us: float = 0.0
    g_max_us: float = 25.0
    levels: int | None = None
    differential: bool = True
    scale_mode: str = "column"
    prog_noise: str = "none"
    prog_noise_scale: float = 1.0
    prog_noise_frac: float = 0.0
    read_noise: str = "none"
    read_noise_frac: float = 0.0
    t_read_s: float = 250e-9
    drift: str = "none"
    drift_nu_mean: float = 0.0
    drift_nu_std: float = 0.0
    drift_t0_s: float = 20.0
    drift_compensation: bool = False
    stuck_low_rate: float = 0.0
    stuck_high_rate: float = 0.0
    d2d_sigma: float = 0.0
    dac_bits: int = 0
    adc_bits: int = 0
    adc_bound: float = 10.0
    output_noise: float = 0.0
    adc_energy_pj: float = 0.0
    dac_energy_pj: float = 0.0
    columns_per_adc: int = 1
    adc_time_ns: float = 0.0
    read_voltage_v: float = 0.2
    read_pulse_ns: float = 10.0
    row_wire_ohm: float = 0.0
    col_wire_ohm: float = 0.0
    ir_drop: str = "first_order"
    retention: str = "none"
    retention_tau_s: float = 1.0
    retention_sigma: float = 0.0
    switching: str = "deterministic"
    program_voltage_v: float = 1.0
    program_pulse_s: float = 1e-6
    switch_tau0_s: float = 1.0
    switch_v0_v: float = 1.0
    switch_v50_v: float = 1.0
    switch_width_v: float = 0.1
    sources: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        for f in fields(self):
            rule = _RULES.get(f.name)
            if rule is None:
                continue
            kind, check, allowed = rule
            value = getattr(self, f.name)
            if not _is_kind(value, kind) or (check is not None and not check(value)):
                raise ChipSpecError(f"crossbar {self.name!r}: {f.name} = {value!r} is not "
                                    f"allowed; expected {allowed}")
        if self.g_min_us >= self.g_max_us:
            raise ChipSpecError(f"crossbar {self.name!r}: g_min_us = {self.g_min_us!r} must be "
                                f"below g_max_us = {self.g_max_us!r}; expected 0 <= g_min_us < "
                                "g_max_us")
        if self.stuck_low_rate + self.stuck_high_rate > 1.0:
            raise ChipSpecError(f"crossbar {self.name!r}: stuck_low_rate + stuck_high_rate = "
                                f"{self.stuck_low_rate + self.stuck_high_rate!r}; expected <= 1")

    @property
    def delta_g_us(self) -> float:
        """Conductance range ``g_max − g_min``, µS."""
        return self.g_max_us - self.g_min_us

    @property
    def devices_per_weight(self) -> int:
        """2 for a differential pair, else 1."""
        return 2 if self.differential else 1

    @property
    def mvm_latency_ns(self) -> float:
        """Time of one MVM on one tile: read pulse plus the conversions of one shared ADC, ns."""
        return self.read_pulse_ns + self.columns_per_adc * self.adc_time_ns

    def replace(self, **changes) -> CrossbarSpec:
        """A copy with some fields changed (validated again)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        unknown = sorted(set(changes) - set(data))
        if unknown:
            raise ChipSpecError(_unknown_key_message(self.name, unknown[0], data))
        data.update(changes)
        return CrossbarSpec(**data)


def _is_kind(value, kind) -> bool:
    if kind == "int":
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if kind == "int?":
        return value is None or _is_kind(value, "int")
    if kind == "float":
        return (isinstance(value, (int, float, np.integer, np.floating))
                and not isinstance(value, bool) and bool(np.isfinite(value)))
    if kind == "bool":
        return isinstance(value, (bool, np.bool_))
    if kind == "str":
        return isinstance(value, str)
    if kind == "dict":
        return isinstance(value, dict)
    raise AssertionError(kind)


def _converter_bits(b) -> bool:
    return b == 0 or 2 <= b <= 16


_NONNEG = (lambda x: x >= 0, ">= 0")
IR_DROP_MODELS = ("first_order", "exact")
_RULES = {
    "name": ("str", None, "a name"),
    "rows": ("int", lambda x: x >= 1, "an integer >= 1"),
    "columns": ("int", lambda x: x >= 1, "an integer >= 1"),
    "device": ("str", lambda s: s in DEVICE_KINDS, f"one of {DEVICE_KINDS}"),
    "g_min_us": ("float", *_NONNEG),
    "g_max_us": ("float", lambda x: x > 0, "> 0"),
    "levels": ("int?", lambda x: x is None or x >= 2,
               "an integer >= 2, or None for analog programming"),
    "differential": ("bool", None, "true or false"),
    "scale_mode": ("str", lambda s: s in SCALE_MODES, f"one of {SCALE_MODES}"),
    "prog_noise": ("str", lambda s: s in PROG_NOISE_MODELS,
                   f"one of {tuple(PROG_NOISE_MODELS)}"),
    "prog_noise_scale": ("float", *_NONNEG),
    "prog_noise_frac": ("float", *_NONNEG),
    "read_noise": ("str", lambda s: s in READ_NOISE_MODELS,
                   f"one of {tuple(READ_NOISE_MODELS)}"),
    "read_noise_frac": ("float", *_NONNEG),
    "t_read_s": ("float", lambda x: x > 0, "> 0"),
    "drift": ("str", lambda s: s in DRIFT_MODELS, f"one of {tuple(DRIFT_MODELS)}"),
    "drift_nu_mean": ("float", *_NONNEG),
    "drift_nu_std": ("float", *_NONNEG),
    "drift_t0_s": ("float", lambda x: x > 0, "> 0"),
    "drift_compensation": ("bool", None, "true or false"),
    "stuck_low_rate": ("float", lambda x: 0 <= x <= 1, "a probability in [0, 1]"),
    "stuck_high_rate": ("float", lambda x: 0 <= x <= 1, "a probability in [0, 1]"),
    "d2d_sigma": ("float", *_NONNEG),
    "dac_bits": ("int", _converter_bits, "0 (ideal) or an integer in 2..16"),
    "adc_bits": ("int", _converter_bits, "0 (ideal) or an integer in 2..16"),
    "adc_bound": ("float", lambda x: x > 0, "> 0"),
    "output_noise": ("float", *_NONNEG),
    "adc_energy_pj": ("float", *_NONNEG),
    "dac_energy_pj": ("float", *_NONNEG),
    "columns_per_adc": ("int", lambda x: x >= 1, "an integer >= 1"),
    "adc_time_ns": ("float", *_NONNEG),
    "read_voltage_v": ("float", lambda x: x > 0, "> 0"),
    "read_pulse_ns": ("float", *_NONNEG),
    "row_wire_ohm": ("float", *_NONNEG),
    "col_wire_ohm": ("float", *_NONNEG),
    "ir_drop": ("str", lambda s: s in IR_DROP_MODELS, f"one of {IR_DROP_MODELS}"),
    "retention": ("str", lambda s: s in RETENTION_MODELS, f"one of {RETENTION_MODELS}"),
    "retention_tau_s": ("float", lambda x: x > 0, "> 0"),
    "retention_sigma": ("float", *_NONNEG),
    "switching": ("str", lambda s: s in SWITCHING_MODELS, f"one of {tuple(SWITCHING_MODELS)}"),
    "program_voltage_v": ("float", *_NONNEG),
    "program_pulse_s": ("float", lambda x: x > 0, "> 0"),
    "switch_tau0_s": ("float", lambda x: x > 0, "> 0"),
    "switch_v0_v": ("float", lambda x: x > 0, "> 0"),
    "switch_v50_v": ("float", *_NONNEG),
    "switch_width_v": ("float", lambda x: x > 0, "> 0"),
    "sources": ("dict", None, "a mapping of field name to citation"),
}


def _unknown_key_message(name, key, known) -> str:
    close = difflib.get_close_matches(str(key), list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"crossbar {name!r}: unknown key {key!r}{hint} (allowed: {', '.join(known)})"


# ------------------------------------------------------------------------------------------------
# Presets. Section numbers refer to the project's hardware-numbers reference note.

_PCM_SOURCES = {
    "rows": "IBM HERMES, 64 cores of 256x256 PCM (Le Gallo et al., Nat. Electron. 2023) §7.3",
    "g_max_us": "aihwkit SinglePairConductanceConverter g_max 25 uS, g_min 0 (§4.1)",
    "prog_noise": "aihwkit PCMLikeNoiseModel, Nandakumar et al. ICECS 2019 (§4.1)",
    "drift": "aihwkit PCMLikeNoiseModel drift, t0 = 20 s (§4.1)",
    "read_noise": "aihwkit PCMLikeNoiseModel 1/f read noise, t_read 250 ns (§4.1)",
    "drift_compensation": "aihwkit GlobalDriftCompensation (§4.1)",
    "dac_bits": "aihwkit StandardIOParameters: 8-bit DAC / 8-bit ADC, out_bound 10, "
                "out_noise 0.04 (Rasch et al., arXiv:2302.08469) (§4.1)",
    "adc_energy_pj": "8-bit SAR 1.67 pJ/conversion, 1.2 GS/s, 32 nm (ISAAC after Kull et al. "
                     "ISSCC 2013) (§4.3)",
    "dac_energy_pj": "ISAAC 1-bit DAC row driver 0.417 pJ per drive (§4.3)",
    "columns_per_adc": "NeuroSim numColMuxed = 8 (§4.2)",
    "read_voltage_v": "aihwkit IOParametersIRDropT ir_drop_v_read 0.4005 V (§4.1)",
    "read_pulse_ns": "NeuroSim readPulseWidth 10 ns (§4.2)",
    "row_wire_ohm": "aihwkit ir_drop_g_ratio = 1/(0.35 ohm x 5 uS) (IBM/aihwkit "
                    "simulator/parameters/io.py): 0.35 ohm per cell for a 5 uS device, i.e. "
                    "0.07 ohm for this preset's 25 uS g_max (same r_wire x g_max)",
    "stuck_low_rate": "default 0; sweep 0-10 % (§4.4)",
    "scale_mode": "one scale per tile, as aihwkit's conductance converter (assumption)",
    "levels": "None: aihwkit programs analog targets (no level quantisation) (§4.1)",
    "adc_time_ns": "1 / 1.2 GS/s, the ISAAC/Kull SAR ADC (§4.3)",
    "output_noise": "aihwkit StandardIOParameters out_noise 0.04 (§4.1)",
}
_RRAM_SOURCES = {
    "rows": "DNN_NeuroSim V1.4 subarray 128x128 (§4.2)",
    "g_max_us": "NeuroSim R_on 100 kohm, R_off 1.7 Mohm: 10 uS / 0.588 uS (§4.2)",
    "levels": "MLP_NeuroSim V3.0 RealDevice, 31 levels (§4.2)",
    "prog_noise": "MLP_NeuroSim RealDevice sigma_C2C = 0.5 % of (G_max - G_min) (§4.2)",
    "read_noise": "aihwkit ReRamWan2022NoiseModel docstring: ~1 % short-term read noise (§4.1)",
    "drift": "none: NeuroSim models no retention loss (§7.3)",
    "adc_bits": "NeuroSim levelOutput = 16, i.e. 4 bits (§4.2)",
    "adc_energy_pj": "4-bit SAR 0.79 pJ/conversion, 32 nm (ISAAC/Saberi scaling) (§4.3)",
    "dac_energy_pj": "ISAAC 1-bit DAC row driver 0.417 pJ per drive (§4.3)",
    "dac_bits": "8-bit inputs (assumption; NeuroSim streams input bits serially)",
    "adc_bound": "assumption (not published for NeuroSim)",
    "columns_per_adc": "NeuroSim numColMuxed = 8 (§4.2)",
    "read_voltage_v": "NeuroSim readVoltage 0.5 V, readPulseWidth 10 ns (§4.2)",
    "row_wire_ohm": "NeuroSim line resistance, 22 nm 1T1R: 1.9 ohm row / 5.6 ohm column "
                    "segment (§4.2, derived)",
    "stuck_low_rate": "default 0; sweep 0-10 % (§4.4)",
    "adc_time_ns": "1 / 1.2 GS/s, the ISAAC/Kull SAR ADC (§4.3)",
    "output_noise": "0: NeuroSim has no output-noise term (assumption)",
}

# Volatile devices. Tags: [V] read in the primary text, [R] recalled from the cited paper and not
# re-read here (check before calling it validated), [D] derived, [U] modelling assumption.
_AG_DIFFUSIVE_SOURCES = {
    "device": "diffusive Ag memristor: Ag nanoclusters in a dielectric form a filament under bias "
              "that dissolves spontaneously when the bias is removed (Wang et al., Nat. Mater. "
              "16:101-108, 2017, doi:10.1038/nmat4756)",
    "rows": "[U] 64x64 array (diffusive memristors have been shown in small arrays only)",
    "g_max_us": "one conductance quantum 2e^2/h = 77.48 uS: volatile Ag filaments conduct in "
                "quantised steps of G0 (CODATA constant; quantised conductance of Ag filaments, "
                "Wang et al. 2017 [R])",
    "g_min_us": "[U] rest (filament dissolved) state ~1 Gohm, i.e. 1 nS",
    "levels": "[U] analog target conductance (set by the compliance current)",
    "retention": "volatile Ag filaments live 'microseconds to milliseconds' (W. Wang et al., "
                 "Nat. Commun. 10:81, 2019, doi:10.1038/s41467-018-07979-0, introduction [V]); "
                 "median tau 1 ms at the top of that range [U]",
    "retention_sigma": "[U] sigma(ln tau) = 1: about 0.14-7 ms for the middle 95 % of devices; "
                       "W. Wang et al. 2019 report lifetimes spread over decades",
    "switching": "Poisson switching with a voltage-dependent mean wait tau(V) = tau0 exp(-V/V0), "
                 "tau0 = 2.85e5 s, V0 = 0.155 V, measured on Ag/a-Si devices (Jo, Kim, Lu, Nano "
                 "Lett. 9(1):496-500, 2009, doi:10.1021/nl803669s) [R]",
    "program_voltage_v": "[U] 4.5 V, 1 us pulse: p = 1 - 7e-7 with the law above "
                         "(50 % at 4.03 V) [D]",
    "prog_noise": "MLP_NeuroSim V3.0 RealDevice sigma_C2C = 0.5 % of (G_max - G_min)",
    "read_noise": "aihwkit ReRamWan2022NoiseModel docstring: ~1 % short-term read noise",
    "read_voltage_v": "[U] 0.1 V, below the switching threshold; 10 ns pulse (NeuroSim "
                      "readPulseWidth)",
    "dac_bits": "aihwkit StandardIOParameters: 8-bit DAC / 8-bit ADC, out_bound 10, out_noise 0.04 "
                "(Rasch et al., arXiv:2302.08469)",
    "adc_energy_pj": "8-bit SAR 1.67 pJ/conversion, 32 nm (ISAAC, Shafiee et al. ISCA 2016, after "
                     "Kull et al. ISSCC 2013)",
    "dac_energy_pj": "ISAAC 1-bit DAC row driver 0.417 pJ per drive (Shafiee et al. ISCA 2016)",
    "columns_per_adc": "DNN_NeuroSim V1.4 numColMuxed = 8",
    "adc_time_ns": "1 / 1.2 GS/s (Kull et al. ISSCC 2013)",
    "drift": "none: the volatile relaxation replaces drift",
}
_STM_WOX_SOURCES = {
    "device": "short-term memory oxide memristor: WOx devices whose conductance gained under "
              "stimulation decays back over seconds to minutes, longer after repeated "
              "stimulation (Chang, Jo, Lu, ACS Nano 5(9):7669-7676, 2011, "
              "doi:10.1021/nn202983n) [R]",
    "rows": "DNN_NeuroSim V1.4 subarray 128x128",
    "g_max_us": "DNN_NeuroSim V1.4 RRAM R_on 100 kohm / R_off 1.7 Mohm: 10 uS / 0.588 uS",
    "retention": "[U] median tau 60 s, inside the seconds-to-minutes short-term range of Chang "
                 "et al. 2011 [R]",
    "retention_sigma": "[U] sigma(ln tau) = 0.5",
    "switching": "[U] sigmoid in the pulse amplitude, V50 = 1.3 V, width 0.1 V: a tunable "
                 "stand-in with no fitted published law for this device",
    "program_voltage_v": "[U] 1.6 V, 1 ms pulse: p = 0.95 with the sigmoid above [D]",
    "prog_noise": "MLP_NeuroSim V3.0 RealDevice sigma_C2C = 0.5 % of (G_max - G_min)",
    "read_noise": "aihwkit ReRamWan2022NoiseModel docstring: ~1 % short-term read noise",
    "levels": "MLP_NeuroSim V3.0 RealDevice, 31 levels",
    "adc_bits": "DNN_NeuroSim V1.4 levelOutput = 16, i.e. 4 bits",
    "adc_energy_pj": "4-bit SAR 0.79 pJ/conversion, 32 nm (ISAAC after Saberi et al. 2011)",
    "dac_energy_pj": "ISAAC 1-bit DAC row driver 0.417 pJ per drive",
    "read_voltage_v": "DNN_NeuroSim V1.4 readVoltage 0.5 V, readPulseWidth 10 ns",
    "columns_per_adc": "DNN_NeuroSim V1.4 numColMuxed = 8",
    "adc_time_ns": "1 / 1.2 GS/s (Kull et al. ISSCC 2013)",
    "drift": "none: the volatile relaxation replaces drift",
}

#: Preset name -> field values. Every value's source is in the preset's ``sources``.
PRESETS = {
    "ideal": {"device": "ideal"},
    "pcm_aihwkit": {
        "device": "pcm", "rows": 256, "columns": 256, "g_min_us": 0.0, "g_max_us": 25.0,
        "levels": None, "differential": True, "scale_mode": "tile",
        "prog_noise": "pcm_aihwkit", "prog_noise_scale": 1.0,
        "read_noise": "pcm_1f", "t_read_s": 250e-9,
        "drift": "pcm_aihwkit", "drift_t0_s": 20.0, "drift_compensation": True,
        "dac_bits": 8, "adc_bits": 8, "adc_bound": 10.0, "output_noise": 0.04,
        "adc_energy_pj": ADC_ENERGY_PJ_32NM[8], "dac_energy_pj": 0.417,
        "columns_per_adc": 8, "adc_time_ns": 1.0 / 1.2,
        "read_voltage_v": 0.4, "read_pulse_ns": 10.0,
        "row_wire_ohm": 0.07, "col_wire_ohm": 0.07,
        "sources": _PCM_SOURCES,
    },
    "rram_neurosim": {
        "device": "rram", "rows": 128, "columns": 128, "g_min_us": 1e6 / 1.7e6,
        "g_max_us": 10.0, "levels": 31, "differential": True, "scale_mode": "column",
        "prog_noise": "constant", "prog_noise_frac": 0.005,
        "read_noise": "gaussian", "read_noise_frac": 0.01,
        "drift": "none",
        "dac_bits": 8, "adc_bits": 4, "adc_bound": 10.0, "output_noise": 0.0,
        "adc_energy_pj": ADC_ENERGY_PJ_32NM[4], "dac_energy_pj": 0.417,
        "columns_per_adc": 8, "adc_time_ns": 1.0 / 1.2,
        "read_voltage_v": 0.5, "read_pulse_ns": 10.0,
        "row_wire_ohm": 1.9, "col_wire_ohm": 5.6,
        "sources": _RRAM_SOURCES,
    },
    "ag_diffusive": {
        "device": "volatile", "rows": 64, "columns": 64, "g_min_us": 1e-3, "g_max_us": 77.48,
        "levels": None, "differential": True, "scale_mode": "column",
        "prog_noise": "constant", "prog_noise_frac": 0.005,
        "read_noise": "gaussian", "read_noise_frac": 0.01, "drift": "none",
        "retention": "lognormal", "retention_tau_s": 1e-3, "retention_sigma": 1.0,
        "switching": "exponential", "switch_tau0_s": 2.85e5, "switch_v0_v": 0.155,
        "program_voltage_v": 4.5, "program_pulse_s": 1e-6,
        "dac_bits": 8, "adc_bits": 8, "adc_bound": 10.0, "output_noise": 0.04,
        "adc_energy_pj": ADC_ENERGY_PJ_32NM[8], "dac_energy_pj": 0.417,
        "columns_per_adc": 8, "adc_time_ns": 1.0 / 1.2,
        "read_voltage_v": 0.1, "read_pulse_ns": 10.0,
        "sources": _AG_DIFFUSIVE_SOURCES,
    },
    "stm_wox": {
        "device": "volatile", "rows": 128, "columns": 128, "g_min_us": 1e6 / 1.7e6,
        "g_max_us": 10.0, "levels": 31, "differential": True, "scale_mode": "column",
        "prog_noise": "constant", "prog_noise_frac": 0.005,
        "read_noise": "gaussian", "read_noise_frac": 0.01, "drift": "none",
        "retention": "lognormal", "retention_tau_s": 60.0, "retention_sigma": 0.5,
        "switching": "sigmoid", "switch_v50_v": 1.3, "switch_width_v": 0.1,
        "program_voltage_v": 1.6, "program_pulse_s": 1e-3,
        "dac_bits": 8, "adc_bits": 4, "adc_bound": 10.0, "output_noise": 0.0,
        "adc_energy_pj": ADC_ENERGY_PJ_32NM[4], "dac_energy_pj": 0.417,
        "columns_per_adc": 8, "adc_time_ns": 1.0 / 1.2,
        "read_voltage_v": 0.5, "read_pulse_ns": 10.0,
        "sources": _STM_WOX_SOURCES,
    },
}


def crossbar_preset(name: str, **overrides) -> CrossbarSpec:
    """The named preset (:data:`PRESETS`), with some fields overridden.

    Raises
    ------
    ChipSpecError
        Unknown preset or field, or an invalid value.
    """
    if name not in PRESETS:
        close = [p for p in PRESETS if p.startswith(str(name))] or \
            difflib.get_close_matches(str(name), list(PRESETS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ChipSpecError(f"unknown crossbar preset {name!r}{hint} (known: "
                            f"{', '.join(PRESETS)})")
    data = dict(PRESETS[name], name=name)
    known = {f.name for f in fields(CrossbarSpec)}
    for key in overrides:
        if key not in known:
            raise ChipSpecError(_unknown_key_message(name, key, sorted(known)))
    data.update(overrides)
    return CrossbarSpec(**data)


def crossbar_from_dict(data: dict, where: str = "<dict>") -> CrossbarSpec:
    """Build a spec from a mapping (a chip file's ``crossbar:`` section).

    An optional ``preset`` key names the base preset; the other keys override its fields.
    Integers are accepted where floats are expected.
    """
    if not isinstance(data, dict):
        raise ChipSpecError(f"{where}: crossbar must be a mapping, got {type(data).__name__}")
    data = dict(data)
    base = data.pop("preset", "ideal")
    known = {f.name: f for f in fields(CrossbarSpec)}
    for key, value in list(data.items()):
        if key not in known:
            raise ChipSpecError(f"{where}: " + _unknown_key_message(base, key, ["preset",
                                                                               *known]))
        kind = _RULES.get(key, ("",))[0]
        if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
            data[key] = float(value)
    try:
        return crossbar_preset(base, **data)
    except ChipSpecError as exc:
        raise ChipSpecError(f"{where}: {exc}") from None





def adc_energy_pj(bits: int) -> float:
    """Energy of one ADC conversion at ``bits`` of resolution (32 nm SAR), picojoules.

    Table values for 4–10 bits (:data:`ADC_ENERGY_PJ_32NM`); between them the table is exact,
    outside it ``ValueError`` is raised, because the scaling law is only published for that range.
    """
    try:
        return ADC_ENERGY_PJ_32NM[int(bits)]
    except KeyError:
        raise ValueError(f"adc bits = {bits!r} has no published energy; the ISAAC/Saberi table "
                         f"covers {min(ADC_ENERGY_PJ_32NM)}..{max(ADC_ENERGY_PJ_32NM)} bits; "
                         "give adc_energy_pj explicitly") from None
