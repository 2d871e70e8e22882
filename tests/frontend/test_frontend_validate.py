"""Validation: every construct the compiler cannot take is reported with its label and a reason."""

from __future__ import annotations

import math
import re

import pytest

from optracr import programs, rasp
from optracr.errors import CompileError
from optracr.frontend import ProgramErrors, analyse, validate

VOCAB = {"a", "b"}
_EVERY = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.TRUE)
_PREVS = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
_SAME_INDEX = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.EQ)


def _is_a() -> rasp.SOp:
    return rasp.numerical(rasp.tokens == "a").named("is_a")


def test_valid_program_passes() -> None:
    frac = rasp.numerical(rasp.Aggregate(_PREVS, _is_a(), default=0)).named("frac")
    graph = analyse(frac, VOCAB, 3)
    assert graph.sink == "frac" and graph.encoding("frac") is rasp.Encoding.NUMERICAL


def test_selectors_combined_over_different_sops_pass_as_one_conjunction() -> None:
    combined = rasp.SelectorAnd(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ), _PREVS).named("both")
    graph = analyse(rasp.numerical(rasp.Aggregate(combined, _is_a(), default=0)), VOCAB, 3)
    assert isinstance(graph.expr("both"), rasp.SelectorAnd)


def test_numerical_select_inputs_get_a_categorical_copy() -> None:
    selector = rasp.Select(_is_a(), rasp.tokens, lambda key, query: key == (query == "a")).named("by_number")
    graph = analyse(rasp.SelectorWidth(selector), VOCAB, 3)
    assert graph.expr("by_number").keys.label == "is_a_as_categorical"
    assert graph.encoding("is_a_as_categorical") is rasp.Encoding.CATEGORICAL


@pytest.mark.parametrize("name", ["tokens", "indices"])
def test_numerical_tokens_or_indices_at_every_use(name: str) -> None:
    reader = rasp.numerical(rasp.Map(lambda x: x, rasp.numerical(getattr(rasp, name)), simplify=False))
    message = (
        f"'reader': '{name}' is annotated numerical here, but `{name}` is embedded one-hot, so it must be "
        f"categorical; read a numerical copy with rasp.numerical(rasp.Map(lambda x: x, rasp.{name}))"
    )
    with pytest.raises(CompileError, match=re.escape(message)):
        analyse(rasp.SequenceMap(lambda x, y: x, rasp.tokens, rasp.categorical(reader.named("reader"))), {1, 2}, 3)
    with pytest.raises(CompileError, match=re.escape(f"'{name}': '{name}' is annotated numerical here")):
        analyse(rasp.numerical(getattr(rasp, name)), {1, 2}, 3)
    # Tracing merges both uses into one node, whichever encoding it keeps: the numerical use is reported.
    both = rasp.SequenceMap(lambda x, y: x, getattr(rasp, name), rasp.categorical(reader.named("reader")))
    with pytest.raises(CompileError, match=re.escape(message)):
        analyse(rasp.SequenceMap(lambda x, y: x, both, rasp.tokens), {1, 2}, 3)


def test_categorical_aggregate_whose_selector_picks_several_key_values() -> None:
    program = rasp.Aggregate(_PREVS.named("prevs"), rasp.tokens).named("copied")
    with pytest.raises(CompileError, match=re.escape(
        "'copied': a categorical Aggregate needs a selector that picks at most one position, but 'prevs' "
        "picks keys [0, 1] for query 1; make the output numerical or make the selector unique"
    )):
        analyse(program, VOCAB, 3)


def test_categorical_aggregate_with_a_unique_selector_passes() -> None:
    previous = rasp.Select(rasp.indices, rasp.indices, lambda k, q: k == q - 1)
    analyse(rasp.Aggregate(previous, rasp.tokens), VOCAB, 3)


def test_numerical_aggregate_of_a_categorical_sop() -> None:
    program = rasp.numerical(rasp.Aggregate(_PREVS, (rasp.tokens == "a").named("bools"), default=0)).named("mean")
    with pytest.raises(CompileError, match=re.escape(
        "'mean': a numerical Aggregate averages a numerical s-op, but 'bools' is categorical; annotate it with "
        "rasp.numerical (its values must be numbers)"
    )):
        analyse(program, VOCAB, 3)


