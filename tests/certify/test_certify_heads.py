"""A head's shortcuts agree with its general rules: the predicate matrix (in Python for few values, by numpy for many,
both the evaluator's rule) and the BOS query's weight (its own few steps, the general rule's numbers to the bit)."""

from __future__ import annotations

import numpy as np
import pytest

from optracr import frontend
from optracr.certify import arithmetic, heads, meaning

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


def _bare_head(n: int, eta: float, precision) -> heads._Head:
    head = heads._Head.__new__(heads._Head)  # what the BOS weight reads: the length bound, eta, the arithmetic
    head.n, head.eta, head.arithmetic = n, eta, precision
    return head


@pytest.mark.parametrize("seed", range(30))
def test_the_bos_querys_weight_is_the_general_rules_width_zero_entry_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 12))
    special = [np.inf, -np.inf, 0.0, -0.0, np.nan]

    def score() -> float:
        return float(special[rng.integers(len(special))]) if rng.random() < 0.2 else float(rng.normal() * 30)

    stats = {name: np.array([score() for _ in range(3)]) for name in ("b_lo", "b_hi", "s_lo", "s_hi", "u_lo", "u_hi")}
    head = _bare_head(n, float(rng.uniform(0, 1e-6)), arithmetic.FLOAT32 if seed % 2 else arithmetic.FLOAT64)
    with np.errstate(all="ignore"):  # as the analysis runs (an unknown score is a result, not an accident)
        general = head._bos_weight(stats, [(np.array([True]), heads._width_masks(n)[4])], slice(-1, None),
                                   bos_query=True)
        special_path = head._bos_query_weight(stats)
    assert [x.tobytes() for x in special_path] == [part[:1].tobytes() for part in general]


@pytest.mark.parametrize("function", [np.exp, lambda x: np.logaddexp(0.0, x), lambda x: np.log(np.abs(x))])
def test_elementwise_functions_give_each_element_the_same_result_alone(function) -> None:
    """What computing a head's weights for fewer (query, width, length) entries relies on."""
    values = np.random.default_rng(0).normal(size=257) * 40
    together = function(values)
    assert all(function(values[i : i + 1])[0].tobytes() == together[i].tobytes() for i in range(len(values)))
