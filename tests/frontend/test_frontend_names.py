"""Labels: unique by construction, kept by copies only when chosen, made unique again by the tracer."""

from __future__ import annotations

import pytest

from optracr import rasp
from optracr.frontend import analyse, evaluate, trace
from optracr.errors import OptracrTypeError


def _labels(program: rasp.SOp) -> set[str]:
    return set(trace(program).graph)


def test_default_labels_name_the_type_and_differ() -> None:
    first, second = rasp.Map(str, rasp.tokens), rasp.Map(str, rasp.tokens)
    assert first.label.startswith("map_") and second.label.startswith("map_")
    assert first.label != second.label
    assert rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ).label.startswith("select_")


def test_copy_after_reading_the_label_gets_a_new_label() -> None:
    original = rasp.Map(lambda x: x + "!", rasp.tokens)
    seen = original.label
    duplicate = original.copy()
    assert duplicate.label != seen and duplicate.unique_id != original.unique_id
    both = rasp.SequenceMap(lambda x, y: x + y, original, duplicate)
    graph = trace(both)
    assert graph.label_of(original) != graph.label_of(duplicate)
    assert _labels(both) == {"tokens", seen, duplicate.label, both.label}


def test_copy_keeps_a_chosen_label() -> None:
    named = rasp.Map(str.upper, rasp.tokens).named("upper")
    assert named.copy().label == "upper" and rasp.numerical(named).label == "upper"
    assert named.name == "upper"


def test_same_name_twice_in_one_program_gives_distinct_graph_labels() -> None:
    is_a = (rasp.tokens == "a").named("flag")
    is_b = (rasp.tokens == "b").named("flag")
    program = (is_a | is_b).named("either")
    graph = analyse(program, {"a", "b", "c"}, 3)
    assert set(graph.graph) == {"tokens", "flag", "flag#2", "either"}
    assert {graph.label_of(is_a), graph.label_of(is_b)} == {"flag", "flag#2"}
    assert evaluate(graph.expr(graph.sink), list("abc")) == [True, True, False]


def test_user_label_equal_to_an_input_name_is_renamed() -> None:
    program = rasp.SequenceMap(lambda x, y: x + y, rasp.tokens, rasp.Map(str.upper, rasp.tokens).named("tokens"))
    assert _labels(program) == {"tokens", "tokens#2", program.label}


def test_every_tokens_expression_is_the_one_tokens_node() -> None:
    program = rasp.SequenceMap(lambda x, y: x + y, rasp.tokens, rasp.categorical(rasp.tokens))
    graph = trace(program)
    assert set(graph.graph) == {"tokens", program.label}
    assert graph.sources == ("tokens",)


def test_named_rejects_an_empty_or_non_string_label() -> None:
    with pytest.raises(OptracrTypeError, match="a RASP label must be a non-empty string"):
        rasp.tokens.named("")
    with pytest.raises(OptracrTypeError, match="a RASP label must be a non-empty string, got 3"):
        rasp.tokens.named(3)  # type: ignore[arg-type]