def test_categorical_aggregate_of_a_numerical_sop() -> None:
    program = rasp.Aggregate(_SAME_INDEX, _is_a()).named("copy")
    with pytest.raises(CompileError, match=re.escape(
        "'copy': a categorical Aggregate copies a categorical s-op, but 'is_a' is numerical; make the Aggregate "
        "numerical (rasp.numerical) or the s-op categorical"
    )):
        analyse(program, VOCAB, 3)


@pytest.mark.parametrize("default", [1, None, 0.5])
def test_numerical_default_other_than_zero(default: object) -> None:
    program = rasp.numerical(rasp.Aggregate(_PREVS, _is_a(), default=default)).named("mean")
    with pytest.raises(CompileError, match=re.escape(
        f"'mean': a numerical Aggregate reads 0 where nothing is selected, but its default is {default!r}; "
        "use default=0"
    )):
        analyse(program, VOCAB, 3)


def test_categorical_default_other_than_none() -> None:
    program = rasp.Aggregate(_SAME_INDEX, rasp.tokens, default="a").named("copy")
    with pytest.raises(CompileError, match=re.escape(
        "'copy': a categorical Aggregate outputs nothing (None) where nothing is selected, but its default is "
        "'a'; use default=None"
    )):
        analyse(program, VOCAB, 3)


def test_program_that_never_reads_tokens() -> None:
    program = (rasp.indices + 1).named("next_index")
    with pytest.raises(CompileError, match=re.escape(
        "'next_index': the program never reads `tokens`; a compiled model must depend on its input"
    )):
        analyse(program, VOCAB, 3)


def test_sequence_maps_reading_numerical_inputs_become_lookups_over_categorical_copies() -> None:
    product = rasp.numerical(rasp.SequenceMap(lambda x, y: x + y, _is_a(), rasp.indices)).named("total")
    mixed = rasp.LinearSequenceMap(_is_a(), rasp.indices, 1, 1).named("mixed")
    for program in (product, mixed):
        graph = analyse(program, VOCAB, 3)
        assert "is_a_as_categorical" in graph.graph and type(graph.expr(program.label)) is rasp.SequenceMap


def test_linear_sequence_maps_of_two_numerical_or_two_categorical_inputs_pass() -> None:
    is_b = rasp.numerical(rasp.tokens == "b").named("is_b")
    analyse(rasp.numerical(rasp.LinearSequenceMap(_is_a(), is_b, 1, -1)), VOCAB, 3)
    analyse(rasp.LinearSequenceMap(rasp.indices, rasp.tokens == "a", 2, 1), VOCAB, 3)


def test_constant_sop() -> None:
    program = rasp.SequenceMap(lambda x, y: x, rasp.tokens, rasp.ConstantSOp(["a", "b"]).named("fixed"))
    with pytest.raises(CompileError, match=re.escape(
        "'fixed': ConstantSOp is not compilable; compute it from indices with rasp.Map instead"
    )):
        analyse(program, VOCAB, 2)


def test_constant_selector() -> None:
    program = rasp.SelectorWidth(rasp.ConstantSelector([[True, False], [True, True]]).named("fixed")) + 0
    program = rasp.SequenceMap(lambda x, y: x, program, rasp.tokens)
    with pytest.raises(CompileError, match=re.escape(
        "'fixed': ConstantSelector is not compilable; use rasp.Select on s-ops instead"
    )):
        analyse(program, VOCAB, 2)


def test_predicate_that_raises_on_some_values() -> None:
    selector = rasp.Select(rasp.tokens, rasp.tokens, lambda k, q: k < 1).named("bad_compare")
    with pytest.raises(CompileError, match=re.escape(
        "'bad_compare': its predicate raised TypeError on key 'a', query 'a'; the predicate must answer for "
        "every key and query value"
    )):
        analyse(rasp.SelectorWidth(selector), {"a"}, 2)


