"""The allocation problem as plain data: blocks with a kind, widths and dependencies."""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Iterable, Mapping

import networkx as nx

from optracr.schedule import errors

BlockId = str
LayerIndex = int
SublayerIndex = int  # 2k is the attention of layer k, 2k + 1 its MLP


class BlockKind(enum.Enum):
    """Which sublayers a block occupies."""

    ATTN = "ATTN"  # one attention sublayer
    MLP = "MLP"  # one MLP sublayer
    ATTN_MLP = "ATTN_MLP"  # the attention and the MLP sublayer of one layer (selector width)

    @property
    def offset(self) -> int:
        """Sublayer of the block within its layer: 0 (attention) or 1 (MLP)."""
        return 1 if self is BlockKind.MLP else 0

    @property
    def uses_attention(self) -> bool:
        """Whether the block adds heads to an attention sublayer."""
        return self is not BlockKind.MLP

    @property
    def uses_mlp(self) -> bool:
        """Whether the block adds hidden units to an MLP sublayer."""
        return self is not BlockKind.ATTN


def sublayer_of_layer(kind: BlockKind, layer: LayerIndex) -> SublayerIndex:
    """The sublayer a block of `kind` placed in `layer` sits at."""
    return 2 * layer + kind.offset


def output_sublayer(kind: BlockKind, sublayer: SublayerIndex) -> SublayerIndex:
    """The sublayer after which a block of `kind` sitting at `sublayer` has written its output."""
    return sublayer + (1 if kind is BlockKind.ATTN_MLP else 0)


