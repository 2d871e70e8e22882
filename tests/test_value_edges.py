"""Issue 16, parts 1-3: equal values of different types, partial functions, labels and slow refusals.

Each test compiles in the default mode (folded and fused) and in the reference's structure, and checks the
model against the evaluator on every input.
"""

from __future__ import annotations

import pytest

import optracr
from optracr import rasp
from optracr.errors import CompileError

MODES = {"default": {}, "reference": {"fold": False, "fuse": False}}
PREVS = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LT)


def _exact(program: rasp.SOp, vocab, max_seq_len: int, **options) -> optracr.VerifyReport:
    model = optracr.compile(program, vocab, max_seq_len, allocator="heuristic", **options)
    report = optracr.verify(model, program)
    assert report.ok and report.num_undefined == 0, str(report)
    return report


@pytest.mark.parametrize("mode", sorted(MODES))
def test_true_and_one_stay_apart_through_a_categorical_sop(mode: str) -> None:
    """The issue's first snippet: ``str`` told ``True`` from ``1``, but one direction held both."""
    inner = rasp.Map(lambda x: True if x == "a" else 1, rasp.tokens)
    program = rasp.Map(lambda x: str(x), inner, simplify=False)
    model = optracr.compile(program, vocab={"a", "b"}, max_seq_len=2, **MODES[mode])
    assert model.apply(["BOS", "a", "b"]).decoded == ["BOS", "True", "1"]
    _exact(program, {"a", "b"}, 2, **MODES[mode])


@pytest.mark.parametrize("mode", sorted(MODES))
def test_a_categorical_sop_keeps_one_one_point_zero_and_true_as_three_values(mode: str) -> None:
    inner = rasp.Map(lambda x: {"a": True, "b": 1, "c": 1.0}[x], rasp.tokens).named("mixed")
    program = rasp.SequenceMap(lambda x, t: type(x).__name__ + t, inner, rasp.tokens).named("typed")
    model = optracr.compile(program, {"a", "b", "c"}, 3, **MODES[mode])
    assert model.apply(["BOS", "a", "b", "c"]).decoded == ["BOS", "boola", "intb", "floatc"]
    _exact(program, {"a", "b", "c"}, 3, **MODES[mode])


@pytest.mark.parametrize("mode", sorted(MODES))
def test_the_aggregate_default_no_longer_absorbs_a_mean_of_zero(mode: str) -> None:
    """The issue's second snippet: the int default 0 stood in for the mean 0.0 (``v0`` for ``v0.0``)."""
    is_a = rasp.numerical(rasp.Map(lambda t: 1 if t == "a" else 0, rasp.tokens))
    mean = rasp.numerical(rasp.Aggregate(PREVS, is_a, default=0)).named("mean")
    program = rasp.Map(lambda x: "v" + str(x), mean).named("shown")
    assert rasp.evaluate(program, ["b", "b"]) == ["v0.0", "v0.0"]  # a numerical Aggregate is always a float
    _exact(program, {"a", "b"}, 3, **MODES[mode])


def test_a_map_telling_apart_equal_numbers_of_a_numerical_sop_is_refused() -> None:
    zero = rasp.numerical(rasp.Map(lambda t: 0 if t == "a" else 0.0, rasp.tokens)).named("zero")
    program = rasp.Map(lambda x: str(x), zero, simplify=False).named("shown")
    with pytest.raises(CompileError, match=r"'shown': its input 'zero' is numerical and can be 0 and 0.0, .*"
                                           r"tells them apart \('0' and '0.0'\)"):
        optracr.compile(program, {"a", "b"}, 2)


def test_a_map_treating_equal_numbers_alike_compiles() -> None:
    mixed = rasp.numerical(rasp.Map(lambda t: {"a": 1, "b": 1.0, "c": True}[t], rasp.tokens)).named("mixed")
    program = rasp.Map(lambda x: x > 0.5, mixed, simplify=False).named("positive")
    for options in MODES.values():
        _exact(program, {"a", "b", "c"}, 2, **options)


