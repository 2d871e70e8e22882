"""Shared checks for craft tests: lower a program, run it block by block in numpy, compare with the evaluator.

Each block reads a residual whose every direction outside the block's own input space holds unrelated
non-zero noise, so a block that reads anything it does not declare fails; its output is added to the clean
residual. Every block must also write (almost) nothing into its s-op at BOS.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Hashable, Iterable, Sequence

import numpy as np
import pytest

from optracr import craft, frontend
from optracr.errors import EvaluationError

rasp = frontend.rasp
NUMERICAL_TOLERANCE = 1e-6
BOS_TOLERANCE = 1e-6


def all_inputs(vocab: Iterable[Hashable], max_length: int) -> list[list[Hashable]]:
    """Every sequence over ``vocab`` of length 1..max_length."""
    vocab = sorted(vocab, key=repr)
    return [list(xs) for length in range(1, max_length + 1) for xs in itertools.product(vocab, repeat=length)]


def random_inputs(vocab: Iterable[Hashable], max_seq_len: int, count: int, seed: int = 0) -> list[list[Hashable]]:
    """``count`` random sequences over ``vocab``, lengths up to max_seq_len (the longest always included)."""
    rng = random.Random(seed)
    vocab = sorted(vocab, key=repr)
    lengths = [max_seq_len] + [rng.randint(1, max_seq_len) for _ in range(count - 1)]
    return [[rng.choice(vocab) for _ in range(length)] for length in lengths]


def run_with_noise(
    block_graph: craft.BlockGraph, tokens: Sequence[Hashable], rng: np.random.Generator
) -> craft.VectorInBasis:
    """Every block in order, each reading a residual with noise outside its input space; BOS silence checked."""
    residual = craft.embed(block_graph, tokens)
    mask = craft.attention_mask([token == block_graph.pad for token in tokens], block_graph.causal)
    for lowered in block_graph.blocks:
        read = np.array([d in lowered.block.input_space for d in residual.space.basis])
        noise = rng.uniform(0.5, 3.0, residual.magnitudes.shape) * rng.choice([-1.0, 1.0], residual.magnitudes.shape)
        noisy = craft.VectorInBasis(residual.space, np.where(read, residual.magnitudes, residual.magnitudes + noise))
        output = lowered.block.apply(noisy, mask)
        for label in lowered.writes:
            at_bos = output.project(block_graph.spaces[label]).magnitudes[0]
            assert np.all(np.abs(at_bos) < BOS_TOLERANCE), f"{label} writes {at_bos} at BOS"
        residual = residual + output.project(residual.space)
    return residual


def assert_same(label: str, got: list, expected: list, numerical: bool, xs: Sequence[Hashable]) -> None:
    """Model values equal the evaluator's (numerical within NUMERICAL_TOLERANCE; categorical of the same type)."""
    assert len(got) == len(expected)
    for position, (g, e) in enumerate(zip(got, expected)):
        if numerical:
            e = 0.0 if e is None else float(e)
            assert abs(g - e) <= NUMERICAL_TOLERANCE, f"{label} at {position} of {xs}: model {g}, evaluator {e}"
        else:
            assert frontend.same_value(g, e), f"{label} at {position} of {xs}: model {g!r}, evaluator {e!r}"


def check_program(
    program: rasp.SOp,
    vocab: Iterable[Hashable],
    max_seq_len: int,
    inputs: Iterable[Sequence[Hashable]],
    *,
    causal: bool = False,
    seed: int = 0,
    pad_to: int | None = None,
    fold: bool = False,
    partial_functions: str = "refuse",
) -> craft.BlockGraph:
    """Every s-op the model computes equals the evaluator's value on every input (noise in the residual).

    Construction tests lower without folding (one block per s-op); ``fold=True`` checks folded s-ops too.
    """
    program_graph = frontend.analyse(
        program, vocab, max_seq_len, causal=causal, partial_functions=partial_functions
    )
    block_graph = craft.lower(program_graph, fold=fold)
    rng = np.random.default_rng(seed)
    for xs in inputs:
        xs = list(xs)
        padding = ["PAD"] * ((pad_to - len(xs)) if pad_to else 0)
        residual = run_with_noise(block_graph, ["BOS", *xs, *padding], rng)
        for label in [*block_graph.block_by_label, *block_graph.folds]:
            expr = program_graph.expr(label)
            try:
                expected = frontend.evaluate(expr, xs, causal=causal)
            except EvaluationError:
                continue  # a function raised on this input: the evaluator has no value to compare with
            got = craft.decode(block_graph, residual, label)[: len(xs)]
            assert_same(label, got, expected, rasp.is_numerical(expr), xs)
    return block_graph


@pytest.fixture
def checker() -> Callable[..., craft.BlockGraph]:
    """``check_program`` (conftest helpers are reached through fixtures under --import-mode=importlib)."""
    return check_program


@pytest.fixture
def run_graph() -> Callable[[craft.BlockGraph, Sequence[Hashable]], craft.VectorInBasis]:
    """run_graph(block_graph, tokens): the residual after every block in order (``run_with_noise``, seed 0)."""
    return lambda block_graph, tokens: run_with_noise(block_graph, list(tokens), np.random.default_rng(0))


@pytest.fixture
def inputs() -> tuple[Callable[..., list], Callable[..., list]]:
    """(all_inputs, random_inputs)."""
    return all_inputs, random_inputs
