"""aersim's simulator: event engine, build step, run orchestration, command line."""

from simcore.errors import ConfigError, SimulationError, StimulusError
from simcore.queue import EventQueue
from simcore.simulation import Results, RunConfig, Simulation
from simcore.stimulus import PoissonDrive, PoissonInput, SpikeTrains

__all__ = [
    "ConfigError", "EventQueue", "PoissonDrive", "PoissonInput", "Results", "RunConfig",
    "Simulation", "SimulationError", "SpikeTrains", "StimulusError",
]
