"""The RASP evaluator: the paper's examples, every Comparison, None, Aggregate semantics, causal mode."""

from __future__ import annotations

import pytest

from optracr import rasp
from optracr.errors import EvaluationError
from optracr.frontend import evaluate


def _matrix(rows: str) -> list[list[bool]]:
    return [[c == "1" for c in row] for row in rows.split("/")]


# ------------------------------------------------------------------------------- the paper, section 2.3
def test_paper_select_of_indices_and_constant_with_less_than() -> None:
    # select(indices, [1, 0, 2], <)("abc"): row q, column k is indices[k] < [1, 0, 2][q].
    selector = rasp.Select(rasp.indices, rasp.ConstantSOp([1, 0, 2]), rasp.Comparison.LT)
    assert evaluate(selector, list("abc")) == _matrix("100/000/110")


def test_paper_numerical_aggregate_averages_and_defaults_to_zero() -> None:
    selector = rasp.Select(rasp.indices, rasp.ConstantSOp([1, 0, 2]), rasp.Comparison.LT)
    aggregate = rasp.numerical(rasp.Aggregate(selector, rasp.ConstantSOp([10, 20, 30]), default=0))
    assert evaluate(aggregate, list("abc")) == [10, 0, 15]


def test_paper_elementwise_example_three_times_indices() -> None:
    assert evaluate(3 * rasp.indices, list("hello")) == [0, 3, 6, 9, 12]


def test_paper_frac_prevs_on_xacx() -> None:
    is_x = (rasp.tokens == "x").named("is_x")
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ).named("prevs")
    frac_prevs = rasp.numerical(rasp.Aggregate(prevs, rasp.numerical(is_x), default=0)).named("frac_prevs")
    assert evaluate(frac_prevs, list("xacx")) == [1.0, 0.5, 1 / 3, 0.5]


# ------------------------------------------------------------------------------------------ comparisons
# keys = indices [0, 1, 2], queries = [1, 0, 2]; row q holds predicate(keys[k], queries[q]) for k = 0, 1, 2.
COMPARISON_MATRICES = {
    rasp.Comparison.EQ: "010/100/001",
    rasp.Comparison.LT: "100/000/110",
    rasp.Comparison.LEQ: "110/100/111",
    rasp.Comparison.GT: "001/011/000",
    rasp.Comparison.GEQ: "011/111/001",
    rasp.Comparison.NEQ: "101/011/110",
    rasp.Comparison.TRUE: "111/111/111",
    rasp.Comparison.FALSE: "000/000/000",
}


@pytest.mark.parametrize(("comparison", "rows"), COMPARISON_MATRICES.items(), ids=lambda v: getattr(v, "name", v))
def test_comparison_compares_key_with_query(comparison: rasp.Comparison, rows: str) -> None:
    selector = rasp.Select(rasp.indices, rasp.ConstantSOp([1, 0, 2]), comparison)
    assert evaluate(selector, list("abc")) == _matrix(rows)


def test_comparisons_cover_every_member() -> None:
    assert set(COMPARISON_MATRICES) == set(rasp.Comparison)


@pytest.mark.parametrize("comparison", list(rasp.Comparison), ids=lambda c: c.name)
def test_comparison_refuses_none(comparison: rasp.Comparison) -> None:
    with pytest.raises(EvaluationError, match=f"Comparison.{comparison.name}: key is None; a selector compares values, never None"):
        comparison(None, 1)
    with pytest.raises(EvaluationError, match="query is None"):
        comparison(1, None)


def test_custom_predicate_is_called_as_key_then_query() -> None:
    calls = []
    selector = rasp.Select(rasp.tokens, rasp.indices, lambda key, query: calls.append((key, query)) or False)
    evaluate(selector, list("ab"))
    assert calls == [("a", 0), ("b", 0), ("a", 1), ("b", 1)]


