"""Compiled library programs shared by the picture tests (compiled once per session)."""

from __future__ import annotations

import functools
from collections.abc import Hashable

import pytest

import optracr
from optracr import programs

pytest.importorskip("matplotlib")

INPUTS: dict[str, list[Hashable]] = {
    "frac_prevs": ["x", "a", "c", "x"],
    "sort": [3, 1, 4, 2],
    "shuffle_dyck2": list("()}{"),
    "shuffle_dyck3": list("([)}]{"),
}


@functools.cache
def _compiled(name: str, allocator: str = "solver", reference: bool = False):
    """(program, model) for a library program: the very program object the model was compiled from."""
    entry = programs.get_program(name)
    program = entry.build(entry.max_seq_len)
    model = optracr.compile(program, sorted(entry.vocab, key=repr), entry.max_seq_len, allocator=allocator,
                            fold=not reference, fuse=not reference)
    return program, model


@functools.cache
def _both_allocators(name: str, reference: bool = False):
    """(program, solver model, heuristic model) compiled from one program object."""
    entry = programs.get_program(name)
    program = entry.build(entry.max_seq_len)
    vocab = sorted(entry.vocab, key=repr)
    options = {"fold": not reference, "fuse": not reference}
    return (program, optracr.compile(program, vocab, entry.max_seq_len, **options),
            optracr.compile(program, vocab, entry.max_seq_len, allocator="heuristic", **options))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(name="compiled")
def compiled_fixture():
    """``compiled(name, allocator="solver", reference=False)`` -> (program, model), cached for the session."""
    return _compiled


@pytest.fixture(name="both_allocators")
def both_allocators_fixture():
    """``both_allocators(name, reference=False)`` -> (program, solver model, heuristic model), cached."""
    return _both_allocators


@pytest.fixture(name="inputs")
def inputs_fixture() -> dict[str, list[Hashable]]:
    """An input per program the picture tests draw."""
    return INPUTS
