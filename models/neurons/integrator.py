"""Integrate-and-fire neurons and plain integrators: parameters and Numba kernels.

The integrate-and-fire (IF) membrane (NIR's ``IF``) has no leak::

    dv/dt = r * bias          between inputs; an arriving weight w adds input_gain * w to v

It spikes when ``v > v_th`` (strict) and resets to ``v_reset`` (``reset="value"``) or by
subtracting ``v_th`` (``reset="subtract"``). The equation is linear in time, so forward Euler and
the exact solution agree: ``v(t + h) = v(t) + r * bias * h``.

The integrator (NIR's ``I``) is the same without threshold: its output is ``v`` itself (a
non-spiking readout).

An import profile sets ``input_gain = r * A`` where ``A`` is the area of one spike (amplitude x
dt), so a spike through weight ``w`` adds ``w * r * A`` -- the integral of ``r * x`` over the step.
"""

from __future__ import annotations

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

_IF_FIELDS = ("v_th", "v_reset", "r", "bias", "input_gain", "v_init")


@dataclass(frozen=True, eq=False)
class IFParams:
    """Parameters of an integrate-and-fire population. Numeric fields: scalar or ``(n,)``.

    Parameters
    ----------
    v_th : float or ndarray
        Threshold; a spike when ``v > v_th``.
    v_reset : float or ndarray
        Value after a spike when ``reset="value"``.
    r : float or ndarray
        Resistance; multiplies ``bias``.
    bias : float or ndarray
        Constant input current; ``dv/dt = r * bias``, per second.
    input_gain : float or ndarray
        Factor applied to every arriving weight before it is added to ``v``.
    reset : str
        ``"value"`` (to ``v_reset``), ``"subtract"`` (``v - v_th``) or ``"none"``.
    reset_timing : str
        ``"immediate"`` (right after the spike) or ``"next_step"`` (applied after the next
        step's update, as snnTorch does; timestep mode only).
    spike_rule : SpikeRule
        Threshold test, spike counts and membrane floor (default: ``v > v_th``, one spike).
    v_init : float or ndarray
        Membrane potential at time 0.
    """

    v_th: float | np.ndarray = 1.0
    v_reset: float | np.ndarray = 0.0
    r: float | np.ndarray = 1.0
    bias: float | np.ndarray = 0.0
    input_gain: float | np.ndarray = 1.0
    reset: str = "value"
    reset_timing: str = "immediate"
    spike_rule: SpikeRule = field(default_factory=SpikeRule)
    v_init: float | np.ndarray = 0.0

    kind = "if"
    spiking = True

    def __post_init__(self):
        validate_fields(self, "IF", _IF_FIELDS, {})
        check_choice("IF", "reset", self.reset, RESET_MODES)
        check_choice("IF", "reset_timing", self.reset_timing, RESET_TIMINGS)
        check_spike_rule("IF", self.spike_rule)

    def per_neuron(self, n: int) -> dict[str, np.ndarray]:
        """Broadcast every numeric parameter to a contiguous float64 ``(n,)`` array."""
        return broadcast_fields(self, "IF", _IF_FIELDS, n)


_I_FIELDS = ("r", "bias", "input_gain", "v_init")


@dataclass(frozen=True, eq=False)
class IntegratorParams:
    """Parameters of a non-spiking integrator population (NIR ``I``); output is ``v``.

    Parameters
    ----------
    r : float or ndarray
        Resistance; multiplies ``bias``.
    bias : float or ndarray
        Constant input current; ``dv/dt = r * bias``, per second.
    input_gain : float or ndarray
        Factor applied to every arriving weight before it is added to ``v``.
    v_init : float or ndarray
        Value at time 0.
    """

    r: float | np.ndarray = 1.0
    bias: float | np.ndarray = 0.0
    input_gain: float | np.ndarray = 1.0
    v_init: float | np.ndarray = 0.0

    kind = "integrator"
    spiking = False

    def __post_init__(self):
        validate_fields(self, "integrator", _I_FIELDS, {})

    def per_neuron(self, n: int) -> dict[str, np.ndarray]:
        """Broadcast every numeric parameter to a contiguous float64 ``(n,)`` array."""
        return broadcast_fields(self, "integrator", _I_FIELDS, n)


# ----------------------------------------------------------------------------------------------
# Kernels. Scalars in, scalars out: the engines inline them into their own loops.


@njit(cache=True, inline="always")
def if_relax(v, r, bias, h_s):
    """Membrane after ``h_s`` seconds without input: ``v + r * bias * h_s`` (exact and Euler)."""
    return v + r * bias * h_s


@njit(cache=True, inline="always")
def if_step(v, r, bias, dt_s, drive, v_th, v_reset, subtract):
    """One time step: relax, add ``drive`` (sum of gained weights), threshold, reset.

    Returns
    -------
    (v, spiked) : (float, bool)
    """
    v = v + r * bias * dt_s + drive
    if v > v_th:
        if subtract:
            return v - v_th, True
        return v_reset, True
    return v, False


@njit(cache=True, inline="always")
def if_time_to_threshold_s(v, r, bias, v_th):
    """Seconds until ``v`` rising at ``r * bias`` per second exceeds ``v_th``; ``inf`` if never."""
    slope = r * bias
    if v > v_th:
        return 0.0
    if slope <= 0.0:
        return np.inf
    return (v_th - v) / slope


def _engine_columns(params, p, n) -> dict:
    """Engine columns of an IF or integrator population: ``v`` drifts at ``r * bias`` per s."""
    return {"drift": p["r"] * p["bias"]}


MODEL = register(NeuronModel("integrator", kinds=("if", "integrator"), columns=_engine_columns,
                             code=2))
