"""craft's artefact for schedule and assemble: one lowered block per computed s-op, and every s-op's subspace."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Hashable, Mapping
from types import MappingProxyType
from typing import Literal

from optracr import errors
from optracr import frontend
from optracr.craft import bases
from optracr.craft import blocks
from optracr.craft import conventions

Label = str
Kind = Literal["ATTN", "MLP", "ATTN_MLP"]
ATTN: Kind = "ATTN"
MLP: Kind = "MLP"
ATTN_MLP: Kind = "ATTN_MLP"
KINDS: tuple[Kind, ...] = (ATTN, MLP, ATTN_MLP)


def _widths(block: blocks.Block) -> tuple[Kind, int, int, int, int]:
    """(kind, num_heads, mlp_hidden_width, key_size, value_size) of a block craft builds."""
    if isinstance(block, blocks.MLP):
        return MLP, 0, block.hidden_width, 0, 0
    if isinstance(block, blocks.AttentionHead):
        return ATTN, 1, 0, block.key_size, block.value_size
    if isinstance(block, blocks.MultiAttentionHead):
        return ATTN, len(block.heads), 0, max(h.key_size for h in block.heads), max(h.value_size for h in block.heads)
    if (
        isinstance(block, blocks.SeriesWithResiduals)
        and len(block.blocks) == 2
        and isinstance(block.blocks[0], blocks.AttentionHead)
        and isinstance(block.blocks[1], blocks.MLP)
    ):
        head, mlp = block.blocks
        return ATTN_MLP, 1, mlp.hidden_width, head.key_size, head.value_size
    raise ValueError(f"no scheduling kind for {type(block).__name__}; lower builds an MLP, a head, or [head, MLP]")


@dataclasses.dataclass(frozen=True)
class LoweredBlock:
    """The block computing the s-op ``label``, its scheduling kind, the s-ops it reads, and its widths."""

    label: Label
    kind: Kind
    block: blocks.Block = dataclasses.field(compare=False)
    reads: tuple[Label, ...]
    num_heads: int
    mlp_hidden_width: int
    key_size: int
    value_size: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "reads", tuple(self.reads))
        if self.kind not in KINDS:
            raise ValueError(f"block {self.label!r}: kind must be one of {KINDS}, got {self.kind!r}")
        widths = (self.kind, self.num_heads, self.mlp_hidden_width, self.key_size, self.value_size)
        if widths != _widths(self.block):
            raise ValueError(f"block {self.label!r}: widths {widths} do not match its block's {_widths(self.block)}")
        if self.label in self.reads:
            raise ValueError(f"block {self.label!r} reads the s-op it writes")

    @classmethod
    def of(cls, label: Label, block: blocks.Block, reads: tuple[Label, ...]) -> LoweredBlock:
        """The lowered block with kind and widths read off ``block``."""
        kind, num_heads, hidden, key_size, value_size = _widths(block)
        return cls(label, kind, block, tuple(dict.fromkeys(reads)), num_heads, hidden, key_size, value_size)

    @property
    def writes(self) -> tuple[Label, ...]:
        """The s-op labels the block writes (its own)."""
        return (self.label,)


@dataclasses.dataclass(frozen=True)
class BlockGraph:
    """Every computed s-op lowered to a craft block, in a topological order, with the residual subspaces.

    ``spaces`` maps every s-op label to its subspace (``tokens``: vocab + BOS + PAD, ``indices``: 0..N-1)
    and ``"one"`` to the constant direction; ``scratch_spaces`` maps a block's label to the private
    residual directions it also writes (selector width's scratch). ``input_spec`` is the program graph's:
    the inputs the blocks are exact on (``vocab``, ``max_seq_len``, ``bos``, ``pad``, ``causal`` read it).
    """

    blocks: tuple[LoweredBlock, ...]
    spaces: Mapping[Label, bases.VectorSpaceWithBasis]
    scratch_spaces: Mapping[Label, bases.VectorSpaceWithBasis]
    output_label: Label
    output_encoding: frontend.rasp.Encoding
    output_space: bases.VectorSpaceWithBasis
    input_spec: frontend.InputSpec

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(self.blocks))
        object.__setattr__(self, "spaces", MappingProxyType(dict(self.spaces)))
        object.__setattr__(self, "scratch_spaces", MappingProxyType(dict(self.scratch_spaces)))
        if not isinstance(self.input_spec, frontend.InputSpec):
            raise errors.CompileError(None, f"a BlockGraph needs a frontend.InputSpec, got {self.input_spec!r}")
        for required in (conventions.ONE, conventions.TOKENS, conventions.INDICES, self.output_label):
            if required not in self.spaces:
                raise errors.CompileError(required, "the block graph has no residual subspace for this label")
        if self.output_space != self.spaces[self.output_label]:
            raise errors.CompileError(self.output_label, "output_space differs from the output s-op's subspace")
        self._check_blocks()
        try:
            self.residual_space()
        except ValueError as error:
            message = f"two residual subspaces share a direction ({error}); rename an s-op"
            raise errors.CompileError(None, message) from None

    def _check_blocks(self) -> None:
        available = {conventions.ONE, conventions.TOKENS, conventions.INDICES}
        for lowered in self.blocks:
            if lowered.label in available or lowered.label not in self.spaces:
                raise errors.CompileError(lowered.label, "a block must write a fresh s-op that has a subspace")
            unknown = [label for label in lowered.reads if label not in available]
            if unknown:
                raise errors.CompileError(lowered.label, f"reads {unknown} before any block writes them")
            scratch = self.scratch_spaces.get(lowered.label, bases.space([]))
            own = bases.join_vector_spaces(self.spaces[lowered.label], scratch)
            if not lowered.block.output_space.issubspace(own):
                raise errors.CompileError(lowered.label, "the block writes outside its s-op's subspace and scratch")
            readable = bases.join_vector_spaces(
                *(self.spaces[label] for label in (*lowered.reads, conventions.ONE)),
                bases.space([conventions.bos_direction(self.bos)]),
                scratch,
            )
            if not lowered.block.input_space.issubspace(readable):
                raise errors.CompileError(lowered.label, "the block reads directions outside the s-ops it lists")
            available.add(lowered.label)

    @property
    def vocab(self) -> frozenset[Hashable]:
        """The input tokens (without BOS and PAD)."""
        return self.input_spec.vocab

    @property
    def max_seq_len(self) -> int:
        """The longest input, BOS excluded."""
        return self.input_spec.max_seq_len

    @property
    def bos(self) -> Hashable:
        """The token at position 0."""
        return self.input_spec.bos

    @property
    def pad(self) -> Hashable:
        """The padding token."""
        return self.input_spec.pad

    @property
    def causal(self) -> bool:
        """Whether a position attends only to itself and earlier positions (the runner masks the rest)."""
        return self.input_spec.causal

    @functools.cached_property
    def block_by_label(self) -> Mapping[Label, LoweredBlock]:
        """Each block keyed by the s-op it writes."""
        return MappingProxyType({lowered.label: lowered for lowered in self.blocks})

    def residual_space(self) -> bases.VectorSpaceWithBasis:
        """``one``, ``tokens:*``, ``indices:*``, then each block's s-op subspace (its scratch right after)."""
        return self._residual_space

    @functools.cached_property
    def _residual_space(self) -> bases.VectorSpaceWithBasis:
        parts = [self.spaces[conventions.ONE], self.spaces[conventions.TOKENS], self.spaces[conventions.INDICES]]
        for lowered in self.blocks:
            parts.append(self.spaces[lowered.label])
            if lowered.label in self.scratch_spaces:
                parts.append(self.scratch_spaces[lowered.label])
        return bases.direct_sum(*parts)
