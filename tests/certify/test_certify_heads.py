"""A head's shortcuts agree with its general rules: the predicate matrix (in Python for few values, by numpy for many,
both the evaluator's rule), BOS's weights per width and at the BOS query (one pass over the cells a query group
allows, the rule's numbers to the bit), the (width, length) masks of the query groups, and a side's picks of
its labels' rows."""

from __future__ import annotations

import itertools
import types

import numpy as np
import pytest

from optracr import craft, frontend
from optracr.certify import arithmetic, heads, meaning, residual, tables

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
    head.context = types.SimpleNamespace(weights=types.SimpleNamespace(memo={}))  # where the masks are kept
    return head


def _plus(log_count: np.ndarray, score: np.ndarray) -> np.ndarray:
    """The rule's log(count) + score: -inf where there is no key (count 0) or no such score (-inf; never inf - inf),
    inf where the score is unknown (NaN)."""
    found = log_count + score
    lost = np.isnan(found)
    if lost.any():
        found = np.where(lost, np.where((log_count == -np.inf) | (score == -np.inf), -np.inf, np.inf), found)
    return found



def _bos_weight_by_the_rule(head: heads._Head, stats: dict, groups: list, part: slice, bos_query: bool):
    """BOS's weight range per width, written out (the module doc's rule, step by step, one group set at a time)."""
    groups = [(pick, allowed) for pick, allowed in groups if pick.any() and allowed.any()]
    if not groups:
        return np.full(head.n + 1, np.inf), np.full(head.n + 1, -np.inf)
    b_lo, b_hi = stats["b_lo"][part], stats["b_hi"][part]
    picks = np.array([pick for pick, _ in groups], dtype=bool)[:, None, :]
    never = np.full(b_lo.shape, -np.inf)
    s_lo = never if bos_query else stats["s_lo"][part]
    s_hi = never if bos_query else stats["s_hi"][part]
    top = np.where(picks, np.array([s_hi - b_lo, stats["u_hi"][part] - b_lo]), -np.inf).max(axis=2)
    bottom = np.where(picks, np.array([s_lo - b_hi, stats["u_lo"][part] - b_hi]), np.inf).min(axis=2)
    ends = np.array([top, bottom])[:, :, :, None, None]
    allowed = np.array([mask for _, mask in groups])
    widths, lengths = allowed.shape[1:]
    logs = heads._logs(max(widths, lengths))
    width = np.arange(widths)[:, None]
    counts = np.stack(np.broadcast_arrays(logs[width], logs[np.maximum(np.arange(lengths)[None, :] - width, 0)]))
    terms = _plus(counts[None, None], ends)  # log of how many keys are selected and not, per (width, length)
    weight = heads._sigmoid(-np.logaddexp(terms[:, :, 0], terms[:, :, 1]))
    weight_lo = np.where(allowed, weight[0], np.inf).min(axis=(0, 2)) * (1 - head.eta)
    weight_hi = np.minimum(1.0, np.where(allowed, weight[1], -np.inf).max(axis=(0, 2)) * (1 + head.eta))
    weight_lo = np.maximum(0.0, weight_lo - (head.n + 1) * head.arithmetic.tiny)
    reachable = allowed.any(axis=(0, 2))
    return np.where(reachable, weight_lo, np.inf), np.where(reachable, weight_hi, -np.inf)


@pytest.mark.parametrize("seed", range(40))
def test_bos_weights_are_the_rules_for_the_query_groups_and_the_bos_query_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 12))
    queries = int(rng.integers(1, 5))
    special = [np.inf, -np.inf, 0.0, -0.0, np.nan]

    def score() -> float:
        return float(special[rng.integers(len(special))]) if rng.random() < 0.2 else float(rng.normal() * 30)

    stats = {name: np.array([score() for _ in range(queries + 1)])
             for name in ("b_lo", "b_hi", "s_lo", "s_hi", "u_lo", "u_hi")}  # the BOS query last
    masks = heads._width_masks(n)
    groups = [(rng.random(queries) < 0.6, masks[index]) for index in range(4)]
    head = _bare_head(n, float(rng.uniform(0, 1e-6)), arithmetic.FLOAT32 if seed % 2 else arithmetic.FLOAT64)
    with np.errstate(all="ignore"):  # as the analysis runs (an unknown score is a result, not an accident)
        found = head._bos_weights(stats, groups)
        per_width = _bos_weight_by_the_rule(head, stats, groups, slice(0, -1), bos_query=False)
        at_bos = _bos_weight_by_the_rule(head, stats, [(np.array([True]), masks[4])], slice(-1, None), bos_query=True)
    assert [x.tobytes() for x in found] == [x.tobytes() for x in (*per_width, at_bos[0][:1], at_bos[1][:1])]


@pytest.mark.parametrize("function", [np.exp, lambda x: np.logaddexp(0.0, x), lambda x: np.log(np.abs(x))])
def test_elementwise_functions_give_each_element_the_same_result_alone(function) -> None:
    """What computing a head's weights for fewer (query, width, length) entries relies on."""
    values = np.random.default_rng(0).normal(size=257) * 40
    together = function(values)
    assert all(function(values[i : i + 1])[0].tobytes() == together[i].tobytes() for i in range(len(values)))


@pytest.mark.parametrize("n", range(8))
def test_width_masks_allow_the_width_and_length_pairs_of_each_query_group(n: int) -> None:
    rules = (lambda w, length: w >= 1 and length >= w, lambda w, length: w >= 1 and length == w,
             lambda w, length: w >= 1 and length >= w + 1, lambda w, length: w == 0 and length >= 1,
             lambda w, length: w == 0)
    for mask, rule in zip(heads._width_masks(n), rules, strict=True):
        assert mask.tolist() == [[rule(w, length) for length in range(n + 1)] for w in range(n + 1)]


def _side_table(name: str, rows: int) -> tables.Table:
    directions = tuple(craft.BasisDirection(name, value) for value in range(max(rows, 1)))
    label = residual.Label(name, residual.Role.SOP, directions, list(range(len(directions))), False, name)
    return tables.ideal(label, (*range(rows), tables.AT_BOS))


@pytest.mark.parametrize("sizes", [(3, 1), (1, 4), (1, 1), (0, 1), (2, 1, 1), (1, 3, 1), (2, 3), (1, 2, 3)])
def test_a_head_sides_picks_are_every_combination_of_its_labels_rows_then_each_bos_row(sizes: tuple) -> None:
    names = [f"x{index}" for index in range(len(sizes))]
    side_tables = {name: _side_table(name, size) for name, size in zip(names, sizes)}
    rows = {name: side_tables[name].value_row_numbers for name in names}
    side = heads._Side(names, rows, side_tables, names[:1])
    combinations = list(itertools.product(*(range(size) for size in sizes)))  # the last label fastest
    assert side.count == len(combinations)
    for position, name in enumerate(names):
        expected = [combination[position] for combination in combinations] + [sizes[position]]  # then BOS's row
        assert side.picks[name].tolist() == expected and side.picks[name].dtype == np.int64, name
