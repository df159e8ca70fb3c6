"""aersim's simulator: event engine, build step, run orchestration, command line."""

from aersim.simcore.engine.queue import EventQueue
from aersim.simcore.errors import ConfigError, SimulationError, StimulusError
from aersim.simcore.run.config import RunConfig
from aersim.simcore.run.results import Results
from aersim.simcore.run.simulation import Simulation
from aersim.simcore.run.spec import RunSpec, execute, resolve, run
from aersim.simcore.run.stimulus import GradedInput, PoissonDrive, PoissonInput, SpikeTrains

__all__ = [
    "ConfigError", "EventQueue", "GradedInput", "PoissonDrive", "PoissonInput", "Results",
    "RunConfig", "RunSpec", "Simulation", "SimulationError", "SpikeTrains", "StimulusError",
    "execute", "resolve", "run",
]
