"""``InputSpec``: the compile options, checked once at construction (optracr/frontend/input_spec.py)."""

from __future__ import annotations

import dataclasses

import pytest

import optracr
from optracr import rasp
from optracr.errors import CompileError
from optracr.frontend import InputSpec, ProgramErrors, analyse


def test_input_spec_holds_a_frozen_vocabulary_and_the_defaults() -> None:
    spec = InputSpec(["a", "b", "a"], 3)
    assert spec == InputSpec(frozenset({"a", "b"}), 3, bos="BOS", pad="PAD", causal=False)
    assert isinstance(spec.vocab, frozenset)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.causal = True  # type: ignore[misc]


def test_input_spec_rejects_none_vocab_with_a_compile_error() -> None:
    with pytest.raises(CompileError, match=r"must be a collection of input tokens, e.g. vocab=\{'a', 'b'\}, got None"):
        InputSpec(None, 3)  # type: ignore[arg-type]


def test_input_spec_rejects_a_non_iterable_vocab_with_a_compile_error() -> None:
    with pytest.raises(CompileError, match="must be a collection of input tokens.*got 7"):
        InputSpec(7, 3)  # type: ignore[arg-type]


def test_input_spec_refuses_vocabulary_tokens_equal_under_eq_but_of_different_types() -> None:
    message = r"equal under == but of different types: 1 \(int\), 1.0 \(float\), True \(bool\); .* keep one of each"
    with pytest.raises(CompileError, match=message):
        InputSpec([1, 1.0, True, 2], 3)
    with pytest.raises(CompileError, match=r"0 \(int\), False \(bool\)"):
        optracr.compile(rasp.Map(lambda x: x, rasp.tokens), [0, False], 3)


def test_input_spec_keeps_repeated_tokens_of_one_type_as_one() -> None:
    assert InputSpec([1, 1, 2.5, 2.5], 3).vocab == frozenset({1, 2.5})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"vocab": [["a"]]}, r"vocabulary tokens must be hashable \(str, int, \.\.\.\)"),
        ({"vocab": set()}, r"the vocabulary is empty; pass the input tokens, e.g. vocab=\{'a', 'b'\}"),
        ({"vocab": {"a", None}}, "the vocabulary contains None, which RASP uses for 'no value'; remove it"),
        ({"bos": "a"}, "the BOS token 'a' is also in the vocabulary; pick a BOS token outside it"),
        ({"pad": "a"}, "the PAD token 'a' is also in the vocabulary; pick a PAD token outside it"),
        ({"bos": "X", "pad": "X"}, "BOS and PAD are both 'X'; they must differ"),
        ({"bos": ["B"]}, r"the BOS token must be hashable \(str, int, \.\.\.\), got \['B'\]"),
        ({"max_seq_len": 0}, "max_seq_len must be an integer >= 1, got 0"),
        ({"max_seq_len": True}, "max_seq_len must be an integer >= 1, got True"),
        ({"max_seq_len": 2.0}, "max_seq_len must be an integer >= 1, got 2.0"),
        ({"causal": "yes"}, "causal must be False, True or 'strict', got 'yes'; True compiles the program's causal"),
        ({"causal": "STRICT"}, "causal must be False, True or 'strict', got 'STRICT'"),
        ({"causal": 1}, "causal must be False, True or 'strict', got 1"),
    ],
)
def test_input_spec_rejects_each_bad_option_saying_what_would_work(options: dict, message: str) -> None:
    arguments = {"vocab": {"a", "b"}, "max_seq_len": 3, **options}
    with pytest.raises(CompileError, match=message):
        InputSpec(**arguments)


def test_input_spec_reports_every_bad_option_at_once() -> None:
    with pytest.raises(ProgramErrors, match="3 problem") as caught:
        InputSpec({"a"}, 0, bos="a", causal=1)
    assert len(caught.value.errors) == 3


@pytest.mark.parametrize(("causal", "masked", "strict"), [(False, False, False), (True, True, False),
                                                          ("strict", True, True)])
def test_input_spec_takes_every_causal_option_and_says_what_it_masks(causal, masked: bool, strict: bool) -> None:
    spec = InputSpec({"a"}, 2, causal=causal)
    assert (spec.causal, spec.masked, spec.strict_causal) == (causal, masked, strict)


def test_analyse_builds_the_input_spec_the_program_graph_carries() -> None:
    program_graph = analyse(rasp.tokens == "a", "ab", 2, bos="<s>", pad="_", causal=True)
    assert program_graph.input_spec == InputSpec({"a", "b"}, 2, bos="<s>", pad="_", causal=True)
    with pytest.raises(CompileError, match="got None"):
        analyse(rasp.tokens == "a", None, 2)  # type: ignore[arg-type]