# ------------------------------------------------------------------------------------- None propagation
def test_none_propagates_through_map_and_sequence_map() -> None:
    shifted = rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices, lambda k, q: q == k + 1), rasp.tokens)
    calls = []
    mapped = rasp.Map(lambda x: calls.append(x) or x.upper(), shifted)
    paired = rasp.SequenceMap(lambda x, y: x + y, shifted, rasp.tokens)
    assert evaluate(shifted, list("abc")) == [None, "a", "b"]
    assert evaluate(mapped, list("abc")) == [None, "A", "B"]
    assert calls == ["a", "b"]  # the function never sees None
    assert evaluate(paired, list("abc")) == [None, "ab", "bc"]


def test_numerical_mean_over_a_none_is_none() -> None:
    first_is_none = rasp.Map(lambda i: None if i == 0 else 1, rasp.indices)
    everything = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.TRUE)
    mean = rasp.numerical(rasp.Aggregate(everything, rasp.numerical(first_is_none), default=0))
    assert evaluate(mean, list("ab")) == [None, None]


# -------------------------------------------------------------------------------- Aggregate semantics
def test_categorical_aggregate_gives_default_where_nothing_is_selected() -> None:
    nothing = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.FALSE)
    assert evaluate(rasp.Aggregate(nothing, rasp.tokens), list("ab")) == [None, None]
    assert evaluate(rasp.Aggregate(nothing, rasp.tokens, default="z"), list("ab")) == ["z", "z"]


def test_categorical_aggregate_copies_the_single_selected_value() -> None:
    previous = rasp.Select(rasp.indices, rasp.indices, lambda k, q: k == q - 1)
    assert evaluate(rasp.Aggregate(previous, rasp.tokens), list("abc")) == [None, "a", "b"]


def test_categorical_aggregate_over_equal_values_gives_that_value() -> None:
    same_token = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)
    assert evaluate(rasp.Aggregate(same_token, rasp.tokens), list("aba")) == ["a", "b", "a"]


def test_categorical_aggregate_over_different_values_raises() -> None:
    everything = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.TRUE)
    with pytest.raises(EvaluationError, match=r"picked several positions with different values \['a', 'b'\]"):
        evaluate(rasp.Aggregate(everything, rasp.tokens).named("mixed"), list("ab"))


def test_numerical_aggregate_averages_the_selected_values() -> None:
    up_to_here = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    mean = rasp.numerical(rasp.Aggregate(up_to_here, rasp.numerical(rasp.tokens + 0), default=0))
    assert evaluate(mean, [4, 2, 6, 0]) == [4.0, 3.0, 4.0, 3.0]


def test_selector_width_counts_selected_keys() -> None:
    same_token = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)
    assert evaluate(rasp.SelectorWidth(same_token), list("abac")) == [2, 1, 2, 1]


def test_length_full_and_constants() -> None:
    assert evaluate(rasp.length, list("abc")) == [3, 3, 3]
    assert evaluate(rasp.Full(7), list("ab")) == [7, 7]
    assert evaluate(rasp.ConstantSOp([1, 2], check_length=False), list("abc")) == [1, 2]
    with pytest.raises(EvaluationError, match="constant has length 2 but the input has length 3"):
        evaluate(rasp.ConstantSOp([1, 2]), list("abc"))


def test_raising_function_is_reported_with_its_label_and_input() -> None:
    inverse = rasp.Map(lambda x: 1 / x, rasp.indices, simplify=False).named("inverse")
    with pytest.raises(EvaluationError, match=r"'inverse': its function raised ZeroDivisionError: .* on input \(0,\)"):
        evaluate(inverse, list("ab"))


# ------------------------------------------------------------------------------------------ causal mode
def test_causal_mode_masks_every_selector_to_earlier_positions() -> None:
    everything = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE)
    assert evaluate(everything, list("abc"), causal=True) == _matrix("100/110/111")
    assert evaluate(rasp.SelectorWidth(everything), list("abcd"), causal=True) == [1, 2, 3, 4]
    assert evaluate(rasp.SelectorWidth(everything), list("abcd")) == [4, 4, 4, 4]


def test_causal_mode_masks_negated_and_combined_selectors() -> None:
    later = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.GT)
    same_token = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)
    assert evaluate(rasp.SelectorNot(later), list("abc"), causal=True) == _matrix("100/110/111")
    assert evaluate(rasp.SelectorOr(later, same_token), list("aba"), causal=True) == _matrix("100/010/101")
    assert evaluate(rasp.ConstantSelector([[1, 1], [1, 1]]), list("ab"), causal=True) == _matrix("10/11")


