"""Transformer blocks on labelled spaces, each with a numpy ``apply``: the reference semantics of the model.

``apply(residual, attention_mask)`` takes the residual stream of one sequence (rows are positions, row 0 is
BOS; its space must contain the block's input space) and returns what the block adds to it, in the block's
output space. Masking is the runner's job: the optional ``attention_mask`` (query x key, True where the query
may attend the key; e.g. ``numpy_model.attention_mask``: PAD keys and, when causal, later keys off) reaches
every head; without it every head attends everywhere.
"""

from __future__ import annotations

import dataclasses
from typing import Union

import numpy as np

from optracr import errors
from optracr.craft import bases
from optracr.craft import operators

AttentionMask = np.ndarray  # bool, query position x key position: True where the query may attend the key


def _relu(values: np.ndarray) -> np.ndarray:
    return np.maximum(values, 0.0)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    weights = np.exp(shifted)
    return weights / np.sum(weights, axis=-1, keepdims=True)


def _require_rows(residual: bases.VectorInBasis, input_space: bases.VectorSpaceWithBasis, block: str) -> None:
    if residual.magnitudes.ndim != 2:
        shape = residual.magnitudes.shape
        raise errors.CompileError(None, f"{block}.apply takes a residual with one row per position, got shape {shape}")
    missing = [str(d) for d in input_space.basis if d not in residual.space]
    if missing:
        raise errors.CompileError(
            None, f"{block}.apply: the residual lacks the block's input directions {missing[:6]}; run it on a "
            "residual whose space holds them (VectorInBasis.project)"
        )


@dataclasses.dataclass(frozen=True, eq=False)
class MLP:
    """``snd(ReLU(fst(x)))``; the hidden space is ``fst.output_space`` (directions private to this block)."""

    fst: operators.Linear
    snd: operators.Linear

    def __post_init__(self) -> None:
        if self.fst.output_space != self.snd.input_space:
            raise errors.CompileError(
                None, "an MLP's first layer must map onto the space its second layer reads (the hidden space)"
            )

    @property
    def input_space(self) -> bases.VectorSpaceWithBasis:
        """The residual directions the MLP reads."""
        return self.fst.input_space

    @property
    def hidden_space(self) -> bases.VectorSpaceWithBasis:
        """The hidden units."""
        return self.fst.output_space

    @property
    def output_space(self) -> bases.VectorSpaceWithBasis:
        """The residual directions the MLP writes."""
        return self.snd.output_space

    @property
    def hidden_width(self) -> int:
        """The number of hidden units."""
        return self.hidden_space.num_dims

    def apply(self, residual: bases.VectorInBasis, attention_mask: AttentionMask | None = None) -> bases.VectorInBasis:
        """What the MLP adds at every position (``attention_mask`` is ignored: an MLP mixes no positions)."""
        _require_rows(residual, self.input_space, "MLP")
        hidden = self.fst.apply(residual)
        return self.snd.apply(bases.VectorInBasis(self.hidden_space, _relu(hidden.magnitudes)))


@dataclasses.dataclass(frozen=True, eq=False)
class AttentionHead:
    """One head: logits ``query W_QK key``, softmax over the keys the mask allows, values through ``W_OV``."""

    w_qk: operators.Bilinear
    w_ov: operators.Linear

    @property
    def query_space(self) -> bases.VectorSpaceWithBasis:
        """The directions the query reads."""
        return self.w_qk.left_space

    @property
    def key_space(self) -> bases.VectorSpaceWithBasis:
        """The directions the key reads."""
        return self.w_qk.right_space

    @property
    def value_space(self) -> bases.VectorSpaceWithBasis:
        """The directions the value reads."""
        return self.w_ov.input_space

    @property
    def input_space(self) -> bases.VectorSpaceWithBasis:
        """Every residual direction the head reads."""
        return bases.join_vector_spaces(self.query_space, self.key_space, self.value_space)

    @property
    def output_space(self) -> bases.VectorSpaceWithBasis:
        """The residual directions the head writes."""
        return self.w_ov.output_space

    @property
    def key_size(self) -> int:
        """Width of the query/key projection that factors ``W_QK`` exactly."""
        return min(self.query_space.num_dims, self.key_space.num_dims)

    @property
    def value_size(self) -> int:
        """Width of the value/output projection that factors ``W_OV`` exactly."""
        return min(self.value_space.num_dims, self.output_space.num_dims)

    def attention(self, residual: bases.VectorInBasis, attention_mask: AttentionMask | None = None) -> np.ndarray:
        """The (query position, key position) attention weights, zero where ``attention_mask`` is False."""
        _require_rows(residual, self.input_space, "AttentionHead")
        logits = self.w_qk.apply(residual, residual)
        allowed = np.ones(logits.shape, dtype=bool)
        if attention_mask is not None:
            allowed = np.asarray(attention_mask, dtype=bool)
            if allowed.shape != logits.shape:
                raise errors.CompileError(
                    None, f"attention_mask must be query x key {logits.shape}, got shape {allowed.shape}"
                )
        if not np.all(allowed.any(axis=-1)):
            raise errors.CompileError(None, "every query needs a key it may attend to (never mask BOS)")
        return _softmax(np.where(allowed, logits, -np.inf))

    def apply(self, residual: bases.VectorInBasis, attention_mask: AttentionMask | None = None) -> bases.VectorInBasis:
        """What the head adds at every position."""
        weights = self.attention(residual, attention_mask)
        values = self.w_ov.apply(residual).magnitudes
        return bases.VectorInBasis(self.output_space, weights @ values)


