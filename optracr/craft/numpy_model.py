"""The numpy reference run of a BlockGraph: embedding, every block in order with residuals, decoding.

Assembly must embed exactly as ``embed`` does; its model must agree with ``run`` up to float32 rounding.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from optracr import errors
from optracr.craft import bases
from optracr.craft import block_graph as block_graph_lib
from optracr.craft import conventions


def _check_tokens(graph: block_graph_lib.BlockGraph, tokens: Sequence[Hashable]) -> list[Hashable]:
    tokens = list(tokens)
    if not tokens or tokens[0] != graph.bos:
        raise errors.CompileError(None, f"an input starts with the BOS token {graph.bos!r}, got {tokens[:3]!r}")
    if len(tokens) > graph.max_seq_len + 1:
        raise errors.CompileError(
            None,
            f"an input holds at most max_seq_len + 1 = {graph.max_seq_len + 1} tokens (BOS included), "
            f"got {len(tokens)}",
        )
    allowed = graph.vocab | {graph.pad}
    unknown = [token for token in tokens[1:] if token not in allowed]
    if unknown:
        raise errors.CompileError(None, f"tokens {unknown[:4]!r} are neither in the vocabulary nor PAD {graph.pad!r}")
    return tokens


def embed(graph: block_graph_lib.BlockGraph, tokens: Sequence[Hashable]) -> bases.VectorInBasis:
    """The residual at the input: per position ``one``, ``tokens:t`` and (after BOS) ``indices:(p-1)``."""
    tokens = _check_tokens(graph, tokens)
    residual_space = graph.residual_space()
    magnitudes = np.zeros((len(tokens), residual_space.num_dims))
    magnitudes[:, residual_space.index(conventions.one_direction())] = 1.0
    for position, token in enumerate(tokens):
        magnitudes[position, residual_space.index(bases.BasisDirection(conventions.TOKENS, token))] = 1.0
        if position > 0:
            magnitudes[position, residual_space.index(bases.BasisDirection(conventions.INDICES, position - 1))] = 1.0
    return bases.VectorInBasis(residual_space, magnitudes)


def key_mask(graph: block_graph_lib.BlockGraph, tokens: Sequence[Hashable]) -> np.ndarray:
    """True where a position may be attended to (every position but PAD)."""
    return np.array([token != graph.pad for token in _check_tokens(graph, tokens)], dtype=bool)


def run(graph: block_graph_lib.BlockGraph, tokens: Sequence[Hashable]) -> bases.VectorInBasis:
    """The residual after every block, in block order, with PAD keys masked."""
    residual = embed(graph, tokens)
    mask = key_mask(graph, tokens)
    for lowered in graph.blocks:
        residual = residual + lowered.block.apply(residual, mask).project(residual.space)
    return residual


def decode(graph: block_graph_lib.BlockGraph, residual: bases.VectorInBasis, label: str | None = None) -> list[Any]:
    """The value of s-op ``label`` (default: the output) at each position after BOS.

    Categorical: the value whose direction is largest if above 1/2, else None; numerical: the magnitude.
    """
    label = graph.output_label if label is None else label
    space = graph.spaces[label]
    magnitudes = residual.project(space).magnitudes[1:]
    if space.basis == (bases.BasisDirection(label),):
        return [float(row[0]) for row in magnitudes]
    values = []
    for row in magnitudes:
        best = int(np.argmax(row)) if len(row) else 0
        values.append(space.basis[best].value if len(row) and row[best] > 0.5 else None)
    return values