def test_causal_mode_does_not_change_frac_prevs() -> None:
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    frac_prevs = rasp.numerical(rasp.Aggregate(prevs, rasp.numerical(rasp.tokens == "x"), default=0))
    assert evaluate(frac_prevs, list("xacx"), causal=True) == evaluate(frac_prevs, list("xacx"))


def test_causal_mode_changes_a_mean_over_the_whole_input() -> None:
    everything = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.TRUE)
    mean = rasp.numerical(rasp.Aggregate(everything, rasp.numerical(rasp.tokens == "x"), default=0))
    assert evaluate(mean, list("axx")) == [2 / 3] * 3
    assert evaluate(mean, list("axx"), causal=True) == [0.0, 0.5, 2 / 3]


def test_rasp_evaluate_forwards_the_causal_flag() -> None:
    everything = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE)
    assert rasp.evaluate(rasp.SelectorWidth(everything), list("ab"), causal=True) == [1, 2]


# ------------------------------------------------------------------------- combined selectors and None
def _shifted() -> rasp.SOp:
    """tokens one position later: None at position 0."""
    previous = rasp.Select(rasp.indices, rasp.indices, lambda k, q: q == k + 1)
    return rasp.Aggregate(previous, rasp.tokens).named("shifted")


def test_negated_selector_never_selects_a_none_key_or_query() -> None:
    # shifted = [None, "a"]: the Select decides only (q=1, k=1), so its negation picks nothing else either.
    shifted = _shifted()
    same = rasp.Select(shifted, shifted, rasp.Comparison.EQ)
    assert evaluate(rasp.SelectorNot(same), list("aa")) == _matrix("00/00")
    assert evaluate(rasp.SelectorNot(same), list("ab")) == _matrix("00/00")
    assert evaluate(rasp.SelectorNot(same), list("abb")) == _matrix("000/001/010")
    assert evaluate(rasp.SelectorWidth(rasp.SelectorNot(same)), list("aa")) == [0, 0]


def test_and_or_decide_only_where_every_select_has_a_key_and_a_query() -> None:
    shifted = _shifted()
    everything = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.TRUE)
    never = rasp.Select(shifted, shifted, rasp.Comparison.FALSE)
    assert evaluate(rasp.SelectorOr(everything, never), list("ab")) == _matrix("00/01")
    assert evaluate(rasp.SelectorNot(rasp.SelectorAnd(everything, never)), list("ab")) == _matrix("00/01")


def test_negation_in_causal_mode_stays_within_earlier_positions_with_values() -> None:
    shifted = _shifted()
    same = rasp.Select(shifted, shifted, rasp.Comparison.EQ)
    assert evaluate(rasp.SelectorNot(same), list("abc"), causal=True) == _matrix("000/000/010")


# ---------------------------------------------------------------------------------------- subclasses
class _ShoutingMap(rasp.Map):
    """A user's subclass of a RASP class."""


class _NarrowSelect(rasp.Select):
    """A user's subclass of a RASP selector."""


def test_subclasses_of_rasp_classes_evaluate_like_their_base() -> None:
    shout = _ShoutingMap(lambda x: x.upper(), rasp.tokens)
    same = _NarrowSelect(shout, shout, rasp.Comparison.EQ)
    assert evaluate(shout, list("ab")) == ["A", "B"]
    assert evaluate(rasp.SelectorWidth(same), list("aba")) == [2, 1, 2]
    assert evaluate(rasp.Map(lambda x: x + "!", shout, simplify=False), list("a")) == ["A!"]


def test_unknown_expression_type_is_an_evaluation_error_naming_it() -> None:
    class Opaque(rasp.SOp):
        @property
        def children(self) -> tuple[rasp.RASPExpr, ...]:
            return ()

    with pytest.raises(EvaluationError, match=r"'mystery': cannot evaluate expressions of type Opaque"):
        evaluate(rasp.Map(lambda x: x, Opaque().named("mystery")), list("a"))
