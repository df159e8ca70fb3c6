"""Pricing: energy equals counts times prices, plus static power times time."""

import numpy as np
import pytest

from aersim.hardware import OP_KINDS, load_chip, price
from aersim.hardware.energy import price_vector_pj


def test_price_is_counts_times_prices():
    chip = load_chip("loihi_like")
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 1000, size=(chip.n_cores, len(OP_KINDS)))
    ledger = price(counts, chip, duration_ps=2_000_000, n_barriers=7)
    assert ledger.dynamic_j == pytest.approx(float((counts * price_vector_pj(chip)).sum()) * 1e-12)
    assert ledger.static_j == pytest.approx(0.104 * 2e-6)
    assert ledger.total_j == pytest.approx(ledger.dynamic_j + ledger.static_j + ledger.barrier_j)
    by_op = ledger.by_op_j()
    assert by_op["synaptic_op"] == pytest.approx(counts[:, 0].sum() * 23.6e-12)
    assert by_op["hop_north"] == pytest.approx(counts[:, OP_KINDS.index("hop_north")].sum() * 4e-12)
    assert ledger.by_core_j().shape == (128,)


def test_wrong_shape():
    with pytest.raises(ValueError, match=r"counts must have shape \(16, 11\)"):
        price(np.zeros((3, 3)), load_chip("minimal"), 0)
