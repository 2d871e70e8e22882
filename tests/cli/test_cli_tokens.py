"""``cli_tokens``: command-line text becomes typed tokens by one stated rule, or a refusal naming the readings."""

from __future__ import annotations

import pytest

from optracr.cli import tokens as cli_tokens
from optracr.errors import CompileError


def _typed(tokens: list) -> list[tuple[type, object]]:
    return [(type(token), token) for token in tokens]


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ('[2, "x", 2.5, true]', {}, [2, "x", 2.5, True]),
        ("0,1,1", {}, [0, 1]),
        ("0.5, 1e3", {}, [0.5, 1000.0]),
        ("a, b c", {}, ["a", "b c"]),
        ("1,2", {"vocab_type": "float"}, [1.0, 2.0]),
        ("1,x", {"vocab_type": "str"}, ["1", "x"]),
        ("TRUE,false", {"vocab_type": "bool"}, [True, False]),
        ("3,1", {"program_vocab": frozenset({1, 2})}, [3, 1]),
        ("1,2", {"program_vocab": frozenset({0.5})}, [1.0, 2.0]),
        ("1,2", {"program_vocab": frozenset({"a"})}, ["1", "2"]),
        ("1,x", {"program_vocab": frozenset({1, "a"})}, None),  # a mixed vocabulary is no default reading
    ],
)
def test_read_vocab_gives_each_token_its_type(text: str, options: dict, expected: list | None) -> None:
    if expected is None:
        with pytest.raises(CompileError, match="reads more than one way"):
            cli_tokens.read_vocab(text, **options)
    else:
        assert _typed(cli_tokens.read_vocab(text, **options)) == _typed(expected)


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("0,1,x", {}, r"reads more than one way \(it holds integers \(0, 1\) and words \(x\)\)"),
        ("1,x", {"vocab_type": "int"}, r"'x' is not an int \(--vocab-type int\); give integers, e.g. --vocab 0,1,2"),
        ("1,x", {"vocab_type": "float"}, r"'x' is not a float"),
        ("yes", {"vocab_type": "bool"}, r"'yes' is not a bool"),
        ("1", {"vocab_type": "list"}, r"unknown --vocab-type 'list'; use one of auto, int, float, str, bool"),
        ("[1]", {"vocab_type": "int"}, r"a JSON list, which carries each token's type: leave --vocab-type out"),
        ("[1,]", {}, r"is not a JSON list \(Expecting value at character 3\); write e.g."),
        ('[{"a": 1}]', {}, r'\{"a": 1\} is not a token'),
        ("[[1, 2]]", {}, r"\[1, 2\] is not a token"),
        ("[]", {}, r"names no token"),
        ("[0.0, -0.0]", {}, r"0.0, -0.0 are equal under Python's =="),
        ("a,1", {"program_vocab": frozenset({1, 2}), "program_name": "sort"},
         r"'a' is not integers, and sort's own vocabulary is integers \{1, 2\}"),
    ],
)
def test_read_vocab_refuses_with_what_would_work(text: str, options: dict, message: str) -> None:
    with pytest.raises(CompileError, match=message):
        cli_tokens.read_vocab(text, **options)


def test_nan_and_inf_are_words_not_floats() -> None:
    with pytest.raises(CompileError, match="reads more than one way"):
        cli_tokens.read_vocab("1,nan")
    assert cli_tokens.read_vocab("nan,inf", vocab_type="str") == ["nan", "inf"]
    with pytest.raises(CompileError, match="'nan' is not a float"):
        cli_tokens.read_vocab("nan", vocab_type="float")


@pytest.mark.parametrize(
    ("text", "vocab", "options", "expected"),
    [
        ("1 x 0", [0, 1, "x"], {}, [1, "x", 0]),
        ("1 2.5", [1.0, 2.5], {}, [1.0, 2.5]),
        ("true False", [True, False], {}, [True, False]),
        ('[1, "1"]', [1, "1"], {}, [1, "1"]),
        ("1 1", ["1", 1], {"vocab_type": "str"}, ["1", "1"]),
        ("", ["a"], {}, []),
    ],
)
def test_read_input_spells_tokens_of_the_vocabulary(text: str, vocab: list, options: dict, expected: list) -> None:
    assert _typed(cli_tokens.read_input(text, vocab, **options)) == _typed(expected)


@pytest.mark.parametrize(
    ("text", "vocab", "options", "message"),
    [
        ("1", [1, "1"], {}, r"'1' could be any of the vocabulary's tokens '1', 1"),
        ("2", [0, 1], {}, r"'2' is not a token of the vocabulary \{0, 1\}"),
        ("[true]", [1], {}, r"True is not in the vocabulary \{1\}"),
        ("1", [1], {"vocab_type": "float"}, r"1.0 is not in the vocabulary \{1\}"),
        ("x", [1], {"vocab_type": "int"}, r"--input x: 'x' is not an int"),
    ],
)
def test_read_input_refuses_what_is_not_one_token_of_the_vocabulary(
    text: str, vocab: list, options: dict, message: str
) -> None:
    with pytest.raises(CompileError, match=message):
        cli_tokens.read_input(text, vocab, **options)


def test_show_tokens_tells_strings_from_numbers() -> None:
    assert cli_tokens.show_tokens({2, 1}) == "{1, 2}" and cli_tokens.show_tokens({"2", "1"}) == "{'1', '2'}"
