"""Keys equal under ``==`` across types (``2`` and ``2.0``) are one key to a Select, and one query.

A Select compares with ``==``, so a categorical Aggregate whose selector picks the keys ``2`` and ``2.0`` for a
query picks one key (``frontend/validate.py``'s uniqueness check); the head attends wherever the predicate
holds. Value sets still keep ``2`` and ``2.0`` apart (two directions), so a function of the copied value can
tell them apart. Each program compiles in the default mode and in the reference's structure and is checked on
every input against the evaluator.
"""

from __future__ import annotations

import pytest

import optracr
from optracr import programs, rasp
from optracr.errors import CompileError

MODES = {"default": {}, "reference": {"fold": False, "fuse": False}}
VOCAB = frozenset({"a", "b", "c"})
MAX_SEQ_LEN = 6  # lengths 5 and 6 give the opposite index 2 (an int) and 2.0 (a float)


def _opposite(index: int, length: int) -> int | float:
    """Where position ``index``'s token goes when the halves swap: the first ceil(n/2) tokens move back by
    floor(n/2) (an int), the rest to the front (``x - y`` with a float ``y``: a float)."""
    half = length // 2
    return index + half if index < length - half else index - float(length - half)


def _opposite_index() -> rasp.SOp:
    return rasp.SequenceMap(_opposite, rasp.indices, programs.make_length()).named("opposite")


def _flip_halves() -> rasp.SOp:
    flip = rasp.Select(_opposite_index(), rasp.indices, rasp.Comparison.EQ).named("flip")
    return rasp.Aggregate(flip, rasp.tokens).named("flipped")


def _exact(program: rasp.SOp, **options: object) -> optracr.CompiledModel:
    model = optracr.compile(program, VOCAB, MAX_SEQ_LEN, allocator="heuristic", **options)
    report = optracr.verify(model, program)
    assert report.exhaustive and report.ok and report.num_undefined == 0, str(report)
    return model


def test_the_opposite_index_holds_two_and_two_point_zero() -> None:
    assert rasp.evaluate(_opposite_index(), list("abcde")) == [2, 3, 4, 0.0, 1.0]
    assert rasp.evaluate(_opposite_index(), list("abcdef")) == [3, 4, 5, 0.0, 1.0, 2.0]


@pytest.mark.parametrize("mode", sorted(MODES))
def test_flip_halves_over_keys_two_and_two_point_zero_compiles_and_is_exact(mode: str) -> None:
    """The real-world pattern: the keys 2 (an int) and 2.0 (a float) were refused as two keys for query 2."""
    model = _exact(_flip_halves(), **MODES[mode])
    assert model.apply(["BOS", *"aabbc"]).decoded == ["BOS", *"bcaab"]  # odd length: the last two first
    assert model.apply(["BOS", *"aabbcc"]).decoded == ["BOS", *"bccaab"]  # even length
    assert rasp.evaluate(_flip_halves(), list("aabbcc")) == list("bccaab")


@pytest.mark.parametrize("mode", sorted(MODES))
def test_queries_two_and_two_point_zero_select_one_key_and_the_copied_values_keep_their_types(mode: str) -> None:
    """The opposite index as queries (2 and 2.0 are one query to EQ), copying a value a function tells apart."""
    opposite = _opposite_index()
    copied = rasp.Aggregate(rasp.Select(rasp.indices, opposite, rasp.Comparison.EQ), opposite).named("copied")
    program = rasp.Map(lambda value: f"{type(value).__name__} {value}", copied, simplify=False).named("shown")
    model = _exact(program, **MODES[mode])
    expected = ["BOS", "float 0.0", "float 1.0", "float 2.0", "int 3", "int 4", "int 5"]
    assert model.apply(["BOS", *"abcabc"]).decoded == expected


@pytest.mark.parametrize("mode", sorted(MODES))
def test_true_and_one_as_keys_are_one_key_for_query_one(mode: str) -> None:
    """``True == 1``: index 1 is ``True`` at odd lengths and ``1`` at even ones, so query 1 picks keys 1 and True."""
    keys = rasp.SequenceMap(lambda i, n: True if i == 1 and n % 2 else i, rasp.indices, programs.make_length())
    program = rasp.Aggregate(rasp.Select(keys.named("keys"), rasp.indices, rasp.Comparison.EQ), rasp.tokens)
    model = _exact(program.named("same"), **MODES[mode])
    assert model.apply(["BOS", *"cab"]).decoded == ["BOS", *"cab"]
    assert model.apply(["BOS", *"caba"]).decoded == ["BOS", *"caba"]


def test_a_selector_picking_keys_of_two_classes_is_still_refused() -> None:
    """2 and 2.0 are one key, 1 another: LEQ picks several keys for query 2, so the copy may mix values."""
    before = rasp.Select(_opposite_index(), rasp.indices, rasp.Comparison.LEQ).named("before")
    program = rasp.Aggregate(before, rasp.tokens).named("picked")
    with pytest.raises(CompileError, match=r"'picked': a categorical Aggregate needs a selector that picks at most "
                                           r"one position, but 'before' picks keys \[0, 0.0, 1, 1.0\] for query 1"):
        optracr.compile(program, VOCAB, MAX_SEQ_LEN, allocator="heuristic")


@pytest.mark.parametrize("mode", sorted(MODES))
def test_two_positions_holding_two_and_two_point_zero_are_picked_together_like_equal_keys(mode: str) -> None:
    """Keys 0 (even positions) and 0.0 (odd ones) in one input: query 0 picks both, as two equal keys would be.

    The evaluator has an answer only where the picked tokens are one value; there the head averages equal one-hots
    and the model gives it; elsewhere verify counts the input undefined, never a mismatch.
    """
    zero = rasp.Map(lambda i: 0 if i % 2 == 0 else 0.0, rasp.indices).named("zero")
    to_zero = rasp.Select(zero, rasp.Map(lambda t: 0, rasp.tokens).named("query"), rasp.Comparison.EQ)
    program = rasp.Aggregate(to_zero.named("to_zero"), rasp.tokens).named("common")
    model = optracr.compile(program, VOCAB, 4, allocator="heuristic", **MODES[mode])
    assert model.apply(["BOS", *"bbb"]).decoded == ["BOS", *"bbb"]
    report = optracr.verify(model, program)
    assert report.ok and (report.num_checked, report.num_undefined) == (12, 108), str(report)
