"""Rewrites: length, Full and same-input selector combinations become compilable RASP that means the same."""

from __future__ import annotations

import itertools

import pytest

from optracr import rasp
from optracr.frontend import analyse, evaluate, rewrite

_INPUTS = [list(xs) for n in range(1, 5) for xs in itertools.product("ab", repeat=n)]
_LT = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LT)
_SAME_TOKEN_LT = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LT)
_SAME_TOKEN_EQ = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)


def _assert_same_meaning(original: rasp.SOp, rewritten: rasp.SOp, causal_modes: tuple[bool, ...]) -> None:
    for causal in causal_modes:
        for xs in _INPUTS:
            assert evaluate(rewritten, xs, causal=causal) == evaluate(original, xs, causal=causal), (xs, causal)


def test_length_becomes_the_width_of_an_all_true_selector() -> None:
    program = (rasp.length - rasp.indices).named("remaining")
    rewritten = rewrite(program)
    assert isinstance(rewritten.fst, rasp.SelectorWidth) and rewritten.fst.label == "length"
    assert rewritten.fst.selector.predicate is rasp.Comparison.TRUE
    assert rewritten.label == "remaining" and program.fst is rasp.length  # the original is untouched
    # Non-causal only: under a causal mask an all-true selector counts the positions so far, not the length.
    _assert_same_meaning(program, rewritten, causal_modes=(False,))


def test_full_becomes_a_constant_map_of_tokens() -> None:
    program = rasp.SequenceMap(lambda x, y: f"{x}{y}", rasp.Full(7).named("seven"), rasp.tokens)
    rewritten = rewrite(program)
    assert type(rewritten.fst) is rasp.Map and rewritten.fst.inner is rasp.tokens
    assert rewritten.fst.label == "seven"
    _assert_same_meaning(program, rewritten, causal_modes=(False, True))


@pytest.mark.parametrize(
    "combine",
    [
        lambda: rasp.SelectorAnd(_SAME_TOKEN_LT, _SAME_TOKEN_EQ),
        lambda: rasp.SelectorOr(_SAME_TOKEN_LT, _SAME_TOKEN_EQ),
        lambda: rasp.SelectorNot(_SAME_TOKEN_LT),
        lambda: rasp.SelectorNot(rasp.SelectorOr(_SAME_TOKEN_EQ, rasp.SelectorNot(_SAME_TOKEN_LT))),
    ],
    ids=["and", "or", "not", "nested"],
)
def test_same_input_selector_combination_becomes_one_select(combine) -> None:
    selector = combine().named("combined")
    program = rasp.SelectorWidth(selector).named("width")
    rewritten = rewrite(program)
    assert type(rewritten.selector) is rasp.Select and rewritten.selector.label == "combined"
    assert rewritten.selector.keys is rasp.tokens and rewritten.selector.queries is rasp.tokens
    _assert_same_meaning(program, rewritten, causal_modes=(False, True))
    analyse(program, {"a", "b"}, 4)


def test_conjunction_over_different_inputs_stays_a_conjunction_of_selects() -> None:
    selector = rasp.SelectorAnd(_LT, _SAME_TOKEN_EQ)
    rewritten = rewrite(rasp.SelectorWidth(selector))
    assert rewritten.selector is selector


def test_rewrite_leaves_a_compilable_program_unchanged() -> None:
    program = rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.EQ), rasp.tokens)
    assert rewrite(program) is program


def test_rewrite_keeps_shared_subexpressions_shared() -> None:
    width = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE))
    program = rasp.SequenceMap(lambda x, y: x + y, rasp.length + width, rasp.length + width)
    rewritten = rewrite(program)
    assert rewritten.fst.fst is rewritten.snd.fst  # one rewritten length, read twice
    assert isinstance(rewritten.fst.fst, rasp.SelectorWidth) and rewritten.fst.snd is width


def test_merging_a_negation_over_a_sop_that_may_be_none_keeps_its_meaning() -> None:
    # The merged Select cannot select a None key or query (a compiled head cannot); nor may the SelectorNot.
    shifted = rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices, lambda k, q: q == k + 1), rasp.tokens)
    same = rasp.Select(shifted, shifted, rasp.Comparison.EQ)
    for selector in (
        rasp.SelectorNot(same),
        rasp.SelectorOr(rasp.SelectorNot(same), same),
        rasp.SelectorNot(rasp.SelectorAnd(same, rasp.Select(shifted, shifted, rasp.Comparison.NEQ))),
    ):
        program = rasp.SelectorWidth(selector)
        rewritten = rewrite(program)
        assert type(rewritten.selector) is rasp.Select
        _assert_same_meaning(program, rewritten, causal_modes=(False, True))


class _MyMap(rasp.Map):
    """A user's subclass of a RASP class."""


class _MyNot(rasp.SelectorNot):
    """A user's subclass of a RASP selector combination."""


def test_subclasses_are_rewritten_through_their_base_class_fields() -> None:
    program = _MyMap(lambda n: n * 2, rasp.length, simplify=False)
    rewritten = rewrite(program)
    assert isinstance(rewritten.inner, rasp.SelectorWidth) and rewritten.inner.label == "length"
    assert isinstance(rewritten, _MyMap)
    _assert_same_meaning(program, rewritten, causal_modes=(False,))
    width = rasp.SelectorWidth(_MyNot(rasp.SelectorOr(_SAME_TOKEN_LT, _SAME_TOKEN_EQ)))
    assert type(rewrite(width).selector) is rasp.Select
    _assert_same_meaning(width, rewrite(width), causal_modes=(False, True))


def test_a_program_with_subclasses_passes_analysis() -> None:
    program = rasp.SequenceMap(lambda x, n: f"{x}{n}", rasp.tokens, _MyMap(lambda n: n * 2, rasp.length))
    graph = analyse(program, {"a", "b"}, 3)
    assert isinstance(graph.expr("length"), rasp.SelectorWidth)  # length under the subclass was rewritten
    assert graph.value_set(graph.sink) >= {f"{x}{n}" for x in "ab" for n in (2, 4, 6)}
