"""Compiled models shared by the explore tests (compiled once per session), with the very program objects."""

from __future__ import annotations

import functools

import pytest

import optracr
from optracr import programs, rasp

pytest.importorskip("plotly")


@functools.cache
def _library_model(name: str, max_seq_len: int | None = None):
    """(program, model) of a library program."""
    entry = programs.get_program(name)
    length = max_seq_len or entry.max_seq_len
    program = entry.build(length)
    return program, optracr.compile(program, sorted(entry.vocab, key=repr), length, causal=entry.causal)


def users_program() -> rasp.SOp:
    """A program of the user's own: half the number of tokens at most as large as each one (numerical)."""
    at_most = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LEQ).named("at_most")
    rank = rasp.SelectorWidth(at_most).named("rank")
    return rasp.numerical(rasp.Map(lambda count: count / 2, rank)).named("half_rank")


@functools.cache
def _users_model():
    """(program, model) of ``users_program`` over {1, 2, 3}, up to 4 tokens."""
    program = users_program()
    return program, optracr.compile(program, [1, 2, 3], 4)


@pytest.fixture(name="library_model", scope="session")
def library_model_fixture():
    """``library_model(name, max_seq_len=None)`` -> (program, model), compiled once per session."""
    return _library_model


@pytest.fixture(name="users_model", scope="session")
def users_model_fixture():
    """(program, model) of a program of the user's own."""
    return _users_model()
