"""``RunConfig``: how a simulation runs (mode, time step, seed, chunking, what it records)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

from aersim.hardware.chip import EXECUTION_MODES
from aersim.simcore.engine.build import SYNAPSE_LAYOUTS
from aersim.simcore.errors import ConfigError

#: Picoseconds per second: simulated time is int64 ps everywhere inside the engine.
PS_PER_S = 10**12


@dataclass(frozen=True)
class RunConfig:
    """How to run.

    Attributes
    ----------
    mode : str or None
        ``"timestep"`` or ``"async"``; None takes the chip's ``execution_mode``.
    dt_ps : int or None
        Algorithmic step in ``timestep`` mode, picoseconds. None (the default) takes the import
        profile's time step of the network (what it was trained with), else 0.1 ms.
    seed : int
        Seed of every random stream of the run.
    chunk_ps : int or None
        Simulated time per chunk (default: 1000 steps, or 100 ms in async mode).
    recorder_capacity : int
        Spikes buffered before they are handed to the trace.
    record_messages : bool
        Also log every message served (index, arrival, service start and end); see
        ``Results.messages``.
    probe_period_ps : int or None
        Sampling period of probed neurons' state (default: every step in ``timestep`` mode,
        0.1 ms in ``async`` mode); see ``Simulation(probes=...)``.
    synapses : str
        Layout of the engine's synapse tables (``simcore.engine.synapse_tables``):
        ``"in_place"`` reads the network's own synapse arrays where they allow it and it keeps
        less memory than a copy, ``"copy"`` always copies (faster delivery), ``"auto"``
        (default) reads in place from :data:`~aersim.simcore.engine.build.IN_PLACE_MIN_BYTES`
        of copy on or when the copy would take more than a quarter of the available memory.
        Every layout gives the same results, bit for bit.
    """

    mode: str | None = None
    dt_ps: int | None = None
    seed: int = 0
    chunk_ps: int | None = None
    recorder_capacity: int = 1 << 20
    record_messages: bool = False
    probe_period_ps: int | None = None
    synapses: str = "auto"

    def __post_init__(self):
        if self.synapses not in SYNAPSE_LAYOUTS:
            raise ConfigError(f"RunConfig.synapses must be one of {SYNAPSE_LAYOUTS}, got "
                              f"{self.synapses!r}")
        if self.probe_period_ps is not None and int(self.probe_period_ps) <= 0:
            raise ConfigError(f"probe_period_ps must be positive, got {self.probe_period_ps}")
        if self.mode is not None and self.mode not in EXECUTION_MODES:
            raise ConfigError(f"mode {self.mode!r} is not one of {EXECUTION_MODES}")
        for name in ("dt_ps", "chunk_ps", "probe_period_ps", "recorder_capacity", "seed"):
            value = getattr(self, name)
            if value is None and name != "seed" and name != "recorder_capacity":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ConfigError(f"RunConfig.{name} must be an integer, got {value!r}")
        if self.dt_ps is not None and int(self.dt_ps) <= 0:
            raise ConfigError(f"dt_ps must be a positive number of picoseconds, got {self.dt_ps}")
        if not 0 <= int(self.seed) < 2**63:
            raise ConfigError(f"seed must be in [0, 2**63), got {self.seed}")
        if self.chunk_ps is not None and int(self.chunk_ps) <= 0:
            raise ConfigError(f"chunk_ps must be positive, got {self.chunk_ps}")


    def for_network(self, network) -> RunConfig:
        """This configuration with its time step resolved for ``network``: an unset ``dt_ps``
        becomes the network's import-profile time step (else 0.1 ms); a set one that differs
        from it warns (``RunWarning``), since the network will not behave as trained."""
        from aersim.simcore.errors import RunWarning
        from aersim.simcore.run.spec import DEFAULT_DT_S, profile_dt_s

        trained = profile_dt_s(network)
        if self.dt_ps is None:
            dt_s = trained if trained is not None else DEFAULT_DT_S
            return replace(self, dt_ps=int(round(dt_s * PS_PER_S)))
        if trained is not None and self.dt_ps != int(round(trained * PS_PER_S)):
            warnings.warn(f"dt = {self.dt_ps / PS_PER_S:g} s differs from the import profile's "
                          f"dt = {trained:g} s: the network will not behave as it did where it "
                          "was trained", RunWarning, stacklevel=4)
        return self