def test_sop_without_any_value() -> None:
    with pytest.raises(CompileError, match=re.escape(
        "'nothing': this s-op can take no value on any input (its function raised or returned None everywhere)"
    )):
        analyse(rasp.Map(lambda x: None, rasp.tokens).named("nothing"), VOCAB, 2)


def test_numerical_sop_with_non_numbers() -> None:
    program = rasp.numerical(rasp.Map(lambda x: x, rasp.tokens)).named("letters")
    with pytest.raises(CompileError, match=re.escape(
        "'letters': it is numerical but can take non-numbers ['a', 'b']; make it categorical or return numbers"
    )):
        analyse(program, VOCAB, 2)


def _shift() -> rasp.SOp:
    return programs.shift_by(1, rasp.tokens).named("shift")  # None at position 0


def test_numerical_map_whose_function_returns_none() -> None:
    program = rasp.numerical(rasp.Map(lambda t: None if t == "a" else 1, rasp.tokens)).named("x")
    with pytest.raises(CompileError, match=re.escape(
        "'x': a numerical s-op cannot be None (its direction would read 0), but it is None where its function "
        "returns None (on input 'a'); make it categorical, or have the function return a number there"
    )):
        analyse(program, VOCAB, 3)


def test_numerical_sequence_map_whose_function_returns_none() -> None:
    program = rasp.numerical(rasp.SequenceMap(lambda t, i: None if i == 2 else 1, rasp.tokens, rasp.indices))
    with pytest.raises(CompileError, match=re.escape("it is None where its function returns None (on input ('a', 2))")):
        analyse(program.named("y"), VOCAB, 3)


def test_numerical_map_of_a_sop_that_may_be_none() -> None:
    program = rasp.numerical(rasp.Map(lambda t: 1 if t == "a" else 0, _shift(), simplify=False)).named("x")
    with pytest.raises(CompileError, match=re.escape(
        "'x': a numerical s-op cannot be None (its direction would read 0), but it is None where its input "
        "'shift' has no value; make it categorical, or give the input a value everywhere"
    )):
        analyse(program, VOCAB, 3)


def test_every_numerical_sop_that_may_be_none_is_reported() -> None:
    is_a = rasp.numerical(rasp.Map(lambda t: 1 if t == "a" else 0, _shift(), simplify=False)).named("is_a")
    mean = rasp.numerical(rasp.Aggregate(_PREVS, is_a, default=0)).named("mean")
    with pytest.raises(ProgramErrors) as caught:
        analyse(mean, VOCAB, 3)
    assert [error.label for error in caught.value.errors] == ["is_a", "mean"]
    assert "where its input 'is_a' has no value" in str(caught.value.errors[1])


def test_numerical_aggregate_with_default_none_is_reported_once() -> None:
    program = rasp.numerical(rasp.Aggregate(_PREVS, _is_a(), default=None)).named("mean")
    with pytest.raises(CompileError) as caught:
        analyse(program, VOCAB, 3)
    assert not isinstance(caught.value, ProgramErrors)
    assert "use default=0" in str(caught.value)


def test_categorical_sops_that_may_be_none_pass() -> None:
    analyse(rasp.Map(lambda t: t.upper(), _shift(), simplify=False), VOCAB, 3)
    analyse(rasp.Map(lambda t: None if t == "a" else t, rasp.tokens), VOCAB, 3)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "minus_inf"])
def test_numerical_sop_that_is_not_finite(bad: float) -> None:
    program = rasp.numerical(rasp.Map(lambda t: bad if t == "a" else 1.0, rasp.tokens)).named("ratio")
    with pytest.raises(CompileError, match=re.escape(
        f"'ratio': it is numerical but can take [{bad!r}]; a residual direction holds finite numbers only, so "
        "return finite numbers"
    )):
        analyse(program, VOCAB, 3)


@pytest.mark.parametrize("name", sorted(programs.LIBRARY))
def test_every_library_program_passes_analysis(name: str) -> None:
    entry = programs.LIBRARY[name]
    graph = analyse(entry.build(), entry.vocab, entry.max_seq_len)
    assert validate(graph) == []
    if entry.causal:
        analyse(entry.build(), entry.vocab, entry.max_seq_len, causal=True)


