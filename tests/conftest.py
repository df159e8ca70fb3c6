"""Shared test helpers."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: The real recordings and networks: ``../shared/data`` beside the checkout, or
#: ``$AERSIM_SHARED_DATA`` (for a checkout elsewhere).
SHARED_DATA = Path(os.environ.get("AERSIM_SHARED_DATA") or REPO.parent / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-data folder; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("shared data folder ../shared/data is absent")
    return SHARED_DATA
