"""Import profiles: how a NIR graph was discretised by the framework that exported it.

NIR stores continuous-time equations (``tau dv/dt = v_leak - v + r * x``) but not the time step,
integrator, reset rule, spike amplitude or layer timing the network was trained with; every
exporter folds its own ``dt`` into ``tau``, ``r`` and ``w_in``. An :class:`ImportProfile` states
those choices so that a loaded network behaves as it did where it was trained.

Time-stepped semantics shared by every profile (and by ``models.loaders.nir_reference``). In step
``t`` each neuron first relaxes over ``dt`` (forward Euler or the exact exponential), then adds the
inputs that arrive in step ``t``, then compares ``v > v_th`` and resets. A spike is a signal of
height ``spike_amplitude`` held for one step, i.e. of area ``A = spike_amplitude * dt``, so a
spike through weight ``w`` makes a LIF membrane jump by ``w * r * A / tau`` and a CubaLIF current
jump by ``w * w_in * A / tau_syn`` -- under Euler this is the exact Euler increment, under exact
integration it is the equivalent Dirac kick. Constant inputs (Affine biases) are integrated as
currents. A projection from a population to the next takes ``layer_delay_steps`` steps; when that
is 0 (layer-synchronous, as NIRTorch), every edge that closes a cycle takes one step instead.

=========  =========  ==========  =========  =========  =====  ===================================
profile    dt (s)     integrator  reset      amplitude  layer  exporter behaviour mirrored
=========  =========  ==========  =========  =========  =====  ===================================
exact      1e-4       exact       value      1          0      NIR's ideal continuous model: exact
                                                                exponential decay between steps,
                                                                reset to ``v_reset``.
snntorch   1e-4       euler       subtract   1          0      ``export_to_nir`` hard-codes dt =
                                                                1e-4 and writes r = tau/dt, w_in =
                                                                tau_syn/dt, so Euler gives
                                                                ``v <- beta v + x``; default reset
                                                                is subtraction; the synaptic current
                                                                is updated before the membrane.
norse      1e-3       euler       value      1          0      ``to_nir`` writes r = 1 and
                                                                ``v_reset``; Norse integrates with
                                                                forward Euler at its dt (1 ms by
                                                                default) and resets to a value; its
                                                                membrane uses the previous current.
sinabs     1          euler       subtract   1          0      dimensionless steps: IF with r = 1
                                                                (``v <- v + x``), Sinabs' default
                                                                ``MembraneSubtract`` reset.
rockpool   1e-3       exact       subtract   1          0      exponential Euler: r = tau
                                                                exp(-dt/tau)/dt; reset by
                                                                subtraction; dt is recovered from
                                                                the file when detected.
lava-dl    1/4096     euler       value      4096       1      raw 12-bit Loihi decays written as
                                                                tau = 1/decay, so dt/tau =
                                                                decay/4096; w_in = tau_syn gives a
                                                                unit current jump; one step per
                                                                layer (Dense buffers a step).
spyx       1e-4       euler       subtract   1          0      Euler at the paper's dt; spyx
                                                                rescales weights by dt on import.
=========  =========  ==========  =========  =========  =====  ===================================

A profile is chosen by name, as an :class:`ImportProfile`, or detected from a graph
(:func:`detect_profile`): the graph's metadata first (keys ``profile``, ``exporter``,
``framework``, ``dt``), then parameter signatures (r = tau/1e-4 is snnTorch, r = 1 with tau is
Norse, r = tau exp(-dt/tau)/dt is Rockpool, IF with r = 1 is Sinabs). Detection always warns.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, replace

import numpy as np

from aersim.models.errors import ModelError, ParameterError
from aersim.models.neurons.params import SpikeRule

INTEGRATORS = ("exact", "euler")
RESETS = ("value", "subtract", "none")
RESET_TIMINGS = ("immediate", "next_step")
CUBA_ORDERS = ("current_first", "voltage_first", "decay_after_input")
#: How an exporter wrote time constants: as NIR defines them, or multiplied by its ``dt``
#: (Norse 1.1's ``to_nir`` writes ``dt / tau_inv`` = ``dt * tau``).
TAU_CONVENTIONS = ("nir", "dt_times_tau")
INITIAL_STATES = ("zero", "v_leak")
#: What an input spike through weight ``w`` adds to a LIF membrane: NIR's ``w * r * A / tau``,
#: ``w`` itself (Rockpool, Spyx), or ``w * (1 - decay)`` (Sinabs' ``norm_input``).
LIF_GAINS = ("nir", "one", "one_minus_decay")
#: What ``r`` of a CuBa node means: NIR's resistance, or only a trace of the exporter's ``dt``
#: (Rockpool writes ``r = tau exp(-dt/tau) / dt``; its current adds to the membrane unscaled).
R_CONVENTIONS = ("nir", "dt_only")


@dataclass(frozen=True)
class ImportProfile:
    """How a NIR graph's continuous-time parameters become discrete per-step updates.

    Parameters
    ----------
    name : str
        Profile name (``"snntorch"``, ``"norse"``, ...).
    dt_s : float
        Time step, seconds (> 0). Also the unit of synaptic delays (``round(dt_s * 1e12)`` ps).
    integrator : str
        ``"euler"`` (forward Euler, reproduces time-stepped training) or ``"exact"`` (exact
        exponential relaxation; suits event-driven engines).
    reset : str
        ``"value"`` (``v <- v_reset``) or ``"subtract"`` (``v <- v - v_th``).
    spike_amplitude : float
        Height of a one-step spike as a NIR signal; its area is ``spike_amplitude * dt_s``.
    layer_delay_steps : int
        Steps a spike takes from one population to the next (0: layer-synchronous).
    cuba_order : str
        ``"current_first"`` (the current takes this step's input before the membrane uses it, as
        snnTorch) or ``"voltage_first"`` (the membrane uses last step's current, as Norse and
        the NIR reference Euler).
    description : str
        The exporter behaviour this profile mirrors.
    reset_timing : str
        ``"immediate"`` (reset right after the spike) or ``"next_step"`` (the reset of a spike
        in step ``t`` acts after the update of step ``t + 1``: snnTorch computes it from the
        stored membrane of the previous step).
    feedforward_zero_immediate : bool
        With ``reset="value"`` and ``reset_timing="next_step"``: a LIF population outside any
        cycle resets at once instead (snnTorch's ``Leaky`` zeroes only the stored membrane, so
        the next step starts from 0 with its input kept, whereas ``RLeaky`` and ``Synaptic``
        zero the whole next step).
    tau_convention : str
        ``"nir"`` or ``"dt_times_tau"`` (the file's ``tau`` is ``dt`` times the true one).
    unit_jump : bool
        A spike through weight ``w`` moves a CuBa current, and an IF membrane, by exactly ``w``
        (Norse), instead of NIR's ``w * w_in * A / tau_syn`` and ``w * r * A``.
    initial_state : str
        Membranes start at ``"zero"`` or at ``"v_leak"`` (Norse's LIF cells).
    checked_against : str
        The framework release whose exported networks reproduce exactly under this profile.
    spike_rule : SpikeRule
        Threshold test, spike counts and membrane floor of the spiking neurons (Sinabs and
        Rockpool fire on ``v >= v_th`` and emit counts).
    lif_gain : str
        One of :data:`LIF_GAINS`.
    r_convention : str
        One of :data:`R_CONVENTIONS`.
    bias_per_step : bool
        Biases (of Affine and convolution nodes) act as an input of that weight every step,
        as in every time-stepped framework, rather than as NIR's constant current.
    unsupported : str
        Non-empty when aersim cannot yet reproduce this exporter's networks exactly: why.
        Loading under such a profile is a ``ModelError`` rather than a different network.
    """

    name: str
    dt_s: float
    integrator: str = "euler"
    reset: str = "value"
    spike_amplitude: float = 1.0
    layer_delay_steps: int = 0
    cuba_order: str = "voltage_first"
    description: str = ""
    reset_timing: str = "immediate"
    feedforward_zero_immediate: bool = False
    tau_convention: str = "nir"
    unit_jump: bool = False
    initial_state: str = "zero"
    checked_against: str = ""
    spike_rule: SpikeRule = field(default_factory=SpikeRule)
    lif_gain: str = "nir"
    r_convention: str = "nir"
    bias_per_step: bool = False
    unsupported: str = ""

    def __post_init__(self):
        where = f"import profile {self.name!r}"
        for name in ("dt_s", "spike_amplitude"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float, np.floating, np.integer))
                    and math.isfinite(value) and value > 0):
                raise ParameterError(f"{where}: {name} must be a finite number > 0, "
                                     f"got {value!r}")
        if round(self.dt_s * 1e12) < 1:
            raise ParameterError(f"{where}: dt_s={self.dt_s!r} is below one picosecond")
        for name, allowed in (("integrator", INTEGRATORS), ("reset", RESETS),
                              ("cuba_order", CUBA_ORDERS), ("reset_timing", RESET_TIMINGS),
                              ("tau_convention", TAU_CONVENTIONS),
                              ("initial_state", INITIAL_STATES), ("lif_gain", LIF_GAINS),
                              ("r_convention", R_CONVENTIONS)):
            if getattr(self, name) not in allowed:
                raise ParameterError(f"{where}: {name}={getattr(self, name)!r} is not one of "
                                     f"{allowed}")
        if int(self.layer_delay_steps) != self.layer_delay_steps or self.layer_delay_steps < 0:
            raise ParameterError(f"{where}: layer_delay_steps must be an integer >= 0, got "
                                 f"{self.layer_delay_steps!r}")

    @property
    def dt_ps(self) -> int:
        """The time step in integer picoseconds."""
        return int(round(self.dt_s * 1e12))

    @property
    def spike_area(self) -> float:
        """Integral of one spike over time (``spike_amplitude * dt_s``), signal x seconds."""
        return self.spike_amplitude * self.dt_s

    def with_(self, **changes) -> ImportProfile:
        """A copy with some fields changed, e.g. ``PROFILES["norse"].with_(dt_s=1e-4)``."""
        return replace(self, **changes)

    def as_dict(self) -> dict:
        """Plain fields, for ``Network.metadata``."""
        return {"name": self.name, "dt_s": float(self.dt_s), "integrator": self.integrator,
                "reset": self.reset, "spike_amplitude": float(self.spike_amplitude),
                "layer_delay_steps": int(self.layer_delay_steps), "cuba_order": self.cuba_order,
                "reset_timing": self.reset_timing,
                "feedforward_zero_immediate": bool(self.feedforward_zero_immediate),
                "tau_convention": self.tau_convention, "unit_jump": bool(self.unit_jump),
                "initial_state": self.initial_state, "checked_against": self.checked_against,
                "spike_rule": dataclasses.asdict(self.spike_rule), "lif_gain": self.lif_gain,
                "r_convention": self.r_convention, "bias_per_step": bool(self.bias_per_step)}


PROFILES: dict[str, ImportProfile] = {p.name: p for p in (
    ImportProfile("exact", 1e-4, "exact", "value", 1.0, 0, "voltage_first",
                  "NIR's ideal model: exact exponential relaxation, reset to v_reset"),
    ImportProfile("snntorch", 1e-4, "euler", "subtract", 1.0, 0, "current_first",
                  "snnTorch export_to_nir: dt=1e-4 folded into r=tau/dt and w_in=tau_syn/dt; "
                  "reset_mechanism='subtract', applied in the step after the spike",
                  reset_timing="next_step", checked_against="snntorch 1.0.0", bias_per_step=True),
    ImportProfile("snntorch-zero", 1e-4, "euler", "value", 1.0, 0, "current_first",
                  "snnTorch with reset_mechanism='zero' (applied in the step after the spike)",
                  reset_timing="next_step", feedforward_zero_immediate=True,
                  checked_against="snntorch 1.0.0", bias_per_step=True),
    ImportProfile("snntorch-none", 1e-4, "euler", "none", 1.0, 0, "current_first",
                  "snnTorch with reset_mechanism='none'", checked_against="snntorch 1.0.0",
                  bias_per_step=True),
    ImportProfile("norse", 1e-3, "euler", "value", 1.0, 0, "current_first",
                  "Norse to_nir: r=1, tau written as dt*tau, forward Euler at Norse's dt, "
                  "reset to v_reset, membranes start at v_leak, spikes jump currents by w",
                  tau_convention="dt_times_tau", unit_jump=True, initial_state="v_leak",
                  checked_against="norse 1.1.0", bias_per_step=True),
    ImportProfile("sinabs", 1.0, "exact", "subtract", 1.0, 0, "voltage_first",
                  "Sinabs: steps as time unit, decay exp(-1/tau), MultiSpike counts on "
                  "v >= v_th, MembraneSubtract, LIF input scaled by 1 - decay (norm_input)",
                  spike_rule=SpikeRule(count=True), lif_gain="one_minus_decay",
                  checked_against="sinabs 3.1.3", bias_per_step=True),
    ImportProfile("sinabs-single", 1.0, "exact", "subtract", 1.0, 0, "voltage_first",
                  "Sinabs with SingleSpike: one spike on v >= v_th, MembraneSubtract",
                  spike_rule=SpikeRule(test=">="), lif_gain="one_minus_decay",
                  checked_against="sinabs 3.1.3", bias_per_step=True),
    ImportProfile("sinabs-reset", 1.0, "exact", "value", 1.0, 0, "voltage_first",
                  "Sinabs with MembraneReset(0): counts on v >= v_th, reset to 0",
                  spike_rule=SpikeRule(count=True), lif_gain="one_minus_decay",
                  checked_against="sinabs 3.1.3", bias_per_step=True),
    ImportProfile("rockpool", 1e-3, "exact", "subtract", 1.0, 0, "decay_after_input",
                  "Rockpool LIFTorch: r=tau*exp(-dt/tau)/dt (dt recovered from the file), input "
                  "into the current then both decay, counts on v >= v_th, subtractive reset",
                  unit_jump=True, spike_rule=SpikeRule(count=True, max_count=65536.0),
                  lif_gain="one", r_convention="dt_only", checked_against="rockpool 3.1.0",
                  bias_per_step=True),
    ImportProfile("lava", 1e-4, "euler", "value", 1.0, 1, "current_first",
                  "Lava (CPU or Loihi 2) running a NIR graph as the NIR paper's converter does: "
                  "forward Euler at dt = 1e-4, each layer one step behind the previous one"),
    ImportProfile("lava-dl", 1.0 / 4096, "euler", "value", 4096.0, 1, "current_first",
                  "lava-dl netx: tau=1/decay with 12-bit decays, one step per layer"),
    ImportProfile("spyx", 1.0, "euler", "subtract", 1.0, 0, "current_first",
                  "Spyx to_nir: dt = 1 step, r = beta; neurons emit from the previous step's "
                  "membrane, so every spiking layer adds one step of latency",
                  reset_timing="next_step", lif_gain="one", bias_per_step=True,
                  unsupported="Spyx's neurons emit a spike from the membrane stored at the end "
                              "of the previous step (one step of latency per layer, with the "
                              "input not delayed); aersim does not reproduce that timing yet. "
                              "Export the network from another framework, or load it with the "
                              "'snntorch' profile knowing that spikes come one step earlier"),
)}


def profile_from_dict(fields: dict) -> ImportProfile:
    """The profile recorded in ``Network.metadata["profile"]`` (:meth:`ImportProfile.as_dict`)."""
    fields = dict(fields)
    base = get_profile(fields.pop("name"))
    if isinstance(fields.get("spike_rule"), dict):
        fields["spike_rule"] = SpikeRule(**fields["spike_rule"])
    known = {f.name for f in dataclasses.fields(ImportProfile)}
    return base.with_(**{k: v for k, v in fields.items() if k in known})


def get_profile(profile: str | ImportProfile) -> ImportProfile:
    """Return a profile given by name or as an :class:`ImportProfile`.

    ``"name@DT"`` is the profile with a time step of ``DT`` seconds (``"norse@0.0005"``): the
    step the network was trained and exported with.

    Raises
    ------
    ModelError
        If the name is unknown; the message lists the known profiles.
    """
    if isinstance(profile, ImportProfile):
        return profile
    if isinstance(profile, str):
        name, _, dt = profile.lower().partition("@")
        if name in PROFILES and not dt:
            return PROFILES[name]
        if name in PROFILES:
            try:
                dt_s = float(dt)
            except ValueError:
                dt_s = math.nan
            if not (math.isfinite(dt_s) and dt_s > 0):
                raise ModelError(f"import profile {profile!r}: the time step after '@' must be "
                                 f"a number of seconds > 0, e.g. '{name}@0.0005'")
            return PROFILES[name].with_(dt_s=dt_s)
    raise ModelError(f"unknown import profile {profile!r}; known profiles are "
                     f"{sorted(PROFILES)} (add '@DT' for another time step in seconds, e.g. "
                     "'norse@0.0005'), or pass an ImportProfile")


def _leaves(graph):
    """Every non-graph node of a (possibly nested) NIR graph."""
    for node in graph.nodes.values():
        if type(node).__name__ == "NIRGraph":
            yield from _leaves(node)
        else:
            yield node


def detect_profile(graph) -> tuple[ImportProfile, str]:
    """Guess the exporter's profile from a NIR graph.

    Returns
    -------
    profile : ImportProfile
    reason : str
        Why it was chosen, for the ``ModelWarning`` that the loader emits.
    """
    meta = {str(k).lower(): v for k, v in (getattr(graph, "metadata", None) or {}).items()}
    dt = meta.get("dt")
    for key in ("profile", "exporter", "framework", "source"):
        text = str(meta.get(key, "")).lower().replace("_", "-")
        for name in sorted(PROFILES, key=len, reverse=True):
            if name in text:
                prof = PROFILES[name]
                if dt is not None and float(dt) > 0:
                    prof = prof.with_(dt_s=float(dt))
                return prof, f"graph metadata {key}={meta[key]!r}"
    for node in _leaves(graph):
        kind = type(node).__name__
        r = np.asarray(getattr(node, "r", np.nan), dtype=np.float64).ravel()
        tau = getattr(node, "tau", getattr(node, "tau_mem", None))
        if kind == "IF" and r.size and np.allclose(r, 1.0):
            return PROFILES["sinabs"], "IF neurons with r = 1 (Sinabs' rate-converted CNNs)"
        if tau is None or not r.size:
            continue
        tau = np.asarray(tau, dtype=np.float64).ravel()
        if np.allclose(r, tau / 1e-4, rtol=1e-4):
            return PROFILES["snntorch"], (f"{kind} with r = tau / 1e-4 (snnTorch's export); "
                                          "assumed reset_mechanism='subtract', see "
                                          "'snntorch-zero' and 'snntorch-none'")
        if np.allclose(r, 1.0) and np.all(tau >= 1.0):
            return (PROFILES["sinabs"], f"{kind} with r = 1 and tau >= 1 (Sinabs writes tau in "
                    "steps); assumed MultiSpike and MembraneSubtract, see 'sinabs-single' and "
                    "'sinabs-reset'")
        if kind in ("LIF", "CubaLIF") and np.allclose(r, 1.0 - 1.0 / tau, rtol=1e-6) \
                and np.all(tau > 1.0):
            return PROFILES["spyx"], f"{kind} with r = 1 - 1/tau (Spyx writes r = beta, dt = 1)"
        if np.allclose(r, 1.0):
            prof = PROFILES["norse"]
            if dt is not None and float(dt) > 0:
                prof = prof.with_(dt_s=float(dt))
            convention = ("tau written as dt * tau (Norse 1.1)" if np.all(tau < prof.dt_s)
                          else "tau written as itself (Norse before 1.1)")
            return prof, f"{kind} with r = 1 (Norse's export; {convention})"
        # Rockpool: r = tau exp(-dt/tau) / dt; recover dt from one neuron and check all.
        t0, r0 = float(tau[0]), float(r[0])
        if r0 > 0:
            lo, hi = 1e-9, 10 * t0
            for _ in range(200):  # bisection: r(dt) decreases monotonically in dt
                mid = 0.5 * (lo + hi)
                if t0 * math.exp(-mid / t0) / mid > r0:
                    lo = mid
                else:
                    hi = mid
            dt_r = 0.5 * (lo + hi)
            if np.allclose(r, tau * np.exp(-dt_r / tau) / dt_r, rtol=1e-4):
                return (PROFILES["rockpool"].with_(dt_s=float(f"{dt_r:.6g}")),
                        f"{kind} with r = tau exp(-dt/tau)/dt, dt = {dt_r:.6g} s (Rockpool)")
    return PROFILES["exact"], "no exporter signature found"
