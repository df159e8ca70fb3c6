"""Transform callables: composition, streaming over real recordings, invariants."""

import numpy as np

from aersim.traces.recordings import functional as F
from aersim.traces.recordings import transforms as T
from aersim.traces.recordings.recording import open_events


def test_compose_equals_functions(synth):
    ev = synth(5000, 128, 128, regressions=False)
    pipe = T.Compose(
        [
            T.DropPixels(((3, 4),)),
            T.Crop(0, 0, 96, 96),
            T.FlipX(),
            T.Downsample((32, 32)),
            T.MergePolarities(),
            T.Refractory(500),
            T.TimeScale(2.0),
        ]
    )
    out, size = pipe(ev, (128, 128))
    ref = F.drop_pixels(ev, (128, 128), coordinates=[(3, 4)])
    ref, s = F.crop(ref, (128, 128), 0, 0, 96, 96)
    ref = F.flip_x(ref, s)
    ref, s = F.downsample(ref, s, (32, 32))
    ref = F.merge_polarities(ref)
    ref, _ = F.refractory(ref, s, 500)
    ref = F.time_scale(ref, 2.0)
    assert size == (32, 32) and np.array_equal(out, ref)
    assert np.all(np.diff(out["t"]) >= 0)


def test_transpose_and_frames(synth):
    ev = synth(1000, 64, 32, regressions=False)
    out, size = T.Transpose()(ev, (64, 32))
    assert size == (32, 64)
    frames = T.ToFrames(step_us=5000)(out, size)
    assert frames.shape[1:] == (2, 64, 32) and frames.sum() == 1000


def test_stream_matches_whole_on_real_recording(real_events, real_file):
    ev, meta = real_events("aedat4")
    size = (meta.width, meta.height)
    pipe = T.Compose(
        [
            T.DropHotPixels(5000),
            T.BackgroundActivity(2000),
            T.Refractory(1000, True),
            T.IntegrateDownsample((80, 60), 2),
        ]
    )
    whole, wsize = pipe(ev, size)
    parts = [c for c, _ in pipe.stream(open_events(real_file("aedat4"), chunk_events=20_000), size)]
    # The hot-pixel mask is learned from the first chunk in a stream, from all events otherwise.
    hot = F.hot_pixel_mask(ev[:20_000], size, 5000)
    ref = F.drop_pixels(ev, size, mask=hot)
    ref, _ = F.background_activity(ref, size, 2000)
    ref, _ = F.refractory(ref, size, 1000, True)
    ref, _, _ = F.downsample_integrate(ref, size, (80, 60), 2)
    assert wsize == (80, 60) and np.array_equal(np.concatenate(parts), ref)
    assert len(whole) <= len(ev) and np.all(np.diff(whole["t"]) >= 0)


def test_filters_output_subset_in_order(real_events):
    ev, meta = real_events("evt3")
    size = (meta.width, meta.height)
    for t in (
        T.BackgroundActivity(1000),
        T.Refractory(50),
        T.DropHotPixels(1e5),
        T.TimeWindow(int(ev["t"][1000]), int(ev["t"][5000])),
    ):
        out, _ = t(ev, size)
        # Subset with order kept: each output event matches the input at increasing positions.
        idx = np.searchsorted(ev["t"], out["t"], side="left")
        assert np.all(np.diff(idx) >= 0) and len(out) <= len(ev)
        key_in = set(zip(ev["t"].tolist(), ev["x"].tolist(), ev["y"].tolist(), strict=True))
        assert all(
            k in key_in
            for k in zip(
                out["t"][:2000].tolist(),
                out["x"][:2000].tolist(),
                out["y"][:2000].tolist(),
                strict=True,
            )
        )
