"""The program's meaning at a position, from the labels a block reads: what the evaluator gives there."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import optracr
from optracr import frontend
from optracr.certify import meaning, residual

rasp = frontend.rasp


def _meaning(program: rasp.SOp, vocab, length: int, **options) -> tuple[meaning.Meaning, optracr.CompiledModel]:
    model = optracr.compile(program, vocab, length, **options)
    graph = model.program_graph
    return meaning.Meaning(graph, residual.residual_of(model.layered, graph)), model


def test_a_folded_chain_is_evaluated_from_its_root_as_the_evaluator_would() -> None:
    shifted = rasp.Map(lambda t: t + 1, rasp.tokens).named("shifted")
    parity = rasp.Map(lambda v: v % 2 == 0, shifted).named("parity")
    program = rasp.SequenceMap(lambda p, t: (p, t), parity, rasp.tokens).named("pair")
    found, _ = _meaning(program, {1, 2, 3}, 2)
    assert found.frontier("pair", own=True) == ("tokens",)
    for token in (1, 2, 3):
        expected = frontend.evaluate(program, [token])[0]
        assert found.value_of("pair", {"tokens": token}, own=True) == expected


def test_many_combinations_at_once_agree_with_one_at_a_time() -> None:
    first = rasp.Map(lambda t: t * 2, rasp.tokens).named("first")
    both = rasp.SequenceMap(lambda a, i: None if a == i else a - i, first, rasp.indices).named("both")
    found, _ = _meaning(both, {0, 1, 2}, 3, fold=False, fuse=False)
    tokens, indices = [0, 1, 2], [0, 1, 2]
    pairs = list(itertools.product(tokens, indices))
    columns = {"first": (np.array([2 * t // 2 for t, _ in pairs]), [0, 2, 4]),
               "indices": (np.array([i for _, i in pairs]), indices)}
    codes, distinct = found.values_over(["both"], columns, own=True)["both"]
    for position, (token, index) in enumerate(pairs):
        assert distinct[codes[position]] == found.value_of("both", {"first": 2 * token, "indices": index}, own=True)


def test_many_combinations_at_once_apply_functions_as_the_evaluator_does_on_none_and_raising_inputs() -> None:
    first = rasp.Map(lambda t: None if t == 0 else 12 // (t - 1), rasp.tokens).named("first")  # raises at 1
    both = rasp.SequenceMap(lambda a, i: a // i, first, rasp.indices).named("both")  # raises at index 0
    found, _ = _meaning(both, {0, 1, 2, 3}, 3, fold=False, fuse=False, partial_functions="allow")
    states = [None, meaning.UNDEFINED, 12, 6]  # what "first" holds for tokens 0, 1, 2, 3
    pairs = list(itertools.product(range(len(states)), range(3)))
    columns = {"first": (np.array([state for state, _ in pairs]), states),
               "indices": (np.array([index for _, index in pairs]), [0, 1, 2])}
    codes, distinct = found.values_over(["both"], columns, own=True)["both"]
    for position, (state, index) in enumerate(pairs):
        expected = found.value_of("both", {"first": states[state], "indices": index}, own=True)  # apply_function
        assert distinct[codes[position]] is expected or distinct[codes[position]] == expected
        if states[state] is None:
            assert distinct[codes[position]] is None
        elif states[state] is meaning.UNDEFINED or index == 0:
            assert distinct[codes[position]] is meaning.UNDEFINED
        else:
            assert distinct[codes[position]] == frontend.apply_function(both, states[state], index)
    assert "both" in found.raised


def test_a_function_raising_where_every_argument_has_a_value_marks_only_those_combinations() -> None:
    both = rasp.SequenceMap(lambda a, i: a // i, rasp.tokens, rasp.indices).named("both")  # raises at index 0
    found, _ = _meaning(both, {4, 6}, 3, fold=False, fuse=False, partial_functions="allow")
    pairs = list(itertools.product([4, 6], [0, 1, 2]))
    columns = {"tokens": (np.array([0, 0, 0, 1, 1, 1]), [4, 6]), "indices": (np.array([0, 1, 2] * 2), [0, 1, 2])}
    codes, distinct = found.values_over(["both"], columns, own=True)["both"]
    got = [distinct[code] for code in codes]
    assert got == [meaning.UNDEFINED, 4, 2, meaning.UNDEFINED, 6, 3]
    assert got[1:3] + got[4:] == [frontend.apply_function(both, a, i) for a, i in pairs if i]
    assert "both" in found.raised


def test_a_function_applied_everywhere_at_once_raises_nothing() -> None:
    both = rasp.SequenceMap(lambda a, i: a * 10 + i, rasp.tokens, rasp.indices).named("both")
    found, _ = _meaning(both, {4, 6}, 3, fold=False, fuse=False)
    columns = {"tokens": (np.array([0, 0, 0, 1, 1, 1]), [4, 6]), "indices": (np.array([0, 1, 2] * 2), [0, 1, 2])}
    codes, distinct = found.values_over(["both"], columns, own=True)["both"]
    assert [distinct[code] for code in codes] == [40, 41, 42, 60, 61, 62] and not found.raised


def test_many_combinations_at_once_keep_equal_values_of_different_types_apart() -> None:
    typed = rasp.Map(lambda t: {0: True, 1: 1, 2: 1.0}[t], rasp.tokens).named("typed")
    found, _ = _meaning(typed, {0, 1, 2}, 2, fold=False, fuse=False)
    codes, distinct = found.values_over(["typed"], {"tokens": (np.array([0, 1, 2, 2, 0]), [0, 1, 2])},
                                        own=True)["typed"]
    assert [type(distinct[code]) for code in codes] == [bool, int, float, float, bool]
    assert len(distinct) == 3 and not found.raised


def test_a_raising_function_is_undefined_not_a_value() -> None:
    inverse = rasp.Map(lambda t: 1 // t, rasp.tokens).named("inverse")
    found, _ = _meaning(inverse, {0, 1}, 2, partial_functions="allow")
    assert found.value_of("inverse", {"tokens": 0}, own=True) is meaning.UNDEFINED
    assert found.value_of("inverse", {"tokens": 1}, own=True) == 1


def test_selects_never_picks_a_none_key_or_query() -> None:
    select = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE)
    assert frontend.selects(select, "a", "b")
    assert not frontend.selects(select, None, "b") and not frontend.selects(select, "a", None)


def _deduplicated_by_value_key(codes: np.ndarray, values: list) -> tuple[list[int], list]:
    """The general rule, written out: one entry per ``frontend.value_key``, numbered by first appearance."""
    index: dict = {}
    for value in values:
        index.setdefault(frontend.value_key(value), (len(index), value))
    return [index[frontend.value_key(values[code])][0] for code in codes.tolist()], [v for _, v in index.values()]


@pytest.mark.parametrize("seed", range(40))
def test_numbers_are_deduplicated_by_numpy_as_by_their_value_keys(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pool = [0.0, -0.0, 1.5, -2.25, 1e-300, 3.0] if seed % 2 else [0, 1, -7, 2**40, 5, 2**62 - 1, -(2**62) + 1]
    if seed >= 20:  # None and UNDEFINED among the numbers: each one value of its own
        pool += [None, meaning.UNDEFINED] if seed % 4 < 2 else [meaning.UNDEFINED]
    values = [pool[i] for i in rng.integers(0, len(pool), int(rng.integers(16, 60)))]
    codes = rng.integers(0, len(values), 200)
    fast = meaning._deduplicated_numbers(codes, values)
    assert fast is not None
    expected_codes, expected_values = _deduplicated_by_value_key(codes, values)
    assert fast[0].tolist() == expected_codes
    assert [frontend.value_key(value) for value in fast[1]] == [frontend.value_key(v) for v in expected_values]
    assert [type(value) for value in fast[1]] == [type(value) for value in expected_values]
    general_codes, general_values = meaning._deduplicated(codes, values)
    assert general_codes.tolist() == expected_codes and len(general_values) == len(expected_values)


@pytest.mark.parametrize("values", [
    [1.0] * 20 + [float("nan")],  # NaNs are one value only as one object
    [1] * 20 + [True],  # mixed kinds
    [1] * 20 + [2**70],  # beyond int64
    [1.0, 2.0],  # too few to be worth numpy
    ["a"] * 20,
])
def test_other_lists_are_left_to_the_general_rule(values: list) -> None:
    assert meaning._deduplicated_numbers(np.arange(len(values)), values) is None


def _balance() -> rasp.SOp:
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    opens = rasp.numerical(rasp.Aggregate(prevs, rasp.numerical(rasp.tokens == "("), default=0)).named("opens")
    closes = rasp.numerical(rasp.Aggregate(prevs, rasp.numerical(rasp.tokens == ")"), default=0)).named("closes")
    return rasp.numerical(rasp.LinearSequenceMap(opens, closes, 1, -1)).named("balance")


def test_pairs_two_means_over_one_selection_never_hold_are_undefined_and_met_pairs_are_applied() -> None:
    negative = rasp.Map(lambda b: b < 0, _balance()).named("negative")
    found, model = _meaning(negative, {"(", ")", "x"}, 4, fold=False, fuse=False)
    met = model.program_graph.input_pairs("balance")
    assert met is not None
    opens = sorted(model.program_graph.value_set("opens"))
    closes = sorted(model.program_graph.value_set("closes"))
    pairs = list(itertools.product(range(len(opens)), range(len(closes))))
    columns = {"opens": (np.array([o for o, _ in pairs]), opens), "closes": (np.array([c for _, c in pairs]), closes)}
    codes, distinct = found.values_over(["balance"], columns, own=True)["balance"]
    for position, (o, c) in enumerate(pairs):
        many = distinct[codes[position]]
        one = found.value_of("balance", {"opens": opens[o], "closes": closes[c]}, own=True)
        if (opens[o], closes[c]) in met:
            assert many == one == opens[o] - closes[c]
        else:  # a half and a third of one prefix, say: no input reaches it
            assert many is meaning.UNDEFINED and one is meaning.UNDEFINED
    assert not found.raised  # ruled out by inference, not a function raising: nothing is reported as undefined
    assert any((o, c) not in met for o in opens for c in closes)


def test_a_threshold_on_a_difference_of_means_over_one_prefix_is_proved_with_the_joint_values() -> None:
    program = rasp.Map(lambda b: b < 0, _balance()).named("negative")
    for options in ({}, {"fold": False, "fuse": False}):
        model = optracr.compile(program, {"(", ")", "x"}, 5, **options)
        certificate = optracr.certify(model)
        assert certificate.proved, str(certificate)
        assert "two numerical means over the same positions" in str(certificate)


def test_holds_undefined_finds_the_marker_itself_and_nothing_equal_to_it() -> None:
    class EqualToAll:
        def __eq__(self, other: object) -> bool:
            return True

        def __hash__(self) -> int:
            return 0

    assert meaning.holds_undefined([1, None, meaning.UNDEFINED, "a"])
    assert not meaning.holds_undefined([1, None, EqualToAll(), 2.5])
    assert not meaning.holds_undefined([])
