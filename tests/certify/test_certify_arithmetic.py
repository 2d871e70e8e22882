"""The rounding bounds hold for real float32 and float64 dot products, including one-hot ones with tiny strays."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from optracr.certify import arithmetic


def _exact(x: np.ndarray, y: np.ndarray) -> float:
    return float(sum(Fraction(float(a)) * Fraction(float(b)) for a, b in zip(x, y)))


@pytest.mark.parametrize("precision", [arithmetic.FLOAT32, arithmetic.FLOAT64])
@pytest.mark.parametrize("seed", range(4))
def test_a_dot_products_error_stays_within_the_bound(precision: arithmetic.Arithmetic, seed: int) -> None:
    rng = np.random.default_rng(seed)
    dtype = np.float32 if precision is arithmetic.FLOAT32 else np.float64
    for trial in range(200):
        n = int(rng.integers(2, 300))
        x = np.zeros(n)
        hot = rng.integers(0, n)
        x[hot] = 1.0 - rng.uniform(0, 1e-3)
        x += rng.uniform(-1e-3, 1e-3, n) * rng.choice([0, 1], n)  # a noisy one-hot
        w = rng.normal(size=n) * rng.choice([1.0, 60.0, 8000.0])
        x, w = x.astype(dtype).astype(np.float64), w.astype(dtype).astype(np.float64)
        got = float(np.dot(x.astype(dtype), w.astype(dtype)))
        terms = np.abs(x * w)
        rest = terms.sum() - terms[hot]
        bound = precision.dot_error(1, terms.sum(), rest, n)
        assert abs(got - _exact(x, w)) <= bound, (trial, n)


def test_gamma_is_infinite_where_the_bound_breaks_down() -> None:
    assert math.isinf(arithmetic.FLOAT32.gamma(10**8))
    assert arithmetic.FLOAT64.gamma(10) == pytest.approx(10 * 2.0**-53 + 10 * 2.0**-53, rel=1e-6)
