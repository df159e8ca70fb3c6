"""The error classes of the ``simcore`` package."""


class SimulationError(Exception):
    """Base class of every error raised by ``simcore``."""


class ConfigError(SimulationError, ValueError):
    """A run configuration is invalid (mode, dt, delays that the mode cannot represent, …)."""


class StimulusError(SimulationError, ValueError):
    """A stimulus does not fit the network (unknown population, bad rate or spike times)."""


class RunWarning(UserWarning):
    """A run is legal but probably not what was meant (e.g. a time step other than the one the
    network was trained with)."""
