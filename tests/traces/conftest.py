"""Shared fixtures: the real recordings (skipped when absent) and synthetic event streams."""

import os
from pathlib import Path

import numpy as np
import pytest

from aersim.traces.schema import EVENT_DTYPE

#: ``../shared/data`` next to the repository root, or ``$AERSIM_SHARED_DATA`` (a checkout that
#: does not sit next to the data, such as a second working tree, points there).
DATA_DIR = (
    Path(
        os.environ.get("AERSIM_SHARED_DATA")
        or Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
    )
    / "events"
)

REAL_FILES = {"nmnist": "sample_nmnist.bin", "aedat4": "sample.aedat4", "evt3": "evt3_sample.raw"}


def real_path(key):
    path = DATA_DIR / REAL_FILES[key]
    if not path.is_file():
        pytest.skip(f"real recording {REAL_FILES[key]} not available")
    return path


def synthetic_events(n=5000, width=128, height=128, seed=0, t0=1000, regressions=True):
    """Seeded events: rising times, equal-time runs along rows, a few small regressions."""
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype=EVENT_DTYPE)
    ev["t"] = t0 + np.cumsum(rng.integers(0, 40, n))
    ev["x"] = rng.integers(0, width, n)
    ev["y"] = rng.integers(0, height, n)
    ev["p"] = rng.integers(0, 2, n)
    # Row bursts: consecutive events sharing t, y, p with increasing x (exercise vector words).
    for start in range(0, n - 40, 400):
        k = int(rng.integers(3, 30))
        xs = np.sort(rng.choice(min(width, 64), k, replace=False))
        base = int(rng.integers(0, max(1, width - 64)))
        ev["t"][start : start + k] = ev["t"][start]
        ev["y"][start : start + k] = ev["y"][start]
        ev["p"][start : start + k] = ev["p"][start]
        ev["x"][start : start + k] = base + xs
    if regressions:
        for k in range(50, n, 997):
            ev["t"][k] = max(0, ev["t"][k - 1] - 5)
    return ev


@pytest.fixture(scope="session")
def real_file():
    """Function key -> path of a real recording (skips the test when absent)."""
    return real_path


@pytest.fixture(scope="session")
def synth():
    """The :func:`synthetic_events` generator."""
    return synthetic_events


@pytest.fixture(scope="session")
def real_events():
    """Decoded real recordings by key, computed once per session."""
    from aersim.traces.recordings.recording import read_events

    cache = {}

    def get(key):
        if key not in cache:
            cache[key] = read_events(real_path(key))
        return cache[key]

    return get


def assert_same_events(got, want):
    assert got.dtype == want.dtype
    assert len(got) == len(want)
    for field in ("t", "x", "y", "p"):
        assert np.array_equal(got[field], want[field]), field


def roundtrip(path, events, size, fmt, read_options=None, **write_options):
    """Write ``events`` with ``fmt``, read them back, and require them to be identical."""
    from aersim.traces.recordings.recording import read_events, write_events

    write_events(path, events, size, format=fmt, **write_options)
    got, meta = read_events(path, fmt, **(read_options or {}))
    assert_same_events(got, events)
    want_size = (size.width, size.height) if hasattr(size, "width") else tuple(size)[:2]
    assert (meta.width, meta.height) == want_size
    return meta


def check_corruptions(tmp_path, path, fmt, n_flips, n_cuts, seed, boundary=None, options=None):
    """Damage ``path`` ``n_flips`` + ``n_cuts`` times and check the reader's contract.

    A damaged file must either raise :class:`TraceFormatError` naming the file and a byte offset,
    or decode to in-bounds events; a cut file must raise, warn, or (only where the format has no
    way to tell, i.e. a cut on a record ``boundary`` after the header) give a prefix of the events.
    """
    import warnings

    from aersim.traces.errors import TraceFormatError, TraceWarning
    from aersim.traces.recordings.recording import read_events

    options = options or {}
    data = path.read_bytes()
    want, _ = read_events(path, fmt, **options)
    rng = np.random.default_rng(seed)
    target = tmp_path / f"damaged{path.suffix}"
    outcomes = {"error": 0, "decoded": 0, "warned": 0}

    def attempt(blob):
        target.write_bytes(blob)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                got, meta = read_events(target, fmt, **options)
            except TraceFormatError as exc:
                msg = str(exc)
                assert str(target) in msg and "byte" in msg, msg
                outcomes["error"] += 1
                return None, False
        assert got.dtype == EVENT_DTYPE
        assert np.all(got["x"] < meta.width) and np.all(got["y"] < meta.height)
        warned = any(issubclass(w.category, TraceWarning) for w in caught)
        outcomes["warned" if warned else "decoded"] += 1
        return got, warned

    for _ in range(n_flips):
        blob = bytearray(data)
        for pos in rng.integers(0, len(data), int(rng.integers(1, 4))):
            blob[pos] = int(rng.integers(0, 256))
        attempt(bytes(blob))
    for _ in range(n_cuts):
        cut = int(rng.integers(0, len(data)))
        got, warned = attempt(data[:cut])
        if got is not None and not warned:
            assert boundary is not None and boundary(cut), f"cut at {cut} decoded silently"
            assert np.array_equal(got, want[: len(got)])
    return outcomes


@pytest.fixture(scope="session")
def h():
    """Test helpers as one namespace (test modules cannot import conftest reliably)."""
    import types

    return types.SimpleNamespace(
        roundtrip=roundtrip,
        check_corruptions=check_corruptions,
        assert_same_events=assert_same_events,
        synth=synthetic_events,
        real_path=real_path,
    )