def _check_width(block_id: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise errors.ScheduleError(
            f"Block '{block_id}': {name} must be a non-negative int, got {value!r}; "
            f"pass a width such as 0 or 4."
        )


@dataclasses.dataclass(frozen=True)
class Block:
    """One unit to place: an attention block, an MLP, or a (head, MLP) pair, with its widths."""

    id: BlockId
    kind: BlockKind
    num_heads: int = 0
    mlp_hidden_width: int = 0
    key_size: int = 0
    value_size: int = 0
    depends_on: tuple[BlockId, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise errors.ScheduleError(
                f"Block id must be a non-empty string, got {self.id!r}; name blocks by their label."
            )
        if not isinstance(self.kind, BlockKind):
            raise errors.ScheduleError(
                f"Block '{self.id}': kind must be a BlockKind, got {self.kind!r}; "
                f"use one of {[kind.name for kind in BlockKind]}."
            )
        for name in ("num_heads", "mlp_hidden_width", "key_size", "value_size"):
            _check_width(self.id, name, getattr(self, name))
        self._check_widths_fit_kind()
        object.__setattr__(self, "depends_on", self._checked_dependencies())

    @property
    def widths(self) -> tuple[int, int]:
        """(heads, hidden units) the block adds to the layer it sits in."""
        return self.num_heads, self.mlp_hidden_width

    def _check_widths_fit_kind(self) -> None:
        kind = self.kind.name
        if self.kind.uses_attention and self.num_heads == 0:
            raise errors.ScheduleError(
                f"Block '{self.id}': a {kind} block needs num_heads >= 1, got 0; "
                f"give its head count, or make it an MLP block."
            )
        if not self.kind.uses_mlp and self.mlp_hidden_width != 0:
            raise errors.ScheduleError(
                f"Block '{self.id}': an ATTN block has no MLP, but mlp_hidden_width is "
                f"{self.mlp_hidden_width}; use kind ATTN_MLP for a head followed by its MLP."
            )
        if not self.kind.uses_attention and (self.num_heads, self.key_size, self.value_size) != (0, 0, 0):
            raise errors.ScheduleError(
                f"Block '{self.id}': an MLP block has no heads, but num_heads, key_size, value_size are "
                f"{self.num_heads}, {self.key_size}, {self.value_size}; set them to 0 or use kind ATTN_MLP."
            )

    def _checked_dependencies(self) -> tuple[BlockId, ...]:
        if isinstance(self.depends_on, str) or not isinstance(self.depends_on, Iterable):
            raise errors.ScheduleError(
                f"Block '{self.id}': depends_on must be a sequence of block ids, got {self.depends_on!r}; "
                f"write e.g. ('x',) for a single dependency."
            )
        depends_on = tuple(self.depends_on)
        for dependency in depends_on:
            if not isinstance(dependency, str):
                raise errors.ScheduleError(
                    f"Block '{self.id}': dependency {dependency!r} is not a block id (str); "
                    f"list the ids of the blocks it reads."
                )
        if self.id in depends_on:
            raise errors.ScheduleError(
                f"Block '{self.id}' depends on itself; a block can only read blocks placed before it."
            )
        if len(set(depends_on)) != len(depends_on):
            raise errors.ScheduleError(
                f"Block '{self.id}': depends_on {depends_on} repeats an id; list each dependency once."
            )
        return depends_on


@dataclasses.dataclass(frozen=True)
class Problem:
    """Blocks to place in layers, the residual width D, and the parameters no placement changes."""

    blocks: tuple[Block, ...]
    residual_width: int
    fixed_parameters: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(self.blocks))
        for block in self.blocks:
            if not isinstance(block, Block):
                raise errors.ScheduleError(
                    f"Problem blocks must be Block instances, got {block!r}; build each with schedule.Block(...)."
                )
        _check_width("<problem>", "residual_width", self.residual_width)
        _check_width("<problem>", "fixed_parameters", self.fixed_parameters)
        self._check_ids()
        self._check_acyclic()

    def _check_ids(self) -> None:
        seen: set[BlockId] = set()
        for block in self.blocks:
            if block.id in seen:
                raise errors.ScheduleError(
                    f"Block '{block.id}' appears twice in the problem; give every block a unique id."
                )
            seen.add(block.id)
        for block in self.blocks:
            for dependency in block.depends_on:
                if dependency not in seen:
                    raise errors.ScheduleError(
                        f"Block '{block.id}' depends on unknown block '{dependency}'; depends_on may only "
                        f"name blocks of the problem (embeddings are not blocks: leave them out)."
                    )

    def _check_acyclic(self) -> None:
        if nx.is_directed_acyclic_graph(self.graph):
            return
        cycle = [edge[0] for edge in nx.find_cycle(self.graph)]
        path = " -> ".join(f"'{block_id}'" for block_id in [*cycle, cycle[0]])
        raise errors.ScheduleError(
            f"Block '{cycle[0]}' depends on itself through the cycle {path}; "
            f"dependencies must form a DAG (every block reads only earlier blocks)."
        )

    @functools.cached_property
    def graph(self) -> nx.DiGraph:
        """The dependency graph: an edge `dependency -> block` for every dependency."""
        graph = nx.DiGraph()
        graph.add_nodes_from(block.id for block in self.blocks)
        graph.add_edges_from((dep, block.id) for block in self.blocks for dep in block.depends_on)
        return graph

    @functools.cached_property
    def block_by_id(self) -> Mapping[BlockId, Block]:
        """Each block keyed by its id."""
        return {block.id: block for block in self.blocks}

    @functools.cached_property
    def topological_order(self) -> tuple[Block, ...]:
        """The blocks, dependencies first, ties broken by their order in `blocks`."""
        position = {block.id: index for index, block in enumerate(self.blocks)}
        order = nx.lexicographical_topological_sort(self.graph, key=position.__getitem__)
        return tuple(self.block_by_id[block_id] for block_id in order)

    @property
    def key_size(self) -> int:
        """The model's key size: the widest key of any head (0 without heads)."""
        return max((block.key_size for block in self.blocks), default=0)

    @property
    def value_size(self) -> int:
        """The model's value size: the widest value of any head (0 without heads)."""
        return max((block.value_size for block in self.blocks), default=0)
