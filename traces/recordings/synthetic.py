"""A model of a DVS pixel array watching a synthetic scene: events for demos and tests.

Each pixel compares the log intensity it sees with the level at its last event; when the change
reaches its contrast threshold ``C`` (ON) or ``-C`` (OFF) it emits an event and moves its level by
``C``. Thresholds vary from pixel to pixel (Gaussian mismatch, as in real sensors), event times
are interpolated linearly inside each sampling interval, and spurious background-activity events
arrive as a Poisson process per pixel. This is the standard idealised DVS pixel (Lichtsteiner,
Posch & Delbruck, IEEE JSSC 43(2), 2008; the model used by event-camera emulators).
"""

from __future__ import annotations

import numpy as np

from aersim.traces.errors import TraceError
from aersim.traces.schema import EVENT_DTYPE

SCENES = ("bar", "rotating_bar")
DIRECTIONS = {"right": (1.0, 0.0), "left": (-1.0, 0.0), "down": (0.0, 1.0), "up": (0.0, -1.0)}


def scene_intensity(scene: str, width: int, height: int, t_s: float, *, direction="right",
                    speed_px_s=60.0, bar_px=3.0, period_s=0.5, contrast=4.0,
                    grid=None) -> np.ndarray:
    """Intensity (float64, ``(height, width)``, > 0) of a bright bar on a dark background.

    ``bar``: a bar across the field moving in ``direction`` at ``speed_px_s``, wrapping around.
    ``rotating_bar``: a bar through the centre turning once per ``period_s``.
    ``grid`` may pass ``np.mgrid[0:height, 0:width]`` as float64 to save rebuilding it.
    """
    yy, xx = grid if grid is not None else np.mgrid[0:height, 0:width].astype(np.float64)
    if scene == "bar":
        dx, dy = DIRECTIONS[direction]
        span = width if dx else height
        pos = (speed_px_s * t_s) % (span + 2 * bar_px) - bar_px
        coord = xx if dx else yy
        if dx < 0 or dy < 0:
            coord = (span - 1) - coord
        dist = np.abs(coord - pos)
    elif scene == "rotating_bar":
        angle = 2 * np.pi * t_s / period_s
        cx, cy = (width - 1) / 2, (height - 1) / 2
        dist = np.abs(-(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle))
    else:
        raise TraceError(f"unknown scene {scene!r}; scenes are {', '.join(SCENES)}")
    # A soft-edged bar: intensity ``contrast`` times the background inside, smooth edges.
    profile = np.clip(1.0 - (dist - bar_px / 2), 0.0, 1.0)
    return 1.0 + (contrast - 1.0) * profile


def dvs_events(scene: str = "bar", width: int = 32, height: int = 32, duration_s: float = 0.5,
               *, threshold: float = 0.2, mismatch: float = 0.03, noise_hz: float = 0.5,
               sample_us: int = 100, seed: int = 0, **scene_args) -> np.ndarray:
    """Events (``EVENT_DTYPE``, time-sorted, µs) of a DVS pixel array watching ``scene``.

    Parameters
    ----------
    threshold : float
        Mean contrast threshold ``C`` (log-intensity units).
    mismatch : float
        Standard deviation of ``C`` across pixels.
    noise_hz : float
        Background-activity rate per pixel, events per second (half ON, half OFF).
    sample_us : int
        Interval at which the scene is sampled; events are interpolated within it.
    **scene_args
        Passed to :func:`scene_intensity` (``direction``, ``speed_px_s``, ``bar_px``, …).
    """
    if threshold <= 0 or width <= 0 or height <= 0 or duration_s <= 0 or sample_us <= 0:
        raise TraceError("dvs_events: threshold, width, height, duration_s and sample_us must "
                         "be positive")
    rng = np.random.default_rng(seed)
    scene_args["grid"] = np.mgrid[0:height, 0:width].astype(np.float64)
    c = np.maximum(rng.normal(threshold, mismatch, (height, width)), 0.2 * threshold)
    ref = np.log(scene_intensity(scene, width, height, 0.0, **scene_args))
    n_samples = int(round(duration_s * 1e6 / sample_us))
    chunks = []
    prev = ref.copy()
    for k in range(1, n_samples + 1):
        now = np.log(scene_intensity(scene, width, height, k * sample_us * 1e-6, **scene_args))
        # Number of threshold crossings since the pixel's last event, per pixel.
        n_cross = np.floor(np.abs(now - ref) / c).astype(np.int64).ravel()
        pix = np.flatnonzero(n_cross)
        if pix.size:
            m = n_cross[pix]
            rep = np.repeat(pix, m)
            # Rank of each crossing within its pixel: 1, 2, ... m.
            rank = np.arange(rep.size) - np.repeat(np.cumsum(m) - m, m) + 1
            r0, p0, n0, c0 = (a.ravel()[rep] for a in (ref, prev, now, c))
            sign = np.where(n0 > r0, 1.0, -1.0)
            levels = r0 + sign * c0 * rank
            span = n0 - p0
            frac = np.where(span != 0, (levels - p0) / np.where(span != 0, span, 1.0), 1.0)
            ev = np.zeros(rep.size, dtype=EVENT_DTYPE)
            ev["t"] = np.round(((k - 1) + np.clip(frac, 0.0, 1.0)) * sample_us)
            ev["x"], ev["y"], ev["p"] = rep % width, rep // width, sign > 0
            chunks.append(ev)
            flat = ref.ravel()
            flat[pix] += np.where(now.ravel()[pix] > flat[pix], 1.0, -1.0) * c.ravel()[pix] * m
        prev = now
    n_noise = rng.poisson(noise_hz * width * height * duration_s)
    noise = np.zeros(n_noise, dtype=EVENT_DTYPE)
    noise["t"] = rng.integers(0, int(duration_s * 1e6), n_noise)
    noise["x"] = rng.integers(0, width, n_noise)
    noise["y"] = rng.integers(0, height, n_noise)
    noise["p"] = rng.integers(0, 2, n_noise)
    chunks.append(noise)
    events = np.concatenate(chunks) if chunks else np.zeros(0, dtype=EVENT_DTYPE)
    return np.sort(events, order=["t", "y", "x"], kind="stable")
