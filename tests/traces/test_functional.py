"""Preprocessing functions against plain Python/NumPy references, plus invariants."""

import numpy as np
import pytest

from aersim.traces.errors import TraceError
from aersim.traces.recordings import functional as F

SIZE = (40, 30)


@pytest.fixture
def ev(synth):
    e = synth(4000, *SIZE, regressions=False)
    return e


def is_ordered_subset(sub, full):
    """``sub`` is ``full`` with some events removed, order kept."""
    k = 0
    for row in sub.tolist():
        while k < len(full) and full[k].tolist() != row:
            k += 1
        if k == len(full):
            return False
        k += 1
    return True


def test_crop_flip_transpose(ev):
    out, size = F.crop(ev, SIZE, 5, 3, 20, 10)
    keep = (ev["x"] >= 5) & (ev["x"] < 25) & (ev["y"] >= 3) & (ev["y"] < 13)
    assert size == (20, 10) and np.array_equal(out["x"], ev["x"][keep] - 5)
    assert np.array_equal(out["t"], ev["t"][keep])
    assert np.array_equal(F.flip_x(F.flip_x(ev, SIZE), SIZE), ev)
    assert np.array_equal(F.flip_y(ev, SIZE)["y"], 29 - ev["y"])
    tr, tsize = F.transpose(ev, SIZE)
    assert (
        tsize == (30, 40) and np.array_equal(tr["x"], ev["y"]) and np.array_equal(tr["y"], ev["x"])
    )
    with pytest.raises(TraceError, match="does not fit"):
        F.crop(ev, SIZE, 30, 0, 20, 5)


def test_downsample_matches_numpy(ev):
    out, size = F.downsample(ev, SIZE, (10, 6))
    assert size == (10, 6) and len(out) == len(ev)
    assert np.array_equal(out["x"], ev["x"] // 4) and np.array_equal(out["y"], ev["y"] // 5)


def test_integrate_downsample_reference_and_streaming(ev):
    def reference(events, thr):
        acc, out = {}, []
        for t, x, y, p in events.tolist():
            key = (x * 10 // 40, y * 6 // 30)
            a = acc.get(key, 0) + (1 if p else -1)
            if abs(a) >= thr:
                out.append((t, key[0], key[1], int(a > 0)))
                a -= thr if a > 0 else -thr
            acc[key] = a
        return out

    out, size, state = F.downsample_integrate(ev, SIZE, (10, 6), 3)
    assert out.tolist() == reference(ev, 3)
    assert np.all(np.diff(out["t"]) >= 0)
    parts, state = [], None
    for chunk in np.array_split(ev, 7):
        o, _, state = F.downsample_integrate(chunk, SIZE, (10, 6), 3, state)
        parts.append(o)
    assert np.array_equal(np.concatenate(parts), out)


def test_refractory_reference_and_streaming(ev):
    def reference(events, period, per_pol):
        last, keep = {}, []
        for t, x, y, p in events.tolist():
            key = (x, y, p if per_pol else 0)
            ok = key not in last or t - last[key] > period
            if ok:
                last[key] = t
            keep.append(ok)
        return events[np.array(keep)]

    for per_pol in (False, True):
        out, _ = F.refractory(ev, SIZE, 200, per_pol)
        assert np.array_equal(out, reference(ev, 200, per_pol))
        assert is_ordered_subset(out[:200], ev)
        parts, state = [], None
        for chunk in np.array_split(ev, 5):
            o, state = F.refractory(chunk, SIZE, 200, per_pol, state)
            parts.append(o)
        assert np.array_equal(np.concatenate(parts), out)


def test_background_activity_reference_and_streaming(ev):
    def reference(events, dt, include_self):
        last, keep = {}, []
        for t, x, y, _ in events.tolist():
            ok = False
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    if (dx or dy or include_self) and (x + dx, y + dy) in last:
                        ok |= t - last[(x + dx, y + dy)] <= dt
            keep.append(ok)
            last[(x, y)] = t
        return events[np.array(keep)]

    for include_self in (False, True):
        out, _ = F.background_activity(ev, SIZE, 3000, include_self)
        assert np.array_equal(out, reference(ev, 3000, include_self))
        parts, state = [], None
        for chunk in np.array_split(ev, 6):
            o, state = F.background_activity(chunk, SIZE, 3000, include_self, state)
            parts.append(o)
        assert np.array_equal(np.concatenate(parts), out)


def test_hot_pixels(ev):
    hot = np.zeros(500, dtype=ev.dtype)
    hot["t"] = np.linspace(ev["t"][0], ev["t"][-1], 500).astype(np.int64)
    hot["x"], hot["y"] = 7, 9
    mixed = np.concatenate([ev, hot])
    mixed = mixed[np.argsort(mixed["t"], kind="stable")]
    span_s = (mixed["t"].max() - mixed["t"].min()) * 1e-6
    mask = F.hot_pixel_mask(mixed, SIZE, 300 / span_s)
    counts = np.zeros((30, 40))
    np.add.at(counts, (mixed["y"], mixed["x"]), 1)
    assert np.array_equal(mask, counts > 300) and mask[9, 7]
    out = F.drop_hot_pixels(mixed, SIZE, 300 / span_s)
    assert not np.any((out["x"] == 7) & (out["y"] == 9))
    assert np.array_equal(out, mixed[~mask[mixed["y"], mixed["x"]]])
    assert len(F.drop_pixels(ev, SIZE, coordinates=[(1, 1)])) == int(
        np.sum(~((ev["x"] == 1) & (ev["y"] == 1)))
    )


def test_polarity_and_time(ev):
    on, off = F.split_polarities(ev)
    assert len(on) + len(off) == len(ev) and np.all(on["p"] == 1) and np.all(off["p"] == 0)
    assert np.all(F.merge_polarities(ev)["p"] == 0)
    w = F.time_window(ev, ev["t"][100], ev["t"][200])
    assert np.all((w["t"] >= ev["t"][100]) & (w["t"] < ev["t"][200]))
    s = F.time_scale(ev, 2.0, t0=int(ev["t"][0]))
    assert np.array_equal(s["t"] - ev["t"][0], 2 * (ev["t"] - ev["t"][0]))
    r, t0 = F.time_rebase(ev)
    assert t0 == ev["t"][0] and r["t"][0] == 0
    with pytest.raises(TraceError):
        F.time_scale(ev, 0)


def test_to_frames_matches_numpy(ev):
    frames = F.to_frames(ev, SIZE, 1000)
    ref = np.zeros_like(frames)
    k = (ev["t"] - ev["t"][0]) // 1000
    np.add.at(ref, (k, ev["p"], ev["y"], ev["x"]), 1)
    assert np.array_equal(frames, ref) and frames.sum() == len(ev)
    binary = F.to_frames(ev, SIZE, 1000, n_steps=5, binary=True, merge_polarity=True)
    assert binary.shape == (5, 1, 30, 40) and binary.max() == 1
    assert np.array_equal(binary[:, 0], (ref[:5].sum(axis=1) > 0).astype(np.int32))


def test_bounds_are_validated(ev):
    with pytest.raises(TraceError, match="outside"):
        F.refractory(ev, (10, 10), 100)
