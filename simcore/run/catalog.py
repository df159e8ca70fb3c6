"""Built-in runs: a network generator together with the stimulus that makes it do something.

``aersim run NAME`` and the benchmarks use these; each entry builds a fresh network from a seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aersim.models.generators import (
    MOTION_DIRECTIONS,
    brunel_network,
    direction_network,
    ff_network,
    random_network,
)
from aersim.simcore.errors import ConfigError
from aersim.simcore.run.replay import EventReplay
from aersim.simcore.run.stimulus import PoissonDrive, PoissonInput
from aersim.traces.recordings.synthetic import dvs_events


@dataclass(frozen=True)
class BuiltinRun:
    """A named network with its stimuli and suggested defaults."""

    description: str
    build: Callable  # (seed) -> (network, stimuli)
    chip: str
    duration_s: float
    strategy: str = "sequential"
    labels: tuple = ()   # names of the output neurons, when they mean something


def _demo(seed):
    # A 32x32 DVS watching a bar sweep rightwards at 60 px/s, replayed into the
    # direction-selective network whose delays are tuned to that speed.
    net = direction_network(32, 32, seed=seed)
    events = dvs_events("bar", 32, 32, 0.6, direction="right", speed_px_s=60.0, seed=seed)
    return net, [EventReplay("retina", events, sensor_size=(32, 32))]


def _layers(seed):
    net = ff_network(n_input=500, layer_size=1000, n_layers=3, fan_in=200, seed=seed)
    return net, [PoissonInput("input", 20.0)]


def _brunel(seed):
    net = brunel_network(seed=seed)
    return net, [PoissonDrive("exc", 20_000.0, 0.1), PoissonDrive("inh", 20_000.0, 0.1)]


def _ff(seed):
    return ff_network(seed=seed), [PoissonInput("input", 20.0)]


def _random(seed):
    return random_network(seed=seed), [PoissonInput("input", 50.0)]


BUILTIN_RUNS = {
    "demo": BuiltinRun("a simulated 32x32 DVS watching a bar move right, replayed into a "
                       "direction-selective network of delay-line correlators",
                       _demo, "loihi_like", 0.6, "layer", tuple(MOTION_DIRECTIONS)),
    "layers": BuiltinRun("500 Poisson inputs (20 Hz) into three sparse LIF layers of 1000",
                         _layers, "loihi_like", 0.5),
    "brunel": BuiltinRun("Brunel balanced network: 10,000 LIF, 10 M synapses, 20 kHz drive",
                         _brunel, "minimal", 0.2),
    "ff": BuiltinRun("1000 Poisson inputs into three LIF layers of 2000 (1.2 M synapses)",
                     _ff, "minimal", 1.0),
    "random": BuiltinRun("200 recurrent LIF with inhibition and delays, 20 Poisson inputs",
                         _random, "minimal", 0.2),
}


def builtin_run(name: str) -> BuiltinRun:
    """The built-in run called ``name``; ``ConfigError`` listing the known names otherwise."""
    try:
        return BUILTIN_RUNS[name]
    except KeyError:
        raise ConfigError(f"unknown built-in network {name!r}; built-ins are "
                          f"{', '.join(BUILTIN_RUNS)}, or give a network file") from None
