"""The numpy reference run of a BlockGraph: embedding tables, every block in order with residuals, decoding.

``input_tokens``, ``token_embedding`` and ``position_embedding`` are the embedding both stages use: ``embed``
here and the compiled model's ``token_embed``/``pos_embed`` parameters (assembly copies these rows), so the two
cannot drift. ``decode_one_hot`` is the one decoding rule for a categorical output. Running a model is
assemble's (its block-wise forward); ``attention_mask`` is the one mask every forward uses.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from optracr.craft import bases
from optracr.craft import block_graph as block_graph_lib
from optracr.craft import conventions
from optracr.craft import folding
from optracr.craft import inputs

DECODE_THRESHOLD = 0.5  # a categorical s-op has a value where its largest direction exceeds this


def input_tokens(graph: block_graph_lib.BlockGraph) -> tuple[Hashable, ...]:
    """Every token an input position can hold, in the order of the ``tokens`` subspace: vocab sorted, BOS, PAD."""
    return tuple(direction.value for direction in graph.spaces[conventions.TOKENS].basis)


def token_embedding(graph: block_graph_lib.BlockGraph) -> bases.VectorInBasis:
    """One residual row per ``input_tokens`` entry: ``one`` and that token's ``tokens:t``."""
    residual_space = graph.residual_space()
    tokens_space = graph.spaces[conventions.TOKENS]
    one = residual_space.vector_from_basis_direction(conventions.one_direction())
    rows = [one + residual_space.vector_from_basis_direction(direction) for direction in tokens_space.basis]
    return bases.stack(rows)


def position_embedding(graph: block_graph_lib.BlockGraph) -> bases.VectorInBasis:
    """One residual row per position 0..max_seq_len: nothing at BOS (0), ``indices:(p-1)`` at p >= 1."""
    residual_space = graph.residual_space()
    indices_space = graph.spaces[conventions.INDICES]
    rows = [residual_space.null_vector()]
    rows += [residual_space.vector_from_basis_direction(direction) for direction in indices_space.basis]
    return bases.stack(rows)


def embed(graph: block_graph_lib.BlockGraph, tokens: Sequence[Hashable]) -> bases.VectorInBasis:
    """The residual at the input: each position's token row plus its position row."""
    tokens = inputs.check_tokens(tokens, graph.vocab, bos=graph.bos, pad=graph.pad, max_seq_len=graph.max_seq_len)
    row_of = {token: row for row, token in enumerate(input_tokens(graph))}
    token_rows = token_embedding(graph).magnitudes[[row_of[token] for token in tokens]]
    position_rows = position_embedding(graph).magnitudes[: len(tokens)]
    return bases.VectorInBasis(graph.residual_space(), token_rows + position_rows)


def attention_mask(is_pad: Any, causal: bool, *, xp: Any = np) -> Any:
    """The one attention mask: ``[..., query, key]``, True where query q may attend key k.

    ``is_pad`` is ``[..., T]`` (True at PAD positions). A query may attend BOS (key 0) always, so no row is
    empty; it never attends a PAD key, and with ``causal`` no key after itself. ``xp`` is the array module
    (numpy, or ``jax.numpy`` inside a jitted forward).
    """
    is_pad = xp.asarray(is_pad, dtype=bool)
    length = is_pad.shape[-1]
    keys = ~is_pad | (xp.arange(length) == 0)
    allowed = xp.broadcast_to(keys[..., None, :], (*is_pad.shape, length))
    return allowed & xp.tril(xp.ones((length, length), dtype=bool)) if causal else allowed


def decode_one_hot(magnitudes: np.ndarray, classes: Sequence[Hashable]) -> list[Any]:
    """Per row (one column per class): the class of the largest entry if it exceeds 1/2, else None (no value)."""
    magnitudes = np.asarray(magnitudes)
    if magnitudes.shape[1] == 0:
        return [None] * magnitudes.shape[0]
    best = magnitudes.argmax(axis=1)
    held = magnitudes[np.arange(magnitudes.shape[0]), best] > DECODE_THRESHOLD
    return [classes[index] if value else None for index, value in zip(best.tolist(), held.tolist())]


def decode(graph: block_graph_lib.BlockGraph, residual: bases.VectorInBasis, label: str | None = None) -> list[Any]:
    """The value of s-op ``label`` (default: the output) at each position after BOS.

    Categorical: ``decode_one_hot`` over the s-op's directions; numerical: the magnitude.
    """
    label = graph.output_label if label is None else label
    space = graph.spaces[label]
    held = folding.read(graph.folds[label], residual) if label in graph.folds else residual
    magnitudes = held.project(space).magnitudes[1:]
    if space.basis == (bases.BasisDirection(label),):
        return [float(row[0]) for row in magnitudes]
    return decode_one_hot(magnitudes, [direction.value for direction in space.basis])
