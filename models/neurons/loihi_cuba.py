"""Loihi current-based LIF in fixed point, bit-exact with Lava's bit-accurate LIF.

All quantities are integers and time is counted in steps (reference: neurons.md §3). With the
12-bit decays ``D_u, D_v`` in ``[0, 4096]`` (per-step decay ``D / 4096``, so ``tau ~ 4096 / D``
steps), the dendritic sum ``a_t`` of the step and the effective bias ``b = b_m << b_e``::

    u_t = wrap24( rtz12(u_{t-1} (4096 - D_u)) + (a_t << 6) )
    v_t = sat24 ( rtz12(v_{t-1} (4096 - D_v)) + u_t + b )
    s_t = v_t > (vth << 6)            (strict);  on a spike v_t <- 0;  u is never reset

    rtz12(x) = sign(x) (|x| >> 12)    round toward zero
    wrap24(x): x - 2^24 if x > 2^23;  x + 2^24 if x <= -2^23
    sat24(x):  clamp to [-(2^23 - 1), 2^23 - 1]

The dendritic sum is ``A = sum_j w_j s_j`` over integer weights ``w`` (see
:func:`weights_to_loihi`), where ``s`` is 0/1 or, with ``num_message_bits > 0``, the sender's
integer payload; then ``a = A << e_w`` or ``A >> -e_w`` (floor) for a negative weight exponent.
A spike sent at step ``t`` reaches ``a`` at step ``t + 1`` (``t + 1 + d`` with a delay of ``d``
steps).

**Decay offsets.** Lava adds 1 to the current decay: a Lava ``du`` is ``D_u = du + 1`` and a Lava
``dv`` is ``D_v = dv``. lava-dl trains with ``D_u = iDecay`` (netx writes ``du = iDecay - 1``), so
parameters here store ``D_u`` and ``D_v`` themselves, never ``du``.

**Graded spikes.** With ``num_message_bits > 0`` a spike carries ``v`` before the reset (lava-dl
graded CUBA). How a receiver rescales a 24-bit payload into ``num_message_bits`` is not part of
the reference, so the payload is returned unchanged; the engine decides the message format.

**Refractory hold.** After a spike at ``t``, ``v`` is held at 0 for steps ``t+1 … t+hold_steps``
while ``u`` keeps integrating (Lava ``LIFRefractory`` with ``R = hold_steps``; a Loihi
``refDelay`` maps to ``hold_steps = refDelay - 1``); the bit-accurate Lava model has none
(``hold_steps = 0``).

Parameter widths (checked): ``D_u, D_v`` 12-bit decays in ``[0, 4096]``, ``vth`` 17-bit unsigned,
``bias_mant`` 13-bit signed, ``bias_exp`` in ``[-7, 7]``, ``weight_exp`` in ``[-8, 7]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from aersim.models.errors import ParameterError
from aersim.models.neurons.params import broadcast_fields, check_int_param, validate_fields
from aersim.models.neurons.registry import NeuronModel, register

STATE_MAX = (1 << 23) - 1       # sat24 bound
WRAP = 1 << 24
ACT_SHIFT = 6                   # a << 6 into u; vth << 6 for the threshold
SIGN_MODES = ("mixed", "excitatory", "inhibitory")

# (low, high) inclusive bounds of each integer field; None = unbounded on that side.
_BOUNDS = {
    "d_u": (0, 4096), "d_v": (0, 4096), "vth": (0, (1 << 17) - 1),
    "bias_mant": (-(1 << 12), (1 << 12) - 1), "bias_exp": (-7, 7), "hold_steps": (0, None),
    "u_init": (-(1 << 23), (1 << 23) - 1), "v_init": (-STATE_MAX, STATE_MAX),
}
_FIELDS = tuple(_BOUNDS)


@dataclass(frozen=True, eq=False)
class LoihiCubaParams:
    """Parameters of a Loihi fixed-point CUBA LIF population. Integer fields: scalar or ``(n,)``.

    Parameters
    ----------
    d_u : int or ndarray
        Current decay ``D_u`` in ``[0, 4096]`` (4096 = full decay each step). Lava ``du + 1``;
        lava-dl ``iDecay``.
    d_v : int or ndarray
        Voltage decay ``D_v`` in ``[0, 4096]``. Lava ``dv``; lava-dl ``vDecay``.
    vth : int or ndarray
        Threshold mantissa (17-bit unsigned); a spike when ``v > vth << 6``.
    bias_mant : int or ndarray
        Bias mantissa (13-bit signed), added to ``v`` every step as ``bias_mant << bias_exp``.
    bias_exp : int or ndarray
        Bias exponent in ``[-7, 7]``; negative values shift right (floor).
    hold_steps : int or ndarray
        Steps after a spike during which ``v`` is held at 0 (``u`` integrates).
    u_init, v_init : int or ndarray
        State at step 0.
    weight_exp : int
        Exponent applied to the dendritic sum of every projection into the population.
    num_message_bits : int
        0 for binary spikes; otherwise spikes are graded and carry ``v`` before the reset.
    """

    d_u: int | np.ndarray = 4096
    d_v: int | np.ndarray = 0
    vth: int | np.ndarray = 10
    bias_mant: int | np.ndarray = 0
    bias_exp: int | np.ndarray = 0
    hold_steps: int | np.ndarray = 0
    u_init: int | np.ndarray = 0
    v_init: int | np.ndarray = 0
    weight_exp: int = 0
    num_message_bits: int = 0

    kind = "loihi_cuba"
    spiking = True

    def __post_init__(self):
        validate_fields(self, "LoihiCuba", _FIELDS,
                        {k: dict(low=lo, high=hi) for k, (lo, hi) in _BOUNDS.items()},
                        check_int_param)
        for name, (low, high) in (("weight_exp", (-8, 7)), ("num_message_bits", (0, 24))):
            val = check_int_param("LoihiCuba", name, getattr(self, name), low, high)
            if val.ndim:
                raise ParameterError(f"LoihiCuba parameter {name!r} is one value per population, "
                                     f"got shape {val.shape}")
            object.__setattr__(self, name, int(val))

    @property
    def graded(self) -> bool:
        """True when spikes carry an integer payload (``num_message_bits > 0``)."""
        return self.num_message_bits > 0

    def per_neuron(self, n: int) -> dict[str, np.ndarray]:
        """Every integer field as a contiguous int64 ``(n,)`` array, plus the derived ``bias``
        (``bias_mant << bias_exp``) and ``theta`` (``vth << 6``) the kernel takes."""
        out = broadcast_fields(self, "LoihiCuba", _FIELDS, n, np.int64)
        out["bias"] = effective_bias(out["bias_mant"], out["bias_exp"])
        out["theta"] = out["vth"] << ACT_SHIFT
        return out


def effective_bias(bias_mant, bias_exp) -> np.ndarray:
    """``bias_mant << bias_exp``, or ``>> -bias_exp`` (floor) for negative exponents; int64."""
    m = np.asarray(bias_mant, dtype=np.int64)
    e = np.asarray(bias_exp, dtype=np.int64)
    return np.where(e >= 0, m << np.maximum(e, 0), m >> np.maximum(-e, 0)).astype(np.int64)


def weights_to_loihi(w, num_weight_bits: int = 8, sign_mode: str = "mixed") -> np.ndarray:
    """Clip and truncate integer weights to what a Loihi synapse stores (neurons.md §3.3).

    Weights are clipped to the sign mode's range (mixed ``[-256, 255]``, excitatory
    ``[0, 255]``, inhibitory ``[-255, 0]``), then their low ``k = 8 - num_weight_bits + [mixed]``
    bits are cleared: ``w <- (w >> k) << k``; inhibitory weights are truncated on ``-w``.

    Parameters
    ----------
    w : array_like of integer values
        Weight mantissas (any shape).
    num_weight_bits : int
        Bits per weight, 1..8.
    sign_mode : str
        ``"mixed"``, ``"excitatory"`` or ``"inhibitory"``.

    Returns
    -------
    ndarray of int64, same shape as ``w``

    Raises
    ------
    ParameterError
        On non-integer weights, an unknown sign mode or a bit count outside 1..8.
    """
    if sign_mode not in SIGN_MODES:
        raise ParameterError(f"weights_to_loihi sign_mode {sign_mode!r} is not one of "
                             f"{SIGN_MODES}")
    if not isinstance(num_weight_bits, (int, np.integer)) or not 1 <= num_weight_bits <= 8:
        raise ParameterError(f"weights_to_loihi num_weight_bits must be an integer in 1..8, "
                             f"got {num_weight_bits!r}")
    arr = np.asarray(w, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
        raise ParameterError("weights_to_loihi expects integer weight mantissas; scale and round "
                             "the weights first (e.g. np.round(w * 64))")
    arr = arr.astype(np.int64)
    k = 8 - int(num_weight_bits) + (1 if sign_mode == "mixed" else 0)
    if sign_mode == "mixed":
        arr = np.clip(arr, -256, 255)
        return (arr >> k) << k
    if sign_mode == "excitatory":
        arr = np.clip(arr, 0, 255)
        return (arr >> k) << k
    arr = np.clip(arr, -255, 0)
    return -(((-arr) >> k) << k)


# ----------------------------------------------------------------------------------------------
# Kernels. Scalars in, scalars out: the engines inline them into their own loops.


@njit(cache=True, inline="always")
def rtz12(x):
    """``sign(x) (|x| >> 12)``: divide by 4096 rounding toward zero (int64)."""
    if x >= 0:
        return x >> 12
    return -((-x) >> 12)


@njit(cache=True, inline="always")
def wrap24(x):
    """Two's-complement wrap of the current into 24 bits (Lava's rule, see module doc)."""
    if x > (1 << 23):
        return x - (1 << 24)
    if x <= -(1 << 23):
        return x + (1 << 24)
    return x


@njit(cache=True, inline="always")
def sat24(x):
    """Clamp the voltage to ``[-(2^23 - 1), 2^23 - 1]``."""
    if x > (1 << 23) - 1:
        return (1 << 23) - 1
    if x < -((1 << 23) - 1):
        return -((1 << 23) - 1)
    return x


@njit(cache=True, inline="always")
def loihi_dendrite_input(acc, weight_exp):
    """Dendritic sum ``A`` of one step scaled by the weight exponent: ``A << e`` or ``A >> -e``."""
    if weight_exp >= 0:
        return acc << weight_exp
    return acc >> (-weight_exp)


@njit(cache=True, inline="always")
def loihi_cuba_step(u, v, a, d_u, d_v, bias, theta, hold_left, hold_steps):
    """One bit-exact step of a Loihi CUBA neuron (all arguments int64).

    Parameters
    ----------
    u, v : int
        State after the previous step.
    a : int
        This step's dendritic input (already scaled by the weight exponent).
    d_u, d_v : int
        12-bit decays ``D_u``, ``D_v``.
    bias, theta : int
        Effective bias ``b_m << b_e`` and threshold ``vth << 6``.
    hold_left : int
        Remaining refractory hold steps (0 when not refractory).
    hold_steps : int
        Hold length set after a spike.

    Returns
    -------
    (u, v, spiked, payload, hold_left) : (int, int, bool, int, int)
        ``payload`` is ``v`` before the reset when ``spiked`` (0 otherwise).
    """
    u = wrap24(rtz12(u * (4096 - d_u)) + (a << 6))
    if hold_left > 0:
        return u, v * 0, False, v * 0, hold_left - 1
    v = sat24(rtz12(v * (4096 - d_v)) + u + bias)
    if v > theta:
        return u, v * 0, True, v, hold_steps
    return u, v, False, v * 0, hold_left


def _engine_columns(params, p, n) -> dict:
    """Engine columns of a Loihi CUBA population (integers held exactly in float64)."""
    return {"d_u": p["d_u"].astype(np.float64), "d_v": p["d_v"].astype(np.float64),
            "v_th": (p["vth"] << ACT_SHIFT).astype(np.float64),
            "bias": effective_bias(p["bias_mant"], p["bias_exp"]).astype(np.float64),
            "v_init": p["v_init"].astype(np.float64), "i_init": p["u_init"].astype(np.float64),
            "hold_steps": p["hold_steps"].astype(np.int64), "gain": np.ones(n)}


MODEL = register(NeuronModel("loihi_cuba", kinds=("loihi_cuba",), columns=_engine_columns,
                             code=6, timestep_only=True, graded=lambda params: params.graded))