def test_several_problems_are_reported_together() -> None:
    program = rasp.SequenceMap(
        lambda x, y: x,
        rasp.Aggregate(_SAME_INDEX, rasp.tokens, default="a").named("first"),
        rasp.Aggregate(_PREVS, rasp.tokens).named("second"),
    )
    with pytest.raises(ProgramErrors, match=r"2 problem\(s\) found") as caught:
        analyse(program, VOCAB, 3)
    assert sorted(error.label for error in caught.value.errors) == ["first", "second"]


# --------------------------------------------------------------------------------------------- options
@pytest.mark.parametrize(
    ("vocab", "max_seq_len", "options", "message"),
    [
        ({"a", "BOS"}, 3, {}, "the BOS token 'BOS' is also in the vocabulary; pick a BOS token outside it"),
        ({"a", "PAD"}, 3, {}, "the PAD token 'PAD' is also in the vocabulary; pick a PAD token outside it"),
        ({"a", "<s>"}, 3, {"bos": "<s>"}, "the BOS token '<s>' is also in the vocabulary"),
        (set(), 3, {}, "the vocabulary is empty; pass the input tokens, e.g. vocab={'a', 'b'}"),
        ({"a"}, 0, {}, "max_seq_len must be an integer >= 1, got 0"),
        ({"a"}, -2, {}, "max_seq_len must be an integer >= 1, got -2"),
        ({"a"}, 2.5, {}, "max_seq_len must be an integer >= 1, got 2.5"),
        ({"a", None}, 3, {}, "the vocabulary contains None, which RASP uses for 'no value'; remove it"),
        ({"a"}, 3, {"bos": "X", "pad": "X"}, "BOS and PAD are both 'X'; they must differ"),
    ],
    ids=["bos", "pad", "custom_bos", "empty", "zero_len", "negative_len", "float_len", "none", "bos_is_pad"],
)
def test_bad_options_are_reported(vocab: set, max_seq_len: object, options: dict, message: str) -> None:
    with pytest.raises(CompileError, match=re.escape(message)) as caught:
        analyse(rasp.tokens == "a", vocab, max_seq_len, **options)
    assert caught.value.label is None


def test_length_under_causal_compilation_is_rejected() -> None:
    from optracr import frontend

    program = rasp.length - rasp.indices
    frontend.analyse(program, {"a"}, 3)  # fine without causal
    with pytest.raises(CompileError, match="causal model cannot see"):
        frontend.analyse(program, {"a"}, 3, causal=True)


def test_a_key_without_value_is_selected_by_no_predicate() -> None:
    previous = rasp.Select(rasp.indices, rasp.indices, lambda key, query: key == query - 1)
    shifted = rasp.Aggregate(previous, rasp.tokens)  # None at position 0
    anything = rasp.Select(shifted, rasp.tokens, lambda key, query: True)
    assert rasp.evaluate(rasp.SelectorWidth(anything), ["a", "b", "c"]) == [2, 2, 2]


def test_categorical_linear_sequence_map_of_numerical_inputs_is_a_lookup() -> None:
    x = rasp.numerical(rasp.Map(lambda t: 1 if t == "a" else 0, rasp.tokens))
    y = rasp.numerical(rasp.Map(lambda t: 1 if t == "b" else 0, rasp.tokens))
    graph = analyse(rasp.LinearSequenceMap(x, y, 1, 1), {"a", "b"}, 3)
    assert type(graph.expr(graph.sink)) is rasp.SequenceMap  # over the categorical copies of x and y
    numerical = rasp.numerical(rasp.LinearSequenceMap(x, y, 1, 1))
    assert isinstance(analyse(numerical, {"a", "b"}, 3).expr(numerical.label), rasp.LinearSequenceMap)


@pytest.mark.parametrize(
    ("program", "vocab", "message"),
    [
        ("tokens", {"a"}, "must be an s-op"),
        (rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ), {"a"}, "must be an s-op"),
        (rasp.tokens == "a", [["a"]], "must be hashable"),
    ],
)
def test_malformed_arguments_get_a_compile_error(program: object, vocab: object, message: str) -> None:
    with pytest.raises(CompileError, match=message):
        analyse(program, vocab, 3)
