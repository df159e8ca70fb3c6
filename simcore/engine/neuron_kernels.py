"""Per-neuron arithmetic of the engines, dispatched on the engine's model code.

Scalar functions only (scalars in, scalars out), so that the engines' loops inline them without
reference-counting any array. The engine codes group the NIR neuron set by dynamics:

==========  ====================  =============================================================
code        models                state between inputs; where an input ``w`` goes
==========  ====================  =============================================================
KIND_LIF    LIF, LI               ``v -> v_inf`` exponentially (tau_m); ``v += gain * w``
KIND_IF     IF, integrator (I)    ``v += drift * h`` (drift = r * bias per s); ``v += gain * w``
KIND_CUBA   CubaLIF, CubaLI       ``i -> i_inf`` (tau_syn), ``v`` driven by ``r * i`` (tau_m);
                                  ``i += gain * w``
KIND_ALIF   adaptive LIF          ``v -> v_leak + bias`` (tau_m), adaptation ``a -> 0`` (tau_a,
                                  stored as the second time constant); threshold
                                  ``v_th + beta * a``; ``v += gain * w``
==========  ====================  =============================================================

Sigma-delta and Loihi CUBA neurons are defined per time step and run in ``engine_timestep``.

Non-spiking models (LI, I, CubaLI) have ``v_th = +inf``. The equations and their exact solutions
are documented with the models (``models.neurons.lif``, ``models.neurons.integrator``,
``models.neurons.cuba``).
"""

import math

from numba import njit

from aersim.models.neurons.alif import alif_relax_exact, alif_time_to_threshold_s
from aersim.models.neurons.cuba import cuba_relax_exact, cuba_step
from aersim.simcore.engine.build import KIND_ALIF, KIND_IF, KIND_LIF


@njit(cache=True, inline="always")
def step_neuron(kind, v, i, x, decay, dt_s, v_inf, drift, v_leak, r, i_inf, tau_m, tau_s,
                euler, cuba_order):
    """One time step with ``x`` (the step's summed, gained input). Returns ``(v, i)``."""
    if kind == KIND_LIF:
        return v_inf + (v - v_inf) * decay + x, i
    if kind == KIND_IF:
        return v + drift * dt_s + x, i
    return cuba_step(v, i, v_leak, r, i_inf, dt_s, tau_m, tau_s, x, euler, cuba_order)


@njit(cache=True, inline="always")
def spike_count(v, v_th, ge, count, max_count):
    """Spikes a membrane ``v`` emits this step: 0 or 1 (``v > v_th``, or ``v >= v_th`` with
    ``ge``), or with ``count`` the thresholds it holds, ``floor(v / v_th)`` capped at
    ``max_count`` (Sinabs' and Rockpool's multi-spikes)."""
    if count:
        if not v > 0.0:
            return 0.0
        c = math.floor(v / v_th)
        return c if c < max_count else max_count
    if ge:
        return 1.0 if v >= v_th else 0.0
    return 1.0 if v > v_th else 0.0


@njit(cache=True, inline="always")
def after_spike(v, v_th, v_reset, subtract, no_reset):
    """Membrane after a reset: ``v - v_th`` (subtract), ``v_reset`` (value) or ``v`` (none)."""
    if no_reset:
        return v
    if subtract:
        return v - v_th
    return v_reset


@njit(cache=True, inline="always")
def relax_neuron(kind, v, i, h_s, v_inf, drift, v_leak, r, i_inf, tau_m, tau_s):
    """Exact state after ``h_s`` seconds without input. Returns ``(v, i)``."""
    if kind == KIND_LIF:
        return v_inf + (v - v_inf) * math.exp(-h_s / tau_m), i
    if kind == KIND_IF:
        return v + drift * h_s, i
    if kind == KIND_ALIF:
        return alif_relax_exact(v, i, v_inf, h_s, tau_m, tau_s)
    return cuba_relax_exact(v, i, v_leak, r, i_inf, h_s, tau_m, tau_s)


