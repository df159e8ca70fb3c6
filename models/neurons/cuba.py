"""Leaky integrators and current-based (CuBa) LIF neurons: parameters and Numba kernels.

Leaky integrator (NIR ``LI``, non-spiking readout; output is ``v``)::

    tau dv/dt = (v_leak - v) + r * bias       an arriving weight w adds input_gain * w to v

Current-based neuron (NIR ``CubaLI`` and ``CubaLIF``) with synaptic current ``i``::

    tau_syn di/dt = -i + w_in * bias          an arriving weight w adds input_gain * w to i
    tau_mem dv/dt = (v_leak - v) + r * i

``CubaLIF`` spikes when ``v > v_th`` (strict) and resets ``v`` to ``v_reset`` (``reset="value"``)
or by subtracting ``v_th`` (``reset="subtract"``); ``i`` is never reset. ``CubaLI`` has no
threshold; its output is ``v``. An import profile sets ``input_gain = w_in * A / tau_syn`` for a
spike of area ``A`` (so the current jumps by the integral of ``w_in * x / tau_syn``).

Exact relaxation over ``h`` seconds, with ``i_inf = w_in * bias`` and
``v_inf = v_leak + r * i_inf``::

    i(h) = i_inf + (i - i_inf) e^(-h/tau_syn)
    v(h) = v_inf + (v - v_inf) e^(-h/tau_mem)
           + r (i - i_inf) (h/tau_mem) e^(-h/tau_mem) expm1(x)/x,
                                              x = h (tau_syn - tau_mem) / (tau_mem tau_syn)

which equals the usual ``tau_syn/(tau_syn - tau_mem) (e^(-h/tau_syn) - e^(-h/tau_mem))`` form and
stays accurate in the singular case ``tau_syn = tau_mem`` (``expm1(x)/x -> 1``).

One time step of ``dt`` (``order``): ``"current_first"`` adds the step's input to ``i`` before the
membrane uses it (snnTorch: ``i <- alpha i + x; v <- beta v + i``); ``"voltage_first"`` updates
``v`` from the previous current and then adds the input to ``i`` (Norse, the NIR reference Euler,
and the event-driven view where a current jump only moves ``v`` afterwards);
``"decay_after_input"`` (exact integration, timestep mode only) adds the input to ``i`` and then
decays both over the step, the membrane taking the decayed current unfiltered (Rockpool's
``LIFTorch``: ``i <- (i + x) e^(-dt/tau_syn); v <- v_leak + (v - v_leak) e^(-dt/tau_mem) + r i``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from aersim.models.neurons.params import (
    RESET_MODES,
    RESET_TIMINGS,
    SpikeRule,
    broadcast_fields,
    check_choice,
    check_spike_rule,
    validate_fields,
)
from aersim.models.neurons.registry import NeuronModel, register

INTEGRATORS = ("exact", "euler")
ORDERS = ("current_first", "voltage_first", "decay_after_input")
#: The engine's integer code of each order (``cuba_step``'s ``order`` argument).
VOLTAGE_FIRST, CURRENT_FIRST, DECAY_AFTER_INPUT = 0, 1, 2
ORDER_CODES = {"voltage_first": VOLTAGE_FIRST, "current_first": CURRENT_FIRST,
               "decay_after_input": DECAY_AFTER_INPUT}

_LI_FIELDS = ("tau_s", "v_leak", "r", "bias", "input_gain", "v_init")
_TAU = {"tau_s": dict(positive=True), "tau_syn_s": dict(positive=True),
        "tau_mem_s": dict(positive=True)}


@dataclass(frozen=True, eq=False)
class LIParams:
    """Parameters of a leaky-integrator population (non-spiking). Numeric: scalar or ``(n,)``.

    Parameters
    ----------
    tau_s : float or ndarray
        Time constant, seconds (> 0).
    v_leak : float or ndarray
        Resting value.
    r : float or ndarray
        Resistance; multiplies ``bias``.
    bias : float or ndarray
        Constant input; ``v_inf = v_leak + r * bias``.
    input_gain : float or ndarray
        Factor applied to every arriving weight before it is added to ``v``.
    integrator : str
        ``"exact"`` or ``"euler"``.
    v_init : float or ndarray
        Value at time 0.
    """

    tau_s: float | np.ndarray = 0.02
    v_leak: float | np.ndarray = 0.0
    r: float | np.ndarray = 1.0
    bias: float | np.ndarray = 0.0
    input_gain: float | np.ndarray = 1.0
    integrator: str = "exact"
    v_init: float | np.ndarray = 0.0

    kind = "li"
    spiking = False

    def __post_init__(self):
        validate_fields(self, "LI", _LI_FIELDS, _TAU)
        check_choice("LI", "integrator", self.integrator, INTEGRATORS)

    def per_neuron(self, n: int) -> dict[str, np.ndarray]:
        """Broadcast every numeric parameter to a contiguous float64 ``(n,)`` array."""
        return broadcast_fields(self, "LI", _LI_FIELDS, n)


_CUBA_LI_FIELDS = ("tau_syn_s", "tau_mem_s", "v_leak", "r", "w_in", "bias", "input_gain",
                   "v_init", "i_init")


@dataclass(frozen=True, eq=False)
class CubaLIParams:
    """Parameters of a current-based leaky-integrator population (non-spiking).

    Parameters
    ----------
    tau_syn_s, tau_mem_s : float or ndarray
        Synaptic and membrane time constants, seconds (> 0).
    v_leak : float or ndarray
        Resting potential.
    r : float or ndarray
        Resistance from current to membrane.
    w_in : float or ndarray
        Gain of the constant input ``bias`` into the current: ``i_inf = w_in * bias``.
    bias : float or ndarray
        Constant input (e.g. an Affine bias upstream).
    input_gain : float or ndarray
        Factor applied to every arriving weight before it is added to ``i``.
    integrator : str
        ``"exact"`` or ``"euler"``.
    order : str
        ``"current_first"``, ``"voltage_first"`` or ``"decay_after_input"`` (see module
        doc).
    v_init, i_init : float or ndarray
        State at time 0.
    """

    tau_syn_s: float | np.ndarray = 0.005
    tau_mem_s: float | np.ndarray = 0.02
    v_leak: float | np.ndarray = 0.0
    r: float | np.ndarray = 1.0
    w_in: float | np.ndarray = 1.0
    bias: float | np.ndarray = 0.0
    input_gain: float | np.ndarray = 1.0
    integrator: str = "exact"
    order: str = "voltage_first"
    v_init: float | np.ndarray = 0.0
    i_init: float | np.ndarray = 0.0

    kind = "cuba_li"
    spiking = False
    _fields = _CUBA_LI_FIELDS

    def __post_init__(self):
        label = type(self).__name__.removesuffix("Params")
        validate_fields(self, label, self._fields, _TAU)
        check_choice(label, "integrator", self.integrator, INTEGRATORS)
        check_choice(label, "order", self.order, ORDERS)
        if self.spiking:
            check_choice(label, "reset", self.reset, RESET_MODES)
            check_choice(label, "reset_timing", self.reset_timing, RESET_TIMINGS)
            check_spike_rule(label, self.spike_rule)

    def per_neuron(self, n: int) -> dict[str, np.ndarray]:
        """Broadcast every numeric parameter to a contiguous float64 ``(n,)`` array."""
        return broadcast_fields(self, type(self).__name__.removesuffix("Params"),
                                self._fields, n)


@dataclass(frozen=True, eq=False)
class CubaLIFParams(CubaLIParams):
    """Parameters of a current-based LIF population; as :class:`CubaLIParams` plus threshold.

    Parameters
    ----------
    v_th : float or ndarray
        Threshold; a spike when ``v > v_th``.
    v_reset : float or ndarray
        Value after a spike when ``reset="value"``.
    reset : str
        ``"value"`` (to ``v_reset``), ``"subtract"`` (``v - v_th``) or ``"none"``.
    reset_timing : str
        ``"immediate"`` (right after the spike) or ``"next_step"`` (applied after the next
        step's update, as snnTorch does; timestep mode only).
    spike_rule : SpikeRule
        Threshold test, spike counts and membrane floor (default: ``v > v_th``, one spike).
    """

    v_th: float | np.ndarray = 1.0
    v_reset: float | np.ndarray = 0.0
    reset: str = "value"
    reset_timing: str = "immediate"
    spike_rule: SpikeRule = field(default_factory=SpikeRule)

    kind = "cuba_lif"
    spiking = True
    _fields = _CUBA_LI_FIELDS + ("v_th", "v_reset")


# ----------------------------------------------------------------------------------------------
# Kernels. Scalars in, scalars out: the engines inline them into their own loops.


@njit(cache=True, inline="always")
def li_relax_exact(v, v_inf, h_s, tau_s):
    """Value after relaxing ``h_s`` seconds from ``v`` towards ``v_inf``."""
    return v_inf + (v - v_inf) * math.exp(-h_s / tau_s)


@njit(cache=True, inline="always")
def li_relax_euler(v, v_inf, dt_s, tau_s):
    """One forward-Euler step of ``dt_s`` seconds."""
    return v + dt_s / tau_s * (v_inf - v)


@njit(cache=True, inline="always")
def cuba_relax_exact(v, i, v_leak, r, i_inf, h_s, tau_mem_s, tau_syn_s):
    """State ``(v, i)`` after ``h_s`` seconds without input, exactly (see module doc)."""
    j0 = i - i_inf
    em = math.exp(-h_s / tau_mem_s)
    x = h_s * (tau_syn_s - tau_mem_s) / (tau_mem_s * tau_syn_s)
    ratio = 1.0 if x == 0.0 else math.expm1(x) / x
    v_inf = v_leak + r * i_inf
    v_new = v_inf + (v - v_inf) * em + r * j0 * (h_s / tau_mem_s) * em * ratio
    return v_new, i_inf + j0 * math.exp(-h_s / tau_syn_s)


@njit(cache=True, inline="always")
def cuba_relax_euler(v, i, v_leak, r, i_inf, dt_s, tau_mem_s, tau_syn_s):
    """One forward-Euler step of both equations from the same (old) state."""
    v_new = v + dt_s / tau_mem_s * (v_leak - v + r * i)
    return v_new, i + dt_s / tau_syn_s * (i_inf - i)


@njit(cache=True, inline="always")
def cuba_step(v, i, v_leak, r, i_inf, dt_s, tau_mem_s, tau_syn_s, drive, euler, order):
    """One time step of ``dt_s`` with ``drive`` (sum of gained weights) into the current.

    ``order`` is an :data:`ORDER_CODES` value. Returns the new ``(v, i)`` before the threshold
    test (see module doc for the orders).
    """
    if euler:
        if order == CURRENT_FIRST:
            i = i + dt_s / tau_syn_s * (i_inf - i) + drive
            return v + dt_s / tau_mem_s * (v_leak - v + r * i), i
        v, i = cuba_relax_euler(v, i, v_leak, r, i_inf, dt_s, tau_mem_s, tau_syn_s)
        return v, i + drive
    if order == DECAY_AFTER_INPUT:
        i_new = i_inf + (i + drive - i_inf) * math.exp(-dt_s / tau_syn_s)
        return v_leak + (v - v_leak) * math.exp(-dt_s / tau_mem_s) + r * i_new, i_new
    if order == CURRENT_FIRST:
        return cuba_relax_exact(v, i + drive, v_leak, r, i_inf, dt_s, tau_mem_s, tau_syn_s)
    v, i = cuba_relax_exact(v, i, v_leak, r, i_inf, dt_s, tau_mem_s, tau_syn_s)
    return v, i + drive


@njit(cache=True, inline="always")
def cuba_after_spike(v, v_th, v_reset, subtract):
    """Membrane right after a spike: ``v - v_th`` (subtract) or ``v_reset``."""
    if subtract:
        return v - v_th
    return v_reset


def _engine_columns(params, p, n) -> dict:
    """Engine columns of a CubaLIF or CubaLI population (second state: the current ``i``)."""
    i_inf = p["w_in"] * p["bias"]
    return {"tau_s": p["tau_mem_s"], "tau_syn_s": p["tau_syn_s"], "i_inf": i_inf,
            "v_inf": p["v_leak"] + p["r"] * i_inf, "i_init": p["i_init"],
            "cuba_order": ORDER_CODES[params.order]}


MODEL = register(NeuronModel("cuba", kinds=("cuba_lif", "cuba_li"), columns=_engine_columns,
                             code=3))
