"""Adaptive LIF (ALIF): a LIF membrane with a spike-triggered, decaying threshold.

**Discrete form** (one step of ``dt``; reference: neurons.md §4.1). With the membrane factor
``alpha`` and the adaptation factor ``rho``, spike ``z`` of the previous step and drive ``I_t``
(the sum of this step's gained weights plus ``bias``)::

    a_t = rho a_{t-1} + j z_{t-1}                             adaptation (dimensionless)
    v_t = v_leak + alpha (v_{t-1} - v_leak) + zeta I_t  [- r_t z_{t-1} when late_reset]
    A_t = v_th + beta a_t                                     adaptive threshold
    z_t = H(v_t - A_t)  (strict >), forced to 0 within ref_steps steps of the last spike

- ``integrator``: ``alpha = exp(-dt/tau_m)``, ``rho = exp(-dt/tau_a)`` (``"exact"``) or
  ``1 - dt/tau`` (``"euler"``).
- ``zeta``: ``1`` (``"one"``) or ``1 - alpha`` (``"one_minus_alpha"``).
- ``adapt_jump`` ``j``: ``1`` (``"one"``), ``1 - rho`` (``"one_minus_rho"``) or ``rho``
  (``"rho"``: the jump decays once before it is used, as an immediate jump of the continuous form).
- ``reset``: ``"subtract"`` (``r = v_th``), ``"subtract_adaptive"`` (``r = A_t``) or
  ``"value"`` (``v <- v_reset``). ``late_reset=True`` applies it one step late, inside the next
  update (the previous ``v`` is replaced by ``v_reset`` for ``"value"``); ``False`` applies it
  right after the threshold test.

Variants covered:

- e-prop ALIF (Bellec et al. 2020; NEST ``eprop_iaf_adapt``): exact, ``zeta`` one or
  one_minus_alpha, ``adapt_jump="one"``, ``reset="subtract"``, ``late_reset=True``.
- LSNN (Bellec et al. 2018): exact, ``zeta="one_minus_alpha"``, ``adapt_jump="one_minus_rho"``,
  ``reset="subtract_adaptive"``, ``late_reset=True`` -- except that LSNN tests the voltage *before*
  the update against ``A_t``, which is not reproduced.
- Norse ``lsnn``: euler, ``zeta="one_minus_alpha"``, ``adapt_jump="rho"``, ``reset="value"``,
  ``late_reset=False``, with ``beta`` Norse's and ``a = (b - v_th) / beta``; Norse's drive is
  its synaptic current of the previous step, which this population does not filter itself.

**Continuous form** (event-driven; neurons.md §4.2), times in seconds::

    tau_m dv/dt = -(v - v_inf),   v_inf = v_leak + bias;   tau_a da/dt = -a
    spike when v > v_th + beta a;  then a += 1 and v -= v_th (subtract) or v <- v_reset

Between events ``v(t) = v_inf + (v0 - v_inf) e^(-t/tau_m)`` and ``a(t) = a0 e^(-t/tau_a)``, so
``f = v - v_th - beta a = c + B e^(-t/tau_m) + C e^(-t/tau_a)`` has at most one extremum
(neurons.md §5.3); :func:`alif_time_to_threshold_s` brackets the first crossing around it and
refines it with safeguarded Newton steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from aersim.models.errors import ParameterError
from aersim.models.neurons.params import broadcast_fields, check_choice, validate_fields
from aersim.models.neurons.registry import NeuronModel, register

INTEGRATORS = ("exact", "euler")
ZETAS = ("one", "one_minus_alpha")
ADAPT_JUMPS = ("one", "one_minus_rho", "rho")
RESETS = ("subtract", "subtract_adaptive", "value")

_FIELDS = ("tau_m_s", "tau_a_s", "v_th", "beta", "v_leak", "v_reset", "bias", "t_ref_s",
           "input_gain", "v_init", "a_init")
_CHECKS = {"tau_m_s": dict(positive=True), "tau_a_s": dict(positive=True),
           "t_ref_s": dict(nonneg=True), "beta": dict(nonneg=True),
           "a_init": dict(nonneg=True)}


@dataclass(frozen=True, eq=False)
class ALIFParams:
    """Parameters of an adaptive LIF population. Numeric fields: scalar or ``(n,)``.

    Parameters
    ----------
    tau_m_s, tau_a_s : float or ndarray
        Membrane and adaptation time constants, seconds (> 0).
    v_th : float or ndarray
        Baseline threshold.
    beta : float or ndarray
        Adaptation strength (>= 0): ``A = v_th + beta a``.
    v_leak : float or ndarray
        Resting potential.
    v_reset : float or ndarray
        Value after a spike when ``reset="value"``.
    bias : float or ndarray
        Constant drive added to every step's input (continuous: ``v_inf = v_leak + bias``).
    t_ref_s : float or ndarray
        Refractory period, seconds (>= 0); spikes are blocked, ``v`` still integrates. In
        time-stepped mode it must be a whole number of steps.
    input_gain : float or ndarray
        Factor applied to every arriving weight.
    integrator, zeta, adapt_jump, reset : str
        See the module doc.
    late_reset : bool
        Apply the reset one step late (e-prop, LSNN).
    v_init, a_init : float or ndarray
        State at time 0.
    """

    tau_m_s: float | np.ndarray = 0.02
    tau_a_s: float | np.ndarray = 0.2
    v_th: float | np.ndarray = 1.0
    beta: float | np.ndarray = 0.5
    v_leak: float | np.ndarray = 0.0
    v_reset: float | np.ndarray = 0.0
    bias: float | np.ndarray = 0.0
    t_ref_s: float | np.ndarray = 0.0
    input_gain: float | np.ndarray = 1.0
    integrator: str = "exact"
    zeta: str = "one"
    adapt_jump: str = "one"
    reset: str = "subtract"
    late_reset: bool = True
    v_init: float | np.ndarray = 0.0
    a_init: float | np.ndarray = 0.0

    kind = "alif"
    spiking = True
    graded = False

    def __post_init__(self):
        validate_fields(self, "ALIF", _FIELDS, _CHECKS)
        check_choice("ALIF", "integrator", self.integrator, INTEGRATORS)
        check_choice("ALIF", "zeta", self.zeta, ZETAS)
        check_choice("ALIF", "adapt_jump", self.adapt_jump, ADAPT_JUMPS)
        check_choice("ALIF", "reset", self.reset, RESETS)
        if not isinstance(self.late_reset, (bool, np.bool_)):
            raise ParameterError(f"ALIF late_reset must be True or False, got "
                                 f"{self.late_reset!r}")

    def per_neuron(self, n: int) -> dict[str, np.ndarray]:
        """Broadcast every numeric parameter to a contiguous float64 ``(n,)`` array."""
        return broadcast_fields(self, "ALIF", _FIELDS, n)

    def step_coefficients(self, n: int, dt_s: float) -> dict[str, np.ndarray]:
        """Per-neuron factors of the discrete form for a step of ``dt_s`` seconds.

        Returns
        -------
        dict
            ``alpha``, ``rho``, ``zeta``, ``jump`` (float64 ``(n,)``), ``ref_steps`` (int64
            ``(n,)``) and ``reset_code`` (int: 0 subtract, 1 subtract_adaptive, 2 value).

        Raises
        ------
        ParameterError
            If ``dt_s <= 0``, if Euler factors would be negative (``dt_s > tau``), or if
            ``t_ref_s`` is not a whole number of steps.
        """
        if not dt_s > 0:
            raise ParameterError(f"ALIF step dt_s must be > 0, got {dt_s!r}")
        p = self.per_neuron(n)
        if self.integrator == "exact":
            alpha, rho = np.exp(-dt_s / p["tau_m_s"]), np.exp(-dt_s / p["tau_a_s"])
        else:
            alpha, rho = 1.0 - dt_s / p["tau_m_s"], 1.0 - dt_s / p["tau_a_s"]
            if np.any(alpha < 0) or np.any(rho < 0):
                raise ParameterError(f"ALIF euler step dt_s = {dt_s!r} s is longer than a time "
                                     "constant; use a shorter step or integrator='exact'")
        steps = p["t_ref_s"] / dt_s
        ref_steps = np.round(steps).astype(np.int64)
        if np.any(np.abs(steps - ref_steps) > 1e-9 * np.maximum(1.0, steps)):
            raise ParameterError(f"ALIF t_ref_s {float(p['t_ref_s'].max())!r} s is not a whole "
                                 f"number of steps of dt_s = {dt_s!r} s")
        zeta = np.ones(n) if self.zeta == "one" else 1.0 - alpha
        jump = {"one": np.ones(n), "one_minus_rho": 1.0 - rho, "rho": rho}[self.adapt_jump]
        return {"alpha": np.ascontiguousarray(alpha), "rho": np.ascontiguousarray(rho),
                "zeta": np.ascontiguousarray(zeta), "jump": np.ascontiguousarray(jump),
                "ref_steps": ref_steps, "reset_code": RESETS.index(self.reset)}


# ----------------------------------------------------------------------------------------------
# Kernels. Scalars in, scalars out: the engines inline them into their own loops.


@njit(cache=True, inline="always")
def alif_step(v, a, z_prev, ref_left, drive, alpha, zeta, rho, jump, v_leak, v_th, beta,
              v_reset, reset_code, late_reset, ref_steps):
    """One time step of the discrete form (see module doc).

    Parameters
    ----------
    v, a : float
        State after the previous step.
    z_prev : bool
        Whether the neuron spiked in the previous step.
    ref_left : int
        Remaining steps during which spikes are blocked.
    drive : float
        This step's input ``I_t`` (gained weights plus bias).
    reset_code : int
        0 subtract ``v_th``, 1 subtract ``A``, 2 set to ``v_reset``.

    Returns
    -------
    (v, a, z, ref_left) : (float, float, bool, int)
    """
    a = rho * a + (jump if z_prev else 0.0)
    thr = v_th + beta * a
    if late_reset and z_prev and reset_code == 2:
        v = v_reset
    v = v_leak + alpha * (v - v_leak) + zeta * drive
    if late_reset and z_prev:
        if reset_code == 0:
            v -= v_th
        elif reset_code == 1:
            v -= thr
    z = v > thr and ref_left == 0
    if ref_left > 0:
        ref_left -= 1
    if z:
        ref_left = ref_steps
        if not late_reset:
            if reset_code == 0:
                v -= v_th
            elif reset_code == 1:
                v -= thr
            else:
                v = v_reset
    return v, a, z, ref_left


@njit(cache=True, inline="always")
def alif_relax_exact(v, a, v_inf, h_s, tau_m_s, tau_a_s):
    """State ``(v, a)`` after ``h_s`` seconds without input (continuous form)."""
    return v_inf + (v - v_inf) * math.exp(-h_s / tau_m_s), a * math.exp(-h_s / tau_a_s)


@njit(cache=True, inline="always")
def _margin(t, c, b, cc, tau_m_s, tau_a_s):
    return c + b * math.exp(-t / tau_m_s) + cc * math.exp(-t / tau_a_s)


@njit(cache=True)
def _refine(lo, hi, c, b, cc, tau_m_s, tau_a_s):
    """First ``t`` in ``(lo, hi]`` with margin > 0, given margin(lo) <= 0 < margin(hi) and a
    monotone margin on the bracket: Newton steps kept inside the shrinking bracket, bisection
    when Newton leaves it; returns the bracket's upper end (rounded up)."""
    t = 0.5 * (lo + hi)
    for _ in range(200):
        tol = max(1e-13, 1e-15 * hi)
        if hi - lo <= tol:
            break
        f = _margin(t, c, b, cc, tau_m_s, tau_a_s)
        if f > 0.0:
            hi = t
        else:
            lo = t
        df = -b / tau_m_s * math.exp(-t / tau_m_s) - cc / tau_a_s * math.exp(-t / tau_a_s)
        nt = t - f / df if df != 0.0 else lo - 1.0
        if not lo < nt < hi:
            nt = 0.5 * (lo + hi)
        # a probe just inside the bracket closes it once Newton sits on the root
        t = min(max(nt, lo + 0.5 * tol), hi - 0.5 * tol)
    return hi


