"""Stimuli: what drives a network during a run.

Two families:

- *Input spikes* (:class:`PoissonInput`, :class:`SpikeTrains`, :class:`GradedInput`) are spikes
  of an input population. They are real spikes on the chip: they leave the input neuron's core as
  messages. A :class:`GradedInput` spike carries a real value as its payload (a graded spike):
  every synapse it reaches adds ``weight * value``, as an EGRU's or a sigma-delta neuron's
  events do.
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


@dataclass(frozen=True, eq=False)
class GradedInput:
    """A real-valued vector per step for an input population, sent as graded spikes.

    Row ``i`` of ``values`` is the input at ``t0_ps + i * dt_ps``: neuron ``j`` spikes then with
    payload ``values[i, j]`` unless that value is exactly 0 (a zero sends nothing, so the input
    is event-driven). Each spike is an input spike on the chip (counted and priced like any
    other: ``input_spike`` or ``spike_out``, messages, hops, synaptic operations). Runs in
    ``timestep`` mode, where ``dt_ps`` must be a whole number of the run's steps.

    Parameters
    ----------
    population : str
        An input population of ``n`` neurons.
    values : ndarray of float64, shape (steps, n)
        Payload per step and neuron (dimensionless; synapses multiply it).
    dt_ps : int
        Time between rows, picoseconds (> 0).
    t0_ps : int
        Time of row 0, picoseconds (>= 0).
    """

    population: str
    values: np.ndarray
    dt_ps: int
    t0_ps: int = 0

    def __post_init__(self):
        v = np.asarray(self.values, dtype=np.float64)
        if v.ndim == 1:
            v = v[:, None]
        if v.ndim != 2:
            raise StimulusError(f"GradedInput on {self.population!r}: values must be a (steps, n) "
                                f"array, got shape {v.shape}")
        if not np.all(np.isfinite(v)):
            raise StimulusError(f"GradedInput on {self.population!r}: values contain NaN or "
                                "infinity")
        for name in ("dt_ps", "t0_ps"):
            x = getattr(self, name)
            if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
                raise StimulusError(f"GradedInput on {self.population!r}: {name} must be an "
                                    f"integer number of picoseconds, got {x!r}")
        if int(self.dt_ps) <= 0 or int(self.t0_ps) < 0:
            raise StimulusError(f"GradedInput on {self.population!r}: need dt_ps > 0 and "
                                f"t0_ps >= 0, got dt_ps={self.dt_ps}, t0_ps={self.t0_ps}")
        object.__setattr__(self, "values", np.ascontiguousarray(v))
        object.__setattr__(self, "dt_ps", int(self.dt_ps))
        object.__setattr__(self, "t0_ps", int(self.t0_ps))

    @classmethod
    def from_tokens(cls, population: str, tokens, table, dt_ps: int, t0_ps: int = 0):
        """One row of the embedding ``table`` per token (see :func:`embed_tokens`)."""
        return cls(population, embed_tokens(tokens, table), dt_ps, t0_ps)

    @property
    def n_steps(self) -> int:
        """Rows of ``values``."""
        return self.values.shape[0]

    def open(self, population, rng=None):
        """A stream of this input for ``population``; its ``spikes`` also gives the payloads."""
        n = population.size
        if self.values.shape[1] != n:
            raise StimulusError(f"GradedInput on {self.population!r}: values have "
                                f"{self.values.shape[1]} columns for {n} neurons")

        def spikes(t0_ps: int, t1_ps: int):
            lo = max(0, -(-(t0_ps - self.t0_ps) // self.dt_ps))
            hi = min(self.n_steps, max(0, -(-(t1_ps - self.t0_ps) // self.dt_ps)))
            rows, idx = np.nonzero(self.values[lo:hi])
            t = self.t0_ps + (rows.astype(np.int64) + lo) * self.dt_ps
            return t, idx.astype(np.int64), self.values[lo:hi][rows, idx]
        return SpikeStream(spikes)


def embed_tokens(tokens, table) -> np.ndarray:
    """Embedding rows of a token sequence.

    Parameters
    ----------
    tokens : array_like of int, shape (steps,)
        Token ids in ``0 .. vocab - 1``.
    table : ndarray of float, shape (vocab, d)
        Embedding table (PyTorch ``nn.Embedding.weight``).

    Returns
    -------
    ndarray of float64, shape (steps, d)
    """
    table = np.asarray(table, dtype=np.float64)
    tok = np.asarray(tokens)
    if table.ndim != 2:
        raise StimulusError(f"embedding table must be (vocab, d), got shape {table.shape}")
    if tok.ndim != 1 or (tok.size and not np.issubdtype(tok.dtype, np.integer)):
        raise StimulusError(f"tokens must be a 1-d array of integer ids, got dtype {tok.dtype} "
                            f"and shape {tok.shape}")
    if tok.size and (int(tok.min()) < 0 or int(tok.max()) >= table.shape[0]):
        bad = int(tok[(tok < 0) | (tok >= table.shape[0])][0])
        raise StimulusError(f"token id {bad} is outside the embedding table's 0.."
                            f"{table.shape[0] - 1}")
    return np.ascontiguousarray(table[tok])


class SpikeStream:
    """The running form of an input stimulus: ``spikes(t0_ps, t1_ps)`` gives the spikes of
    consecutive chunks ``[t0_ps, t1_ps)`` as ``(t_ps int64, local index int64)``, unsorted; a
    graded stream adds a third array, the payloads (float64).

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
INPUT_STIMULI = (PoissonInput, SpikeTrains, GradedInput)


def is_input_stimulus(stim) -> bool:
    """True for stimuli that make an input population spike (they have ``open``)."""
    return hasattr(stim, "open")
