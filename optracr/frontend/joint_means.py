"""The pairs of values two numerical means over the same positions can take together.

``a = mean_S(x)`` and ``b = mean_S(y)`` over one selection ``S`` divide sums over the *same* positions by the
*same* count, so ``(a, b)`` is ``(sum x_j / n, sum y_j / n)`` for one multiset of n positions, not any pair of
a's values with any of b's. ``opens - closes`` (the fractions of two token kinds among the same prefix) then
takes the values k/n with |k| <= n <= N, 21 at N = 5, rather than every difference of two such fractions (77 floats),
and an MLP that reads it needs steps only between those.

Two selections are the same when they are one expression or two Selects of the same keys and queries (the same
expressions) under the same predicate (a ``Comparison``, or one callable). What one position contributes is a
pair ``(x_j, y_j)``: every pair of the two s-ops' values, or fewer where they are functions of one s-op (one is
the other, or both are Maps of the same s-op).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

from optracr.frontend import graph as graph_lib
from optracr.frontend import language

# Pairs of sums kept while enumerating; past it, the pair is left to the two value sets (a looser superset).
MAX_SUM_PAIRS = 200_000


def joint_means(
    expr: language.SequenceMap,
    values_of: Callable[[language.RASPExpr], graph_lib.NodeValues],
    max_seq_len: int,
) -> list[tuple[float, float]] | None:
    """Every ``(fst, snd)`` pair ``expr`` can read where both are numerical means over the same selection;
    None where that does not hold or the pairs are too many to list (the caller keeps the product)."""
    fst, snd = expr.fst, expr.snd
    if not (_numerical_mean(fst) and _numerical_mean(snd)) or fst is snd:
        return None
    if not _same_selection(fst.selector, snd.selector):
        return None
    if any(values_of(child).may_be_none or values_of(child).dropped_inputs for child in (fst.sop, snd.sop)):
        return None
    contributions = _contributions(fst.sop, snd.sop, values_of)
    if contributions is None:
        return None
    pairs = {(float(fst.default), float(snd.default))}  # nothing selected: each default, as a float
    sums: set[tuple] = {(0, 0)}
    for count in range(1, max_seq_len + 1):
        if len(sums) * len(contributions) > 4 * MAX_SUM_PAIRS:
            return None
        sums = {(first + x, second + y) for first, second in sums for x, y in contributions}
        if len(sums) > MAX_SUM_PAIRS:
            return None
        pairs.update((first / count, second / count) for first, second in sums)
    return sorted(pairs)


def _numerical_mean(sop: language.RASPExpr) -> bool:
    """A numerical Aggregate with a number as its default (its value where nothing is selected)."""
    return (
        isinstance(sop, language.Aggregate)
        and language.is_numerical(sop)
        and isinstance(sop.default, numbers.Real)
    )


def _same_selection(first: language.Selector, second: language.Selector) -> bool:
    """Whether the two selectors pick the same positions on every input, by their structure."""
    if first is second:
        return True
    return (
        isinstance(first, language.Select)
        and isinstance(second, language.Select)
        and first.keys is second.keys
        and first.queries is second.queries
        and (first.predicate is second.predicate
             or (isinstance(first.predicate, language.Comparison) and first.predicate == second.predicate))
    )


def _contributions(
    first: language.RASPExpr,
    second: language.RASPExpr,
    values_of: Callable[[language.RASPExpr], graph_lib.NodeValues],
) -> set[tuple] | None:
    """The ``(first, second)`` value pairs one position can hold; None if a value is not a real number."""
    if first is second:
        pairs = {(value, value) for value in values_of(first).value_set}
    elif isinstance(first, language.Map) and isinstance(second, language.Map) and first.inner is second.inner:
        # neither raises on its inner values: the caller has checked that neither dropped an input
        pairs = {(first.f(value), second.f(value)) for value in values_of(first.inner).value_set}
    else:
        pairs = None
    if pairs is None:
        pairs = {(x, y) for x in values_of(first).value_set for y in values_of(second).value_set}
    if not all(isinstance(value, numbers.Real) for pair in pairs for value in pair):
        return None
    return pairs
