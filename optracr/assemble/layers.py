"""Concrete weights: every layer's heads and MLPs combined, padded to the widest layer, as numpy arrays.

A head's bilinear ``W_QK`` (query space x key space) is split into ``W_Q`` and ``W_K`` with key size
min(dim query space, dim key space): the smaller side is an identity copy of its directions, the other side
carries the matrix. ``W_OV`` is split into ``W_V`` and ``W_O`` with value size min(dim value space, dim
output space) the same way, independently of the key size. Each layer's MLPs are concatenated along the hidden
axis. Every array is in residual coordinates (rows or columns indexed by ``residual_labels``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from optracr import craft
from optracr import schedule

Array = np.ndarray


@dataclasses.dataclass(frozen=True)
class HeadWeights:
    """One head in residual coordinates: query/key (D x dk), value (D x dv), output (dv x D)."""

    query: Array
    key: Array
    value: Array
    output: Array


@dataclasses.dataclass(frozen=True)
class LayerWeights:
    """One layer: H heads padded to key size dk / value size dv, and one MLP of hidden width M."""

    query: Array  # D x (H * dk)
    key: Array  # D x (H * dk)
    value: Array  # D x (H * dv)
    output: Array  # (H * dv) x D
    mlp_in: Array  # D x M
    mlp_out: Array  # M x D
    head_labels: tuple[str, ...]  # s-op written by each head, "" for padding heads
    mlp_labels: tuple[str, ...]  # s-op written by each MLP of the layer


class ResidualIndex:
    """Maps basis directions of craft spaces to rows of the residual stream."""

    def __init__(self, residual_space: craft.VectorSpaceWithBasis) -> None:
        self.directions = tuple(residual_space.basis)
        self.position = {direction: i for i, direction in enumerate(self.directions)}

    @property
    def width(self) -> int:
        """The residual width D."""
        return len(self.directions)

    def rows(self, space: craft.VectorSpaceWithBasis) -> list[int]:
        """Residual rows of every direction of ``space``, in its basis order."""
        return [self.position[direction] for direction in space.basis]


def head_weights(head: craft.AttentionHead, index: ResidualIndex) -> HeadWeights:
    """Splits one craft head into W_Q, W_K, W_V, W_O in residual coordinates (no padding)."""
    query_rows, key_rows = index.rows(head.w_qk.left_space), index.rows(head.w_qk.right_space)
    qk = np.asarray(head.w_qk.matrix, dtype=np.float64)
    query, key = _split(qk, query_rows, key_rows, index.width)
    value_rows, output_rows = index.rows(head.w_ov.input_space), index.rows(head.w_ov.output_space)
    value, output_t = _split(np.asarray(head.w_ov.matrix, dtype=np.float64), value_rows, output_rows, index.width)
    return HeadWeights(query=query, key=key, value=value, output=output_t.T)


def _split(matrix: Array, left_rows: list[int], right_rows: list[int], width: int) -> tuple[Array, Array]:
    """Factor ``matrix`` (left x right) as L @ R^T with L: D x r, R: D x r, r = min(left, right)."""
    rank = min(len(left_rows), len(right_rows))
    left, right = np.zeros((width, rank)), np.zeros((width, rank))
    if len(left_rows) <= len(right_rows):
        left[left_rows, np.arange(rank)] = 1.0
        right[right_rows, :] = matrix.T
    else:
        right[right_rows, np.arange(rank)] = 1.0
        left[left_rows, :] = matrix
    return left, right


def mlp_weights(mlp: craft.MLP, index: ResidualIndex) -> tuple[Array, Array]:
    """One craft MLP's first (D x hidden) and second (hidden x D) layer in residual coordinates."""
    hidden = mlp.fst.output_space.num_dims
    first = np.zeros((index.width, hidden))
    first[index.rows(mlp.fst.input_space), :] = np.asarray(mlp.fst.matrix, dtype=np.float64)
    second = np.zeros((hidden, index.width))
    second[:, index.rows(mlp.snd.output_space)] = np.asarray(mlp.snd.matrix, dtype=np.float64)
    return first, second


def build_layers(
    block_graph: craft.BlockGraph, allocation: schedule.Allocation, index: ResidualIndex
) -> tuple[LayerWeights, ...]:
    """Every layer's combined weights, padded to the allocation's heads, key/value size and MLP width."""
    heads_by_layer: list[list[tuple[str, HeadWeights]]] = [[] for _ in range(allocation.num_layers)]
    mlps_by_layer: list[list[tuple[str, tuple[Array, Array]]]] = [[] for _ in range(allocation.num_layers)]
    for lowered in block_graph.blocks:
        layer = allocation.sublayer_of[lowered.label] // 2
        for part in _parts(lowered.block):
            if isinstance(part, craft.AttentionHead):
                heads_by_layer[layer].append((lowered.label, head_weights(part, index)))
            else:
                mlps_by_layer[layer].append((lowered.label, mlp_weights(part, index)))
    return tuple(
        _combine(heads, mlps, allocation, index.width) for heads, mlps in zip(heads_by_layer, mlps_by_layer)
    )


def _parts(block: object) -> list[object]:
    if isinstance(block, craft.SeriesWithResiduals):
        return [part for inner in block.blocks for part in _parts(inner)]
    if isinstance(block, craft.MultiAttentionHead):
        return list(block.heads)
    return [block]


def _combine(
    heads: list[tuple[str, HeadWeights]],
    mlps: list[tuple[str, tuple[Array, Array]]],
    allocation: schedule.Allocation,
    width: int,
) -> LayerWeights:
    num_heads, key_size, value_size = allocation.num_heads, allocation.key_size, allocation.value_size
    query = np.zeros((width, num_heads * key_size))
    key = np.zeros_like(query)
    value = np.zeros((width, num_heads * value_size))
    output = np.zeros((num_heads * value_size, width))
    for h, (_, weights) in enumerate(heads):
        dk, dv = weights.query.shape[1], weights.value.shape[1]
        query[:, h * key_size : h * key_size + dk] = weights.query
        key[:, h * key_size : h * key_size + dk] = weights.key
        value[:, h * value_size : h * value_size + dv] = weights.value
        output[h * value_size : h * value_size + dv, :] = weights.output
    mlp_in = np.zeros((width, allocation.mlp_hidden_width))
    mlp_out = np.zeros((allocation.mlp_hidden_width, width))
    start = 0
    for _, (first, second) in mlps:
        stop = start + first.shape[1]
        mlp_in[:, start:stop], mlp_out[start:stop, :] = first, second
        start = stop
    head_labels = tuple(label for label, _ in heads) + ("",) * (num_heads - len(heads))
    return LayerWeights(query, key, value, output, mlp_in, mlp_out, head_labels, tuple(label for label, _ in mlps))
