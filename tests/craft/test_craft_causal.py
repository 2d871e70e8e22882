"""Heads under a causal mask compute the causal meaning (``evaluate(..., causal=True)``) whatever their selector.

A selector that can pick a later position compiles with ``causal=True`` (and a ``CausalMeaningWarning``); the
constructions built for unmasked attention (BOS as the fallback key, the mean, selector width's 1/(w+1), the
one-hot copy) must then give exactly what the causal evaluator gives. The checker compares every s-op, block by
block with noise in the residual, against the evaluator in causal mode.
"""

from __future__ import annotations

import contextlib

import pytest

from optracr import frontend
from optracr.errors import CausalMeaningWarning

rasp = frontend.rasp
DIGITS = {1, 2, 3}


def _expect_warning(looks_ahead: bool):
    """``pytest.warns`` for a program whose selector can pick a later position; nothing otherwise."""
    if looks_ahead:
        return pytest.warns(CausalMeaningWarning, match="under causal=True .* can pick a later position")
    return contextlib.nullcontext()


def _position() -> rasp.SOp:
    """The index, computed from tokens too (a compiled program must read its input)."""
    return rasp.SequenceMap(lambda token, index: index, rasp.tokens, rasp.indices).named("position")


@pytest.mark.parametrize("comparison", list(rasp.Comparison))
def test_numerical_mean_under_a_causal_mask_is_the_causal_mean_for_every_comparison(comparison, checker, inputs):
    value = rasp.numerical(rasp.Map(lambda t: t - 1.5, rasp.tokens)).named("value")
    select = rasp.Select(rasp.tokens, rasp.tokens, comparison).named("select")
    program = rasp.numerical(rasp.Aggregate(select, value, default=0)).named("mean")
    all_inputs, random_inputs = inputs
    with _expect_warning(comparison is not rasp.Comparison.FALSE):
        checker(program, DIGITS, 8, all_inputs(DIGITS, 4) + random_inputs(DIGITS, 8, 20), causal=True)


@pytest.mark.parametrize("numerical", [False, True])
@pytest.mark.parametrize("comparison", [rasp.Comparison.TRUE, rasp.Comparison.GEQ, rasp.Comparison.NEQ])
def test_selector_width_under_a_causal_mask_counts_the_visible_selected_keys(comparison, numerical, checker, inputs):
    width = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, comparison).named("select"))
    program = (rasp.numerical(width) if numerical else width).named("width")
    all_inputs, random_inputs = inputs
    with _expect_warning(True):
        checker(program, DIGITS, 8, all_inputs(DIGITS, 4) + random_inputs(DIGITS, 8, 20), causal=True)


@pytest.mark.parametrize("fold", [False, True])
def test_categorical_copy_under_a_causal_mask_gives_none_where_the_selected_key_is_later(fold, checker, inputs):
    """Each position reads the token one place to its right, the last the first: under the mask only the last
    one reads anything (BOS is the fallback, copied as None)."""
    select = rasp.Select(rasp.indices, _position(), lambda key, query: key == (query + 1) % 4).named("next")
    program = rasp.Aggregate(select, rasp.tokens).named("shifted")
    vocab = {"a", "b", "c"}
    with _expect_warning(True):
        block_graph = checker(program, vocab, 4, inputs[0](vocab, 4), causal=True, fold=fold)
    assert block_graph.causal


def test_a_selector_that_never_picks_a_later_key_compiles_without_a_warning(checker, inputs) -> None:
    earlier = rasp.Select(rasp.indices, _position(), rasp.Comparison.LEQ).named("earlier")
    program = rasp.SelectorWidth(earlier).named("so_far")
    checker(program, {"a"}, 6, inputs[0]({"a"}, 6), causal=True)  # a warning would fail: warnings are errors
