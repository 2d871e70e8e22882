"""Tokens typed on the command line (``--vocab``, ``--input``), read with their types and never guessed.

``1``, ``1.0``, ``True`` and ``"1"`` are four tokens to optracr, so text is read by one rule, said out loud:
comma-separated text with ``--vocab-type int|float|str|bool``; a JSON list (``'[0, 1, "x"]'``), which carries
each token's type; or, without either, the type of the program's own vocabulary (ints for ``sort``). A program
with no vocabulary of its own (from a file, a module, a dataset) takes text that reads one way only: all
integers, all decimals, or all words. Anything else is refused with the readings that would work.

>>> from optracr.cli import tokens as cli_tokens
>>> cli_tokens.read_vocab('[0, 1, "x"]')
[0, 1, 'x']
>>> cli_tokens.read_vocab("3,1,2", program_vocab=frozenset({1, 2, 3, 4}))
[3, 1, 2]
>>> cli_tokens.read_input("1 x", [0, 1, "x"])
[1, 'x']
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Collection, Hashable, Iterable

from optracr.errors import CompileError
from optracr.frontend import same_value, value_key

VOCAB_TYPES = ("auto", "int", "float", "str", "bool")
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_BOOLEANS = {"true": True, "false": False}
_TYPE_WORDS = {int: "integers", float: "floats", str: "strings", bool: "booleans"}
_TYPE_NAMES = {int: "int", float: "float", str: "str", bool: "bool"}


def read_vocab(
    text: str, *, vocab_type: str = "auto", program_vocab: Collection[Hashable] | None = None,
    program_name: str = "the program",
) -> list[Hashable]:
    """``--vocab``'s tokens: a JSON list as typed; else comma-separated, read as ``vocab_type``, or (``auto``) as
    the type of ``program_vocab``, or, without one, only if the text reads one way."""
    _check_vocab_type(vocab_type)
    if _is_json_list(text):
        if vocab_type != "auto":
            raise CompileError(
                None, f"--vocab-type {vocab_type} says how to read comma-separated tokens, but --vocab {text} is a "
                f"JSON list, which carries each token's type: leave --vocab-type out, or write --vocab as "
                "comma-separated tokens"
            )
        tokens = _json_tokens(text, "--vocab")
    else:
        words = _comma_words(text)
        if vocab_type != "auto":
            tokens = [_convert(word, _TYPES[vocab_type], "--vocab", text) for word in words]
        elif program_vocab and _one_type(program_vocab) is not None:
            tokens = _as_program_type(words, text, _one_type(program_vocab), program_vocab, program_name)
        else:
            tokens = _one_reading(words, text)
    if not tokens:
        raise CompileError(None, f"--vocab {text} names no token; give e.g. --vocab a,b,c or --vocab '[0, 1]'")
    _check_distinct(tokens, text)
    return list({value_key(token): token for token in tokens}.values())


def read_input(text: str, vocab: Iterable[Hashable], *, vocab_type: str = "auto") -> list[Hashable]:
    """``--input``'s tokens (BOS not included): a JSON list as typed; else space-separated words, read as
    ``vocab_type``, or (``auto``) as the one token of ``vocab`` each word spells. Every token must be in ``vocab``."""
    _check_vocab_type(vocab_type)
    vocab = list(vocab)
    if _is_json_list(text):
        tokens = _json_tokens(text, "--input")
    elif vocab_type != "auto":
        tokens = [_convert(word, _TYPES[vocab_type], "--input", text) for word in text.split()]
    else:
        tokens = [_vocab_token(word, vocab, text) for word in text.split()]
    unknown = [token for token in tokens if not any(same_value(token, member) for member in vocab)]
    if unknown:
        raise CompileError(
            None, f"--input {text}: {_listed(unknown)} {'is' if len(unknown) == 1 else 'are'} not in the vocabulary "
            f"{show_tokens(vocab)}; give tokens of the vocabulary (or compile with another --vocab)"
        )
    return tokens


def show_tokens(tokens: Iterable[Hashable]) -> str:
    """Tokens as Python writes them, sorted, in braces: ``{1, 2}`` and ``{'1', '2'}`` look different."""
    return "{" + ", ".join(repr(token) for token in sorted(tokens, key=repr)) + "}"


# --------------------------------------------------------------------------------------------- readings
def _int(word: str) -> int | None:
    return int(word) if _INTEGER.fullmatch(word) else None


def _float(word: str) -> float | None:
    return float(word) if _DECIMAL.fullmatch(word) else None


def _bool(word: str) -> bool | None:
    return _BOOLEANS.get(word.lower())


def _str(word: str) -> str:
    return word


_TYPES: dict[str, type] = {"int": int, "float": float, "str": str, "bool": bool}
_READERS: dict[type, Callable[[str], Hashable | None]] = {int: _int, float: _float, str: _str, bool: _bool}
_EXAMPLES = {int: "--vocab 0,1,2", float: "--vocab 0.5,1.5", str: "--vocab a,b,c", bool: "--vocab true,false"}


def _convert(word: str, kind: type, option: str, text: str) -> Hashable:
    token = _READERS[kind](word)
    if token is None:
        article = "an" if kind is int else "a"
        raise CompileError(
            None, f"{option} {text}: {word!r} is not {article} {_TYPE_NAMES[kind]} (--vocab-type "
            f"{_TYPE_NAMES[kind]}); give {_TYPE_WORDS[kind]}, e.g. {_EXAMPLES[kind]}, or another --vocab-type"
        )
    return token


def _one_type(tokens: Collection[Hashable]) -> type | None:
    kinds = {type(token) for token in tokens}
    return kinds.pop() if len(kinds) == 1 and next(iter(kinds)) in _READERS else None


def _as_program_type(
    words: list[str], text: str, kind: type, program_vocab: Collection[Hashable], program_name: str
) -> list[Hashable]:
    tokens = [_READERS[kind](word) for word in words]
    wrong = [word for word, token in zip(words, tokens) if token is None]
    if wrong:
        raise CompileError(
            None, f"--vocab {text}: {_listed(wrong)} {'is' if len(wrong) == 1 else 'are'} not "
            f"{_TYPE_WORDS[kind]}, and {program_name}'s own vocabulary is {_TYPE_WORDS[kind]} "
            f"{show_tokens(program_vocab)}, so --vocab is read as {_TYPE_WORDS[kind]}; give {_TYPE_WORDS[kind]} "
            f"(e.g. --vocab {','.join(str(t) for t in sorted(program_vocab, key=repr)[:3])}), or say how to read "
            f"the tokens: {_readings(words)}"
        )
    return tokens


def _one_reading(words: list[str], text: str) -> list[Hashable]:
    """Words that read one way only: all integers, all decimals, or all words that are neither nor booleans."""
    if all(_int(word) is not None for word in words):
        return [_int(word) for word in words]
    if all(_float(word) is not None and _int(word) is None for word in words):
        return [_float(word) for word in words]
    if all(_float(word) is None and _bool(word) is None for word in words):
        return list(words)
    raise CompileError(
        None, f"--vocab {text} reads more than one way (it holds {_mixture(words)}), and a program without a "
        f"vocabulary of its own cannot say which you mean (to optracr 1, 1.0, True and '1' are four tokens): "
        f"{_readings(words)}"
    )


def _mixture(words: list[str]) -> str:
    kinds: dict[str, list[str]] = {}
    for word in words:
        kind = ("integers" if _int(word) is not None else "decimals" if _float(word) is not None
                else "booleans" if _bool(word) is not None else "words")
        kinds.setdefault(kind, []).append(word)
    return " and ".join(f"{kind} ({', '.join(members)})" for kind, members in kinds.items())


def _readings(words: list[str]) -> str:
    """What would work: every word a string; all floats if all are numbers; each its own type as a JSON list."""
    as_strings = ", ".join(repr(word) for word in words)
    readings = [f"--vocab-type str reads them all as strings ({as_strings})"]
    if all(_float(word) is not None for word in words):
        readings.append(f"--vocab-type float reads them all as floats ({', '.join(repr(_float(w)) for w in words)})")
    if all(_bool(word) is not None for word in words):
        readings.append("--vocab-type bool reads them as booleans")
    typed = [next(t for t in (_int(w), _float(w), _bool(w), w) if t is not None) for w in words]
    readings.append(f"a JSON list keeps each as it reads: --vocab '{json.dumps(typed)}'")
    return "; ".join(readings)


def _vocab_token(word: str, vocab: list[Hashable], text: str) -> Hashable:
    """The token of ``vocab`` that ``word`` spells when read as that token's type."""
    spelled = sorted((token for token in vocab if _spells(word, token)), key=repr)
    if len(spelled) > 1:
        examples = " or ".join(f"--input '{json.dumps([token])}'" for token in spelled)
        raise CompileError(
            None, f"--input {text}: {word!r} could be any of the vocabulary's tokens {_listed(spelled)}; write the "
            f"input as a JSON list, e.g. {examples}"
        )
    if not spelled:
        raise CompileError(
            None, f"--input {text}: {word!r} is not a token of the vocabulary {show_tokens(vocab)}; give tokens of "
            "the vocabulary (or compile with another --vocab)"
        )
    return spelled[0]


