"""Folding: s-ops linear in residual directions get no block; their readers compose them, exactly."""

from __future__ import annotations

import pytest

from optracr import craft, frontend

rasp = frontend.rasp
D = craft.BasisDirection
VOCAB = {"a", "b", "c"}


def _lower(program: rasp.SOp, vocab=VOCAB, max_seq_len: int = 4, fold: bool = True) -> craft.BlockGraph:
    return craft.lower(frontend.analyse(program, vocab, max_seq_len), fold=fold)


def _prevs() -> rasp.Selector:
    return rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ).named("prevs")


def test_a_folded_map_of_tokens_leaves_no_block_and_no_residual_directions(checker, inputs) -> None:
    is_a = rasp.numerical(rasp.Map(lambda t: 1 if t == "a" else 0, rasp.tokens)).named("is_a")
    program = rasp.numerical(rasp.Aggregate(_prevs(), is_a, default=0)).named("frac_a")
    block_graph = checker(program, VOCAB, 4, inputs[0](VOCAB, 4), fold=True)
    assert [lowered.id for lowered in block_graph.blocks] == ["frac_a"]
    assert "is_a" in block_graph.folds and "is_a" not in [str(d) for d in block_graph.residual_space().basis]
    assert block_graph.folds["is_a"].expressions == {D("is_a"): {D("tokens", "a"): 1.0}}
    assert block_graph.block_by_label["frac_a"].reads == ("indices", "tokens")


def test_a_categorical_chain_of_one_root_folds_into_a_zero_one_matrix(checker, inputs) -> None:
    shifted = rasp.Map(lambda t: {"a": 1, "b": 2, "c": 3}[t], rasp.tokens).named("rank")
    parity = rasp.Map(lambda r: r % 2, shifted).named("parity")
    both = rasp.SequenceMap(lambda r, p: r + 10 * p, shifted, parity).named("both")
    copied = rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.EQ), both).named("copied")
    block_graph = checker(copied, VOCAB, 3, inputs[0](VOCAB, 3), fold=True)
    assert sorted(block_graph.folds) == ["both", "parity", "rank"]
    assert block_graph.folds["both"].root == "tokens"
    assert block_graph.folds["both"].expressions[D("both", 11)] == {D("tokens", "a"): 1.0}
    assert block_graph.folds["both"].readers == ("copied",)


def test_an_affine_numerical_map_folds_with_a_constant_that_is_zero_at_bos(checker, inputs) -> None:
    """``x + 1`` of a mean, averaged again: the constant rides on ``one - tokens:BOS``, so BOS still reads 0."""
    is_a = rasp.numerical(rasp.Map(lambda t: 1 if t == "a" else 0, rasp.tokens)).named("is_a")
    mean = rasp.numerical(rasp.Aggregate(_prevs(), is_a, default=0)).named("mean")
    shifted = rasp.numerical(rasp.Map(lambda x: 2 * x + 1, mean)).named("shifted")
    total = rasp.numerical(rasp.LinearSequenceMap(shifted, mean, 1.0, -3.0)).named("total")
    again = rasp.numerical(rasp.Aggregate(_prevs(), total, default=0)).named("again")
    block_graph = checker(again, VOCAB, 4, inputs[0](VOCAB, 4), fold=True)
    assert sorted(block_graph.folds) == ["is_a", "shifted", "total"]
    expression = block_graph.folds["total"].expressions[D("total")]
    assert expression == pytest.approx({D("mean"): -1.0, D("one"): 1.0, D("tokens", "BOS"): -1.0})


def test_a_sequence_map_of_two_roots_is_not_folded() -> None:
    pair = rasp.SequenceMap(lambda t, i: f"{t}{i}", rasp.tokens, rasp.indices).named("pair")
    block_graph = _lower(pair)
    assert block_graph.folds == {} and [lowered.id for lowered in block_graph.blocks] == ["pair"]


def test_a_non_affine_numerical_map_is_not_folded() -> None:
    is_a = rasp.numerical(rasp.Map(lambda t: 1 if t == "a" else 0, rasp.tokens)).named("is_a")
    mean = rasp.numerical(rasp.Aggregate(_prevs(), is_a, default=0)).named("mean")
    square = rasp.numerical(rasp.Map(lambda x: x * x, mean)).named("square")
    block_graph = _lower(square)
    assert "square" not in block_graph.folds and "square" in block_graph.block_by_label


def test_without_folding_every_sop_has_its_block() -> None:
    is_a = rasp.numerical(rasp.Map(lambda t: 1 if t == "a" else 0, rasp.tokens)).named("is_a")
    program = rasp.numerical(rasp.Aggregate(_prevs(), is_a, default=0)).named("frac_a")
    block_graph = _lower(program, fold=False)
    assert block_graph.folds == {} and [lowered.id for lowered in block_graph.blocks] == ["is_a", "frac_a"]


def test_a_folded_query_and_key_compose_into_the_selector_width_head(checker, inputs) -> None:
    reversed_index = rasp.Map(lambda i: 3 - i, rasp.indices).named("reversed")
    key = rasp.SequenceMap(lambda r, i: r * 10 + i, reversed_index, rasp.indices).named("key")
    rank = rasp.SelectorWidth(rasp.Select(key, key, rasp.Comparison.LT)).named("rank")
    moved = rasp.Aggregate(rasp.Select(rank, rasp.indices, rasp.Comparison.EQ), rasp.tokens).named("moved")
    block_graph = checker(moved, VOCAB, 4, inputs[0](VOCAB, 4), fold=True)
    assert sorted(block_graph.folds) == ["key", "reversed"]
    head = block_graph.block_by_label["rank"].heads[0]
    assert {d.name for d in head.query_space.basis} == {"indices", "one"}