@njit(cache=True)
def alif_time_to_threshold_s(v, a, v_inf, v_th, beta, tau_m_s, tau_a_s, horizon_s):
    """Seconds until ``v`` first exceeds ``v_th + beta a`` without input; ``inf`` if not within
    ``horizon_s`` (which may be ``inf``). Accurate to 0.1 ps; returns 0 if already above.

    The margin ``f(t) = c + B e^(-t/tau_m) + C e^(-t/tau_a)`` (``c = v_inf - v_th``,
    ``B = v - v_inf``, ``C = -beta a``) has at most one extremum, at
    ``t_x = ln(-C tau_m / (B tau_a)) / (1/tau_a - 1/tau_m)`` when ``B C < 0``; ``f`` is monotone
    on each side of it, so testing its sign at 0, ``t_x`` and the horizon never misses a crossing.
    """
    c = v_inf - v_th
    b = v - v_inf
    cc = -beta * a
    if _margin(0.0, c, b, cc, tau_m_s, tau_a_s) > 0.0:
        return 0.0
    lo = 0.0
    if b * cc < 0.0 and tau_m_s != tau_a_s:
        tx = math.log(-cc * tau_m_s / (b * tau_a_s)) / (1.0 / tau_a_s - 1.0 / tau_m_s)
        if 0.0 < tx < horizon_s:
            if _margin(tx, c, b, cc, tau_m_s, tau_a_s) > 0.0:
                return _refine(0.0, tx, c, b, cc, tau_m_s, tau_a_s)
            lo = tx
    if math.isinf(horizon_s):
        if c <= 0.0:
            return math.inf
        hi = lo + max(tau_m_s, tau_a_s)
        for _ in range(2000):
            if _margin(hi, c, b, cc, tau_m_s, tau_a_s) > 0.0:
                return _refine(lo, hi, c, b, cc, tau_m_s, tau_a_s)
            lo = hi
            hi = 2.0 * hi
        return math.inf
    if _margin(horizon_s, c, b, cc, tau_m_s, tau_a_s) > 0.0:
        return _refine(lo, horizon_s, c, b, cc, tau_m_s, tau_a_s)
    return math.inf


@njit(cache=True, inline="always")
def alif_after_spike(v, a, v_th, v_reset, subtract):
    """Continuous form right after a spike: ``a + 1`` and ``v - v_th`` or ``v_reset``."""
    if subtract:
        return v - v_th, a + 1.0
    return v_reset, a + 1.0


def _engine_columns(params, p, n) -> dict:
    """Engine columns of an ALIF population: the second time constant column holds tau_a and
    the second state is the adaptation ``a``."""
    return {"tau_s": p["tau_m_s"], "tau_syn_s": p["tau_a_s"], "v_inf": p["v_leak"] + p["bias"],
            "beta": p["beta"], "bias": p["bias"], "i_init": p["a_init"],
            "reset_code": RESETS.index(params.reset)}


MODEL = register(NeuronModel("alif", kinds=("alif",), columns=_engine_columns, code=4))
