"""Progress bars for long work (tqdm, an optional nicety: without it, no bar)."""


def progress_bar(enabled: bool, **options):
    """A ``tqdm`` bar with ``options``, or None when disabled or tqdm is missing."""
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # progress is a nicety, never a reason to fail
        return None
    return tqdm(**options)
