"""Never run a stale compiled kernel: clear Numba's on-disk cache when a source it inlines
changed.

Numba's cache (``cache=True``) keys a compiled kernel on its own file only: the engine kernels
inline the neuron models' functions (``models/neurons``, through the model table) and the
other engine modules, and an edit there leaves the cached kernel in force — a new or edited
neuron model would silently run old code. :func:`check_kernel_cache` hashes the sources the
kernels compile in and keeps the hash beside the cache (``aersim-kernel-sources.sha256``);
when the hash changes it removes the cached ``*.nbi``/``*.nbc`` files of those folders, so the
kernels are compiled afresh. It runs when ``aersim.simcore.engine`` is imported.

Several processes starting at once after an edit (a sweep's workers) may each clear the
cache; a process that finds a cache file gone compiles instead, so the worst case is compiling
more than once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Folders whose modules the engine kernels compile in: their sources are hashed and their
#: cached kernels cleared on a change.
KERNEL_DIRS = ("models/neurons", "simcore/engine")
#: Single modules whose constants or functions the kernels compile in (hashed only: their own
#: cached functions depend on nothing else).
KERNEL_MODULES = ("hardware/energy.py", "hardware/noc.py")
STAMP = "aersim-kernel-sources.sha256"


def sources_digest(sources) -> str:
    """SHA-256 over the names and contents of the files ``sources`` (sorted)."""
    h = hashlib.sha256()
    for path in sorted(Path(p) for p in sources):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _probe():
    """A function whose only use is to ask Numba's cache locators where a file's cache is."""


def cache_dir(py_file) -> Path | None:
    """The folder where Numba caches the kernels of ``py_file`` (the ``__pycache__`` beside it,
    ``NUMBA_CACHE_DIR``'s mirror, or the user-wide cache when the tree is read-only)."""
    try:
        from numba.core.caching import CacheImpl
        locators = CacheImpl._locator_classes
    except (ImportError, AttributeError):
        # Numba's locators are internal; without them assume its default, __pycache__.
        return Path(py_file).resolve().parent / "__pycache__"
    for locator in locators:
        found = locator.from_function(_probe, str(py_file))
        if found is not None:
            return Path(found.get_cache_path())
    return None


def check_kernel_cache(sources, cache_dirs) -> bool:
    """Remove the ``*.nbi``/``*.nbc`` files of ``cache_dirs`` unless the digest of ``sources``
    matches the one stamped in the first cache folder; then stamp it. Returns True when the
    cache was cleared."""
    dirs = [Path(d) for d in cache_dirs if d is not None]
    if not dirs:
        return False
    digest = sources_digest(sources)
    stamp = dirs[0] / STAMP
    try:
        if stamp.read_text().strip() == digest:
            return False
    except OSError:
        pass
    for d in dirs:
        for pattern in ("*.nbi", "*.nbc"):
            for f in d.glob(pattern):
                try:
                    f.unlink()
                except FileNotFoundError:
                    pass
    try:
        dirs[0].mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dirs[0], prefix=STAMP)
        with os.fdopen(fd, "w") as f:
            f.write(digest + "\n")
        os.replace(tmp, stamp)
    except OSError:
        # A read-only cache is not a stale one: Numba then caches elsewhere or not at all.
        pass
    return True


def check_engine_cache() -> bool:
    """:func:`check_kernel_cache` for aersim's engine kernels."""
    sources = [p for d in KERNEL_DIRS for p in (ROOT / d).glob("*.py")]
    sources += [ROOT / m for m in KERNEL_MODULES]
    dirs = [cache_dir(next((ROOT / d).glob("*.py"))) for d in KERNEL_DIRS]
    return check_kernel_cache(sources, dirs)
