"""The error classes of the ``models`` package."""


class ModelError(Exception):
    """Base class of every error raised by ``models``: a bad parameter, network or weight file."""


class ParameterError(ModelError, ValueError):
    """A neuron or synapse parameter is out of its allowed range (NaN, negative time constant…)."""


class NetworkError(ModelError, ValueError):
    """A network is inconsistent: unknown population, shape mismatch, bad CSR arrays."""


class ModelWarning(UserWarning):
    """Suspicious but legal model input, such as an assumed import profile."""
