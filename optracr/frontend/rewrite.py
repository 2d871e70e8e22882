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

from optracr.frontend import language

_CHILD_FIELDS: dict[type, tuple[str, ...]] = {
    language.Map: ("inner",),
    language.SequenceMap: ("fst", "snd"),  # LinearSequenceMap too
    language.Aggregate: ("selector", "sop"),
    language.SelectorWidth: ("selector",),
    language.Select: ("keys", "queries"),
    language.SelectorAnd: ("fst", "snd"),
    language.SelectorOr: ("fst", "snd"),
    language.SelectorNot: ("inner",),
}


def rewrite(program: language.SOp) -> language.SOp:
    """``program`` with ``length``, ``Full`` and same-input selector combinations rewritten."""
    memo: dict[int, language.RASPExpr] = {}

    def visit(expr: language.RASPExpr) -> language.RASPExpr:
        if expr.unique_id not in memo:
            memo[expr.unique_id] = _rewrite_node(_rebuild(expr, visit))
        return memo[expr.unique_id]

    return visit(program)


def _child_fields(expr: language.RASPExpr) -> tuple[str, ...]:
    """The attributes holding ``expr``'s children, found through its class's bases (subclasses included)."""
    for kind in type(expr).__mro__:
        if kind in _CHILD_FIELDS:
            return _CHILD_FIELDS[kind]
    return ()


def _rebuild(expr: language.RASPExpr, visit: Callable[[language.RASPExpr], language.RASPExpr]) -> language.RASPExpr:
    fields = _child_fields(expr)
    new_children = {field: visit(getattr(expr, field)) for field in fields}
    if all(new_children[field] is getattr(expr, field) for field in fields):
        return expr
    return _same_label_copy(expr, **new_children)


def _same_label_copy(expr: language.RASPExpr, **fields: object) -> language.RASPExpr:
    clone = expr.copy()
    clone._annotations = dict(expr._annotations)  # keep the label, even a default one
    for field, value in fields.items():
        setattr(clone, field, value)
    return clone


def _relabel(new: language.RASPExpr, old: language.RASPExpr) -> language.RASPExpr:
    new._annotations = dict(old._annotations)
    return new


def _rewrite_node(expr: language.RASPExpr) -> language.RASPExpr:
    if isinstance(expr, language.LengthType):
        everything = language.Select(language.tokens, language.tokens, language.Comparison.TRUE)
        return _relabel(language.SelectorWidth(everything), expr)
    if isinstance(expr, language.Full):
        fill = expr.fill
        return _relabel(language.Map(lambda _: fill, language.tokens), expr)
    if isinstance(expr, (language.SelectorAnd, language.SelectorOr, language.SelectorNot)):
        merged = language.merged_select(type(expr), expr.children)
        return expr if merged is None else _relabel(merged, expr)
    return expr
