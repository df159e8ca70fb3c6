"""Validation and broadcasting of neuron parameters, shared by every ``*Params`` class.

A numeric parameter is a scalar (shared by the population) or a ``(n,)`` per-neuron array; the
helpers validate it once, at construction, and broadcast it when a population is built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from aersim.models.errors import ParameterError

#: Resets of the integrate-and-fire family: to ``v_reset``, by subtracting ``v_th``, or none
#: (the membrane keeps its value; snnTorch's ``reset_mechanism="none"``).
RESET_MODES = ("value", "subtract", "none")
#: When a reset acts: right after the spike, or in the step after it, once that step's update is
#: done (snnTorch computes the reset from the previous step's membrane). Timestep mode only.
RESET_TIMINGS = ("immediate", "next_step")
THRESHOLD_TESTS = (">", ">=")


@dataclass(frozen=True)
class SpikeRule:
    """When a neuron of the integrate-and-fire family spikes, and what its spike carries.

    Parameters
    ----------
    test : str
        ``">"`` (``v > v_th``: NIR, snnTorch, Norse) or ``">="`` (Sinabs, Rockpool).
    count : bool
        Emit the number of thresholds the membrane holds, ``floor(v / v_th)`` (at least 1),
        as the spike's value, and subtract that many thresholds on a subtractive reset
        (Sinabs' ``MultiSpike``, Rockpool). A count implies ``test=">="``.
    max_count : float
        Cap of the count per step (Rockpool's ``max_spikes_per_dt``).
    v_min : float
        Floor of the membrane after the reset, every step (Sinabs' ``min_v_mem``); ``-inf``
        for none.

    Timestep mode only, except for the default rule.
    """

    test: str = ">"
    count: bool = False
    max_count: float = math.inf
    v_min: float = -math.inf

    def __post_init__(self):
        check_choice("SpikeRule", "test", self.test, THRESHOLD_TESTS)
        if self.count:
            object.__setattr__(self, "test", ">=")
        for name in ("max_count", "v_min"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or math.isnan(value):
                raise ParameterError(f"SpikeRule {name} must be a number, got {value!r}")
        if self.max_count < 1:
            raise ParameterError(f"SpikeRule max_count must be >= 1, got {self.max_count!r}")

    @property
    def is_default(self) -> bool:
        return self == SpikeRule()


def check_spike_rule(label: str, value) -> None:
    """Raise ``ParameterError`` unless ``value`` is a :class:`SpikeRule`."""
    if not isinstance(value, SpikeRule):
        raise ParameterError(f"{label} spike_rule must be a SpikeRule, got {value!r}")


def _as_array(label: str, name: str, value, what: str) -> np.ndarray:
    """``value`` as a float64 array of at most one dimension, or a ``ParameterError``."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"{label} parameter {name!r} must be {what}, got {value!r}") from None
    if arr.ndim > 1:
        raise ParameterError(f"{label} parameter {name!r} must be a scalar or a 1-d per-neuron "
                             f"array, got shape {arr.shape}; flatten it first")
    return arr


def check_param(label: str, name: str, value, *, positive: bool = False,
                nonneg: bool = False) -> np.ndarray:
    """Validate one parameter (scalar or ``(n,)``) of model ``label`` and return it as float64.

    Raises
    ------
    ParameterError
        On more than one dimension, NaN or infinity, or a sign that breaks ``positive``/``nonneg``.
    """
    arr = _as_array(label, name, value, "a number or an array of numbers")
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"{label} parameter {name!r} contains NaN or infinity; give finite "
                             "values")
    if positive and np.any(arr <= 0):
        raise ParameterError(f"{label} parameter {name!r} must be > 0, got {float(np.min(arr))!r}")
    if nonneg and np.any(arr < 0):
        raise ParameterError(f"{label} parameter {name!r} must be >= 0, got {float(np.min(arr))!r}")
    return arr


def validate_fields(obj, label: str, names: tuple, checks: dict, check=None) -> None:
    """Replace every numeric field of frozen dataclass ``obj`` by its validated array (float64
    by :func:`check_param`, or what ``check`` returns, e.g. :func:`check_int_param`, called
    with ``checks[name]`` as keywords), and check that all per-neuron arrays have the same
    length."""
    check = check or check_param
    lengths = {}
    for name in names:
        arr = check(label, name, getattr(obj, name), **checks.get(name, {}))
        object.__setattr__(obj, name, arr)
        if arr.ndim == 1:
            lengths[name] = arr.shape[0]
    if len(set(lengths.values())) > 1:
        raise ParameterError(f"{label} per-neuron parameters disagree in length: {lengths}; "
                             "give every array one value per neuron")


def broadcast_fields(obj, label: str, names: tuple, n: int,
                     dtype=np.float64) -> dict[str, np.ndarray]:
    """Every numeric field as a contiguous ``(n,)`` array of ``dtype``."""
    out = {}
    for name in names:
        arr = getattr(obj, name)
        if arr.ndim == 1 and arr.shape[0] != n:
            raise ParameterError(f"{label} parameter {name!r} has {arr.shape[0]} values but the "
                                 f"population has {n} neurons")
        out[name] = np.ascontiguousarray(np.broadcast_to(arr, (n,)), dtype=dtype)
    return out


def check_choice(label: str, name: str, value, allowed: tuple) -> None:
    """Raise ``ParameterError`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ParameterError(f"{label} {name} {value!r} is not one of {allowed}")


def check_int_param(label: str, name: str, value, low=None, high=None) -> np.ndarray:
    """Validate an integer parameter (scalar or ``(n,)``) and return it as int64.

    Raises
    ------
    ParameterError
        On more than one dimension, a non-integer value or a value outside ``[low, high]``.
    """
    arr = _as_array(label, name, value, "an integer or an array of integers")
    if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
        raise ParameterError(f"{label} parameter {name!r} must hold integers (fixed-point "
                             f"mantissas), got {value!r}; round or quantise it first")
    if arr.size and low is not None and arr.min() < low:
        raise ParameterError(f"{label} parameter {name!r} = {int(arr.min())} is below its "
                             f"range [{low}, {high}]")
    if arr.size and high is not None and arr.max() > high:
        raise ParameterError(f"{label} parameter {name!r} = {int(arr.max())} is above its "
                             f"range [{low}, {high}]")
    return arr.astype(np.int64)
