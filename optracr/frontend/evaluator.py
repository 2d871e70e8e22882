"""The RASP evaluator: the meaning every compiled model must reproduce.

Semantics (paper, section 2.3 and 3.2): ``None`` propagates through Map and SequenceMap; an Aggregate gives its
default where nothing is selected, the value where one position is, the mean of the numbers where several are
(a categorical Aggregate over several positions is defined only when they all hold the same value). In causal
mode every selector is masked to key positions at or before the query position. A key or query without a
value (None) is selected by no predicate: in a compiled model it is the zero vector, which matches nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from optracr.frontend import rasp
from optracr.frontend.errors import EvaluationError

Value = Any


def evaluate(
    expr: rasp.RASPExpr, xs: Sequence[Value], *, causal: bool = False
) -> list[Value] | rasp.SelectorValue:
    """Evaluates ``expr`` on the input ``xs`` (no BOS); selectors give a query-by-key matrix."""
    memo: dict[int, Any] = {}
    inputs = list(xs)

    def visit(node: rasp.RASPExpr) -> Any:
        if node.unique_id not in memo:
            memo[node.unique_id] = _EVALUATORS[type(node)](node, inputs, visit, causal)
        return memo[node.unique_id]

    if type(expr) not in _EVALUATORS:
        expr = _find_evaluable(expr)
    return visit(expr)


def _find_evaluable(expr: rasp.RASPExpr) -> rasp.RASPExpr:
    for kind in _EVALUATORS:
        if isinstance(expr, kind):
            return expr
    raise EvaluationError(expr.label, f"cannot evaluate expressions of type {type(expr).__name__}")


Visit = Callable[[rasp.RASPExpr], Any]


def _lift(expr: rasp.RASPExpr, f: Callable[..., Value], *args: Value) -> Value:
    if any(arg is None for arg in args):
        return None
    try:
        return f(*args)
    except Exception as error:  # the user's function: report which expression and which input
        raise EvaluationError(
            expr.label, f"its function raised {type(error).__name__}: {error} on input {args!r}"
        ) from error


def _map(expr: rasp.Map, xs: list, visit: Visit, causal: bool) -> list:
    return [_lift(expr, expr.f, x) for x in visit(expr.inner)]


def _sequence_map(expr: rasp.SequenceMap, xs: list, visit: Visit, causal: bool) -> list:
    return [_lift(expr, expr.f, x, y) for x, y in zip(visit(expr.fst), visit(expr.snd))]


def _full(expr: rasp.Full, xs: list, visit: Visit, causal: bool) -> list:
    return [expr.fill] * len(xs)


def _constant_sop(expr: rasp.ConstantSOp, xs: list, visit: Visit, causal: bool) -> list:
    if expr.check_length and len(expr.value) != len(xs):
        raise EvaluationError(
            expr.label, f"constant has length {len(expr.value)} but the input has length {len(xs)}"
        )
    return list(expr.value)


def _select(expr: rasp.Select, xs: list, visit: Visit, causal: bool) -> rasp.SelectorValue:
    keys, queries = visit(expr.keys), visit(expr.queries)
    matrix = []
    for q, query in enumerate(queries):
        row = []
        for k, key in enumerate(keys):
            if key is None or query is None:  # no value is the zero vector: it matches nothing
                row.append(False)
                continue
            try:
                picked = bool(expr.predicate(key, query))
            except Exception as error:
                raise EvaluationError(
                    expr.label, f"predicate raised {type(error).__name__}: {error} on key {key!r}, query {query!r}"
                ) from error
            row.append(picked and (not causal or k <= q))
        matrix.append(row)
    return matrix


def _constant_selector(expr: rasp.ConstantSelector, xs: list, visit: Visit, causal: bool) -> rasp.SelectorValue:
    if expr.check_length and (len(expr.value) != len(xs) or any(len(row) != len(xs) for row in expr.value)):
        raise EvaluationError(expr.label, f"constant selector is not {len(xs)} x {len(xs)}")
    return [[bool(v) and (not causal or k <= q) for k, v in enumerate(row)] for q, row in enumerate(expr.value)]


def _selector_not(expr: rasp.SelectorNot, xs: list, visit: Visit, causal: bool) -> rasp.SelectorValue:
    inner = visit(expr.inner)
    return [[(not v) and (not causal or k <= q) for k, v in enumerate(row)] for q, row in enumerate(inner)]


def _selector_and(expr: rasp.SelectorAnd, xs: list, visit: Visit, causal: bool) -> rasp.SelectorValue:
    return [[a and b for a, b in zip(ra, rb)] for ra, rb in zip(visit(expr.fst), visit(expr.snd))]


def _selector_or(expr: rasp.SelectorOr, xs: list, visit: Visit, causal: bool) -> rasp.SelectorValue:
    return [[a or b for a, b in zip(ra, rb)] for ra, rb in zip(visit(expr.fst), visit(expr.snd))]


def _selector_width(expr: rasp.SelectorWidth, xs: list, visit: Visit, causal: bool) -> list:
    return [sum(row) for row in visit(expr.selector)]


def _aggregate(expr: rasp.Aggregate, xs: list, visit: Visit, causal: bool) -> list:
    matrix, values = visit(expr.selector), visit(expr.sop)
    numerical = rasp.is_numerical(expr)
    return [
        _aggregate_row(expr, [v for v, picked in zip(values, row) if picked], numerical) for row in matrix
    ]


def _aggregate_row(expr: rasp.Aggregate, picked: list, numerical: bool) -> Value:
    if not picked:
        return expr.default
    if numerical:
        if any(v is None for v in picked):
            return None
        return sum(picked) / len(picked)
    if len(picked) == 1:
        return picked[0]
    if all(v == picked[0] for v in picked):
        return picked[0]
    raise EvaluationError(
        expr.label,
        f"categorical aggregate picked several positions with different values {picked!r}; "
        "make the aggregate numerical or make the selector pick one position",
    )


_EVALUATORS: dict[type, Callable[..., Any]] = {
    rasp.TokensType: lambda expr, xs, visit, causal: list(xs),
    rasp.IndicesType: lambda expr, xs, visit, causal: list(range(len(xs))),
    rasp.LengthType: lambda expr, xs, visit, causal: [len(xs)] * len(xs),
    rasp.Map: _map,
    rasp.LinearSequenceMap: _sequence_map,
    rasp.SequenceMap: _sequence_map,
    rasp.Full: _full,
    rasp.ConstantSOp: _constant_sop,
    rasp.Select: _select,
    rasp.ConstantSelector: _constant_selector,
    rasp.SelectorNot: _selector_not,
    rasp.SelectorAnd: _selector_and,
    rasp.SelectorOr: _selector_or,
    rasp.SelectorWidth: _selector_width,
    rasp.Aggregate: _aggregate,
}
