"""The language module and the ``rasp`` face over it; the one selector merging (optracr/frontend/language.py)."""

from __future__ import annotations

import pytest

from optracr import rasp
from optracr.frontend import evaluator, language, rewrite

_PUBLIC_NAMES = {
    "Aggregate", "Annotator", "Comparison", "ConstantSOp", "ConstantSelector", "DEFAULT_ANNOTATORS", "Encoding",
    "Full", "IndicesType", "LengthType", "LinearSequenceMap", "Map", "Predicate", "RASPExpr", "SOp", "Select",
    "Selector", "SelectorAnd", "SelectorNot", "SelectorOr", "SelectorValue", "SelectorWidth", "SequenceMap",
    "TokensType", "Value", "annotate", "categorical", "evaluate", "get_encoding", "indices", "is_categorical",
    "is_numerical", "length", "numerical", "selector_and", "selector_not", "selector_or", "tokens",
}


def test_rasp_face_re_exports_the_language_and_the_evaluator() -> None:
    assert set(rasp.__all__) == _PUBLIC_NAMES
    assert rasp.evaluate is evaluator.evaluate
    assert all(getattr(rasp, name) is getattr(language, name) for name in _PUBLIC_NAMES - {"evaluate"})


_LT = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LT)
_NEQ = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.NEQ)
_KEY_IS_ONE = rasp.Select(rasp.Full(1), rasp.indices, lambda key, query: key == query)


def test_merged_select_combines_nested_combinations_over_the_same_inputs() -> None:
    combined = rasp.SelectorNot(rasp.SelectorAnd(_LT, rasp.SelectorOr(_NEQ, _LT)))
    merged = language.merged_select(rasp.SelectorNot, (combined.inner,))
    assert isinstance(merged, rasp.Select) and merged.keys is rasp.indices and merged.queries is rasp.indices
    assert rasp.evaluate(merged, "abc") == rasp.evaluate(combined, "abc")


def test_merged_select_bakes_a_full_input_into_the_predicate() -> None:
    merged = language.merged_select(rasp.SelectorAnd, (_KEY_IS_ONE, _NEQ))
    assert merged is not None and merged.keys is rasp.indices
    assert rasp.evaluate(merged, "abc") == rasp.evaluate(rasp.SelectorAnd(_KEY_IS_ONE, _NEQ), "abc")


@pytest.mark.parametrize(
    "operands",
    [
        (_LT, rasp.Select(rasp.tokens, rasp.indices, rasp.Comparison.EQ)),
        (_LT, rasp.ConstantSelector([[True]])),
    ],
    ids=["different_keys", "constant_selector"],
)
def test_merged_select_gives_none_when_the_selects_read_different_sops(operands) -> None:
    assert language.merged_select(rasp.SelectorOr, operands) is None


def test_rasp_operators_and_rewrite_merge_alike() -> None:
    """``rasp.selector_and`` merges two Selects at construction; ``rewrite`` merges the same pair afterwards."""
    at_construction = rasp.selector_and(_KEY_IS_ONE, _NEQ)
    rewritten = rewrite(rasp.Aggregate(rasp.selector_and(_LT, _NEQ, simplify=False), rasp.tokens)).selector
    assert isinstance(at_construction, rasp.Select) and isinstance(rewritten, rasp.Select)
    for xs in ("a", "ab", "abc"):
        assert rasp.evaluate(rewritten, xs) == rasp.evaluate(rasp.SelectorAnd(_LT, _NEQ), xs)
        assert rasp.evaluate(at_construction, xs) == rasp.evaluate(rasp.SelectorAnd(_KEY_IS_ONE, _NEQ), xs)


def test_an_expression_called_on_an_input_evaluates_as_in_the_reference() -> None:
    doubled = rasp.Map(lambda t: 2 * t, rasp.tokens)
    same = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)
    assert doubled([1, 2]) == rasp.evaluate(doubled, [1, 2]) == [2, 4]
    assert same([1, 1]) == [[True, True], [True, True]]


def test_causal_eval_masks_every_selector_as_the_references_module_does() -> None:
    from optracr import causal_eval

    width = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE))
    assert causal_eval.evaluate(width, ["a", "b", "c"]) == [1, 2, 3]
    assert rasp.evaluate(width, ["a", "b", "c"]) == [3, 3, 3]
