"""Event preprocessing as pure functions (and the Numba kernels behind the stateful ones).

Every function takes an array of :data:`traces.schema.EVENT_DTYPE` (``t`` µs, ``x``, ``y``,
``p`` 1 = ON) and returns a new one, in the same order; functions that change the sensor size also
return the new ``(width, height)``. Filters only remove events (their output is a subset of the
input). Stateful filters (refractory, background activity, accumulate-and-fire downsampling) take
and return a state array so that a stream can be processed chunk by chunk with the same result
as in one piece; ``state=None`` starts fresh.

Sizes are ``(width, height)`` tuples; per-pixel arrays are indexed ``[y, x]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from aersim.traces.errors import TraceError
from aersim.traces.schema import EVENT_DTYPE

_NEVER = np.iinfo(np.int64).min // 4  # "no event yet" in last-time maps, safe to subtract from


def _check(events):
    if not isinstance(events, np.ndarray) or events.dtype != EVENT_DTYPE or events.ndim != 1:
        raise TraceError(
            f"events must be a 1-D array of EVENT_DTYPE, "
            f"got {getattr(events, 'dtype', type(events))}"
        )
    return events


def _size(sensor_size):
    try:
        w, h = int(sensor_size[0]), int(sensor_size[1])
    except (TypeError, IndexError, ValueError):
        raise TraceError(f"sensor_size must be (width, height), got {sensor_size!r}") from None
    if w <= 0 or h <= 0:
        raise TraceError(f"sensor_size must be positive, got {sensor_size!r}")
    return w, h


def _check_inside(events, w, h):
    # Kernels index per-pixel arrays without bounds checks: validate here.
    if len(events) and (int(events["x"].max()) >= w or int(events["y"].max()) >= h):
        raise TraceError(
            f"events reach x={int(events['x'].max())}, y={int(events['y'].max())} "
            f"outside the {w}x{h} sensor; pass the right sensor_size"
        )


# -- geometry ----------------------------------------------------------------------------------
def crop(events, sensor_size, x0, y0, width, height):
    """Keep events with ``x0 <= x < x0+width`` and ``y0 <= y < y0+height``, shifted to the origin.

    Returns ``(events, (width, height))``.
    """
    _check(events)
    w, h = _size(sensor_size)
    if not (
        0 <= x0 and 0 <= y0 and width > 0 and height > 0 and x0 + width <= w and y0 + height <= h
    ):
        raise TraceError(
            f"crop window x0={x0}, y0={y0}, {width}x{height} does not fit the {w}x{h} sensor"
        )
    x, y = events["x"], events["y"]
    out = events[(x >= x0) & (x < x0 + width) & (y >= y0) & (y < y0 + height)].copy()
    out["x"] -= x0
    out["y"] -= y0
    return out, (int(width), int(height))


def flip_x(events, sensor_size):
    """Mirror columns: ``x -> width-1-x``."""
    out = _check(events).copy()
    out["x"] = _size(sensor_size)[0] - 1 - out["x"].astype(np.int64)
    return out


def flip_y(events, sensor_size):
    """Mirror rows: ``y -> height-1-y``."""
    out = _check(events).copy()
    out["y"] = _size(sensor_size)[1] - 1 - out["y"].astype(np.int64)
    return out


def transpose(events, sensor_size):
    """Swap ``x`` and ``y``; returns ``(events, (height, width))``."""
    out = _check(events).copy()
    out["x"], out["y"] = events["y"], events["x"]
    w, h = _size(sensor_size)
    return out, (h, w)


def downsample(events, sensor_size, target_size):
    """Map pixels onto a smaller grid: ``x' = x*Wt//W``, ``y' = y*Ht//H``; every event is kept.

    Returns ``(events, target_size)``. For an integer factor ``k`` this is sum-pooling
    (``x' = x // k``).
    """
    _check(events)
    w, h = _size(sensor_size)
    wt, ht = _size(target_size)
    if wt > w or ht > h:
        raise TraceError(f"target size {wt}x{ht} is larger than the sensor {w}x{h}")
    out = events.copy()
    out["x"] = events["x"].astype(np.int64) * wt // w
    out["y"] = events["y"].astype(np.int64) * ht // h
    return out, (wt, ht)


def downsample_integrate(events, sensor_size, target_size, threshold, state=None):
    """Rate-reducing downsampling: integrate-and-fire per output pixel.

    Each input event adds +1 (ON) or -1 (OFF) to the accumulator of its output pixel
    (``x*Wt//W``, ``y*Ht//H``); when the accumulator reaches ``+threshold`` an ON event is emitted
    and ``threshold`` subtracted (symmetrically for OFF). Output events carry the time of the
    input event that fired them.

    Parameters
    ----------
    threshold : int
        Input events of one net polarity per output event (>= 1).
    state : ndarray of int64, shape (Ht, Wt), optional
        Accumulators from the previous chunk.

    Returns
    -------
    events, target_size, state
    """
    _check(events)
    w, h = _size(sensor_size)
    _check_inside(events, w, h)
    wt, ht = _size(target_size)
    if int(threshold) < 1:
        raise TraceError(f"threshold must be >= 1, got {threshold!r}")
    if state is None:
        state = np.zeros((ht, wt), dtype=np.int64)
    out = np.empty(len(events), dtype=EVENT_DTYPE)
    n = _integrate_kernel(events, out, state, w, h, wt, ht, int(threshold))
    return out[:n].copy(), (wt, ht), state


@njit(cache=True)
def _integrate_kernel(events, out, acc, w, h, wt, ht, threshold):
    n = 0
    for i in range(events.shape[0]):
        xo = np.int64(events[i].x) * wt // w
        yo = np.int64(events[i].y) * ht // h
        a = acc[yo, xo] + (1 if events[i].p else -1)
        if a >= threshold or a <= -threshold:
            out[n].t = events[i].t
            out[n].x = xo
            out[n].y = yo
            out[n].p = 1 if a > 0 else 0
            n += 1
            a += -threshold if a > 0 else threshold
        acc[yo, xo] = a
    return n


# -- polarity ----------------------------------------------------------------------------------
def merge_polarities(events):
    """Set every polarity to 0 (one channel)."""
    out = _check(events).copy()
    out["p"] = 0
    return out


def split_polarities(events):
    """Return ``(on_events, off_events)``, each in input order."""
    _check(events)
    on = events["p"] != 0
    return events[on], events[~on]


# -- time --------------------------------------------------------------------------------------
def time_window(events, t_start=None, t_stop=None):
    """Keep events with ``t_start <= t < t_stop`` (µs; either bound may be None)."""
    _check(events)
    keep = np.ones(len(events), dtype=bool)
    if t_start is not None:
        keep &= events["t"] >= t_start
    if t_stop is not None:
        keep &= events["t"] < t_stop
    return events[keep]


def time_rebase(events, t0=None):
    """Subtract ``t0`` (default: the first event's time) from all times; return ``(events, t0)``."""
    out = _check(events).copy()
    if t0 is None:
        t0 = int(events["t"][0]) if len(events) else 0
    out["t"] -= t0
    return out, int(t0)


def time_scale(events, factor, t0=0):
    """``t -> t0 + round(factor * (t - t0))``; ``factor > 1`` slows the stream down."""
    if not factor > 0:
        raise TraceError(f"time scale factor must be > 0, got {factor!r}")
    out = _check(events).copy()
    out["t"] = t0 + np.rint((events["t"] - t0) * float(factor)).astype(np.int64)
    return out


# -- filters -----------------------------------------------------------------------------------
def refractory(events, sensor_size, period_us, per_polarity=False, state=None):
    """Drop an event when its pixel emitted a kept event less than or exactly ``period_us`` ago.

    The last-time map is updated by kept events only, so a pixel firing continuously still passes
    one event per period (libcaer semantics; tonic updates on every event instead).

    Parameters
    ----------
    period_us : int
    per_polarity : bool
        Keep separate maps for ON and OFF.
    state : ndarray of int64, shape (2 or 1, H, W), optional
        Last kept time per pixel (µs) from the previous chunk.

    Returns
    -------
    events, state
    """
    _check(events)
    w, h = _size(sensor_size)
    _check_inside(events, w, h)
    if state is None:
        state = np.full((2 if per_polarity else 1, h, w), _NEVER, dtype=np.int64)
    keep = np.empty(len(events), dtype=np.bool_)
    _refractory_kernel(events, keep, state, int(period_us), bool(per_polarity))
    return events[keep], state


@njit(cache=True)
def _refractory_kernel(events, keep, last, period, per_polarity):
    for i in range(events.shape[0]):
        c = np.int64(events[i].p) if per_polarity else 0
        x = np.int64(events[i].x)
        y = np.int64(events[i].y)
        t = events[i].t
        if t - last[c, y, x] > period:
            keep[i] = True
            last[c, y, x] = t
        else:
            keep[i] = False


def background_activity(events, sensor_size, dt_us, include_self=False, state=None):
    """Background-activity filter (Delbruck 2008): keep an event when one of its 8 neighbours
    (and itself if ``include_self``) had an event within the last ``dt_us`` µs.

    Every event, kept or not, updates the last-time map of its own pixel.

    Parameters
    ----------
    state : ndarray of int64, shape (H, W), optional
        Last event time per pixel (µs) from the previous chunk.

    Returns
    -------
    events, state
    """
    _check(events)
    w, h = _size(sensor_size)
    _check_inside(events, w, h)
    if state is None:
        state = np.full((h, w), _NEVER, dtype=np.int64)
    keep = np.empty(len(events), dtype=np.bool_)
    _ba_kernel(events, keep, state, int(dt_us), bool(include_self))
    return events[keep], state


@njit(cache=True)
def _ba_kernel(events, keep, last, dt, include_self):
    h, w = last.shape
    for i in range(events.shape[0]):
        x = np.int64(events[i].x)
        y = np.int64(events[i].y)
        t = events[i].t
        ok = False
        for dy in range(-1, 2):
            yy = y + dy
            if yy < 0 or yy >= h:
                continue
            for dx in range(-1, 2):
                xx = x + dx
                if xx < 0 or xx >= w or (dx == 0 and dy == 0 and not include_self):
                    continue
                if t - last[yy, xx] <= dt:
                    ok = True
        keep[i] = ok
        last[y, x] = t


def hot_pixel_mask(events, sensor_size, max_rate_hz):
    """Boolean ``(H, W)`` mask of pixels whose event rate over the span of ``events`` exceeds
    ``max_rate_hz``."""
    _check(events)
    w, h = _size(sensor_size)
    _check_inside(events, w, h)
    counts = np.bincount(events["y"].astype(np.int64) * w + events["x"], minlength=w * h).reshape(
        h, w
    )
    span_s = max(int(events["t"].max()) - int(events["t"].min()), 1) * 1e-6 if len(events) else 1.0
    return counts / span_s > max_rate_hz


def drop_pixels(events, sensor_size, mask=None, coordinates=None):
    """Drop events of the pixels set in ``mask`` (bool ``(H, W)``) or listed as ``(x, y)`` pairs."""
    _check(events)
    w, h = _size(sensor_size)
    _check_inside(events, w, h)
    if mask is None:
        mask = np.zeros((h, w), dtype=bool)
    else:
        mask = np.asarray(mask, dtype=bool).copy()
        if mask.shape != (h, w):
            raise TraceError(f"mask shape {mask.shape} does not match sensor {(h, w)} (H, W)")
    for x, y in coordinates or ():
        mask[y, x] = True
    return events[~mask[events["y"], events["x"]]]


def drop_hot_pixels(events, sensor_size, max_rate_hz):
    """Learn hot pixels from ``events`` (rate above ``max_rate_hz``) and drop their events."""
    return drop_pixels(events, sensor_size, mask=hot_pixel_mask(events, sensor_size, max_rate_hz))


# -- binning -----------------------------------------------------------------------------------
def to_frames(
    events, sensor_size, step_us, n_steps=None, t_start=None, binary=False, merge_polarity=False
):
    """Count events into ``(n_steps, P, H, W)`` array; step ``k = (t - t_start) // step_us``.

    Parameters
    ----------
    step_us : int
        Bin width in µs.
    n_steps : int, optional
        Number of bins (default: enough for the last event); later events are dropped.
    t_start : int, optional
        Time of the first bin's start (default: the first event's time); earlier events dropped.
    binary : bool
        Store 1 for any number of events in a bin instead of the count.
    merge_polarity : bool
        One channel (P = 1) instead of two (P = 2, index = polarity).

    Returns
    -------
    ndarray of int32, shape (n_steps, P, H, W)
    """
    _check(events)
    w, h = _size(sensor_size)
    _check_inside(events, w, h)
    if int(step_us) <= 0:
        raise TraceError(f"step_us must be > 0, got {step_us!r}")
    if t_start is None:
        t_start = int(events["t"].min()) if len(events) else 0
    if n_steps is None:
        n_steps = (int(events["t"].max()) - t_start) // int(step_us) + 1 if len(events) else 0
    frames = np.zeros((int(n_steps), 1 if merge_polarity else 2, h, w), dtype=np.int32)
    _bin_kernel(events, frames, int(t_start), int(step_us), bool(binary), bool(merge_polarity))
    return frames


@njit(cache=True)
def _bin_kernel(events, frames, t_start, step, binary, merge):
    n_steps = frames.shape[0]
    for i in range(events.shape[0]):
        d = events[i].t - t_start
        if d < 0:
            continue
        k = d // step
        if k >= n_steps:
            continue
        c = 0 if merge else np.int64(events[i].p)
        y = np.int64(events[i].y)
        x = np.int64(events[i].x)
        if binary:
            frames[k, c, y, x] = 1
        else:
            frames[k, c, y, x] += 1
