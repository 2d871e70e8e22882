"""Whole programs lowered and run block by block (numpy, noise outside each block's inputs) vs the evaluator."""

from __future__ import annotations

import pytest

from optracr import frontend

rasp = frontend.rasp


def make_length() -> rasp.SOp:
    return rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE)).named("length")


def make_reverse() -> rasp.SOp:
    opp_index = rasp.SequenceMap(lambda n, i: n - i - 1, make_length(), rasp.indices).named("opp_index")
    flip = rasp.Select(rasp.indices, opp_index, rasp.Comparison.EQ).named("flip")
    return rasp.Aggregate(flip, rasp.tokens).named("reverse")


def make_hist() -> rasp.SOp:
    same = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ).named("same_token")
    return rasp.SelectorWidth(same).named("hist")


def make_sort_unique(keys: rasp.SOp, values: rasp.SOp) -> rasp.SOp:
    smaller = rasp.Select(keys, keys, rasp.Comparison.LT).named("smaller")
    target = rasp.SelectorWidth(smaller).named("target_pos")
    moved = rasp.Select(target, rasp.indices, rasp.Comparison.EQ).named("sel_new")
    return rasp.Aggregate(moved, values).named("sort")


def make_sort(max_seq_len: int) -> rasp.SOp:
    """Sort with duplicates: keys made unique by a small multiple of the index (paper, appendix D)."""
    keys = rasp.SequenceMap(lambda x, i: x + 0.5 * i / max_seq_len, rasp.tokens, rasp.indices).named("unique_keys")
    return make_sort_unique(keys, rasp.tokens)


def make_frac_prevs() -> rasp.SOp:
    is_x = rasp.numerical(rasp.Map(lambda t: 1 if t == "x" else 0, rasp.tokens)).named("is_x")
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ).named("prevs")
    return rasp.numerical(rasp.Aggregate(prevs, is_x, default=0)).named("frac_prevs")


def make_causal_frac() -> rasp.SOp:
    is_x = rasp.numerical(rasp.Map(lambda t: 1 if t == "x" else 0, rasp.tokens)).named("is_x")
    everything = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.TRUE)
    everything = (everything & rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)).named("all")
    return rasp.numerical(rasp.Aggregate(everything, is_x, default=0)).named("frac")


def make_pair_balance() -> rasp.SOp:
    """Numerical chain: fraction of '(' minus fraction of ')' among the prefix, then whether it is negative."""
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ).named("prevs")
    opens = rasp.numerical(rasp.Aggregate(prevs, rasp.numerical(rasp.Map(lambda t: t == "(", rasp.tokens)), default=0))
    closes = rasp.numerical(rasp.Aggregate(prevs, rasp.numerical(rasp.Map(lambda t: t == ")", rasp.tokens)), default=0))
    difference = rasp.LinearSequenceMap(opens.named("opens"), closes.named("closes"), 1, -1)
    balance = rasp.numerical(difference).named("balance")
    return rasp.Map(lambda b: b < 0, balance).named("any_negative")


PROGRAMS = {
    "reverse": (make_reverse, {"a", "b", "c"}, 5, False),
    "hist": (make_hist, {"a", "b", "c"}, 5, False),
    "sort_unique": (lambda: make_sort_unique(rasp.tokens, rasp.tokens), {1, 2, 3, 4}, 5, False),
    "sort": (lambda: make_sort(5), {1, 2, 3}, 5, False),
    "frac_prevs": (make_frac_prevs, {"x", "y"}, 6, False),
    "causal_frac": (make_causal_frac, {"x", "y"}, 6, True),
    "pair_balance": (make_pair_balance, {"(", ")"}, 6, False),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_agrees_with_the_evaluator_on_every_short_input(name, checker, inputs) -> None:
    make, vocab, max_seq_len, causal = PROGRAMS[name]
    all_inputs, random_inputs = inputs
    program_inputs = all_inputs(vocab, 4) + random_inputs(vocab, max_seq_len, 40)
    if name == "sort_unique":
        program_inputs = [xs for xs in program_inputs if len(set(xs)) == len(xs)]  # its contract: unique keys
    checker(make(), vocab, max_seq_len, program_inputs, causal=causal)


@pytest.mark.parametrize("name", ["reverse", "frac_prevs", "causal_frac"])
def test_padded_inputs_agree_with_the_evaluator(name, checker, inputs) -> None:
    make, vocab, max_seq_len, causal = PROGRAMS[name]
    checker(make(), vocab, max_seq_len, inputs[0](vocab, 3), causal=causal, pad_to=max_seq_len)


def test_reverse_at_longer_lengths(checker, inputs) -> None:
    vocab = set("abcdefgh")
    checker(make_reverse(), vocab, 16, inputs[1](vocab, 16, 40, seed=3))
