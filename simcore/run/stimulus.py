"""Stimuli: what drives a network during a run.

Two families:

- *Input spikes* (:class:`PoissonInput`, :class:`SpikeTrains`) are spikes of an input
  population. They are real spikes on the chip: they leave the input neuron's core as messages.
- *Drives* (:class:`PoissonDrive`) act directly on the membrane of a population's neurons, like
  Brian2's ``PoissonInput`` or NEST's ``poisson_generator``: every event adds ``weight`` to
  ``v``. They are generated lazily inside the engines and cost the chip one ``stim_in`` each but
  no core time or traffic (a background current, not a message).

Every stimulus draws from its own random stream, spawned from the run's seed, so adding one
stimulus never changes the realisation of another.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aersim.simcore.errors import StimulusError


@dataclass(frozen=True)
class PoissonDrive:
    """Independent Poisson events at ``rate_hz`` per neuron of ``population``, each adding
    ``weight`` (times the neuron's input gain) to the membrane."""

    population: str
    rate_hz: float
    weight: float

    def __post_init__(self):
        if not np.isfinite(self.rate_hz) or self.rate_hz < 0:
            raise StimulusError(f"PoissonDrive on {self.population!r}: rate_hz must be a finite "
                                f"number >= 0, got {self.rate_hz}")
        if not np.isfinite(self.weight):
            raise StimulusError(f"PoissonDrive on {self.population!r}: weight must be finite, "
                                f"got {self.weight}")


@dataclass(frozen=True)
class PoissonInput:
    """Independent Poisson spike trains at ``rate_hz`` for every neuron of an input population."""

    population: str
    rate_hz: float

    def __post_init__(self):
        if not np.isfinite(self.rate_hz) or self.rate_hz < 0:
            raise StimulusError(f"PoissonInput on {self.population!r}: rate_hz must be a finite "
                                f"number >= 0, got {self.rate_hz}")

    def open(self, population, rng: np.random.Generator):
        """A stream of this stimulus for ``population`` (see :class:`SpikeStream`)."""
        n = population.size

        def spikes(t0_ps: int, t1_ps: int):
            count = rng.poisson(self.rate_hz * n * (t1_ps - t0_ps) * 1e-12)
            return (rng.integers(t0_ps, t1_ps, size=count, dtype=np.int64),
                    rng.integers(0, n, size=count, dtype=np.int64))
        return SpikeStream(spikes)


@dataclass(frozen=True, eq=False)
class SpikeTrains:
    """Given spikes of an input population: ``times_ps`` (int64) and local ``indices``."""

    population: str
    times_ps: np.ndarray
    indices: np.ndarray

    def __post_init__(self):
        t = np.asarray(self.times_ps)
        i = np.asarray(self.indices)
        if t.shape != i.shape or t.ndim != 1:
            raise StimulusError(f"SpikeTrains on {self.population!r}: times_ps and indices must "
                                f"be 1-d arrays of equal length, got {t.shape} and {i.shape}")
        if t.size and int(t.min()) < 0:
            raise StimulusError(f"SpikeTrains on {self.population!r}: negative spike time "
                                f"{int(t.min())} ps")
        object.__setattr__(self, "times_ps", t.astype(np.int64))
        object.__setattr__(self, "indices", i.astype(np.int64))

    def open(self, population, rng=None):
        """A stream of the given spikes for ``population`` (see :class:`SpikeStream`)."""
        n = population.size
        if self.indices.size and (int(self.indices.min()) < 0 or int(self.indices.max()) >= n):
            raise StimulusError(f"SpikeTrains on {self.population!r}: index outside 0..{n - 1}")

        def spikes(t0_ps: int, t1_ps: int):
            sel = (self.times_ps >= t0_ps) & (self.times_ps < t1_ps)
            return self.times_ps[sel], self.indices[sel]
        return SpikeStream(spikes)


class SpikeStream:
    """The running form of an input stimulus: ``spikes(t0_ps, t1_ps)`` gives the spikes of
    consecutive chunks ``[t0_ps, t1_ps)`` as ``(t_ps int64, local index int64)``, unsorted.

    A stimulus is a frozen description; ``stimulus.open(population, rng)`` makes the stream that
    holds the run's state (a random generator, a reader's position in a recording).
    """

    def __init__(self, spikes):
        self.spikes = spikes


class _Population:
    """Stand-in for a population where only the size is known (``spikes`` below)."""

    def __init__(self, size: int):
        self.size = size


def _spikes(self, rng, n: int, t0_ps: int, t1_ps: int):
    """One chunk of spikes from a freshly opened stream (a Poisson stream draws from ``rng``)."""
    return self.open(_Population(n), rng).spikes(t0_ps, t1_ps)


PoissonInput.spikes = _spikes
SpikeTrains.spikes = _spikes
INPUT_STIMULI = (PoissonInput, SpikeTrains)


def is_input_stimulus(stim) -> bool:
    """True for stimuli that make an input population spike (they have ``open``)."""
    return hasattr(stim, "open")
