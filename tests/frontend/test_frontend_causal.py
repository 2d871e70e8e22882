"""``frontend/causal.py``: which selectors can pick a later position, and what each ``causal`` option does."""

from __future__ import annotations

import warnings

import pytest

from optracr import rasp
from optracr.errors import CausalMeaningWarning, CompileError, OptracrBug
from optracr.frontend import LookAhead, analyse, check_looking_ahead, looking_ahead

VOCAB = {"a", "b"}


def _program() -> rasp.SOp:
    """A width whose selector looks ahead, read by a Map, and a width kept to earlier positions."""
    same = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ).named("same")
    earlier = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ).named("earlier")
    ahead = rasp.Map(lambda n: n + 1, rasp.SelectorWidth(same).named("ahead")).named("plus_one")
    so_far = rasp.SelectorWidth(same & earlier).named("so_far")
    return rasp.SequenceMap(lambda x, y: x - y, ahead, so_far).named("out")


def test_looking_ahead_finds_the_selectors_that_can_pick_a_later_key_with_a_witness_and_the_path() -> None:
    graph = analyse(_program(), VOCAB, 3)  # no causal: nothing is checked
    assert looking_ahead(graph) == [
        LookAhead("ahead", "same", "key 'a' for query 'a', wherever they stand", ("ahead", "plus_one", "out"))
    ]


def test_a_select_of_positions_is_checked_at_every_pair_of_positions() -> None:
    after = rasp.Select(rasp.indices, rasp.indices, lambda key, query: key == query + 2).named("after")
    graph = analyse(rasp.Aggregate(after, rasp.tokens).named("two_on"), VOCAB, 3)
    (found,) = looking_ahead(graph)
    assert found.witness == "key position 2 for query position 0" and found.reach == "it is the output"
    never = rasp.Select(rasp.indices, rasp.indices, lambda key, query: key == query + 3).named("never")
    assert looking_ahead(analyse(rasp.Aggregate(never, rasp.tokens), VOCAB, 3)) == []


@pytest.mark.parametrize(("causal", "outcome"), [(False, "nothing"), (True, "warning"), ("strict", "error")])
def test_each_causal_option_does_what_it_says_with_a_look_ahead_selector(causal, outcome: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            analyse(_program(), VOCAB, 3, causal=causal)
            refused = None
        except CompileError as error:
            refused = error
    assert [warning.category for warning in caught] == ([CausalMeaningWarning] if outcome == "warning" else [])
    assert (refused is not None) == (outcome == "error")
    if outcome == "warning":
        assert caught[0].message.label == "ahead"
        assert "the output reads it along ahead -> plus_one -> out" in str(caught[0].message)
    if outcome == "error":
        assert refused.label == "ahead" and "under causal='strict'" in str(refused)


def test_check_looking_ahead_without_causal_says_nothing() -> None:
    check_looking_ahead(analyse(_program(), VOCAB, 3))  # a warning would fail: pytest turns it into an error


def test_a_look_ahead_whose_path_does_not_start_at_its_expression_is_refused() -> None:
    with pytest.raises(OptracrBug, match="optracr bug: a LookAhead's path starts at its expression 'ahead', got \\('out',\\)"):
        LookAhead("ahead", "same", "anywhere", ("out",))
