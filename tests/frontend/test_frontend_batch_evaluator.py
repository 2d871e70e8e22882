"""The batch evaluator gives exactly what ``evaluate`` gives, input by input: values, their types, and where
``evaluate`` raises ``EvaluationError`` (None)."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optracr import frontend
from optracr.generate import random_programs
from optracr.frontend import batch_evaluator
from optracr.frontend import rasp
from optracr.errors import OptracrTypeError


def _one_by_one(program: rasp.SOp, inputs: list, causal: bool = False) -> list:
    results = []
    for xs in inputs:
        try:
            results.append(frontend.evaluate(program, list(xs), causal=causal))
        except frontend.EvaluationError:
            results.append(None)
    return results


def _typed(results: list) -> list:
    """Each value with its type and repr, so 1, 1.0 and True (or 0.0 and -0.0) differ."""
    return [None if row is None else [(type(v), repr(v)) for v in row] for row in results]


def _assert_same(program: rasp.SOp, inputs: list, causal: bool = False) -> list:
    got = frontend.evaluate_batch(program, inputs, causal=causal)
    assert _typed(got) == _typed(_one_by_one(program, inputs, causal))
    return got


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    generated=random_programs.programs(min_sops=2, max_sops=10, vocab=frozenset("abc"), max_seq_len=4, causal=None),
    causal=st.booleans(),
)
def test_batch_matches_evaluate_on_every_input_of_random_programs(
    generated: random_programs.GeneratedProgram, causal: bool
) -> None:
    inputs = list(frontend.all_inputs(sorted(generated.vocab), generated.max_seq_len))
    _assert_same(generated.program, inputs, causal)


def test_a_map_that_raises_makes_exactly_its_inputs_undefined() -> None:
    table = {"a": 1, "b": 2}  # no "c"
    doubled = rasp.numerical(rasp.Map(lambda x: 2 * table[x], rasp.tokens))
    got = _assert_same(doubled, [("a", "b"), ("a", "c"), ("c",), ("b",)])
    assert got == [[2, 4], None, None, [4]]


def test_a_predicate_that_raises_only_where_it_is_called() -> None:
    # evaluate calls the predicate only on (key, query) pairs that both have a value
    maybe = rasp.Map(lambda x: None if x == "c" else x, rasp.tokens)
    picky = rasp.Select(maybe, maybe, lambda k, q: {"a": True, "b": False}[k] and q != "zz")
    widths = rasp.SelectorWidth(picky)
    got = _assert_same(widths, [("a", "c"), ("c", "c"), ("b", "a")])
    assert got == [[1, 0], [0, 0], [1, 1]]


def test_a_categorical_aggregate_of_differing_values_is_undefined() -> None:
    everything = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE)
    copied = rasp.categorical(rasp.Aggregate(everything, rasp.tokens))
    got = _assert_same(copied, [("a", "a"), ("a", "b"), ("b",)])
    assert got == [["a", "a"], None, ["b"]]


def test_typed_values_stay_apart() -> None:
    kinds = rasp.Map(lambda x: {"a": 1, "b": 1.0, "c": True}[x], rasp.tokens)
    named = rasp.Map(lambda v: f"{type(v).__name__}:{v}", kinds, simplify=False)
    got = _assert_same(named, [("a", "b", "c")])
    assert got == [["int:1", "float:1.0", "bool:True"]]


def test_negative_zero_stays_apart_from_zero() -> None:
    zeros = rasp.Map(lambda x: -0.0 if x == "a" else 0.0, rasp.tokens)
    signs = rasp.Map(lambda v: math.copysign(1.0, v), zeros, simplify=False)
    assert _assert_same(signs, [("a", "b")]) == [[-1.0, 1.0]]


def test_numerical_means_are_bit_for_bit_those_of_evaluate() -> None:
    weights = rasp.numerical(rasp.Map(lambda x: {"a": 0.1, "b": 0.2, "c": 0.7}[x], rasp.tokens))
    prefix = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    mean = rasp.numerical(rasp.Aggregate(prefix, weights, default=0))
    inputs = list(frontend.all_inputs(["a", "b", "c"], 5))
    got = _assert_same(mean, inputs)
    assert got[inputs.index(("a", "b", "c"))] == [0.1, (0.1 + 0.2) / 2, (0.1 + 0.2 + 0.7) / 3]


def test_numerical_aggregate_defaults_are_floats_and_none_is_kept() -> None:
    later = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.GT)
    ones = rasp.numerical(rasp.Map(lambda x: None if x == "c" else 1, rasp.tokens))
    mean = rasp.numerical(rasp.Aggregate(later, ones, default=0))
    got = _assert_same(mean, [("a", "a", "b"), ("a", "c", "a")])
    assert got == [[1.0, 1.0, 0.0], [None, 1.0, 0.0]]
    assert type(got[0][2]) is float


def test_large_integers_are_left_to_evaluate() -> None:
    huge = rasp.numerical(rasp.Map(lambda x: 2**60 + (x == "a"), rasp.tokens))
    everything = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE)
    mean = rasp.numerical(rasp.Aggregate(everything, huge, default=0))
    _assert_same(mean, list(frontend.all_inputs(["a", "b"], 3)))


def test_unhashable_values_are_left_to_evaluate() -> None:
    listed = rasp.Map(lambda x: [x], rasp.tokens)
    back = rasp.Map(lambda v: v[0] * 2, listed, simplify=False)
    assert _assert_same(back, [("a", "b")]) == [["aa", "bb"]]


def test_errors_other_than_evaluation_errors_propagate() -> None:
    words = rasp.numerical(rasp.Map(lambda x: x * 2, rasp.tokens))
    everything = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE)
    mean = rasp.numerical(rasp.Aggregate(everything, words, default=0))
    with pytest.raises(TypeError):
        frontend.evaluate(mean, ["a", "b"])
    with pytest.raises(TypeError):
        frontend.evaluate_batch(mean, [("a", "b")])


def test_constants_of_another_length() -> None:
    checked = rasp.ConstantSOp([1, 2])
    assert _assert_same(rasp.Map(lambda x: x + 1, checked), [("a", "b"), ("a",)]) == [[2, 3], None]
    unchecked = rasp.ConstantSOp([1, 2], check_length=False)
    _assert_same(rasp.Map(lambda x: x + 1, unchecked), [("a", "b"), ("a",), ("a", "b", "c")])
    square = rasp.ConstantSelector([[True, False], [True, True]])
    _assert_same(rasp.SelectorWidth(square), [("a", "b"), ("a",)])


def test_causal_masks_later_keys() -> None:
    everything = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE)
    widths = rasp.SelectorWidth(everything)
    assert _assert_same(widths, [("a", "b", "c")], causal=True) == [[1, 2, 3]]
    negated = rasp.SelectorWidth(~rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ))
    assert _assert_same(negated, [("a", "b", "a")], causal=True) == [[0, 1, 1]]


def test_inputs_of_several_lengths_come_back_in_order() -> None:
    inputs = [("a", "b", "c"), ("b",), ("c", "a"), ("a",), ()]
    got = _assert_same(rasp.Map(lambda x: x.upper(), rasp.tokens), inputs)
    assert got == [["A", "B", "C"], ["B"], ["C", "A"], ["A"], []]


def test_a_selector_is_refused_by_name() -> None:
    selector = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ).named("same_token")
    with pytest.raises(OptracrTypeError, match="same_token"):
        batch_evaluator.evaluate_batch(selector, [("a",)])


def test_errors_past_a_shorter_input_s_end_do_not_count() -> None:
    # inputs of several lengths are evaluated padded to the longest: index 3 exists only in the longest input
    shifted = rasp.Map(lambda i: 12 // (3 - i), rasp.indices)
    everything = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE)
    summed = rasp.numerical(rasp.Aggregate(everything, rasp.numerical(rasp.Map(lambda v: v, shifted)), default=0))
    inputs = [("a",), ("a", "b", "c", "a"), ("b", "c"), ("c", "b", "a")]
    got = _assert_same(summed, inputs)
    assert got[1] is None and got[0] == [4.0] and got[2] == [5.0, 5.0] and got[3] == [22 / 3] * 3


def test_length_is_each_input_s_own() -> None:
    assert _assert_same(rasp.Map(lambda n: n * 10, rasp.length), [("a", "b"), ("c",), ("a", "a", "a")]) == [
        [20, 20], [10], [30, 30, 30]
    ]


def test_a_sequence_map_never_runs_past_a_shorter_input_s_end() -> None:
    paired = rasp.SequenceMap(lambda token, i: f"{token}{12 // (3 - i)}", rasp.tokens, rasp.indices)
    got = _assert_same(paired, [("a", "b"), ("a", "b", "c", "a"), ("c",)])
    assert got == [["a4", "b6"], None, ["c4"]]


def test_a_predicate_never_runs_past_a_shorter_input_s_end() -> None:
    wary = rasp.Select(rasp.indices, rasp.indices, lambda key, query: 12 // (3 - key) > query)
    got = _assert_same(rasp.SelectorWidth(wary), [("a", "b"), ("a", "b", "c", "a"), ("c",)])
    assert got == [[2, 2], None, [1]]