def _spells(word: str, token: Hashable) -> bool:
    reader = _READERS.get(type(token))
    return reader is not None and (read := reader(word)) is not None and same_value(read, token)


# ----------------------------------------------------------------------------------------------- checks
def _check_vocab_type(vocab_type: str) -> None:
    if vocab_type not in VOCAB_TYPES:
        raise CompileError(None, f"unknown --vocab-type {vocab_type!r}; use one of {', '.join(VOCAB_TYPES)}")


def _is_json_list(text: str) -> bool:
    return text.lstrip().startswith("[")


def _comma_words(text: str) -> list[str]:
    return [word.strip() for word in text.split(",") if word.strip()]


def _json_tokens(text: str, option: str) -> list[Hashable]:
    """The tokens of a JSON list: numbers, strings and booleans (JSON's true and false)."""
    example = "'[0, 1, \"x\"]'"
    try:
        tokens = json.loads(text)
    except json.JSONDecodeError as error:
        raise CompileError(
            None, f"{option} {text} is not a JSON list ({error.msg} at character {error.pos}); write e.g. {option} "
            f"{example}, strings in double quotes"
        ) from None
    if not isinstance(tokens, list):
        raise CompileError(None, f"{option} {text} is not a JSON list; write e.g. {option} {example}")
    for token in tokens:
        if isinstance(token, float) and not math.isfinite(token):
            raise CompileError(None, f"{option} {text}: {token!r} is not a finite number; tokens must be")
        if not isinstance(token, (str, int, float)):  # bool is an int
            raise CompileError(
                None, f"{option} {text}: {json.dumps(token)} is not a token; a token is a JSON number, string, "
                "true or false"
            )
    return tokens


def _check_distinct(tokens: list[Hashable], text: str) -> None:
    """Refuses tokens that Python's ``==`` calls equal but optracr tells apart (1, 1.0, True; 0.0, -0.0)."""
    groups: dict[Hashable, dict[Hashable, Hashable]] = {}
    for token in tokens:
        groups.setdefault(token, {}).setdefault(value_key(token), token)
    clashes = [list(group.values()) for group in groups.values() if len(group) > 1]
    if clashes:
        raise CompileError(
            None, f"--vocab {text}: {_listed(clashes[0])} are equal under Python's == (one key of a set or a "
            "Select) but different tokens to optracr; keep one of them"
        )


def _listed(tokens: Iterable[Hashable]) -> str:
    return ", ".join(repr(token) for token in tokens)
