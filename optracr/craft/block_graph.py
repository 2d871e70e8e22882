"""craft's artefact for schedule and assemble: one lowered block per computed s-op, and every s-op's subspace."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Hashable, Mapping
from types import MappingProxyType

import networkx as nx

from optracr import errors
from optracr import frontend
from optracr.craft import affine
from optracr.craft import bases
from optracr.craft import blocks
from optracr.craft import conventions
from optracr.craft import folding

Label = str
BlockId = str
UNEMBEDDING = "unembedding"  # the reader name of a folded output: the unembedding composes it


@dataclasses.dataclass(frozen=True)
class LoweredBlock:
    """One craft block: an id of its own, the s-ops it writes, the s-ops it reads.

    A block usually writes one s-op, but the artefact does not assume it: a fused block may write several,
    and an s-op folded into its readers has no block at all. The block's widths are read off the block.
    """

    id: BlockId
    writes: tuple[Label, ...]
    block: blocks.Block = dataclasses.field(compare=False)
    reads: tuple[Label, ...]
    combination: affine.AffineCombination | None = dataclasses.field(default=None, compare=False)  # t, if its MLP
    # discretises an affine combination of its inputs (``affine``)

    def __post_init__(self) -> None:
        object.__setattr__(self, "writes", tuple(self.writes))
        object.__setattr__(self, "reads", tuple(dict.fromkeys(self.reads)))
        if not isinstance(self.id, str) or not self.id:
            raise errors.CompileError(None, f"a block id is a non-empty string, got {self.id!r}")
        if not self.writes or len(set(self.writes)) != len(self.writes):
            raise errors.CompileError(
                None, f"block {self.id!r} must write one or more distinct s-ops, got {self.writes}"
            )
        if set(self.writes) & set(self.reads):
            raise errors.CompileError(
                None, f"block {self.id!r} reads an s-op it writes: {sorted(set(self.writes) & set(self.reads))}"
            )
        if not isinstance(self.block, (blocks.MLP, blocks.AttentionHead, blocks.MultiAttentionHead)) and not (
            isinstance(self.block, blocks.SeriesWithResiduals) and _is_head_then_mlp(self.block)
        ):
            raise errors.CompileError(
                None,
                f"block {self.id!r}: {type(self.block).__name__} fits no sublayer; build an MLP, heads, or [head, MLP]",
            )

    @property
    def heads(self) -> tuple[blocks.AttentionHead, ...]:
        """The attention heads of the block (none for an MLP)."""
        return tuple(part for part in sublayer_parts(self.block) if isinstance(part, blocks.AttentionHead))

    @property
    def mlps(self) -> tuple[blocks.MLP, ...]:
        """The MLPs of the block (none for attention)."""
        return tuple(part for part in sublayer_parts(self.block) if isinstance(part, blocks.MLP))

    @property
    def num_heads(self) -> int:
        """How many heads the block adds to its attention sublayer."""
        return len(self.heads)

    @property
    def mlp_hidden_width(self) -> int:
        """How many hidden units the block adds to its MLP sublayer."""
        return sum(mlp.hidden_width for mlp in self.mlps)

    @property
    def key_size(self) -> int:
        """The widest query/key projection among the block's heads (0 without heads)."""
        return max((head.key_size for head in self.heads), default=0)

    @property
    def value_size(self) -> int:
        """The widest value/output projection among the block's heads (0 without heads)."""
        return max((head.value_size for head in self.heads), default=0)


@dataclasses.dataclass(frozen=True)
class FusionCandidate:
    """A region the scheduler may fuse: its member blocks, and the one block that replaces them when it does.

    The block is built from ``build`` the first time it is asked for (most candidates are never chosen), and
    must have ``mlp_hidden_width`` hidden units, the width the scheduler weighed.
    """

    id: str
    members: tuple[BlockId, ...]
    mlp_hidden_width: int  # hidden units of the fused MLP
    internal: tuple[Label, ...]  # members and folds computed inside the fused MLP, not stored nor folded after
    build: Callable[[], LoweredBlock] = dataclasses.field(repr=False, compare=False)
    scratch: bases.VectorSpaceWithBasis | None = None  # a selector width's scratch, written by the fused block

    @functools.cached_property
    def block(self) -> LoweredBlock:
        """The one block replacing the members."""
        block = self.build()
        if block.mlp_hidden_width != self.mlp_hidden_width:
            raise errors.CompileError(
                self.id, f"the fused block has {block.mlp_hidden_width} hidden units, not the {self.mlp_hidden_width} "
                "the scheduler was told; this is a bug in craft's fusion",
            )
        return block


