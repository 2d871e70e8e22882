"""A head's predicate matrix: computed in Python for few values and by numpy for many, both the evaluator's rule."""

from __future__ import annotations

import numpy as np
import pytest

from optracr import frontend
from optracr.certify import heads, meaning

rasp = frontend.rasp
COMPARISONS = [rasp.Comparison.EQ, rasp.Comparison.LT, rasp.Comparison.LEQ, rasp.Comparison.GT,
               rasp.Comparison.GEQ, rasp.Comparison.NEQ, rasp.Comparison.TRUE, rasp.Comparison.FALSE]


def _values(rng: np.random.Generator, numbers_only: bool) -> list:
    pool = [0, 1, 2, -3, 1.0, 0.0, -0.0, 2.5, True, False, None, meaning.UNDEFINED]
    if not numbers_only:
        pool += ["a", "b"]
    return [pool[i] for i in rng.integers(0, len(pool), int(rng.integers(0, 9)))]


def _pair_by_pair(select: rasp.Select, queries: list, keys: list) -> np.ndarray:
    """The evaluator's rule on every pair (``frontend.selects``; a comparison that raises picks nothing)."""
    matrix = np.zeros((len(queries), len(keys)), dtype=bool)
    for row, query in enumerate(queries):
        for column, key in enumerate(keys):
            if query is meaning.UNDEFINED or key is meaning.UNDEFINED:
                continue
            try:
                matrix[row, column] = frontend.selects(select, key, query)
            except frontend.EvaluationError:
                pass
    return matrix


@pytest.mark.parametrize("comparison", COMPARISONS)
@pytest.mark.parametrize("seed", range(12))
def test_small_and_large_predicate_matrices_agree_with_the_evaluator_pair_by_pair(comparison, seed: int,
                                                                                 monkeypatch) -> None:
    rng = np.random.default_rng(seed)
    numbers_only = seed % 3 != 0  # else strings too: ordering them against numbers raises
    queries, keys = _values(rng, numbers_only), _values(rng, numbers_only)
    select = rasp.Select(rasp.tokens, rasp.tokens, comparison)
    in_python = heads._comparison_matrix(select, queries, keys)
    monkeypatch.setattr(heads, "SMALL_COMPARISONS", -1)
    by_numpy = heads._comparison_matrix(select, queries, keys)
    assert (in_python is None) == (by_numpy is None)
    if in_python is None:  # a comparison raised: the pair by pair path answers
        assert comparison not in (rasp.Comparison.EQ, rasp.Comparison.NEQ, rasp.Comparison.TRUE,
                                  rasp.Comparison.FALSE)
        return
    expected = _pair_by_pair(select, queries, keys)
    assert in_python.dtype == bool and in_python.shape == expected.shape
    np.testing.assert_array_equal(in_python, expected)
    np.testing.assert_array_equal(by_numpy, expected)
    np.testing.assert_array_equal(heads._predicate_matrix(select, queries, keys), expected)
