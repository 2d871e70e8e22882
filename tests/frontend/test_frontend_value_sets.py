"""Value-set inference: the rules, and a property test that sets cover every value the evaluator produces."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings

from optracr import rasp
from optracr.generate import random_programs
from optracr.errors import CompileError
from optracr.frontend import InputSpec, ProgramGraph, analyse, evaluate, infer_value_sets, trace

_PREVS = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)


def _values(program: rasp.SOp, vocab: set, max_seq_len: int) -> ProgramGraph:
    return infer_value_sets(trace(program), InputSpec(vocab, max_seq_len))


def test_inputs_and_selector_width_value_sets() -> None:
    width = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)).named("width")
    graph = _values(rasp.SequenceMap(lambda x, y: (x, y), width, rasp.indices), {"a", "b"}, 3)
    assert graph.value_set("tokens") == {"a", "b"}
    assert graph.value_set("indices") == {0, 1, 2}
    assert graph.value_set("width") == {0, 1, 2, 3}


def test_length_value_set_is_one_to_max_seq_len() -> None:
    graph = _values(rasp.SequenceMap(lambda x, y: x, rasp.length, rasp.tokens), {"a"}, 4)
    assert graph.value_set("length") == {1, 2, 3, 4}


def test_map_and_sequence_map_apply_the_function_to_every_input_value() -> None:
    doubled = (rasp.indices * 2).named("doubled")
    pairs = rasp.SequenceMap(lambda x, y: f"{x}{y}", rasp.tokens, rasp.indices).named("pairs")
    graph = _values(rasp.SequenceMap(lambda x, y: x, doubled, pairs), {"a", "b"}, 2)
    assert graph.value_set("doubled") == {0, 2}
    assert graph.value_set("pairs") == {"a0", "a1", "b0", "b1"}


def test_sequence_map_of_one_sop_with_itself_pairs_equal_values_only() -> None:
    graph = _values(rasp.SequenceMap(lambda x, y: (x, y), rasp.tokens, rasp.tokens).named("same"), {"a", "b"}, 2)
    assert graph.value_set("same") == {("a", "a"), ("b", "b")}


def test_none_is_never_a_value() -> None:
    graph = _values(rasp.Map(lambda x: None if x == "a" else x, rasp.tokens).named("maybe"), {"a", "b"}, 2)
    assert graph.value_set("maybe") == {"b"}


def test_categorical_aggregate_takes_the_values_of_its_sop_plus_a_default() -> None:
    copy = rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.EQ), rasp.tokens).named("copy")
    graph = _values(rasp.SequenceMap(lambda x, y: x, copy, copy.named("copy_b")), {"a", "b"}, 2)
    assert graph.value_set("copy") == {"a", "b"}
    with_default = rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.EQ), rasp.tokens, "z")
    assert _values(with_default.named("d"), {"a"}, 2).value_set("d") == {"a", "z"}


def test_numerical_mean_includes_every_fraction_k_over_n() -> None:
    frac = rasp.numerical(rasp.Aggregate(_PREVS, rasp.numerical(rasp.tokens == "x"), default=0)).named("frac")
    values = _values(frac, {"x", "y"}, 3).value_set("frac")
    expected = {Fraction(k, n) for n in (1, 2, 3) for k in range(n + 1)}
    assert {Fraction(v).limit_denominator(100) for v in values} == expected
    assert 2 / 3 in values  # 2/3 is no v/n for a 0/1 value v: the reference misses it


def test_numerical_mean_of_several_values_includes_mixed_means() -> None:
    mean = rasp.numerical(rasp.Aggregate(_PREVS, rasp.numerical(rasp.tokens + 0), default=0)).named("mean")
    values = _values(mean, {1, 4}, 2).value_set("mean")
    assert values == {0.0, 1.0, 4.0, 2.5}  # means and the default, all floats (as the evaluator gives them)


def test_a_numerical_mean_with_too_many_values_is_reported() -> None:
    mean = rasp.numerical(rasp.Aggregate(_PREVS, rasp.numerical(rasp.tokens * 1.0), default=0)).named("mean")
    vocab = {1 / 7**k for k in range(12)}
    with pytest.raises(CompileError, match=r"'mean': a numerical mean over 12 input values and up to 20 positions"):
        _values(mean, vocab, 20)


def test_function_raising_on_one_value_drops_it() -> None:
    inverse = rasp.Map(lambda x: 1 / x, rasp.indices).named("inverse")
    graph = _values(inverse, {"a"}, 3)
    assert graph.value_set("inverse") == {1.0, 0.5}
    assert graph.dropped_inputs("inverse") == {0}


def test_sequence_map_raising_on_one_pair_drops_that_pair() -> None:
    ratio = rasp.SequenceMap(lambda x, y: x / y, rasp.indices, rasp.indices + 0).named("ratio")
    graph = _values(ratio, {"a"}, 2)
    assert graph.dropped_inputs("ratio") == {(0, 0), (1, 0)}
    assert graph.value_set("ratio") == {0.0, 1.0}


def test_infer_builds_a_program_graph_from_the_traced_program_and_keeps_it() -> None:
    traced = trace(rasp.tokens == "a")
    inferred = infer_value_sets(traced, InputSpec({"a"}, 2))
    assert not isinstance(traced, ProgramGraph) and isinstance(inferred, ProgramGraph)
    assert inferred.traced is traced and inferred.graph is traced.graph
    assert (inferred.input_spec.vocab, inferred.input_spec.max_seq_len) == ({"a"}, 2)


# ----------------------------------------------------------------------------------------- may_be_none
def _shift() -> rasp.SOp:
    """tokens one position later: None at position 0."""
    return rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices, lambda k, q: q == k + 1), rasp.tokens)


_EVERY = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.TRUE)


@pytest.mark.parametrize(
    ("make", "may_be_none"),
    [
        (lambda: rasp.tokens, False),
        (lambda: rasp.indices, False),
        (lambda: rasp.length, False),
        (lambda: rasp.SelectorWidth(rasp.Select(_shift(), _shift(), rasp.Comparison.EQ)), False),
        (lambda: rasp.Map(lambda t: t.upper(), rasp.tokens), False),
        (lambda: rasp.Map(lambda t: None if t == "a" else t, rasp.tokens), True),
        (lambda: rasp.Map(lambda t: t.upper(), _shift(), simplify=False), True),
        (lambda: rasp.SequenceMap(lambda t, i: t, rasp.tokens, rasp.indices), False),
        (lambda: rasp.SequenceMap(lambda t, i: None if i else t, rasp.tokens, rasp.indices), True),
        (lambda: rasp.SequenceMap(lambda t, s: t, rasp.tokens, _shift()), True),
        (lambda: _shift(), True),  # categorical: None where nothing is selected
        (lambda: rasp.numerical(rasp.Aggregate(_EVERY, rasp.numerical(rasp.tokens == "a"), default=0)), False),
        (lambda: rasp.numerical(rasp.Aggregate(_EVERY, rasp.numerical(rasp.Map(lambda t: 1, _shift())), 0)), True),
        (lambda: rasp.Full(3), False),
        (lambda: rasp.Full(None), True),
        (lambda: rasp.ConstantSOp([1, 2]), False),
        (lambda: rasp.ConstantSOp([1, None]), True),
    ],
    ids=[
        "tokens", "indices", "length", "selector_width", "map", "map_returning_none", "map_of_none",
        "sequence_map", "sequence_map_returning_none", "sequence_map_of_none", "categorical_aggregate",
        "numerical_aggregate", "numerical_aggregate_of_none", "full", "full_none", "constant", "constant_with_none",
    ],
)
def test_may_be_none_marks_exactly_the_sops_that_can_lack_a_value(make, may_be_none: bool) -> None:
    graph = _values(make(), {"a", "b"}, 3)
    assert graph.may_be_none(graph.sink) is may_be_none
    assert graph.values[graph.sink].may_be_none is may_be_none
    assert all(graph.may_be_none(label) is False for label in graph.graph if graph.encoding(label) is None)


# ------------------------------------------------------------------------------------- unhashable values
@pytest.mark.parametrize(
    ("program", "message"),
    [
        (rasp.Map(lambda x: [x], rasp.tokens), "on input 'a' its function returned ['a'], which is unhashable (list)"),
        (
            rasp.SequenceMap(lambda x, i: {x}, rasp.tokens, rasp.indices),
            "its function returned {'a'}, which is unhashable (set)",
        ),
        (rasp.Full([1]), "its fill [1], which is unhashable (list)"),
        (rasp.ConstantSOp([(1,), [2]]), "its value [2], which is unhashable (list)"),
        (rasp.Aggregate(_EVERY, rasp.tokens, default=[]), "its default [], which is unhashable (list)"),
    ],
    ids=["map", "sequence_map", "full", "constant", "default"],
)
def test_unhashable_values_are_a_compile_error_naming_the_sop(program: rasp.SOp, message: str) -> None:
    with pytest.raises(CompileError, match=r"values must be hashable") as caught:
        _values(program.named("unhashable"), ["a"], 2)
    assert caught.value.label == "unhashable"
    assert message in str(caught.value)
    assert "use a tuple instead of a list" in str(caught.value)


# ------------------------------------------------------------------------------------ the property test
_VOCAB = ("a", "b", "c")
_MAX_SEQ_LEN = 4
_INPUTS = [list(xs) for n in range(1, _MAX_SEQ_LEN + 1) for xs in itertools.product(_VOCAB, repeat=n)]
_INT_VOCAB = (0, 1, 2)
_INT_INPUTS = [list(xs) for n in range(1, _MAX_SEQ_LEN + 1) for xs in itertools.product(_INT_VOCAB, repeat=n)]


def _assert_value_sets_cover_evaluation(generated: random_programs.GeneratedProgram, inputs: list[list]) -> None:
    graph = analyse(generated.program, generated.vocab, generated.max_seq_len)
    sops = [label for label in graph.topological_labels() if graph.encoding(label) is not None]
    for causal in (False, True):
        for xs in inputs:
            for label in sops:
                produced = {v for v in evaluate(graph.expr(label), xs, causal=causal) if v is not None}
                missing = produced - graph.value_set(label)
                assert not missing, f"{label} produced {missing} on {xs} (causal={causal})"


_PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def test_exhaustive_inputs_cover_every_length() -> None:
    assert len(_INPUTS) == 3 + 9 + 27 + 81 and {len(xs) for xs in _INPUTS} == {1, 2, 3, 4}


@_PROPERTY_SETTINGS
@given(random_programs.programs(max_sops=10, vocab=_VOCAB, max_seq_len=_MAX_SEQ_LEN))
def test_value_sets_contain_every_evaluated_value(generated: random_programs.GeneratedProgram) -> None:
    _assert_value_sets_cover_evaluation(generated, _INPUTS)


@settings(_PROPERTY_SETTINGS, max_examples=60)
@given(random_programs.programs(max_sops=10, vocab=_INT_VOCAB, max_seq_len=_MAX_SEQ_LEN))
def test_value_sets_contain_every_evaluated_value_for_integer_tokens(
    generated: random_programs.GeneratedProgram,
) -> None:
    _assert_value_sets_cover_evaluation(generated, _INT_INPUTS)
