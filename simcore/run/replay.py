"""Replaying event-camera recordings into a network's input population.

An event ``(t µs, x, y, p)`` becomes a spike of the input neuron that stands for pixel ``(x, y)``
and polarity ``p``. The input population's shape says how: ``(2, H, W)`` keeps ON and OFF apart
(channel = polarity, as N-MNIST networks expect), ``(H, W)`` or ``(1, H, W)`` merges them. The
recording (after its transforms) must be ``W`` x ``H``; otherwise the error says which transform
to add. Times are shifted so that the first event (or ``t_offset_us``) is at 0 and multiplied by
``time_scale`` (simulated seconds per recorded second): in ``timestep`` mode a step of ``dt``
then collects ``dt / time_scale`` of recording.

The recording is read in time windows as the run advances, so a long file never sits in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aersim.simcore.errors import StimulusError
from aersim.simcore.run.stimulus import SpikeStream
from aersim.traces import EVENT_DTYPE, open_events
from aersim.traces.recordings.transforms import Compose


def recording_span_s(path, format: str | None = None) -> float:
    """Length of a recording in seconds, first to last event (reads its timestamps once)."""
    first = last = None
    for chunk in open_events(path, format=format):
        if chunk.size:
            first = int(chunk["t"][0]) if first is None else first
            last = int(chunk["t"][-1])
    return 0.0 if first is None else (last - first + 1) * 1e-6


def pixel_index(events: np.ndarray, shape: tuple) -> np.ndarray:
    """Input-neuron index (int64) of every event for a population of logical ``shape``."""
    x = events["x"].astype(np.int64)
    y = events["y"].astype(np.int64)
    if len(shape) == 3 and shape[0] == 2:
        h, w = shape[1], shape[2]
        return events["p"].astype(np.int64) * (h * w) + y * w + x
    w = shape[-1]
    return y * w + x


def population_sensor_size(shape: tuple) -> tuple:
    """``(width, height)`` a recording must have to feed a population of ``shape``."""
    if len(shape) == 3 and shape[0] in (1, 2):
        return shape[2], shape[1]
    if len(shape) == 2:
        return shape[1], shape[0]
    raise StimulusError(f"an input population of shape {shape} cannot take camera events; "
                        "give it shape (2, H, W) (ON/OFF channels) or (H, W)")


@dataclass(frozen=True, eq=False)
class EventReplay:
    """Replay a recording (a file path, or an ``EVENT_DTYPE`` array) into ``population``.

    Parameters
    ----------
    population : str
        The input population (shape ``(2, H, W)``, ``(1, H, W)`` or ``(H, W)``).
    source : str, Path or ndarray
        A recording in any format ``traces.open_events`` reads, or events in memory.
    sensor_size : tuple, optional
        ``(width, height)`` of in-memory events (files say it themselves).
    transforms : sequence
        ``traces.recordings.transforms`` applied in order, streaming (filters keep state across
        windows).
    time_scale : float
        Simulated seconds per recorded second (2.0 plays at half speed).
    t_offset_us : int, optional
        Recording time that becomes simulated time 0 (default: the first event).
    format : str, optional
        Force the file format instead of detecting it.
    """

    population: str
    source: object
    sensor_size: tuple | None = None
    transforms: tuple = ()
    time_scale: float = 1.0
    t_offset_us: int | None = None
    format: str | None = None

    def __post_init__(self):
        if not np.isfinite(self.time_scale) or self.time_scale <= 0:
            raise StimulusError(f"EventReplay: time_scale must be > 0, got {self.time_scale}")
        if isinstance(self.source, np.ndarray):
            if self.source.dtype != EVENT_DTYPE:
                raise StimulusError("EventReplay: in-memory events must have traces.EVENT_DTYPE, "
                                    f"got {self.source.dtype}")
            if self.sensor_size is None:
                raise StimulusError("EventReplay: give sensor_size=(width, height) with "
                                    "in-memory events")
        object.__setattr__(self, "transforms", tuple(self.transforms))

    def open(self, population, rng=None) -> SpikeStream:
        """The stream of spikes this replay feeds into ``population``."""
        want = population_sensor_size(population.shape)
        windows, size = self._windows()
        compose = Compose(self.transforms)
        stream = compose.stream(windows, size)
        state = {"pending_t": np.zeros(0, np.int64), "pending_i": np.zeros(0, np.int64),
                 "t0_us": self.t_offset_us, "done": False, "checked": False}
        scale_ps = 1e6 * self.time_scale

        def pull():
            try:
                events, out_size = next(stream)
            except StopIteration:
                state["done"] = True
                return
            if not state["checked"]:
                if tuple(out_size[:2]) != tuple(want):
                    raise StimulusError(
                        f"recording {self._name()} is {out_size[0]}x{out_size[1]} pixels after "
                        f"its transforms but population {self.population!r} of shape "
                        f"{population.shape} needs {want[0]}x{want[1]}; add "
                        f"transforms.Downsample(({want[0]}, {want[1]})) or transforms.Crop")
                state["checked"] = True
            if events.size == 0:
                return
            if state["t0_us"] is None:
                state["t0_us"] = int(events["t"][0])
            t = np.floor((events["t"] - state["t0_us"]) * scale_ps).astype(np.int64)
            keep = t >= 0
            state["pending_t"] = np.concatenate([state["pending_t"], t[keep]])
            state["pending_i"] = np.concatenate([state["pending_i"],
                                                 pixel_index(events[keep], population.shape)])

        def spikes(t0_ps: int, t1_ps: int):
            while not state["done"] and (state["pending_t"].size == 0
                                         or state["pending_t"][-1] < t1_ps):
                pull()
            pt, pi = state["pending_t"], state["pending_i"]
            cut = np.searchsorted(pt, t1_ps, side="left")
            lo = np.searchsorted(pt[:cut], t0_ps, side="left")
            state["pending_t"], state["pending_i"] = pt[cut:], pi[cut:]
            return pt[lo:cut], pi[lo:cut]

        return SpikeStream(spikes)

    def _name(self) -> str:
        return str(self.source) if isinstance(self.source, (str, Path)) else "(in memory)"

    def _windows(self):
        """Event windows of the source and its sensor size ``(width, height)``."""
        window_us = 10_000
        if isinstance(self.source, np.ndarray):
            ev = np.sort(self.source, order="t", kind="stable")

            def gen():
                for lo in range(0, ev.size, 1 << 16):
                    yield ev[lo:lo + (1 << 16)]
            return gen(), tuple(self.sensor_size)
        reader = open_events(self.source, format=self.format, window_us=window_us,
                             **({"sensor_size": self.sensor_size} if self.sensor_size else {}))
        return iter(reader), (reader.meta.width, reader.meta.height)
