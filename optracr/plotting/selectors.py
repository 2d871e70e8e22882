"""What each attention head implements, in words, read from the RASP program the model was compiled from."""

from __future__ import annotations

from collections.abc import Mapping

from optracr import frontend
from optracr.frontend import rasp

_SYMBOLS = {
    rasp.Comparison.EQ: "==", rasp.Comparison.LT: "<", rasp.Comparison.LEQ: "<=", rasp.Comparison.GT: ">",
    rasp.Comparison.GEQ: ">=", rasp.Comparison.NEQ: "!=",
}


def head_descriptions(program: rasp.SOp) -> Mapping[str, tuple[str, str]]:
    """Per Aggregate or SelectorWidth label: (the operation, its selector), e.g.
    ``("Aggregate(is_x)", "indices[k] <= indices[q]")``; ``k`` is the key position, ``q`` the query's.

    Labels are the compiler's (``frontend.trace``, so a repeated label is ``label#2``); the program is read
    as written, before the compiler's rewrites, so combined selectors keep their and/or/not.
    """
    traced = frontend.trace(program)
    descriptions = {}
    for label, expr in traced.exprs.items():
        if isinstance(expr, rasp.Aggregate):
            operation = f"Aggregate({traced.label_of(expr.sop)})"
        elif isinstance(expr, rasp.SelectorWidth):
            operation = "SelectorWidth"
        elif isinstance(expr, rasp.LengthType):
            descriptions[label] = ("SelectorWidth (length)", "every key")
            continue
        else:
            continue
        descriptions[label] = (operation, describe_selector(expr.selector, traced))
    return descriptions


def describe_selector(selector: rasp.Selector, traced: frontend.TracedProgram) -> str:
    """A selector in words: ``keys[k] OP queries[q]``, combined with and / or / not."""
    if isinstance(selector, rasp.Select):
        keys, queries = traced.label_of(selector.keys), traced.label_of(selector.queries)
        predicate = selector.predicate
        if predicate == rasp.Comparison.TRUE:
            return "every key"
        if predicate == rasp.Comparison.FALSE:
            return "no key"
        if predicate in _SYMBOLS:
            return f"{keys}[k] {_SYMBOLS[predicate]} {queries}[q]"
        name = getattr(predicate, "__name__", "predicate")
        return f"{'f' if name == '<lambda>' else name}({keys}[k], {queries}[q])"
    if isinstance(selector, rasp.SelectorNot):
        return f"not ({describe_selector(selector.inner, traced)})"
    if isinstance(selector, (rasp.SelectorAnd, rasp.SelectorOr)):
        word = "and" if isinstance(selector, rasp.SelectorAnd) else "or"
        return f"({describe_selector(selector.fst, traced)}) {word} ({describe_selector(selector.snd, traced)})"
    return type(selector).__name__