def test_a_partial_function_is_refused_by_default_naming_inputs_exception_and_remedies() -> None:
    """The issue's ``Map(lambda x: 1 / x, ...)`` over {0, 1, 2} compiled silently, outputting 0.0 at 0."""
    program = rasp.numerical(rasp.Map(lambda x: 1 / x, rasp.tokens)).named("inverse")
    with pytest.raises(CompileError, match=r"'inverse': Map of 'tokens': its function raises on input values \[0\] "
                                           r"\(ZeroDivisionError: division by zero\).*restrict the vocabulary.*"
                                           r"handle the case in the function.*partial_functions='allow'"):
        optracr.compile(program, {0, 1, 2}, 3)


def test_a_partial_sequence_map_is_refused_by_default() -> None:
    program = rasp.SequenceMap(lambda x, i: 12 // (x - i), rasp.tokens, rasp.indices).named("ratio")
    with pytest.raises(CompileError, match=r"'ratio': SequenceMap of 'tokens', 'indices': its function raises on "
                                           r"input values \[\(0, 0\), \(1, 1\)\]"):
        optracr.compile(program, {0, 1}, 2)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_allowed_partial_functions_compile_and_verify_reports_their_inputs_undefined(mode: str) -> None:
    program = rasp.numerical(rasp.Map(lambda x: 1 / x, rasp.tokens)).named("inverse")
    model = optracr.compile(program, {0, 1, 2}, 3, partial_functions="allow", **MODES[mode])
    report = optracr.verify(model, program)
    assert report.num_mismatches == 0 and report.num_checked == 14 and report.num_undefined == 25
    assert not str(report).startswith("OK:")
    assert "25 inputs UNDEFINED" in str(report).splitlines()[0]


def test_partial_functions_takes_refuse_or_allow() -> None:
    with pytest.raises(CompileError, match="option partial_functions: must be 'refuse' or 'allow', got 'yes'"):
        optracr.compile(rasp.Map(lambda x: x, rasp.tokens), {"a"}, 2, partial_functions="yes")


@pytest.mark.parametrize("mode", sorted(MODES))
def test_a_user_sop_named_one_compiles(mode: str) -> None:
    """The reference accepts any label; ``one`` collided with the residual's constant direction."""
    one = rasp.Map(lambda t: t + "!", rasp.tokens).named("one")
    program = rasp.SequenceMap(lambda x, t: x + t, one, rasp.tokens).named("joined")
    model = optracr.compile(program, {"a", "b"}, 3, **MODES[mode])
    assert model.apply(["BOS", "a", "b"]).decoded == ["BOS", "a!a", "b!b"]
    assert model.residual_labels[0] == "one" and "one#2" in model.layered.locations
    _exact(program, {"a", "b"}, 3, **MODES[mode])


@pytest.mark.parametrize("mode", sorted(MODES))
def test_an_eq_selector_aggregating_a_function_of_its_keys_still_compiles(mode: str) -> None:
    """Non-unique selections whose selected values are provably equal (they keep compiling)."""
    doubled = rasp.Map(lambda t: t * 2, rasp.tokens).named("doubled")
    same = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)
    program = rasp.Aggregate(same, doubled).named("copied")
    report = _exact(program, {"a", "b"}, 3, **MODES[mode])
    assert report.num_checked == 14


def test_a_mean_with_too_many_values_is_refused_without_enumerating_them_all() -> None:
    """The slow refusal (10-17 s before): sums stop at the limit instead of running the whole product."""
    def fraction(token: str) -> rasp.SOp:
        is_token = rasp.numerical(rasp.Map(lambda x: 1 if x == token else 0, rasp.tokens)).named("is_" + token)
        return rasp.numerical(rasp.Aggregate(PREVS, is_token, default=0)).named("frac_" + token)

    mixed = rasp.numerical(rasp.LinearSequenceMap(fraction("a"), fraction("b"), 1, 1.1)).named("ab")
    mixed = rasp.numerical(rasp.LinearSequenceMap(mixed, fraction("c"), 1, 1.21)).named("abc")
    mean = rasp.numerical(rasp.Aggregate(PREVS, mixed, default=0)).named("mean")
    with pytest.raises(CompileError, match="'mean': a numerical mean over .* takes more than 200000 values"):
        optracr.compile(rasp.Map(lambda x: x > 1.05, mean), {"a", "b", "c"}, 5)
