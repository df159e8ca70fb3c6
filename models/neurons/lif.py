"""Leaky integrate-and-fire neuron: parameters, state and Numba kernels.

The membrane obeys (NIR's LIF, with a constant bias current)::

    tau dv/dt = (v_leak - v) + r * bias

so between inputs ``v`` relaxes exponentially towards ``v_inf = v_leak + r * bias``.
Synapses are delta (current-free) synapses: an arriving weight ``w`` makes ``v`` jump by
``input_gain * w`` at the arrival time (in ``timestep`` mode, at the step it arrives in). An import
profile chooses ``input_gain`` (e.g. ``r * dt / tau`` for a forward-Euler discretisation of a
current input); for hand-built networks it is 1 and a weight is a voltage jump.

A neuron spikes when ``v > v_th`` (strict, as NIR, snnTorch, Norse and Loihi do). It then resets
either to ``v_reset`` (``reset="value"``) or by subtracting ``v_th`` (``reset="subtract"``), and
for ``t_ref_s`` afterwards it is refractory: ``v`` is held at its reset value and arriving inputs
are discarded (NEST ``iaf_psc_delta`` semantics).

Integration between inputs is either the exact exponential (``integrator="exact"``)::

    v(t + h) = v_inf + (v(t) - v_inf) * exp(-h / tau)

or forward Euler at the step ``dt`` (``integrator="euler"``, time-stepped mode only)::

    v <- v + dt / tau * (v_inf - v)
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
_FIELDS = ("tau_s", "v_th", "v_leak", "v_reset", "r", "bias", "t_ref_s", "input_gain", "v_init")


@dataclass(frozen=True, eq=False)
class LIFParams:
    """Parameters of a LIF population. Each numeric field is a scalar or a ``(n,)`` array.

    Parameters
    ----------
    tau_s : float or ndarray
        Membrane time constant, seconds (> 0).
    v_th : float or ndarray
        Threshold; a spike when ``v > v_th``.
    v_leak : float or ndarray
        Resting potential that ``v`` relaxes to without bias.
    v_reset : float or ndarray
        Value after a spike when ``reset="value"``.
    r : float or ndarray
        Membrane resistance; multiplies ``bias``.
    bias : float or ndarray
        Constant input current; ``v_inf = v_leak + r * bias``.
    t_ref_s : float or ndarray
        Refractory period, seconds (>= 0).
    input_gain : float or ndarray
        Factor applied to every arriving weight before it is added to ``v``.
    reset : str
        ``"value"`` (to ``v_reset``), ``"subtract"`` (``v - v_th``) or ``"none"``.
    reset_timing : str
        ``"immediate"`` (right after the spike) or ``"next_step"`` (applied after the next
        step's update, as snnTorch does; timestep mode only).
    spike_rule : SpikeRule
        Threshold test, spike counts and membrane floor (default: ``v > v_th``, one spike).
    integrator : str
        ``"exact"`` or ``"euler"`` (the latter only in ``timestep`` mode).
    v_init : float or ndarray
        Membrane potential at time 0.
    """

    tau_s: float | np.ndarray = 0.02
    v_th: float | np.ndarray = 1.0
    v_leak: float | np.ndarray = 0.0
    v_reset: float | np.ndarray = 0.0
    r: float | np.ndarray = 1.0
    bias: float | np.ndarray = 0.0
    t_ref_s: float | np.ndarray = 0.0
    input_gain: float | np.ndarray = 1.0
    reset: str = "value"
    reset_timing: str = "immediate"
    spike_rule: SpikeRule = field(default_factory=SpikeRule)
    integrator: str = "exact"
    v_init: float | np.ndarray = field(default=0.0)

    kind = "lif"

    def __post_init__(self):
        validate_fields(self, "LIF", _FIELDS, {"tau_s": dict(positive=True),
                                               "t_ref_s": dict(nonneg=True)})
        check_choice("LIF", "reset", self.reset, RESET_MODES)
        check_choice("LIF", "reset_timing", self.reset_timing, RESET_TIMINGS)
        check_spike_rule("LIF", self.spike_rule)
        check_choice("LIF", "integrator", self.integrator, INTEGRATORS)

    def per_neuron(self, n: int) -> dict[str, np.ndarray]:
        """Broadcast every numeric parameter to a contiguous float64 ``(n,)`` array."""
        return broadcast_fields(self, "LIF", _FIELDS, n)


# ----------------------------------------------------------------------------------------------
# Kernels. Scalars in, scalars out: the engines inline them into their own loops.


@njit(cache=True, inline="always")
def lif_relax_exact(v, v_inf, h_s, tau_s):
    """Membrane value after relaxing for ``h_s`` seconds from ``v`` towards ``v_inf``."""
    return v_inf + (v - v_inf) * math.exp(-h_s / tau_s)


@njit(cache=True, inline="always")
def lif_relax_euler(v, v_inf, dt_s, tau_s):
    """One forward-Euler step of ``dt_s`` seconds."""
    return v + dt_s / tau_s * (v_inf - v)


@njit(cache=True, inline="always")
def lif_after_spike(v, v_th, v_reset, subtract):
    """Membrane value right after a spike: ``v - v_th`` (subtract) or ``v_reset``."""
    if subtract:
        return v - v_th
    return v_reset


@njit(cache=True, inline="always")
def lif_time_to_threshold_s(v, v_inf, v_th, tau_s):
    """Seconds until ``v`` relaxing towards ``v_inf`` first exceeds ``v_th``; ``inf`` if never.

    From ``v(t) = v_inf + (v - v_inf) exp(-t / tau)``: ``t* = tau ln((v_inf - v) / (v_inf - v_th))``
    when ``v_inf > v_th >= v`` (reference: neurons.md §5.1).
    """
    if v_inf <= v_th or v > v_th:
        return math.inf
    return tau_s * math.log((v_inf - v) / (v_inf - v_th))


def _engine_columns(params, p, n) -> dict:
    """Engine columns of a LIF or LI population: ``v`` relaxes towards ``v_inf`` with ``tau_s``."""
    return {"tau_s": p["tau_s"], "v_inf": p["v_leak"] + p["r"] * p["bias"]}


#: The engines run LIF and LI (``cuba.LIParams``) in their built-in leaky branch.
MODEL = register(NeuronModel("lif", kinds=("lif", "li"), columns=_engine_columns, code=1))
