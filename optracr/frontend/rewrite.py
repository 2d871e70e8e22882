"""Rewrites that turn RASP the compiler cannot take directly into equivalent RASP it can.

- ``length`` becomes ``SelectorWidth(Select(tokens, tokens, TRUE))`` labelled ``length``.
- ``Full(c)`` becomes ``Map(lambda _: c, tokens)`` under the same label.
- ``SelectorAnd`` / ``SelectorOr`` / ``SelectorNot`` over selects that all read the same keys and queries
  become one ``Select`` whose predicate combines theirs (paper, section 3.2: one head reads two s-ops).
- Combinations over different s-ops take the cheapest exact form (``conjuncts`` reads it back):
  a conjunction becomes a ``SelectorAnd`` chain of Selects over pairwise different (keys, queries), which
  craft compiles as one head with additive scores; a disjunction or negation over different s-ops (whose
  scores could not be added: unequal scores break means and widths) is *paired* (paper, lemma on combining
  selectors): its keys become one categorical s-op ``<label>_keys`` holding the tuple of the key s-ops'
  values (a SequenceMap; None where any is None, as the evaluator leaves such pairs unselected), likewise
  ``<label>_queries``, and one Select compares the tuples.
- Numerical inputs where a categorical encoding is needed get a categorical copy ``<label>_as_categorical``
  (an identity Map: a discretising MLP): the keys and queries of a Select, and the inputs of a SequenceMap
  that is not a numerical LinearSequenceMap of numerical inputs (which then becomes a lookup table over the
  joint grid of its inputs' values). The inserted s-ops carry those labels, so summaries show them.

Expressions are never mutated: a rewritten expression is a new one with the same label and annotations.
"""

from __future__ import annotations

from collections.abc import Callable

from optracr import errors
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
    copies: dict[int, language.SOp] = {}  # one categorical copy per numerical s-op, however often it is read

    def visit(expr: language.RASPExpr) -> language.RASPExpr:
        if expr.unique_id not in memo:
            memo[expr.unique_id] = _rewrite_node(_rebuild(expr, visit), copies)
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


def _rewrite_node(expr: language.RASPExpr, copies: dict[int, language.SOp]) -> language.RASPExpr:
    if isinstance(expr, language.LengthType):
        everything = language.Select(language.tokens, language.tokens, language.Comparison.TRUE)
        return _relabel(language.SelectorWidth(everything), expr)
    if isinstance(expr, language.Full):
        fill = expr.fill
        return _relabel(language.Map(lambda _: fill, language.tokens), expr)
    if isinstance(expr, language.Select):
        return _categorical_select(expr, copies)
    if isinstance(expr, language.SequenceMap):
        return _categorical_sequence_map(expr, copies)
    if isinstance(expr, (language.SelectorAnd, language.SelectorOr, language.SelectorNot)):
        return _combined(expr)
    return expr


def conjuncts(selector: language.Selector) -> tuple[language.Select, ...]:
    """The Selects a rewritten selector is the conjunction of (one for a Select).

    Raises ``OptracrBug`` for anything but a Select or a ``SelectorAnd`` tree of Selects (what ``rewrite``
    leaves): the compiler calls it only on rewritten selectors.
    """
    if isinstance(selector, language.Select):
        return (selector,)
    if isinstance(selector, language.SelectorAnd):
        return conjuncts(selector.fst) + conjuncts(selector.snd)
    raise errors.OptracrBug(f"{selector.label!r} is not a conjunction of Selects; run frontend.rewrite first")


# ------------------------------------------------------------------------------- numerical -> categorical
def _without_negative_zero(value: language.Value) -> language.Value:
    """``value``, with a float -0.0 given as 0.0 (every other value as it is)."""
    return 0.0 if isinstance(value, float) and value == 0.0 else value


def _as_categorical(sop: language.SOp, copies: dict[int, language.SOp]) -> language.SOp:
    """``sop`` itself when categorical, else its categorical copy (made once)."""
    if not language.is_numerical(sop):
        return sop
    if sop.unique_id not in copies:
        # -0.0 and 0.0 are one number in the numerical direction: the copy gives both as 0.0.
        copy = language.Map(_without_negative_zero, sop, simplify=False).named(f"{sop.label}_as_categorical")
        copies[sop.unique_id] = language.categorical(copy)
    return copies[sop.unique_id]


