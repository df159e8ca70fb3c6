"""Composable preprocessing transforms: thin frozen callables over
:mod:`traces.recordings.functional`.

Every transform is called as ``transform(events, sensor_size) -> (events, sensor_size)``.
Stateful filters also implement ``initial_state(sensor_size)`` and ``apply(events, sensor_size,
state) -> (events, sensor_size, state)``; :meth:`Compose.stream` threads that state through a
sequence of chunks, so filtering a recording chunk by chunk gives exactly the result of filtering
it whole. Example::

    pipeline = Compose([DropHotPixels(1000), Crop(0, 0, 128, 128), Downsample((32, 32)),
                        Refractory(1000)])
    for chunk, size in pipeline.stream(open_events(path, chunk_events=100_000), (346, 260)):
        ...
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from aersim.traces.recordings import functional as F


class Transform:
    """Base of the transforms: stateless unless ``initial_state`` returns something."""

    def initial_state(self, sensor_size):
        return None

    def apply(self, events, sensor_size, state):
        out, size = self(events, sensor_size)
        return out, size, state


@dataclass(frozen=True)
class Crop(Transform):
    """Keep a ``width`` x ``height`` region starting at (``x0``, ``y0``), shifted to the origin."""

    x0: int
    y0: int
    width: int
    height: int

    def __call__(self, events, sensor_size):
        return F.crop(events, sensor_size, self.x0, self.y0, self.width, self.height)


@dataclass(frozen=True)
class FlipX(Transform):
    """Mirror columns."""

    def __call__(self, events, sensor_size):
        return F.flip_x(events, sensor_size), tuple(sensor_size[:2])


@dataclass(frozen=True)
class FlipY(Transform):
    """Mirror rows."""

    def __call__(self, events, sensor_size):
        return F.flip_y(events, sensor_size), tuple(sensor_size[:2])


@dataclass(frozen=True)
class Transpose(Transform):
    """Swap x and y (and width and height)."""

    def __call__(self, events, sensor_size):
        return F.transpose(events, sensor_size)


@dataclass(frozen=True)
class Downsample(Transform):
    """Map onto a ``target_size`` grid, keeping every event (sum pooling)."""

    target_size: tuple

    def __call__(self, events, sensor_size):
        return F.downsample(events, sensor_size, self.target_size)


@dataclass(frozen=True)
class IntegrateDownsample(Transform):
    """Rate-reducing downsampling: integrate-and-fire with ``threshold`` per output pixel."""

    target_size: tuple
    threshold: int = 2

    def initial_state(self, sensor_size):
        w, h = self.target_size
        return np.zeros((h, w), dtype=np.int64)

    def apply(self, events, sensor_size, state):
        return F.downsample_integrate(events, sensor_size, self.target_size, self.threshold, state)

    def __call__(self, events, sensor_size):
        out, size, _ = self.apply(events, sensor_size, None)
        return out, size


@dataclass(frozen=True)
class MergePolarities(Transform):
    """All events on one channel (p = 0)."""

    def __call__(self, events, sensor_size):
        return F.merge_polarities(events), tuple(sensor_size[:2])


@dataclass(frozen=True)
class TimeWindow(Transform):
    """Keep ``t_start <= t < t_stop`` (µs)."""

    t_start: int | None = None
    t_stop: int | None = None

    def __call__(self, events, sensor_size):
        return F.time_window(events, self.t_start, self.t_stop), tuple(sensor_size[:2])


@dataclass(frozen=True)
class TimeScale(Transform):
    """``t -> t0 + factor * (t - t0)`` (rounded to µs)."""

    factor: float
    t0: int = 0

    def __call__(self, events, sensor_size):
        return F.time_scale(events, self.factor, self.t0), tuple(sensor_size[:2])


@dataclass(frozen=True)
class Refractory(Transform):
    """Drop events within ``period_us`` of the pixel's last kept event."""

    period_us: int
    per_polarity: bool = False

    def initial_state(self, sensor_size):
        return None

    def apply(self, events, sensor_size, state):
        out, state = F.refractory(events, sensor_size, self.period_us, self.per_polarity, state)
        return out, tuple(sensor_size[:2]), state

    def __call__(self, events, sensor_size):
        out, size, _ = self.apply(events, sensor_size, None)
        return out, size


@dataclass(frozen=True)
class BackgroundActivity(Transform):
    """Keep events supported by a neighbour event within ``dt_us`` (default 2 ms)."""

    dt_us: int = 2000
    include_self: bool = False

    def apply(self, events, sensor_size, state):
        out, state = F.background_activity(
            events, sensor_size, self.dt_us, self.include_self, state
        )
        return out, tuple(sensor_size[:2]), state

    def __call__(self, events, sensor_size):
        out, size, _ = self.apply(events, sensor_size, None)
        return out, size


@dataclass(frozen=True)
class DropPixels(Transform):
    """Drop events of listed ``(x, y)`` pixels."""

    coordinates: tuple

    def __call__(self, events, sensor_size):
        return F.drop_pixels(events, sensor_size, coordinates=self.coordinates), tuple(
            sensor_size[:2]
        )


@dataclass(frozen=True)
class DropHotPixels(Transform):
    """Drop pixels firing above ``max_rate_hz``, learned from each input batch.

    In a stream, the mask is learned from the first chunk and kept (a fixed hot-pixel mask,
    as camera firmware does after its learning period).
    """

    max_rate_hz: float

    def __call__(self, events, sensor_size):
        return F.drop_hot_pixels(events, sensor_size, self.max_rate_hz), tuple(sensor_size[:2])

    def apply(self, events, sensor_size, state):
        if state is None:
            state = F.hot_pixel_mask(events, sensor_size, self.max_rate_hz)
        return F.drop_pixels(events, sensor_size, mask=state), tuple(sensor_size[:2]), state


@dataclass(frozen=True)
class ToFrames:
    """Terminal transform: ``(n_steps, P, H, W)`` int32 counts (:func:`functional.to_frames`)."""

    step_us: int
    n_steps: int | None = None
    t_start: int | None = None
    binary: bool = False
    merge_polarity: bool = False

    def __call__(self, events, sensor_size):
        return F.to_frames(
            events,
            sensor_size,
            self.step_us,
            self.n_steps,
            self.t_start,
            self.binary,
            self.merge_polarity,
        )


@dataclass(frozen=True)
class Compose(Transform):
    """Apply ``transforms`` in order."""

    transforms: Sequence[Transform]

    def __call__(self, events, sensor_size):
        size = tuple(sensor_size[:2])
        for transform in self.transforms:
            events, size = transform(events, size)
        return events, size

    def stream(self, chunks: Iterable[np.ndarray], sensor_size):
        """Yield ``(events, sensor_size)`` per input chunk, carrying filter state across chunks."""
        states = [None] * len(self.transforms)
        for chunk in chunks:
            size = tuple(sensor_size[:2])
            for k, transform in enumerate(self.transforms):
                chunk, size, states[k] = transform.apply(chunk, size, states[k])
            yield chunk, size
