"""Compiled library programs shared by the export tests, and every input of each."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

import optracr
from optracr import programs, rasp

# (library program, causal): categorical and numerical outputs, causal and not, heads of differing key and
# value sizes (sort), selector width (hist), a model without attention (is_a), and a fused selector width (reverse).
CASES = [("frac_prevs", True), ("sort", False), ("shift_by", True), ("length_numerical", False), ("hist", False),
         ("is_a", False), ("reverse", False)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test taking ``case`` runs once per (program, causal) in ``CASES``."""
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", CASES, ids=[f"{name}{'-causal' if causal else ''}" for name, causal in CASES])


def _build(name: str) -> tuple[rasp.SOp, list, int]:
    if name == "is_a":  # no attention at all: the reference-style model gets one all-zero head
        return rasp.Map(lambda t: t == "a", rasp.tokens).named("is_a"), ["a", "b"], 3
    entry = programs.get_program(name)
    return entry.build(entry.max_seq_len), sorted(entry.vocab, key=repr), entry.max_seq_len


@pytest.fixture(scope="session")
def compiled() -> Callable[..., optracr.CompiledModel]:
    """compiled(name, causal, reference_structure=False): the model of a case, compiled once per test session.

    The default mode folds and fuses (sort_freq-like programs lose s-ops from the residual); the reference
    structure keeps one block per s-op, every s-op in the residual.
    """
    cache: dict[tuple[str, bool, bool], optracr.CompiledModel] = {}

    def get(name: str, causal: bool, reference_structure: bool = False) -> optracr.CompiledModel:
        key = (name, causal, reference_structure)
        if key not in cache:
            program, vocab, max_seq_len = _build(name)
            structure = {"fold": False, "fuse": False} if reference_structure else {}
            cache[key] = optracr.compile(program, vocab, max_seq_len, causal=causal, **structure)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def every_input() -> Callable[[optracr.CompiledModel], list[list]]:
    """every_input(model): ``[BOS, *tokens]`` for every token sequence of length 1..max_seq_len."""

    def inputs(model: optracr.CompiledModel) -> list[list]:
        vocab = [token for token in model.input_tokens if token not in (model.bos, model.pad)]
        max_seq_len = model.layered.max_seq_len
        return [[model.bos, *tokens] for n in range(1, max_seq_len + 1) for tokens in itertools.product(vocab, repeat=n)]

    return inputs


def same_outputs(got: list, want: list, numerical: bool) -> bool:
    """Decoded outputs equal; numerical ones to 1e-9 (backends sum in different orders)."""
    if not numerical:
        return got == want
    return len(got) == len(want) and all(abs(a - b) <= 1e-9 for a, b in zip(got, want))


@pytest.fixture(scope="session")
def matches() -> Callable[[list, list, bool], bool]:
    """matches(got, want, numerical): ``same_outputs``."""
    return same_outputs
