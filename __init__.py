"""aersim: a discrete-event simulator of neuromorphic many-core chips.

The common path, in one namespace::

    import aersim

    net = aersim.load_network("net.nir", profile="snntorch")   # or aersim.models generators
    sim = aersim.Simulation(net, "loihi_like", stimuli=[aersim.PoissonInput("input", 20.0)])
    res = sim.run(0.5)                                          # seconds of simulated time
    res.to_trace("run.h5")
    trace = aersim.read_trace("run.h5")

The packages below hold the rest: ``aersim.models`` (neuron models, networks, loaders, import
profiles), ``aersim.hardware`` (chips, network-on-chip, crossbars, mapping, energy),
``aersim.traces`` (event recordings in, HDF5 traces, reports and plots out) and
``aersim.simcore`` (the engines, runs, sweeps and the ``aersim`` command).
"""

import importlib

__version__ = "0.2.0"

#: The common path, re-exported from the packages that define it. Loaded on first use, so that
#: ``import aersim.traces`` does not pull in the engine (and Numba) through this root.
_EXPORTS = {
    "PoissonDrive": "aersim.simcore",
    "PoissonInput": "aersim.simcore",
    "Results": "aersim.simcore",
    "RunConfig": "aersim.simcore",
    "RunSpec": "aersim.simcore",
    "Simulation": "aersim.simcore",
    "SpikeTrains": "aersim.simcore",
    "load_chip": "aersim.hardware",
    "load_network": "aersim.models",
    "map_network": "aersim.hardware",
    "open_events": "aersim.traces",
    "preset_names": "aersim.hardware",
    "read_events": "aersim.traces",
    "read_trace": "aersim.traces",
    "run": "aersim.simcore",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'aersim' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