@njit(cache=True, inline="always")
def _cuba_excess(h, c, b, a, k, tau_m, tau_s, singular):
    """``v(h) - v_th`` for the CuBa membrane written as ``c + b e^{-h/tm} + a e^{-h/ts}``
    (or ``c + (b + k h) e^{-h/tm}`` when tau_m == tau_s)."""
    if singular:
        return c + (b + k * h) * math.exp(-h / tau_m)
    return c + b * math.exp(-h / tau_m) + a * math.exp(-h / tau_s)


@njit(cache=True)
def cuba_time_to_threshold_s(v, i, v_th, v_leak, r, i_inf, tau_m, tau_s):
    """Seconds until a CuBa membrane first exceeds ``v_th`` without further input; inf if never.

    Between inputs ``v(h) - v_th = c + b e^{-h/tau_m} + a e^{-h/tau_s}`` has at most one
    extremum (neurons.md §5.3), so evaluating it at 0, at the extremum and at infinity brackets
    the first crossing, which bisection then refines to below 0.1 ps.
    """
    v_inf = v_leak + r * i_inf
    j0 = i - i_inf
    c = v_inf - v_th
    singular = abs(tau_s - tau_m) <= 1e-12 * tau_m
    if singular:
        a = 0.0
        k = r * j0 / tau_m
        b = v - v_inf
        h_x = tau_m - b / k if k != 0.0 else -1.0
    else:
        a = r * j0 * tau_s / (tau_s - tau_m)
        b = v - v_inf - a
        k = 0.0
        h_x = -1.0
        if a * b < 0.0:
            h_x = math.log(-a * tau_m / (b * tau_s)) / (1.0 / tau_s - 1.0 / tau_m)
    if _cuba_excess(0.0, c, b, a, k, tau_m, tau_s, singular) > 0.0:
        return 0.0
    lo = 0.0
    hi = -1.0
    if h_x > 0.0 and _cuba_excess(h_x, c, b, a, k, tau_m, tau_s, singular) > 0.0:
        hi = h_x
    elif c > 0.0:
        # Rises towards v_inf above threshold: find a time past the crossing by doubling.
        lo = h_x if h_x > 0.0 else 0.0
        hi = lo + tau_m if lo > 0.0 else tau_m
        while _cuba_excess(hi, c, b, a, k, tau_m, tau_s, singular) <= 0.0:
            lo = hi
            hi *= 2.0
    if hi < 0.0:
        return math.inf
    while hi - lo > 1e-13:
        mid = 0.5 * (lo + hi)
        if _cuba_excess(mid, c, b, a, k, tau_m, tau_s, singular) > 0.0:
            hi = mid
        else:
            lo = mid
    return hi


@njit(cache=True, inline="always")
def threshold_of(kind, v_th, i, beta):
    """The threshold in force: ``v_th``, or ``v_th + beta * a`` for adaptive neurons."""
    if kind == KIND_ALIF:
        return v_th + beta * i
    return v_th


@njit(cache=True, inline="always")
def time_to_threshold_s(kind, v, i, v_th, v_inf, drift, v_leak, r, i_inf, tau_m, tau_s, beta):
    """Seconds until the neuron would exceed ``v_th`` with no further input; inf if never."""
    if v_th == math.inf:
        return math.inf
    if kind == KIND_ALIF:
        return alif_time_to_threshold_s(v, i, v_inf, v_th, beta, tau_m, tau_s, math.inf)
    if kind == KIND_LIF:
        if v > v_th:
            return 0.0
        if v_inf <= v_th:
            return math.inf
        return tau_m * math.log((v_inf - v) / (v_inf - v_th))
    if kind == KIND_IF:
        if v > v_th:
            return 0.0
        if drift <= 0.0:
            return math.inf
        return (v_th - v) / drift
    return cuba_time_to_threshold_s(v, i, v_th, v_leak, r, i_inf, tau_m, tau_s)
