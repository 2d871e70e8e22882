"""Block weights: every head and MLP of a ``LayeredModel`` as the residual rows it reads and writes plus its small
matrices, the form the forward pass (module ``forward``) runs.

A head reads its query rows, key rows and value rows of the residual (the positions of its spaces' directions
in ``residual_labels``), scores ``query W_QK key^T`` with ``W_QK`` of size |query space| x |key space|, mixes
``value W_OV`` and adds the result at its output rows. A layer's MLP reads its input rows, multiplies by
``W_in`` (|input space| x hidden width), applies ReLU, multiplies by ``W_out`` and adds at its output rows. The
unembedding reads the output s-op's rows. Nothing here is padded: a head is as wide as its own spaces.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from optracr import craft

Rows = np.ndarray  # int64 positions in the residual, one per direction of a block's space, in the space's order


@dataclasses.dataclass(frozen=True, eq=False)
class HeadWeights:
    """One attention head on its own residual rows: ``W_QK`` (query x key rows), ``W_OV`` (value x output rows)."""

    query_rows: Rows
    key_rows: Rows
    w_qk: np.ndarray
    value_rows: Rows
    output_rows: Rows
    w_ov: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class MLPWeights:
    """One layer's MLP on its own residual rows: ``W_in`` (input rows x hidden), ``W_out`` (hidden x output rows)."""

    input_rows: Rows
    w_in: np.ndarray
    w_out: np.ndarray
    output_rows: Rows


@dataclasses.dataclass(frozen=True, eq=False)
class LayerWeights:
    """One layer: its heads in head order and its MLP (None when the layer has none)."""

    heads: tuple[HeadWeights, ...]
    mlp: MLPWeights | None


@dataclasses.dataclass(frozen=True, eq=False)
class BlockWeights:
    """Every weight of a model block by block, in one dtype; ``num_heads`` is the model's padded head count."""

    token_embed: np.ndarray  # len(input_tokens) x D
    pos_embed: np.ndarray  # (max_seq_len + 1) x D
    layers: tuple[LayerWeights, ...]
    unembed_rows: Rows
    unembed: np.ndarray  # unembed rows x output_size
    num_heads: int
    pad_id: int
    causal: bool


def rows_of(space: craft.VectorSpaceWithBasis, residual: craft.VectorSpaceWithBasis) -> Rows:
    """The residual row of each direction of ``space``, in ``space``'s order."""
    return np.array([residual.index(direction) for direction in space.basis], dtype=np.int64)


def head_weights(head: craft.AttentionHead, residual: craft.VectorSpaceWithBasis, dtype: type) -> HeadWeights:
    """``head`` as its rows and its two small matrices."""
    return HeadWeights(
        query_rows=rows_of(head.w_qk.left_space, residual),
        key_rows=rows_of(head.w_qk.right_space, residual),
        w_qk=np.asarray(head.w_qk.matrix, dtype=dtype),
        value_rows=rows_of(head.w_ov.input_space, residual),
        output_rows=rows_of(head.w_ov.output_space, residual),
        w_ov=np.asarray(head.w_ov.matrix, dtype=dtype),
    )


def mlp_weights(mlp: craft.MLP, residual: craft.VectorSpaceWithBasis, dtype: type) -> MLPWeights:
    """``mlp`` as its rows and its two small matrices."""
    return MLPWeights(
        input_rows=rows_of(mlp.input_space, residual),
        w_in=np.asarray(mlp.fst.matrix, dtype=dtype),
        w_out=np.asarray(mlp.snd.matrix, dtype=dtype),
        output_rows=rows_of(mlp.output_space, residual),
    )


def head_nonzeros(head: craft.AttentionHead) -> int:
    """Non-zero entries of the head's padded W_Q, W_K, W_V, W_O (module ``dense``'s factoring, counted unbuilt).

    Each bilinear map is factored with an identity copy on its smaller side (rank many ones) and the matrix on
    the other, so a head holds ``key_size + nnz(W_QK) + value_size + nnz(W_OV)`` non-zeros.
    """
    return head.key_size + int(np.count_nonzero(head.w_qk.matrix)) + head.value_size + int(
        np.count_nonzero(head.w_ov.matrix)
    )


def mlp_nonzeros(mlp: craft.MLP) -> int:
    """Non-zero entries of the MLP's W_in and W_out."""
    return int(np.count_nonzero(mlp.fst.matrix)) + int(np.count_nonzero(mlp.snd.matrix))
