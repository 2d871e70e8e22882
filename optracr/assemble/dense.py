"""Dense weights: a ``LayeredModel`` as padded float64 arrays in residual coordinates, for every backend.

A head's bilinear ``W_QK`` (query space x key space) is factored as ``W_Q W_K^T`` with rank
min(dim query space, dim key space): the smaller side is an identity copy of its directions, the other side
carries the matrix. ``W_OV`` is factored into ``W_V W_O`` the same way, independently of the key size. Every
layer is padded to the model's shape: H heads of key size dk and value size dv (head h owns columns
h*dk:(h+1)*dk of query and key, h*dv:(h+1)*dv of value and rows of output), and an MLP of width M (the
layer's combined MLP first, zero units after). Rows (or columns) follow ``residual_labels``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from optracr import craft
from optracr import schedule

Array = np.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class DenseLayer:
    """One layer: query, key (D x H*dk), value (D x H*dv), output (H*dv x D), mlp_in (D x M), mlp_out (M x D)."""

    query: Array
    key: Array
    value: Array
    output: Array
    mlp_in: Array
    mlp_out: Array


@dataclasses.dataclass(frozen=True, eq=False)
class DenseWeights:
    """Every weight of a model as read-only float64 arrays, and the widths that split them into heads."""

    token_embed: Array  # len(input_tokens) x D
    pos_embed: Array  # (max_seq_len + 1) x D
    layers: tuple[DenseLayer, ...]
    unembed: Array  # D x output_size
    num_heads: int
    key_size: int
    value_size: int
    mlp_hidden_width: int

    def __post_init__(self) -> None:
        for array in (self.token_embed, self.pos_embed, self.unembed):
            array.setflags(write=False)
        for layer in self.layers:
            for field in dataclasses.fields(layer):
                getattr(layer, field.name).setflags(write=False)

    def arrays(self) -> dict[str, Array]:
        """Every array under a flat backend-neutral name (``layers.0.query`` ...), in forward order."""
        named = {"token_embed": self.token_embed, "pos_embed": self.pos_embed}
        for number, layer in enumerate(self.layers):
            for field in dataclasses.fields(DenseLayer):
                named[f"layers.{number}.{field.name}"] = getattr(layer, field.name)
        named["unembed"] = self.unembed
        return named


def factor(matrix: Array, left_rows: list[int], right_rows: list[int], width: int) -> tuple[Array, Array]:
    """``matrix`` (left x right) as ``L @ R.T`` with L, R: width x min(left, right), rows at the given rows."""
    rank = min(len(left_rows), len(right_rows))
    left, right = np.zeros((width, rank)), np.zeros((width, rank))
    if len(left_rows) <= len(right_rows):
        left[left_rows, np.arange(rank)] = 1.0
        right[right_rows, :] = matrix.T
    else:
        right[right_rows, np.arange(rank)] = 1.0
        left[left_rows, :] = matrix
    return left, right


def head_arrays(head: craft.AttentionHead, residual: craft.VectorSpaceWithBasis) -> tuple[Array, ...]:
    """One head's W_Q, W_K (D x key size), W_V (D x value size) and W_O (value size x D), unpadded."""
    rows = lambda space: [residual.index(direction) for direction in space.basis]  # noqa: E731
    width = residual.num_dims
    query, key = factor(head.w_qk.matrix, rows(head.w_qk.left_space), rows(head.w_qk.right_space), width)
    value, output = factor(head.w_ov.matrix, rows(head.w_ov.input_space), rows(head.w_ov.output_space), width)
    return query, key, value, output.T


def dense_layer(
    heads: tuple[craft.AttentionHead, ...],
    mlp: craft.MLP | None,
    residual: craft.VectorSpaceWithBasis,
    shape: schedule.ModelShape,
) -> DenseLayer:
    """One layer's heads and MLP padded to ``shape``, in the coordinates of ``residual``."""
    width, dk, dv = residual.num_dims, shape.key_size, shape.value_size
    query, key = np.zeros((width, shape.num_heads * dk)), np.zeros((width, shape.num_heads * dk))
    value, output = np.zeros((width, shape.num_heads * dv)), np.zeros((shape.num_heads * dv, width))
    for h, head in enumerate(heads):
        head_query, head_key, head_value, head_output = head_arrays(head, residual)
        query[:, h * dk : h * dk + head_query.shape[1]] = head_query
        key[:, h * dk : h * dk + head_key.shape[1]] = head_key
        value[:, h * dv : h * dv + head_value.shape[1]] = head_value
        output[h * dv : h * dv + head_output.shape[0], :] = head_output
    mlp_in, mlp_out = np.zeros((width, shape.mlp_hidden_width)), np.zeros((shape.mlp_hidden_width, width))
    if mlp is not None:
        hidden = mlp.hidden_width
        mlp_in[:, :hidden] = mlp.fst.lift(residual, mlp.hidden_space).matrix
        mlp_out[:hidden, :] = mlp.snd.lift(mlp.hidden_space, residual).matrix
    return DenseLayer(query, key, value, output, mlp_in, mlp_out)