def _is_head_then_mlp(series: blocks.SeriesWithResiduals) -> bool:
    return (
        len(series.blocks) == 2
        and isinstance(series.blocks[0], (blocks.AttentionHead, blocks.MultiAttentionHead))
        and isinstance(series.blocks[1], blocks.MLP)
    )


def sublayer_parts(block: blocks.Block) -> tuple[blocks.AttentionHead | blocks.MLP, ...]:
    """The heads and MLPs of a block, in order (a series' attention part first)."""
    if isinstance(block, blocks.SeriesWithResiduals):
        return tuple(part for inner in block.blocks for part in sublayer_parts(inner))
    if isinstance(block, blocks.MultiAttentionHead):
        return block.heads
    return (block,)


@dataclasses.dataclass(frozen=True)
class BlockGraph:
    """Every computed s-op lowered to a craft block, in a topological order, with the residual subspaces.

    ``spaces`` maps every s-op label to its subspace (``tokens``: vocab + BOS + PAD, ``indices``: 0..N-1)
    and ``"one"`` to the constant direction; ``scratch_spaces`` maps a block's id to the private residual
    directions it also writes (selector width's scratch). ``input_spec`` is the program graph's: the inputs
    the blocks are exact on (``vocab``, ``max_seq_len``, ``bos``, ``pad``, ``causal`` read it). ``folds``
    holds the s-ops that have no block: their directions are sums of residual directions, composed into their
    readers (``folding``); their subspaces stay in ``spaces`` (for decoding and the output classes) but not in
    the residual.
    """

    blocks: tuple[LoweredBlock, ...]
    spaces: Mapping[Label, bases.VectorSpaceWithBasis]
    scratch_spaces: Mapping[Label, bases.VectorSpaceWithBasis]
    output_label: Label
    output_encoding: frontend.rasp.Encoding
    output_space: bases.VectorSpaceWithBasis
    input_spec: frontend.InputSpec
    folds: Mapping[Label, folding.Fold] = dataclasses.field(default_factory=dict)
    fusion_candidates: tuple[FusionCandidate, ...] = ()
    # How far each s-op's residual value may be from the evaluator's, and each selector width's query and key
    # error (``lowering``'s bounds): what the passes that rebuild blocks (fusion) need to stay exact.
    error_bounds: Mapping[Label, float] = dataclasses.field(default_factory=dict, compare=False, repr=False)
    selector_errors: Mapping[Label, float] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(self.blocks))
        object.__setattr__(self, "spaces", MappingProxyType(dict(self.spaces)))
        object.__setattr__(self, "scratch_spaces", MappingProxyType(dict(self.scratch_spaces)))
        object.__setattr__(self, "folds", MappingProxyType(dict(self.folds)))
        object.__setattr__(self, "error_bounds", MappingProxyType(dict(self.error_bounds)))
        object.__setattr__(self, "selector_errors", MappingProxyType(dict(self.selector_errors)))
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
        ids: set[BlockId] = set()
        for lowered in self.blocks:
            if lowered.id in ids:
                raise errors.CompileError(lowered.writes[0], f"two blocks share the id {lowered.id!r}")
            ids.add(lowered.id)
            for label in lowered.writes:
                if label in available or label not in self.spaces:
                    raise errors.CompileError(label, "a block must write a fresh s-op that has a subspace")
            unknown = [label for label in lowered.reads if label not in available]
            if unknown:
                raise errors.CompileError(lowered.writes[0], f"reads {unknown} before any block writes them")
            scratch = self.scratch_spaces.get(lowered.id, bases.space([]))
            own = bases.join_vector_spaces(*(self.spaces[label] for label in lowered.writes), scratch)
            if not lowered.block.output_space.issubspace(own):
                raise errors.CompileError(lowered.writes[0], "the block writes outside its s-ops' subspaces and scratch")
            readable = bases.join_vector_spaces(
                *(self.spaces[label] for label in (*lowered.reads, conventions.ONE)),
                bases.space([conventions.bos_direction(self.bos)]),
                scratch,
            )
            if not lowered.block.input_space.issubspace(readable):
                raise errors.CompileError(lowered.writes[0], "the block reads directions outside the s-ops it lists")
            available.update(lowered.writes)
        for label, fold in self.folds.items():
            if label in available or label not in self.spaces:
                raise errors.CompileError(label, "a folded s-op has a subspace of its own and no block writing it")
            missing = [source for source in fold.sources if source not in available]
            if missing:
                raise errors.CompileError(label, f"is folded into sums of {missing}, which no block writes")

    @functools.cached_property
    def block_by_id(self) -> Mapping[BlockId, LoweredBlock]:
        """Each block keyed by its id."""
        return MappingProxyType({lowered.id: lowered for lowered in self.blocks})

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
        return self.input_spec.masked

    @functools.cached_property
    def block_by_label(self) -> Mapping[Label, LoweredBlock]:
        """The block writing each computed s-op, keyed by the s-op's label."""
        return MappingProxyType({label: lowered for lowered in self.blocks for label in lowered.writes})

    def realized(self, chosen: tuple[str, ...]) -> BlockGraph:
        """The block graph with the ``chosen`` fusion candidates in place of their members (no candidates left).

        Blocks stay in their order, a fused block where its last member was, re-sorted only where a block read a
        member written later; the residual then holds only what some block writes.
        """
        by_id = {candidate.id: candidate for candidate in self.fusion_candidates}
        unknown = [name for name in chosen if name not in by_id]
        if unknown:
            raise errors.CompileError(None, f"no fusion candidate {unknown[0]!r}; the candidates are {sorted(by_id)}")
        replaced = {member: by_id[name] for name in chosen for member in by_id[name].members}
        order: list[LoweredBlock] = []
        scratch = dict(self.scratch_spaces)
        for lowered in self.blocks:
            candidate = replaced.get(lowered.id)
            if candidate is None:
                order.append(lowered)
            elif lowered.id == candidate.members[-1]:
                order.append(candidate.block)
                if candidate.scratch is not None:
                    scratch[candidate.block.id] = candidate.scratch
        for member in replaced:
            scratch.pop(member, None)
        internal = {label for name in chosen for label in by_id[name].internal}
        folds = {label: fold for label, fold in self.folds.items() if label not in internal}
        return dataclasses.replace(
            self, blocks=_topologically_sorted(order), scratch_spaces=scratch, folds=folds, fusion_candidates=()
        )

    def residual_space(self) -> bases.VectorSpaceWithBasis:
        """``one``, ``tokens:*``, ``indices:*``, then each block's s-op subspaces (its scratch right after)."""
        return self._residual_space

    @functools.cached_property
    def _residual_space(self) -> bases.VectorSpaceWithBasis:
        parts = [self.spaces[conventions.ONE], self.spaces[conventions.TOKENS], self.spaces[conventions.INDICES]]
        for lowered in self.blocks:
            parts.extend(self.spaces[label] for label in lowered.writes)
            if lowered.id in self.scratch_spaces:
                parts.append(self.scratch_spaces[lowered.id])
        return bases.direct_sum(*parts)


def _topologically_sorted(order: list[LoweredBlock]) -> tuple[LoweredBlock, ...]:
    """``order`` re-sorted so every block comes after the blocks writing what it reads (stable otherwise)."""
    position = {lowered.id: index for index, lowered in enumerate(order)}
    writer = {label: lowered.id for lowered in order for label in lowered.writes}
    graph = nx.DiGraph()
    graph.add_nodes_from(position)
    graph.add_edges_from((writer[read], lowered.id) for lowered in order for read in lowered.reads if read in writer)
    by_id = {lowered.id: lowered for lowered in order}
    return tuple(by_id[block_id] for block_id in nx.lexicographical_topological_sort(graph, key=position.__getitem__))
