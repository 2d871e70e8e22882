"""Attention heads for Select + Aggregate: every comparison, callable predicates, causal mode, sizes, sharpness."""

from __future__ import annotations

import numpy as np
import pytest

from optracr import craft, frontend
from optracr.craft import attention
from optracr.errors import OptracrBug

rasp = frontend.rasp
DIGITS = {1, 2, 3}


def _earlier_if(causal: bool, select: rasp.Selector) -> rasp.Selector:
    """Under causal=True, ``select`` kept to earlier positions (one head; look-ahead selectors: test_craft_causal)."""
    return select & rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ) if causal else select


def _numerical_tokens() -> rasp.SOp:
    return rasp.numerical(rasp.Map(lambda t: t - 1.5, rasp.tokens)).named("value")


@pytest.mark.parametrize("comparison", list(rasp.Comparison))
@pytest.mark.parametrize("causal", [False, True])
def test_numerical_aggregate_is_the_mean_for_every_comparison(comparison, causal, checker, inputs) -> None:
    select = _earlier_if(causal, rasp.Select(rasp.tokens, rasp.tokens, comparison)).named("select")
    program = rasp.numerical(rasp.Aggregate(select, _numerical_tokens(), default=0)).named("mean")
    all_inputs, random_inputs = inputs
    block_graph = checker(program, DIGITS, 16, all_inputs(DIGITS, 4) + random_inputs(DIGITS, 16, 20), causal=causal)
    lowered = block_graph.block_by_label["mean"]
    reads = ("tokens", "indices", "value") if causal else ("tokens", "value")
    assert (type(lowered.block), lowered.num_heads, lowered.reads) == (craft.AttentionHead, 1, reads)
    assert block_graph.causal is causal and not hasattr(lowered.block, "causal")  # the runner masks


@pytest.mark.parametrize("causal", [False, True])
def test_aggregate_with_a_callable_predicate_on_different_keys_and_queries(causal, checker, inputs) -> None:
    select = rasp.Select(rasp.tokens, rasp.indices, lambda key, query: (key + query) % 3 == 0)
    select = _earlier_if(causal, select).named("select")
    program = rasp.numerical(rasp.Aggregate(select, _numerical_tokens(), default=0)).named("mean")
    all_inputs, random_inputs = inputs
    checker(program, DIGITS, 16, all_inputs(DIGITS, 4) + random_inputs(DIGITS, 16, 20), causal=causal)


@pytest.mark.parametrize("causal", [False, True])
def test_categorical_aggregate_copies_the_selected_value_or_gives_none(causal, checker, inputs, run_graph) -> None:
    """Each position reads the token one place to its right; the last reads nothing (None)."""
    select = _earlier_if(causal, rasp.Select(rasp.indices, rasp.indices, lambda key, query: key == query + 1))
    select = select.named("next")
    program = rasp.Aggregate(select, rasp.tokens).named("shifted")
    all_inputs, random_inputs = inputs
    vocab = {"a", "b", "c"}
    block_graph = checker(program, vocab, 16, all_inputs(vocab, 4) + random_inputs(vocab, 16, 20), causal=causal)
    residual = run_graph(block_graph, ["BOS", "a", "b", "c"])
    assert craft.decode(block_graph, residual) == ([None] * 3 if causal else ["b", "c", None])


def test_output_wider_than_key_size_works(run_graph) -> None:
    """Regression: the reference crashes when a head's output space is wider than its key size."""
    vocab = set("abcdefgh")
    first = rasp.Map(lambda i: i == 0, rasp.indices).named("first")
    select = rasp.Select(first, first, lambda key, query: key).named("to_first")
    program = rasp.Aggregate(select, rasp.tokens).named("first_token")
    program_graph = frontend.analyse(program, vocab, 6)
    block_graph = craft.lower(program_graph, fold=False)
    lowered = block_graph.block_by_label["first_token"]
    assert (lowered.key_size, lowered.value_size) == (3, 8)
    for xs in (list("hgfedc"), list("b"), list("abca")):
        residual = run_graph(block_graph, ["BOS", *xs])
        assert craft.decode(block_graph, residual) == frontend.evaluate(program_graph.expr("first_token"), xs)


def test_key_and_value_sizes_are_independent_minima() -> None:
    select = rasp.Select(rasp.indices, rasp.tokens, rasp.Comparison.LT).named("select")
    program = rasp.numerical(rasp.Aggregate(select, _numerical_tokens(), default=0)).named("mean")
    lowered = craft.lower(frontend.analyse(program, DIGITS, 7), fold=False).block_by_label["mean"]
    assert (lowered.key_size, lowered.value_size) == (min(3 + 1, 7 + 1), 1)


@pytest.mark.parametrize("max_seq_len", [1, 16, 100])
def test_softmax_mass_off_the_intended_keys_stays_below_the_bound(max_seq_len: int) -> None:
    """Worst cases: one selected key among N, and nothing selected (BOS must take it all); also BOS queries."""
    select = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ).named("same")
    program = rasp.numerical(rasp.Aggregate(select, _numerical_tokens(), default=0)).named("mean")
    vocab = {1, 2}
    block_graph = craft.lower(frontend.analyse(program, vocab, max_seq_len), fold=False)
    head = block_graph.block_by_label["mean"].block
    tokens = ["BOS", 1] + [2] * (max_seq_len - 1)
    weights = head.attention(craft.embed(block_graph, tokens))
    assert weights[0, 0] > 1 - 1e-6  # BOS attends to BOS
    assert weights[1, 1] > 1 - 1e-6  # the single selected key, against BOS and N - 1 others
    select_none = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LT).named("smaller")
    program = rasp.numerical(rasp.Aggregate(select_none, _numerical_tokens(), default=0)).named("mean")
    block_graph = craft.lower(frontend.analyse(program, vocab, max_seq_len), fold=False)
    weights = block_graph.block_by_label["mean"].block.attention(craft.embed(block_graph, ["BOS"] + [1] * max_seq_len))
    assert np.all(weights[:, 0] > 1 - 1e-6)  # nothing is smaller than 1: everyone reads BOS


def test_sharpness_grows_with_max_seq_len_and_meets_its_bound() -> None:
    for n in (1, 10, 1000):
        s = attention.sharpness(n)
        assert (n + 1) * np.exp(-s / 2) <= attention.MAX_LEAK * (1 + 1e-12)
    assert attention.sharpness(1000) > attention.sharpness(10)
    with pytest.raises(OptracrBug, match="optracr bug: sharpness needs max_seq_len"):
        attention.sharpness(0)


def test_pad_keys_are_masked(checker, inputs) -> None:
    select = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE).named("all")
    program = rasp.numerical(rasp.Aggregate(select, _numerical_tokens(), default=0)).named("mean")
    checker(program, DIGITS, 6, inputs[0](DIGITS, 3), pad_to=6)


def test_predicate_that_raises_on_a_value_pair_is_a_compile_error() -> None:
    select = rasp.Select(rasp.tokens, rasp.tokens, lambda key, query: 1 / (key - query) > 0).named("bad")
    program = rasp.numerical(rasp.Aggregate(select, _numerical_tokens(), default=0)).named("mean")
    with pytest.raises(frontend.CompileError, match="raised ZeroDivisionError"):
        craft.lower(frontend.analyse(program, DIGITS, 3), fold=False)