@dataclasses.dataclass(frozen=True, eq=False)
class MultiAttentionHead:
    """Heads side by side; their outputs add."""

    heads: tuple[AttentionHead, ...]

    def __post_init__(self) -> None:
        heads = tuple(self.heads)
        if not heads or not all(isinstance(head, AttentionHead) for head in heads):
            raise errors.CompileError(None, "a MultiAttentionHead needs one or more AttentionHead objects")
        object.__setattr__(self, "heads", heads)

    @property
    def input_space(self) -> bases.VectorSpaceWithBasis:
        """Every direction some head reads."""
        return bases.join_vector_spaces(*(head.input_space for head in self.heads))

    @property
    def output_space(self) -> bases.VectorSpaceWithBasis:
        """Every direction some head writes."""
        return bases.join_vector_spaces(*(head.output_space for head in self.heads))

    def apply(self, residual: bases.VectorInBasis, attention_mask: AttentionMask | None = None) -> bases.VectorInBasis:
        """The sum of the heads' outputs."""
        total = self.output_space.null_vector(residual.magnitudes.shape[0])
        for head in self.heads:
            total = total + head.apply(residual, attention_mask).project(self.output_space)
        return total


SublayerBlock = Union[MLP, AttentionHead, MultiAttentionHead]


@dataclasses.dataclass(frozen=True, eq=False)
class SeriesWithResiduals:
    """Blocks one after the other, each reading the residual plus what the earlier ones added."""

    blocks: tuple[SublayerBlock, ...]

    def __post_init__(self) -> None:
        blocks = tuple(self.blocks)
        if not blocks or not all(isinstance(block, (MLP, AttentionHead, MultiAttentionHead)) for block in blocks):
            raise errors.CompileError(None, "a SeriesWithResiduals needs one or more MLP / attention blocks")
        object.__setattr__(self, "blocks", blocks)

    @property
    def input_space(self) -> bases.VectorSpaceWithBasis:
        """Every direction some block of the series reads (including what earlier blocks wrote)."""
        return bases.join_vector_spaces(*(block.input_space for block in self.blocks))

    @property
    def output_space(self) -> bases.VectorSpaceWithBasis:
        """Every direction some block of the series writes."""
        return bases.join_vector_spaces(*(block.output_space for block in self.blocks))

    def apply(self, residual: bases.VectorInBasis, attention_mask: AttentionMask | None = None) -> bases.VectorInBasis:
        """The sum of what the blocks add, each seeing the residual updated by the ones before it."""
        _require_rows(residual, bases.VectorSpaceWithBasis(()), "SeriesWithResiduals")
        working_space = bases.join_vector_spaces(residual.space, self.output_space)
        start = residual.project(working_space)
        current = start
        for block in self.blocks:
            current = current + block.apply(current, attention_mask).project(working_space)
        return (current - start).project(self.output_space)


Block = Union[MLP, AttentionHead, MultiAttentionHead, SeriesWithResiduals]


def combine_in_parallel(mlps: tuple[MLP, ...]) -> MLP:
    """One MLP computing the sum of ``mlps`` side by side: their hidden units side by side, in order.

    The MLPs' hidden spaces must be disjoint (each construction names its hidden units after its s-op), so
    no two MLPs share a unit; the combined first and second layers are the sums of the lifted ones.
    """
    if not mlps:
        raise errors.CompileError(None, "combine_in_parallel needs one or more MLPs")
    if len(mlps) == 1:
        return mlps[0]  # already the combination; no copy of what may be a large matrix
    input_space = bases.join_vector_spaces(*(mlp.input_space for mlp in mlps))
    hidden_space = bases.direct_sum(*(mlp.hidden_space for mlp in mlps))
    output_space = bases.join_vector_spaces(*(mlp.output_space for mlp in mlps))
    # Each MLP adds its matrices into one pair of arrays: no full-size copy per MLP (large models run out of memory).
    fst = np.zeros((input_space.num_dims, hidden_space.num_dims))
    snd = np.zeros((hidden_space.num_dims, output_space.num_dims))
    for mlp in mlps:
        inputs, hidden = _rows_in(mlp.input_space, input_space), _rows_in(mlp.hidden_space, hidden_space)
        fst[np.ix_(inputs, hidden)] += mlp.fst.matrix
        snd[np.ix_(hidden, _rows_in(mlp.output_space, output_space))] += mlp.snd.matrix
    return MLP(
        operators.Linear(input_space, hidden_space, fst), operators.Linear(hidden_space, output_space, snd)
    )


def _rows_in(space: bases.VectorSpaceWithBasis, whole: bases.VectorSpaceWithBasis) -> np.ndarray:
    """The index in ``whole`` of each direction of ``space``."""
    return np.array([whole.index(direction) for direction in space.basis], dtype=np.int64)
