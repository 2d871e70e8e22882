"""The allocation problem as plain data: blocks with a kind, widths and dependencies, and optional fusions.

A `FusionGroup` names blocks whose MLPs may be computed by one hidden layer in one MLP sublayer: MLP blocks
and at most one ATTN_MLP block (its MLP half joins; its attention half stays in the same layer's attention
sublayer). A group is a connected region of the dependency graph that no path leaves and re-enters, so its
members can always share one layer.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Iterable, Mapping, Sequence

import networkx as nx

from optracr.schedule import errors

BlockId = str
GroupId = str
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


def _check_width(where: str, name: str, value: object) -> None:
    """Raise unless `value` is a non-negative int; `where` names the owner, e.g. "Block 'x'"."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise errors.ScheduleError(
            f"{where}: {name} must be a non-negative int, got {value!r}; pass a width such as 0 or 4."
        )


@dataclasses.dataclass(frozen=True)
class FusionGroup:
    """An optional fusion: blocks whose MLPs may be computed by one hidden layer in one MLP sublayer."""

    id: GroupId
    members: tuple[BlockId, ...]  # >= 2 ids: MLP blocks and at most one ATTN_MLP block (its MLP half joins)
    mlp_hidden_width: int  # hidden units of the fused MLP; replaces the members' own MLP widths when chosen
    residual_saving: int = 0  # residual directions no longer needed when chosen (s-ops read only inside)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise errors.ScheduleError(
                f"FusionGroup id must be a non-empty string, got {self.id!r}; name it e.g. after its last member."
            )
        if isinstance(self.members, str) or not isinstance(self.members, Iterable):
            raise errors.ScheduleError(
                f"FusionGroup '{self.id}': members must be a sequence of block ids, got {self.members!r}; "
                f"write e.g. ('m1', 'm2')."
            )
        members = tuple(self.members)
        if not all(isinstance(member, str) for member in members):
            raise errors.ScheduleError(
                f"FusionGroup '{self.id}': members must be block ids (str), got {members!r}."
            )
        if len(set(members)) != len(members) or len(members) < 2:
            raise errors.ScheduleError(
                f"FusionGroup '{self.id}': members {members} must be at least 2 distinct block ids; "
                f"a single MLP needs no fusion."
            )
        object.__setattr__(self, "members", members)
        _check_width(f"FusionGroup '{self.id}'", "mlp_hidden_width", self.mlp_hidden_width)
        _check_width(f"FusionGroup '{self.id}'", "residual_saving", self.residual_saving)


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
            _check_width(f"Block '{self.id}'", name, getattr(self, name))
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
    """Blocks to place in layers, the residual width D, the parameters no placement changes, optional fusions.

    `fixed_parameters_per_dim` is the part of `fixed_parameters` proportional to D (embedding rows plus
    unembedding columns): choosing fusion groups that save s residual directions lowers the fixed part by
    `fixed_parameters_per_dim * s`.
    """

    blocks: tuple[Block, ...]
    residual_width: int
    fixed_parameters: int = 0
    fusion_groups: tuple[FusionGroup, ...] = ()
    fixed_parameters_per_dim: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(self.blocks))
        for block in self.blocks:
            if not isinstance(block, Block):
                raise errors.ScheduleError(
                    f"Problem blocks must be Block instances, got {block!r}; build each with schedule.Block(...)."
                )
        for name in ("residual_width", "fixed_parameters", "fixed_parameters_per_dim"):
            _check_width("Problem", name, getattr(self, name))
        if self.fixed_parameters_per_dim * self.residual_width > self.fixed_parameters:
            raise errors.ScheduleError(
                f"Problem: fixed_parameters_per_dim * residual_width = {self.fixed_parameters_per_dim} * "
                f"{self.residual_width} exceeds fixed_parameters = {self.fixed_parameters}; it is the part of "
                f"fixed_parameters proportional to the residual width, so it can be at most "
                f"{self.fixed_parameters // max(self.residual_width, 1)}."
            )
        self._check_ids()
        self._check_acyclic()
        self._check_fusion_groups()

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

    def _check_fusion_groups(self) -> None:
        if isinstance(self.fusion_groups, (str, FusionGroup)) or not isinstance(self.fusion_groups, Iterable):
            raise errors.ScheduleError(
                f"Problem: fusion_groups must be a sequence of FusionGroup, got {self.fusion_groups!r}."
            )
        object.__setattr__(self, "fusion_groups", tuple(self.fusion_groups))
        seen: set[GroupId] = set()
        for group in self.fusion_groups:
            if not isinstance(group, FusionGroup):
                raise errors.ScheduleError(
                    f"Problem fusion_groups must be FusionGroup instances, got {group!r}; "
                    f"build each with schedule.FusionGroup(...)."
                )
            if group.id in seen:
                raise errors.ScheduleError(
                    f"FusionGroup '{group.id}' appears twice in the problem; give every group a unique id."
                )
            seen.add(group.id)
            check_fusion_group(group, self.block_by_id, self.graph)
            if group.residual_saving > self.residual_width:
                raise errors.ScheduleError(
                    f"FusionGroup '{group.id}': residual_saving {group.residual_saving} exceeds the residual width "
                    f"{self.residual_width}; count only the directions of s-ops read inside the group."
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

    @functools.cached_property
    def fusion_group_by_id(self) -> Mapping[GroupId, FusionGroup]:
        """Each fusion group keyed by its id."""
        return {group.id: group for group in self.fusion_groups}

    @functools.cached_property
    def edge_groups(self) -> Mapping[tuple[BlockId, BlockId], tuple[GroupId, ...]]:
        """For each dependency edge (dependency, reader) inside some fusion group: the groups holding both."""
        inside: dict[tuple[BlockId, BlockId], tuple[GroupId, ...]] = {}
        for group in self.fusion_groups:
            members = set(group.members)
            for member in group.members:
                for dep in self.block_by_id[member].depends_on:
                    if dep in members:
                        inside[dep, member] = (*inside.get((dep, member), ()), group.id)
        return inside

    def groups_named(self, group_ids: Iterable[GroupId]) -> tuple[FusionGroup, ...]:
        """The fusion groups with ids `group_ids`; raise `ScheduleError` for an id the problem does not offer."""
        groups = []
        for group_id in group_ids:
            if group_id not in self.fusion_group_by_id:
                raise errors.ScheduleError(
                    f"Fusion group '{group_id}' is not in the problem; it offers {sorted(self.fusion_group_by_id)}."
                )
            groups.append(self.fusion_group_by_id[group_id])
        return tuple(groups)

    def residual_saving(self, chosen: Iterable[GroupId]) -> int:
        """Residual directions the `chosen` fusion groups (ids) save together."""
        return sum(group.residual_saving for group in self.groups_named(chosen))

    @property
    def key_size(self) -> int:
        """The model's key size: the widest key of any head (0 without heads)."""
        return max((block.key_size for block in self.blocks), default=0)

    @property
    def value_size(self) -> int:
        """The model's value size: the widest value of any head (0 without heads)."""
        return max((block.value_size for block in self.blocks), default=0)


def check_fusion_group(group: FusionGroup, block_by_id: Mapping[BlockId, Block], graph: nx.DiGraph) -> None:
    """Raise `ScheduleError` unless `group`'s members can share one MLP sublayer in the problem's graph."""
    for member in group.members:
        if member not in block_by_id:
            raise errors.ScheduleError(
                f"FusionGroup '{group.id}': member '{member}' is not a block of the problem; "
                f"list ids of the problem's MLP blocks."
            )
    _check_member_kinds(group, [block_by_id[member] for member in group.members])
    members = set(group.members)
    if not nx.is_weakly_connected(graph.subgraph(members)):
        raise errors.ScheduleError(
            f"FusionGroup '{group.id}': members {group.members} are not connected through their own "
            f"dependencies; a fused MLP computes one connected region, so split it into connected groups."
        )
    _check_convex(group, members, graph)


def _check_member_kinds(group: FusionGroup, blocks: Sequence[Block]) -> None:
    """Members are MLPs and at most one ATTN_MLP block, which reads no other member."""
    if attention := [block.id for block in blocks if block.kind is BlockKind.ATTN]:
        raise errors.ScheduleError(
            f"FusionGroup '{group.id}': member '{attention[0]}' is an ATTN block, which has no MLP to fuse; "
            f"a group holds MLP blocks and at most one ATTN_MLP block."
        )
    paired = [block for block in blocks if block.kind is BlockKind.ATTN_MLP]
    if len(paired) > 1:
        raise errors.ScheduleError(
            f"FusionGroup '{group.id}': members {[block.id for block in paired]} are both ATTN_MLP; one MLP "
            f"sublayer can take the MLP half of at most one of them, so keep one per group."
        )
    for block in paired:
        if inside := [dep for dep in block.depends_on if dep in group.members]:
            raise errors.ScheduleError(
                f"FusionGroup '{group.id}': ATTN_MLP member '{block.id}' reads member '{inside[0]}', but its "
                f"attention half runs before the fused MLP; leave '{inside[0]}' out or '{block.id}' out."
            )


def _check_convex(group: FusionGroup, members: set[BlockId], graph: nx.DiGraph) -> None:
    """No dependency path between two members passes through a block outside the group."""
    below = set().union(*(nx.descendants(graph, member) for member in members)) - members
    above = set().union(*(nx.ancestors(graph, member) for member in members)) - members
    if between := sorted(below & above):
        outside = between[0]
        start = next(member for member in group.members if nx.has_path(graph, member, outside))
        end = next(member for member in group.members if nx.has_path(graph, outside, member))
        path = nx.shortest_path(graph, start, outside)[:-1] + nx.shortest_path(graph, outside, end)
        raise errors.ScheduleError(
            f"FusionGroup '{group.id}': the path {' -> '.join(map(repr, path))} leaves the group through "
            f"'{outside}', so the fused MLP would need a value computed after it; add '{outside}' to the group "
            f"if it is an MLP, or split the group at it."
        )
