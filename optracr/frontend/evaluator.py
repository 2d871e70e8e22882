"""The RASP evaluator: the meaning every compiled model must reproduce.

Semantics (paper, section 2.3 and 3.2): ``None`` propagates through Map and SequenceMap; an Aggregate gives its
default where nothing is selected, the value where one position is, the mean of the numbers where several are
(a categorical Aggregate over several positions is defined only when they all hold the same value, of the same
type: ``typed_values.same_value``). A numerical Aggregate always gives a float: the mean, or the default as a
float where nothing is selected (its one direction cannot tell an int 0 from a mean 0.0). In causal
mode every selector is masked to key positions at or before the query position.

A key or query without a value (None) is selected by no predicate: in a compiled model it is the zero vector,
which matches nothing. Combined selectors keep to this: ``SelectorNot``, ``SelectorAnd`` and ``SelectorOr``
decide only the (query, key) pairs where every Select they combine has a key and a query with a value (and,
in causal mode, the key is not after the query); elsewhere they select nothing. So ``SelectorNot(select)``
never selects a None key or query either, which is exactly what the single Select that ``rewrite`` merges a
same-input combination into computes.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from optracr.frontend import language
from optracr.frontend import typed_values
from optracr.frontend.errors import EvaluationError

Value = Any


@dataclasses.dataclass(frozen=True)
class _Selection:
    """A selector's value while evaluating: what it picks, and where that is decided at all."""

    picked: language.SelectorValue
    defined: language.SelectorValue  # defined[q][k]: every Select leaf has a key and query value, causally visible


def evaluate(
    expr: language.RASPExpr, xs: Sequence[Value], causal: bool = False
) -> list[Value] | language.SelectorValue:
    """Evaluates ``expr`` on the input ``xs`` (no BOS); selectors give a query-by-key matrix."""
    memo: dict[int, Any] = {}
    inputs = list(xs)

    def visit(node: language.RASPExpr) -> Any:
        if node.unique_id not in memo:
            memo[node.unique_id] = _evaluator_for(node)(node, inputs, visit, causal)
        return memo[node.unique_id]

    value = visit(expr)
    return value.picked if isinstance(value, _Selection) else value


def _evaluator_for(expr: language.RASPExpr) -> Callable[..., Any]:
    """The rule for ``expr``'s class or its nearest base class (so subclasses of RASP classes evaluate)."""
    for kind in type(expr).__mro__:
        if kind in _EVALUATORS:
            return _EVALUATORS[kind]
    raise EvaluationError(
        expr.label,
        f"cannot evaluate expressions of type {type(expr).__name__}; build programs from the classes in rasp "
        "(or subclasses of them)",
    )


Visit = Callable[[language.RASPExpr], Any]


def _lift(expr: language.RASPExpr, f: Callable[..., Value], *args: Value) -> Value:
    if any(arg is None for arg in args):
        return None
    try:
        return f(*args)
    except Exception as error:  # the user's function: report which expression and which input
        raise EvaluationError(
            expr.label, f"its function raised {type(error).__name__}: {error} on input {args!r}"
        ) from error


def _map(expr: language.Map, xs: list, visit: Visit, causal: bool) -> list:
    return [apply_function(expr, x) for x in visit(expr.inner)]


def _sequence_map(expr: language.SequenceMap, xs: list, visit: Visit, causal: bool) -> list:
    return [apply_function(expr, x, y) for x, y in zip(visit(expr.fst), visit(expr.snd))]


def _full(expr: language.Full, xs: list, visit: Visit, causal: bool) -> list:
    return [expr.fill] * len(xs)


def _constant_sop(expr: language.ConstantSOp, xs: list, visit: Visit, causal: bool) -> list:
    if expr.check_length and len(expr.value) != len(xs):
        raise EvaluationError(
            expr.label, f"constant has length {len(expr.value)} but the input has length {len(xs)}"
        )
    return list(expr.value)


def _visible(k: int, q: int, causal: bool) -> bool:
    return not causal or k <= q


def _select(expr: language.Select, xs: list, visit: Visit, causal: bool) -> _Selection:
    keys, queries = visit(expr.keys), visit(expr.queries)
    defined = [
        [key is not None and query is not None and _visible(k, q, causal) for k, key in enumerate(keys)]
        for q, query in enumerate(queries)
    ]
    picked = [
        [is_defined and _predicate(expr, key, query) for key, is_defined in zip(keys, row)]
        for query, row in zip(queries, defined)
    ]
    return _Selection(picked, defined)


def _predicate(expr: language.Select, key: Value, query: Value) -> bool:
    try:
        return bool(expr.predicate(key, query))
    except Exception as error:
        raise EvaluationError(
            expr.label, f"predicate raised {type(error).__name__}: {error} on key {key!r}, query {query!r}"
        ) from error


