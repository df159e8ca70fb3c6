"""Resonate-and-fire neuron of Loihi 2, in floating point and in the chip's fixed point.

The state is one complex number ``z = re + i im`` that rotates and decays between inputs::

    dz/dt = (-lambda + i omega) z          an arriving weight w adds input_gain * w to re

so without input ``z(t) = z0 exp((-lambda + i omega) t)``: a damped oscillation of
``omega / 2 pi`` hertz (``freq_hz``) whose amplitude decays at ``lambda`` per second
(``decay_per_s``). The neuron spikes on a phase crossing, Lava's rule: at the step where the
imaginary part crosses zero from below (``im[t-1] < 0 <= im[t]``) while the real part is at
or above threshold (``re[t] >= v_th``). Nothing is reset: the oscillation goes on, and the
next crossing comes one period later. The facts and their sources are in ``docs/neurons.md``
(resonate-and-fire).

**Float form** (``RFParams``, kind ``"rf"``), one step of ``dt`` with the step's input ``x``::

    re' = c re - s im + x,   im' = s re + c im,
    c = exp(-lambda dt) cos(omega dt),  s = exp(-lambda dt) sin(omega dt)

which is Lava's ``Re[t] = (1 - a)(cos(theta) Re - sin(theta) Im) + input`` with
``1 - a = exp(-lambda dt)`` and ``theta = omega dt = 2 pi / period``: exact, at every step,
for the closed form above. Use :meth:`RFParams.from_lava` to give Lava's ``period`` (steps)
and ``alpha``.

**Fixed-point form** (``LoihiRFParams``, kind ``"loihi_rf"``), integers throughout, with the
12-bit decays ``sin_decay = q(4096 (1 - decay) sin(2 pi / period))`` and likewise
``cos_decay`` (``q``: rounding to nearest, as lava-dl, or truncation, as Lava's ``RF``
process; :func:`encode_decays`), the step's integer dendritic sum ``a``::

    re' = sat24( rtz12(cos_decay re) - rtz12(sin_decay im) + (a << state_exp) )
    im' = sat24( rtz12(sin_decay re) + rtz12(cos_decay im) )
    spike: re' >= (vth << state_exp) and im' >= 0 and im < 0

with ``rtz12(p) = sign(p) (|p| >> 12)`` (each product rounded toward zero on its own) and
``sat24`` the clamp to ``[-(2^23 - 1), 2^23 - 1]`` (``models.neurons.loihi_cuba``).

Both forms are defined per time step here (``timestep`` mode); ``async`` mode refuses them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from aersim.models.errors import ParameterError
from aersim.models.neurons.loihi_cuba import STATE_MAX, rtz12, sat24
from aersim.models.neurons.params import (
    broadcast_fields,
    check_int_param,
    check_param,
    validate_fields,
)
from aersim.models.neurons.registry import NeuronModel, param_matrix, register

_FIELDS = ("decay_per_s", "freq_hz", "v_th", "input_gain", "re_init", "im_init")
#: 12-bit decays: sin and cos of the rotation in units of 2^-12 (Lava: uint16, precision 12).
DECAY_BITS = 12
DECAY_MAX = (1 << DECAY_BITS) - 1
ROUNDINGS = ("nearest", "truncate")
_INT_BOUNDS = {
    "sin_decay": (0, DECAY_MAX), "cos_decay": (0, DECAY_MAX), "vth": (0, (1 << 17) - 1),
    "state_exp": (0, 7), "re_init": (-STATE_MAX, STATE_MAX), "im_init": (-STATE_MAX, STATE_MAX),
}
_INT_CHECKS = {name: dict(low=lo, high=hi) for name, (lo, hi) in _INT_BOUNDS.items()}


@dataclass(frozen=True, eq=False)
class RFParams:
    """Parameters of a floating-point resonate-and-fire population (scalar or ``(n,)`` each).

    Parameters
    ----------
    decay_per_s : float or ndarray
        Amplitude decay rate ``lambda``, 1/s (>= 0); the amplitude falls by ``exp(-lambda t)``.
    freq_hz : float or ndarray
        Oscillation frequency ``omega / 2 pi``, Hz (> 0).
    v_th : float or ndarray
        Threshold on the real part at the phase crossing.
    input_gain : float or ndarray
        Factor applied to every arriving weight before it is added to the real part.
    re_init, im_init : float or ndarray
        State at time 0.
    """

    decay_per_s: float | np.ndarray = 0.0
    freq_hz: float | np.ndarray = 100.0
    v_th: float | np.ndarray = 1.0
    input_gain: float | np.ndarray = 1.0
    re_init: float | np.ndarray = 0.0
    im_init: float | np.ndarray = 0.0

    kind = "rf"
    spiking = True

    def __post_init__(self):
        validate_fields(self, "RF", _FIELDS, {"decay_per_s": dict(nonneg=True),
                                              "freq_hz": dict(positive=True)})

    @classmethod
    def from_lava(cls, period, alpha, vth, dt_s: float, **kwargs) -> RFParams:
        """The parameters of Lava's ``RF(period=..., alpha=..., vth=...)`` run at steps of
        ``dt_s`` seconds: ``exp(-lambda dt) = 1 - alpha``, ``omega dt = 2 pi / period``."""
        alpha = check_param("RF", "alpha", alpha)
        period = check_param("RF", "period", period, positive=True)
        if np.any(alpha < 0) or np.any(alpha >= 1):
            raise ParameterError(f"RF parameter 'alpha' must be in [0, 1), got {alpha!r}")
        dt = float(check_param("RF", "dt_s", dt_s, positive=True))
        return cls(decay_per_s=-np.log1p(-alpha) / dt, freq_hz=1.0 / (period * dt), v_th=vth,
                   **kwargs)

    def per_neuron(self, n: int) -> dict[str, np.ndarray]:
        """Broadcast every numeric parameter to a contiguous float64 ``(n,)`` array."""
        return broadcast_fields(self, "RF", _FIELDS, n)


def encode_decays(period, decay, rounding: str = "nearest") -> tuple[np.ndarray, np.ndarray]:
    """Loihi's 12-bit ``(sin_decay, cos_decay)`` of a rotation by ``2 pi / period`` steps with
    amplitude factor ``1 - decay`` per step, as int64 arrays.

    ``rounding="nearest"`` rounds ``4096 (1 - decay) sin(2 pi / period)`` to the nearest
    integer, halves to even (lava-dl ``slayer.neuron.rf``); ``"truncate"`` drops the fraction
    (Lava ``RF``: ``np.int32(...)``). Raises ``ParameterError`` for a period below 4 steps (a
    negative cosine: lava-dl refuses it too) or a decay outside ``[0, 1)``.
    """
    if rounding not in ROUNDINGS:
        raise ParameterError(f"encode_decays rounding {rounding!r} is not one of {ROUNDINGS}")
    period = check_param("LoihiRF", "period", period, positive=True)
    decay = check_param("LoihiRF", "decay", decay, nonneg=True)
    if np.any(period < 4):
        raise ParameterError(f"LoihiRF period must be >= 4 steps (the decays are the sine and "
                             f"cosine of the first quadrant), got {float(np.min(period))!r}")
    if np.any(decay >= 1):
        raise ParameterError(f"LoihiRF decay must be in [0, 1), got {float(np.max(decay))!r}")
    scaled = [(1 << DECAY_BITS) * (1.0 - decay) * f(2.0 * np.pi / period) for f in (np.sin,
                                                                                   np.cos)]
    q = np.round if rounding == "nearest" else np.trunc
    sin_d, cos_d = (np.minimum(q(x), DECAY_MAX).astype(np.int64) for x in scaled)
    return sin_d, cos_d


@dataclass(frozen=True, eq=False)
class LoihiRFParams:
    """Parameters of a fixed-point (Loihi 2) resonate-and-fire population; integers, scalar or
    ``(n,)``.

    Parameters
    ----------
    sin_decay, cos_decay : int or ndarray
        12-bit decays in ``[0, 4095]`` (:func:`encode_decays`); lava-dl ``sinDecay``,
        ``cosDecay``.
    vth : int or ndarray
        Threshold mantissa (17-bit unsigned); a spike needs ``re >= vth << state_exp``.
    state_exp : int or ndarray
        Shift of the input and the threshold into the 24-bit state, ``[0, 7]`` (Lava's
        ``state_exp``; lava-dl's scale ``1 << 6`` is 6).
    re_init, im_init : int or ndarray
        State at step 0 (24-bit signed).
    """

    sin_decay: int | np.ndarray = 0
    cos_decay: int | np.ndarray = 0
    vth: int | np.ndarray = 10
    state_exp: int | np.ndarray = 6
    re_init: int | np.ndarray = 0
    im_init: int | np.ndarray = 0

    kind = "loihi_rf"
    spiking = True

    def __post_init__(self):
        validate_fields(self, "LoihiRF", tuple(_INT_BOUNDS), _INT_CHECKS, check_int_param)

    @classmethod
    def from_period(cls, period, decay, vth, rounding: str = "nearest", **kwargs):
        """Parameters from a period (steps) and a per-step decay (:func:`encode_decays`)."""
        sin_d, cos_d = encode_decays(period, decay, rounding)
        return cls(sin_decay=sin_d, cos_decay=cos_d, vth=vth, **kwargs)

    def per_neuron(self, n: int) -> dict[str, np.ndarray]:
        """Every field as a contiguous int64 ``(n,)`` array."""
        return broadcast_fields(self, "LoihiRF", tuple(_INT_BOUNDS), n, np.int64)


# ----------------------------------------------------------------------------------------------
# Kernels. Scalars in, scalars out (the model table's uniform signature).


@njit(cache=True, inline="always")
def phase_crossing(re_new, im_new, im_old, v_th):
    """Lava's spike rule: the imaginary part crossed zero from below while ``re >= v_th``."""
    return re_new >= v_th and im_new >= 0.0 and im_old < 0.0


@njit(cache=True, inline="always")
def rf_step(decay_per_s, omega, v_th, p3, p4, p5, p6, p7, re, im, s2, s3, x, dt_s):
    """One exact step of ``dt_s`` seconds of the float form, then the input ``x`` on the real
    part. Returns ``(re, im, s2, s3, payload)``; payload 1.0 on a spike, else 0.0."""
    e = math.exp(-decay_per_s * dt_s)
    c = e * math.cos(omega * dt_s)
    s = e * math.sin(omega * dt_s)
    re_new = c * re - s * im + x
    im_new = s * re + c * im
    fired = 1.0 if phase_crossing(re_new, im_new, im, v_th) else 0.0
    return re_new, im_new, s2, s3, fired


@njit(cache=True, inline="always")
def loihi_rf_update(re, im, a, sin_decay, cos_decay, theta, state_exp):
    """One bit-exact fixed-point step (int64 arguments). Returns ``(re, im, spiked)``."""
    re_new = sat24(rtz12(cos_decay * re) - rtz12(sin_decay * im) + a * (1 << state_exp))
    im_new = sat24(rtz12(sin_decay * re) + rtz12(cos_decay * im))
    return re_new, im_new, re_new >= theta and im_new >= 0 and im < 0


@njit(cache=True, inline="always")
def loihi_rf_step(sin_decay, cos_decay, theta, state_exp, p4, p5, p6, p7, re, im, s2, s3, x,
                  dt_s):
    """The fixed-point form in the uniform signature: parameters, state and input are the
    integers held (exactly) in float64; ``x`` is the step's integer dendritic sum."""
    re_new, im_new, spiked = loihi_rf_update(np.int64(re), np.int64(im), np.int64(x),
                                             np.int64(sin_decay), np.int64(cos_decay),
                                             np.int64(theta), np.int64(state_exp))
    return float(re_new), float(im_new), s2, s3, 1.0 if spiked else 0.0


def _rf_columns(params, p, n) -> dict:
    return {"v_init": p["re_init"], "i_init": p["im_init"],
            "mp": param_matrix(RF, n, decay_per_s=p["decay_per_s"],
                               omega_rad_s=2.0 * np.pi * p["freq_hz"], v_th=p["v_th"])}


def _loihi_rf_columns(params, p, n) -> dict:
    return {"v_init": p["re_init"].astype(np.float64), "i_init": p["im_init"].astype(np.float64),
            "gain": np.ones(n),
            "mp": param_matrix(LOIHI_RF, n, sin_decay=p["sin_decay"], cos_decay=p["cos_decay"],
                               theta=p["vth"] << p["state_exp"], state_exp=p["state_exp"])}


RF = register(NeuronModel(
    "rf", kinds=("rf",), columns=_rf_columns, step=rf_step,
    param_names=("decay_per_s", "omega_rad_s", "v_th"), state_names=("re", "im"),
    timestep_only=True))
LOIHI_RF = register(NeuronModel(
    "loihi_rf", kinds=("loihi_rf",), columns=_loihi_rf_columns, step=loihi_rf_step,
    param_names=("sin_decay", "cos_decay", "theta", "state_exp"), state_names=("re", "im"),
    timestep_only=True))
