"""Sigma-delta neurons: graded, change-based messages (Lava ``SigmaDelta``, lava-dl SDNN).

Float form (reference: neurons.md §2.1), per step ``t`` with summed input ``a_t``::

    sigma_t = sigma_{t-1} + a_t                     (the sigma decoder integrates deltas)
    act_t   = f(sigma_t + b)                        f = ReLU (default) or identity
    D_t     = act_t - act_{t-1} + res_{t-1}
    s_t     = D_t if |D_t| >= theta else 0          (>=, as the Lava code)
    res_t   = D_t - s_t

so ``res_t = act_t - R_t`` with ``R = sum s`` the receiver's reconstruction: a neuron sends the
change of its activation once the error reaches ``theta``. With ``cum_error`` the test is on an
accumulated error instead: ``err += D_t``; ``s_t = D_t`` when ``|err| >= theta``; ``err <- 0``
after a message. Everything is in the units of the activation; one step per sample.

Fixed point (Lava ``PySigmaDeltaModelFixedCorrected`` semantics, neurons.md §2.2). States
(``sigma``, ``act``, the reconstruction ``R``) are integers in units of 2^-18, payloads in units of
2^-12 (an integer weight times a payload lands in 2^-18 again)::

    sigma += a;   act = f(sigma + b);   d = act - R
    p = (d if |d| >= vth else 0) >> 6     (floor);   R += p << 6;   send p

with ``vth = vThMant << 12`` where ``vThMant = floor(theta * 64)`` (lava-dl), and the bias
``b = trunc(bias * 64) << 12``. Lava never saturates; here payloads saturate to the signed
``payload_bits`` range (16 by default, netx's message width) and the states to 24 bits, and every
saturation is counted. Because ``R`` adds the payload actually sent, a saturated message leaves the
remainder in ``act - R`` for later steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from aersim.models.errors import ParameterError
from aersim.models.neurons.params import broadcast_fields, check_choice, validate_fields
from aersim.models.neurons.registry import NeuronModel, register

ACTIVATIONS = ("relu", "identity")
STATE_FRAC_BITS = 18     # states in 2^-18
PAYLOAD_FRAC_BITS = 12   # payloads in 2^-12
SPIKE_SHIFT = STATE_FRAC_BITS - PAYLOAD_FRAC_BITS
STATE_BITS = 24

_FIELDS = ("threshold", "bias", "sigma_init")


@dataclass(frozen=True, eq=False)
class SigmaDeltaParams:
    """Parameters of a sigma-delta population. Numeric fields: scalar or ``(n,)``.

    Parameters
    ----------
    threshold : float or ndarray
        ``theta`` (> 0), in activation units. The fixed-point form uses ``floor(theta * 64)``.
    bias : float or ndarray
        ``b``, added to ``sigma`` before the activation.
    sigma_init : float or ndarray
        ``sigma`` at step 0. ``act``, the residue and the reconstruction start at 0, so a
        non-zero start is sent as (part of) the first message.
    activation : str
        ``"relu"`` or ``"identity"``.
    cum_error : bool
        Test an accumulated error instead of the current one (see module doc).
    payload_bits : int
        Signed width of a fixed-point payload (2..24; 16 as netx).
    """

    threshold: float | np.ndarray = 1.0
    bias: float | np.ndarray = 0.0
    sigma_init: float | np.ndarray = 0.0
    activation: str = "relu"
    cum_error: bool = False
    payload_bits: int = 16

    kind = "sigma_delta"
    spiking = True
    graded = True

    def __post_init__(self):
        validate_fields(self, "SigmaDelta", _FIELDS, {"threshold": dict(positive=True)})
        check_choice("SigmaDelta", "activation", self.activation, ACTIVATIONS)
        if not isinstance(self.cum_error, (bool, np.bool_)):
            raise ParameterError(f"SigmaDelta cum_error must be True or False, got "
                                 f"{self.cum_error!r}")
        if (not isinstance(self.payload_bits, (int, np.integer))
                or not 2 <= self.payload_bits <= STATE_BITS):
            raise ParameterError(f"SigmaDelta payload_bits must be an integer in 2..24, got "
                                 f"{self.payload_bits!r}")

    def per_neuron(self, n: int) -> dict[str, np.ndarray]:
        """Broadcast every numeric parameter to a contiguous float64 ``(n,)`` array."""
        return broadcast_fields(self, "SigmaDelta", _FIELDS, n)

    def per_neuron_fixed(self, n: int) -> dict[str, np.ndarray]:
        """Integer (2^-18 units) ``vth``, ``bias`` and ``sigma_init`` as int64 ``(n,)`` arrays.

        Raises
        ------
        ParameterError
            If ``threshold < 1/64`` (its mantissa would be 0).
        """
        f = self.per_neuron(n)
        mant = np.floor(f["threshold"] * 64.0).astype(np.int64)
        if np.any(mant < 1):
            raise ParameterError(f"SigmaDelta threshold {float(f['threshold'].min())!r} is "
                                 "below 1/64, the smallest fixed-point threshold mantissa")
        return {"vth": mant << 12,
                "bias": np.trunc(f["bias"] * 64.0).astype(np.int64) << 12,
                "sigma_init": np.round(f["sigma_init"] * 2.0 ** STATE_FRAC_BITS).astype(np.int64)}


# ----------------------------------------------------------------------------------------------
# Kernels. Scalars in, scalars out: the engines inline them into their own loops.


@njit(cache=True, inline="always")
def sigma_delta_step(sigma, act_prev, res, err, a, bias, threshold, relu, cum_error):
    """One float step (see module doc).

    Returns
    -------
    (sigma, act, res, err, s) : floats
        ``s`` is the graded message (0.0 when nothing is sent).
    """
    sigma = sigma + a
    act = sigma + bias
    if relu and act < 0.0:
        act = 0.0
    delta = act - act_prev + res
    if cum_error:
        err = err + delta
        if abs(err) >= threshold:
            return sigma, act, 0.0, 0.0, delta
        return sigma, act, delta, err, 0.0
    if abs(delta) >= threshold:
        return sigma, act, 0.0, err, delta
    return sigma, act, delta, err, 0.0


@njit(cache=True, inline="always")
def _sat(x, bits):
    hi = (1 << (bits - 1)) - 1
    if x > hi:
        return hi, 1
    if x < -hi:
        return -hi, 1
    return x, 0


@njit(cache=True, inline="always")
def sigma_delta_fixed_step(sigma, recon, err, a, bias, vth, relu, cum_error, payload_bits):
    """One integer step (``PySigmaDeltaModelFixedCorrected`` semantics plus saturation).

    Parameters
    ----------
    sigma, recon, err : int
        Integrated input, reconstruction ``R`` and accumulated error, 2^-18 units.
    a : int
        This step's summed input, 2^-18 units.
    bias, vth : int
        2^-18 units.
    relu, cum_error : bool
    payload_bits : int
        Signed payload width.

    Returns
    -------
    (sigma, recon, err, payload, overflows) : ints
        ``payload`` in 2^-12 units (0 when nothing is sent); ``overflows`` counts the
        saturations of this step (state and payload).
    """
    sigma, o1 = _sat(sigma + a, 24)
    act, o2 = _sat(sigma + bias, 24)
    if relu and act < 0:
        act = 0
    d = act - recon
    if cum_error:
        err = err + d
        fire = abs(err) >= vth
    else:
        fire = abs(d) >= vth
    if not fire:
        return sigma, recon, err, d * 0, o1 + o2
    p, o3 = _sat(d >> 6, payload_bits)
    recon, o4 = _sat(recon + (p << 6), 24)
    return sigma, recon, err * 0, p, o1 + o2 + o3 + o4


def _engine_columns(params, p, n) -> dict:
    """Engine columns of a sigma-delta population (``cur`` holds sigma, ``v`` the activation)."""
    return {"v_th": p["threshold"], "bias": p["bias"], "i_init": p["sigma_init"],
            "v_init": np.zeros(n)}


MODEL = register(NeuronModel("sigma_delta", kinds=("sigma_delta",), columns=_engine_columns,
                             code=5, timestep_only=True, graded=lambda params: True))
