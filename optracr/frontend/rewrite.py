"""Rewrites that turn RASP the compiler cannot take directly into equivalent RASP it can.

- ``length`` becomes ``SelectorWidth(Select(tokens, tokens, TRUE))`` labelled ``length``.
- ``Full(c)`` becomes ``Map(lambda _: c, tokens)`` under the same label.
- ``SelectorAnd`` / ``SelectorOr`` / ``SelectorNot`` over selects that all read the same keys and queries
  become one ``Select`` whose predicate combines theirs (paper, section 3.2: one head reads two s-ops).
  Combinations over more s-ops are left alone for validation to report.

Expressions are never mutated: a rewritten expression is a new one with the same label and annotations.
"""

from __future__ import annotations

from collections.abc import Callable

from optracr.frontend import rasp

_CHILD_FIELDS: dict[type, tuple[str, ...]] = {
    rasp.Map: ("inner",),
    rasp.SequenceMap: ("fst", "snd"),  # LinearSequenceMap too
    rasp.Aggregate: ("selector", "sop"),
    rasp.SelectorWidth: ("selector",),
    rasp.Select: ("keys", "queries"),
    rasp.SelectorAnd: ("fst", "snd"),
    rasp.SelectorOr: ("fst", "snd"),
    rasp.SelectorNot: ("inner",),
}


def rewrite(program: rasp.SOp) -> rasp.SOp:
    """``program`` with ``length``, ``Full`` and same-input selector combinations rewritten."""
    memo: dict[int, rasp.RASPExpr] = {}

    def visit(expr: rasp.RASPExpr) -> rasp.RASPExpr:
        if expr.unique_id not in memo:
            memo[expr.unique_id] = _rewrite_node(_rebuild(expr, visit))
        return memo[expr.unique_id]

    return visit(program)


def _child_fields(expr: rasp.RASPExpr) -> tuple[str, ...]:
    """The attributes holding ``expr``'s children, found through its class's bases (subclasses included)."""
    for kind in type(expr).__mro__:
        if kind in _CHILD_FIELDS:
            return _CHILD_FIELDS[kind]
    return ()


def _rebuild(expr: rasp.RASPExpr, visit: Callable[[rasp.RASPExpr], rasp.RASPExpr]) -> rasp.RASPExpr:
    fields = _child_fields(expr)
    new_children = {field: visit(getattr(expr, field)) for field in fields}
    if all(new_children[field] is getattr(expr, field) for field in fields):
        return expr
    return _same_label_copy(expr, **new_children)


def _same_label_copy(expr: rasp.RASPExpr, **fields: object) -> rasp.RASPExpr:
    clone = expr.copy()
    clone._annotations = dict(expr._annotations)  # keep the label, even a default one
    for field, value in fields.items():
        setattr(clone, field, value)
    return clone


def _relabel(new: rasp.RASPExpr, old: rasp.RASPExpr) -> rasp.RASPExpr:
    new._annotations = dict(old._annotations)
    return new


def _rewrite_node(expr: rasp.RASPExpr) -> rasp.RASPExpr:
    if isinstance(expr, rasp.LengthType):
        everything = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE)
        return _relabel(rasp.SelectorWidth(everything), expr)
    if isinstance(expr, rasp.Full):
        fill = expr.fill
        return _relabel(rasp.Map(lambda _: fill, rasp.tokens), expr)
    if isinstance(expr, (rasp.SelectorAnd, rasp.SelectorOr, rasp.SelectorNot)):
        return _merge_selector(expr)
    return expr


def _merge_selector(expr: rasp.Selector) -> rasp.Selector:
    leaves = _select_leaves(expr)
    if not leaves:
        return expr
    keys, queries = leaves[0].keys, leaves[0].queries
    if any(leaf.keys is not keys or leaf.queries is not queries for leaf in leaves):
        return expr
    return _relabel(rasp.Select(keys, queries, _combined_predicate(expr)), expr)


def _select_leaves(expr: rasp.Selector) -> list[rasp.Select]:
    if isinstance(expr, rasp.Select):
        return [expr]
    if isinstance(expr, (rasp.SelectorAnd, rasp.SelectorOr)):
        fst, snd = _select_leaves(expr.fst), _select_leaves(expr.snd)
        return fst + snd if fst and snd else []
    if isinstance(expr, rasp.SelectorNot):
        return _select_leaves(expr.inner)
    return []


def _combined_predicate(expr: rasp.Selector) -> rasp.Predicate:
    if isinstance(expr, rasp.Select):
        return expr.predicate
    if isinstance(expr, rasp.SelectorNot):
        inner = _combined_predicate(expr.inner)
        return lambda key, query: not inner(key, query)
    fst, snd = _combined_predicate(expr.fst), _combined_predicate(expr.snd)
    if isinstance(expr, rasp.SelectorAnd):
        return lambda key, query: fst(key, query) and snd(key, query)
    return lambda key, query: fst(key, query) or snd(key, query)