def _constant_selector(expr: language.ConstantSelector, xs: list, visit: Visit, causal: bool) -> _Selection:
    if expr.check_length and (len(expr.value) != len(xs) or any(len(row) != len(xs) for row in expr.value)):
        raise EvaluationError(expr.label, f"constant selector is not {len(xs)} x {len(xs)}")
    defined = [[_visible(k, q, causal) for k in range(len(row))] for q, row in enumerate(expr.value)]
    picked = [[bool(v) and ok for v, ok in zip(row, mask)] for row, mask in zip(expr.value, defined)]
    return _Selection(picked, defined)


def _selector_not(expr: language.SelectorNot, xs: list, visit: Visit, causal: bool) -> _Selection:
    inner = visit(expr.inner)
    picked = [[ok and not v for v, ok in zip(row, mask)] for row, mask in zip(inner.picked, inner.defined)]
    return _Selection(picked, inner.defined)


def _combine(fst: _Selection, snd: _Selection, op: Callable[[bool, bool], bool]) -> _Selection:
    defined = [[a and b for a, b in zip(ra, rb)] for ra, rb in zip(fst.defined, snd.defined)]
    picked = [
        [ok and op(a, b) for a, b, ok in zip(ra, rb, mask)]
        for ra, rb, mask in zip(fst.picked, snd.picked, defined)
    ]
    return _Selection(picked, defined)


def _selector_and(expr: language.SelectorAnd, xs: list, visit: Visit, causal: bool) -> _Selection:
    return _combine(visit(expr.fst), visit(expr.snd), lambda a, b: a and b)


def _selector_or(expr: language.SelectorOr, xs: list, visit: Visit, causal: bool) -> _Selection:
    return _combine(visit(expr.fst), visit(expr.snd), lambda a, b: a or b)


def _selector_width(expr: language.SelectorWidth, xs: list, visit: Visit, causal: bool) -> list:
    return [sum(row) for row in visit(expr.selector).picked]


def _aggregate(expr: language.Aggregate, xs: list, visit: Visit, causal: bool) -> list:
    matrix, values = visit(expr.selector).picked, visit(expr.sop)
    numerical = language.is_numerical(expr)
    return [
        _aggregate_row(expr, [v for v, picked in zip(values, row) if picked], numerical) for row in matrix
    ]


def _aggregate_row(expr: language.Aggregate, picked: list, numerical: bool) -> Value:
    if not picked:
        numerical_default = numerical and isinstance(expr.default, numbers.Real)
        return float(expr.default) if numerical_default else expr.default
    if numerical:
        if any(v is None for v in picked):
            return None
        return sum(picked) / len(picked)
    if len(picked) == 1:
        return picked[0]
    if all(typed_values.same_value(v, picked[0]) for v in picked):
        return picked[0]
    raise EvaluationError(
        expr.label,
        f"categorical aggregate picked several positions with different values {picked!r}; "
        "make the aggregate numerical or make the selector pick one position",
    )


# ----------------------------------------------------------------------------------- value by value
# The meaning of one operation on given values, as ``evaluate`` applies it at one position: for checkers that
# reason about values rather than whole inputs (``optracr.certify``). ``evaluate`` itself goes through these.


def apply_function(expr: language.Map | language.SequenceMap, *args: Value) -> Value:
    """A Map's or SequenceMap's value on its input values: None if any is None; ``EvaluationError`` where its
    function raises."""
    return _lift(expr, expr.f, *args)


def selects(select: language.Select, key: Value, query: Value) -> bool:
    """Whether ``select`` picks a key holding ``key`` for a query holding ``query`` (never a None key or query)."""
    return key is not None and query is not None and _predicate(select, key, query)


def aggregate_value(expr: language.Aggregate, picked: Sequence[Value]) -> Value:
    """An Aggregate's value at a query that picks positions holding ``picked`` (in key order): the default when
    empty; ``EvaluationError`` where a categorical one picks different values."""
    return _aggregate_row(expr, list(picked), language.is_numerical(expr))


_EVALUATORS: dict[type, Callable[..., Any]] = {
    language.TokensType: lambda expr, xs, visit, causal: list(xs),
    language.IndicesType: lambda expr, xs, visit, causal: list(range(len(xs))),
    language.LengthType: lambda expr, xs, visit, causal: [len(xs)] * len(xs),
    language.Map: _map,
    language.SequenceMap: _sequence_map,
    language.Full: _full,
    language.ConstantSOp: _constant_sop,
    language.Select: _select,
    language.ConstantSelector: _constant_selector,
    language.SelectorNot: _selector_not,
    language.SelectorAnd: _selector_and,
    language.SelectorOr: _selector_or,
    language.SelectorWidth: _selector_width,
    language.Aggregate: _aggregate,
}


language.install_evaluator(evaluate)
