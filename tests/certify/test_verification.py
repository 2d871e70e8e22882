"""``verify``: exact counts of checked and undefined inputs, a report that never hides undefined inputs, and
a progress bar only when asked (or on a terminal) and only for runs over a second."""

from __future__ import annotations

import itertools

import pytest

import optracr
from optracr import programs, rasp
from optracr.certify import verification
from optracr.errors import EvaluationError

VOCAB = (1, 2, 3)
MAX_SEQ_LEN = 4


@pytest.fixture(scope="module")
def sort_indices_by_tokens() -> tuple[rasp.SOp, optracr.CompiledModel]:
    # The positions ordered by token: undefined wherever a token repeats (two positions, two different indices).
    program = programs.make_sort_unique(rasp.indices, rasp.tokens)
    return program, optracr.compile(program, set(VOCAB), MAX_SEQ_LEN, allocator="heuristic")


@pytest.fixture(scope="module")
def undefined_everywhere() -> tuple[rasp.SOp, optracr.CompiledModel]:
    # t // i raises at index 0, which every input has; it compiles with partial_functions="allow".
    program = rasp.SequenceMap(lambda token, index: token // index, rasp.tokens, rasp.indices)
    return program, optracr.compile(program, {1, 2}, 3, allocator="heuristic", partial_functions="allow")


def evaluator_counts(program: rasp.SOp, vocab: tuple, max_seq_len: int) -> tuple[int, int]:
    """(defined, undefined) inputs, counted with the evaluator alone."""
    defined = undefined = 0
    for length in range(1, max_seq_len + 1):
        for tokens in itertools.product(vocab, repeat=length):
            try:
                rasp.evaluate(program, list(tokens))
                defined += 1
            except EvaluationError:
                undefined += 1
    return defined, undefined


def test_counts_checked_and_undefined_inputs_as_the_evaluator_does(sort_indices_by_tokens) -> None:
    program, model = sort_indices_by_tokens
    report = optracr.verify(model, program, progress=False)
    defined, undefined = evaluator_counts(program, VOCAB, MAX_SEQ_LEN)
    # Inputs without a repeated token: 3 of length 1, 3 * 2 of length 2, 3 * 2 * 1 of length 3, none longer.
    assert (defined, undefined) == (15, 3 + 9 + 27 + 81 - 15)
    assert (report.num_checked, report.num_undefined, report.num_inputs) == (15, 105, 120)
    assert report.exhaustive and report.num_mismatches == 0 and report.ok


def test_report_with_undefined_inputs_says_how_many_and_why_not_just_ok(sort_indices_by_tokens) -> None:
    program, model = sort_indices_by_tokens
    text = str(optracr.verify(model, program, progress=False))
    head, example = text.splitlines()
    assert head.startswith("OK on 15 of 120 inputs (every input), 0 mismatches; 105 inputs UNDEFINED (")
    assert "the evaluator has no answer" in head
    assert not head.startswith("OK:")
    assert example.startswith("  undefined on input (1, 1): 'sort': categorical aggregate picked several positions")


def test_undefined_inputs_keep_the_evaluators_reason(sort_indices_by_tokens) -> None:
    program, model = sort_indices_by_tokens
    report = optracr.verify(model, program, progress=False, max_reported=3)
    assert [u.input for u in report.undefined] == [(1, 1), (2, 2), (3, 3)]
    for entry in report.undefined:
        with pytest.raises(EvaluationError) as raised:
            rasp.evaluate(program, list(entry.input))
        assert entry.reason == str(raised.value)


def test_a_fully_defined_run_still_says_ok() -> None:
    program = programs.make_length()
    model = optracr.compile(program, {"a", "b"}, 3, allocator="heuristic")
    report = optracr.verify(model, program, progress=False)
    assert str(report) == "OK: 14 inputs checked (every input), 0 mismatches"
    assert report.undefined == () and report.ok


def test_nothing_checked_is_not_ok_and_says_so(undefined_everywhere) -> None:
    program, model = undefined_everywhere
    report = optracr.verify(model, program, progress=False)
    assert (report.num_checked, report.num_undefined) == (0, 2 + 4 + 8)
    assert not report.ok
    text = str(report)
    assert text.startswith("NOTHING CHECKED: all 14 inputs (every input) are UNDEFINED")
    assert "ZeroDivisionError" in text.splitlines()[1]


def test_mismatch_report_names_the_failures_and_the_undefined_count(sort_indices_by_tokens) -> None:
    program, model = sort_indices_by_tokens
    wrong = rasp.Map(lambda i: i + 1, program)  # off by one wherever the program is defined
    report = optracr.verify(model, wrong, progress=False)
    assert (report.num_checked, report.num_mismatches, report.num_undefined) == (15, 15, 105)
    head = str(report).splitlines()[0]
    assert head.startswith("FAILED: 15 mismatches on 15 checked inputs (every input); 105 inputs UNDEFINED")


def test_no_progress_bar_by_default_off_a_terminal(sort_indices_by_tokens, capsys, monkeypatch) -> None:
    monkeypatch.setattr(verification, "PROGRESS_DELAY_S", 0.0)
    program, model = sort_indices_by_tokens
    optracr.verify(model, program)  # stderr is captured here, not a terminal
    assert capsys.readouterr().err == ""


def test_progress_bar_when_asked_and_the_run_is_slow(sort_indices_by_tokens, capsys, monkeypatch) -> None:
    monkeypatch.setattr(verification, "PROGRESS_DELAY_S", 0.0)  # as if the run had taken over a second
    program, model = sort_indices_by_tokens
    optracr.verify(model, program, progress=True)
    err = capsys.readouterr().err
    assert "verify: 100%" in err and "120/120" in err


def test_no_progress_bar_for_a_run_under_a_second(sort_indices_by_tokens, capsys) -> None:
    program, model = sort_indices_by_tokens
    optracr.verify(model, program, progress=True)  # 120 inputs: a fraction of the 1 s delay
    assert capsys.readouterr().err == ""


def test_a_categorical_output_of_the_right_value_but_another_type_is_a_mismatch() -> None:
    """``1 == True == 1.0``, but they are three values (three directions): verify tells them apart."""
    ones = rasp.Map(lambda t: 1, rasp.tokens).named("ones")
    model = optracr.compile(ones, {"a"}, 2, allocator="heuristic")
    assert optracr.verify(model, ones).ok
    for other in (True, 1.0):
        report = optracr.verify(model, rasp.Map(lambda t, v=other: v, rasp.tokens).named("ones"))
        assert (report.num_checked, report.num_mismatches) == (2, 2)
        assert f"input ('a',): expected [{other!r}], got [1]" in str(report)