def _categorical_select(expr: language.Select, copies: dict[int, language.SOp]) -> language.Select:
    keys, queries = _as_categorical(expr.keys, copies), _as_categorical(expr.queries, copies)
    if keys is expr.keys and queries is expr.queries:
        return expr
    return _same_label_copy(expr, keys=keys, queries=queries)


def _categorical_sequence_map(expr: language.SequenceMap, copies: dict[int, language.SOp]) -> language.SOp:
    numerical = [language.is_numerical(expr.fst), language.is_numerical(expr.snd)]
    if not any(numerical):
        return expr
    if isinstance(expr, language.LinearSequenceMap) and all(numerical) and language.is_numerical(expr):
        return expr  # an affine MLP (or a fold) computes it directly
    lookup = language.SequenceMap(expr.f, _as_categorical(expr.fst, copies), _as_categorical(expr.snd, copies))
    return _relabel(lookup, expr)


# ----------------------------------------------------------------------------------- combined selectors
def _combined(expr: language.Selector) -> language.Selector:
    """A combination of Selects as a Select or a SelectorAnd chain of Selects over different inputs."""
    merged = language.merged_select(type(expr), expr.children)
    if merged is not None:
        return _relabel(merged, expr)
    if _leaves(expr) is None:
        return expr  # it combines a ConstantSelector, which validation reports
    if not isinstance(expr, language.SelectorAnd):
        return _paired(expr)
    groups: dict[tuple[int, int], list[language.Select]] = {}
    for select in conjuncts(expr.fst) + conjuncts(expr.snd):
        groups.setdefault((select.keys.unique_id, select.queries.unique_id), []).append(select)
    if all(len(group) == 1 for group in groups.values()):
        return expr  # already a conjunction of Selects over different inputs
    parts = [
        group[0] if len(group) == 1 else language.merged_select(language.SelectorAnd, group)
        for group in groups.values()
    ]
    if len(parts) == 1:
        return _relabel(parts[0], expr)
    chain = parts[0]
    for part in parts[1:-1]:
        chain = language.SelectorAnd(chain, part)
    return _relabel(language.SelectorAnd(chain, parts[-1]), expr)


def _paired(expr: language.Selector) -> language.Select:
    """One Select over tuples of the key s-ops and of the query s-ops (an Or or Not over different s-ops)."""
    leaves = _leaves(expr)
    keys = list({select.keys.unique_id: select.keys for select in leaves}.values())
    queries = list({select.queries.unique_id: select.queries for select in leaves}.values())
    key_tuple = _tuple_sop(keys, f"{expr.label}_keys")
    query_tuple = _tuple_sop(queries, f"{expr.label}_queries")
    key_at = {sop.unique_id: i for i, sop in enumerate(keys)}
    query_at = {sop.unique_id: i for i, sop in enumerate(queries)}
    single_key, single_query = len(keys) == 1, len(queries) == 1

    def decide(selector: language.Selector, key: tuple, query: tuple) -> bool:
        if isinstance(selector, language.Select):
            at_key, at_query = key_at[selector.keys.unique_id], query_at[selector.queries.unique_id]
            return bool(selector.predicate(key[at_key], query[at_query]))
        parts = [decide(child, key, query) for child in selector.children]  # every part, as the evaluator does
        if isinstance(selector, language.SelectorNot):
            return not parts[0]
        return all(parts) if isinstance(selector, language.SelectorAnd) else any(parts)

    def predicate(key: object, query: object) -> bool:
        return decide(expr, (key,) if single_key else key, (query,) if single_query else query)

    return _relabel(language.Select(key_tuple, query_tuple, predicate), expr)


def _leaves(selector: language.Selector) -> list[language.Select] | None:
    """The Selects a combination reads; None when it reads anything else (a ConstantSelector)."""
    if isinstance(selector, language.Select):
        return [selector]
    if not isinstance(selector, (language.SelectorAnd, language.SelectorOr, language.SelectorNot)):
        return None
    found = [_leaves(child) for child in selector.children]
    return None if any(leaves is None for leaves in found) else [select for leaves in found for select in leaves]


def _tuple_sop(sops: list[language.SOp], name: str) -> language.SOp:
    """``sops[0]`` alone, or a categorical s-op holding the tuple of their values (None where any is None)."""
    if len(sops) == 1:
        return sops[0]
    paired = language.SequenceMap(lambda x, y: (x, y), sops[0], sops[1])
    for sop in sops[2:]:
        paired = language.SequenceMap(lambda pair, z: (*pair, z), paired, sop)
    return language.categorical(paired).named(name)
