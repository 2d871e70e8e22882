"""Fusion choices for the heuristics: a greedy choice, and problems with chosen groups contracted to one block.

A chosen group becomes one block (a unit) in the first member's place: an MLP block of the group's hidden
width, or, if the group holds an ATTN_MLP block, an ATTN_MLP block with that block's heads and the group's
hidden width. The unit reads what its members read outside the group. This is conservative where an MLP
member reads an attention block: the fused MLP could share that block's layer, the unit's attention half
cannot, so heuristics may miss a layer there (the solver, which models members directly, does not).
Without chosen groups the contracted problem is the problem itself, so the heuristics behave as without fusion.

The greedy choice (`greedy_choice`) repeatedly takes the group, disjoint from those taken, that lowers the
contracted problem's ASAP depth the most (ties: fewer hidden units); a group that keeps the depth but moves
blocks earlier (the sum of ASAP sublayers falls) also counts as progress, so parallel chains that only
together shorten the model are both taken.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

from optracr.schedule import bounds
from optracr.schedule import cost
from optracr.schedule import errors
from optracr.schedule import problem as problem_lib

Kind = problem_lib.BlockKind
BlockId = problem_lib.BlockId
GroupId = problem_lib.GroupId


def units(problem: problem_lib.Problem, chosen: Sequence[GroupId]) -> dict[BlockId, BlockId]:
    """Each member of a chosen group -> its unit's id (the member that comes first in `problem.blocks`)."""
    position = {block.id: index for index, block in enumerate(problem.blocks)}
    unit_of: dict[BlockId, BlockId] = {}
    for group_id in chosen:
        members = problem.fusion_group_by_id[group_id].members
        first = min(members, key=position.__getitem__)
        for member in members:
            if member in unit_of:
                raise errors.ScheduleError(
                    f"Fusion groups {sorted(chosen)} overlap at block '{member}'; chosen groups must be disjoint."
                )
            unit_of[member] = first
    return unit_of


def contracted(problem: problem_lib.Problem, chosen: Sequence[GroupId]) -> problem_lib.Problem:
    """`problem` with each chosen group one block (no groups left); `problem` itself if none is chosen.

    Raises `ScheduleError` if the chosen groups together form a cycle (each reads the other).
    """
    if not chosen:
        return problem
    unit_of = units(problem, chosen)
    group_of_unit = {unit_of[problem.fusion_group_by_id[g].members[0]]: problem.fusion_group_by_id[g] for g in chosen}
    blocks = []
    for block in problem.blocks:
        if block.id in group_of_unit:
            blocks.append(_unit_block(problem, group_of_unit[block.id], unit_of))
        elif block.id not in unit_of:
            blocks.append(dataclasses.replace(block, depends_on=_mapped(block.depends_on, unit_of)))
    residual_width, fixed_parameters = cost.fused_sizes(problem, chosen)
    try:
        return problem_lib.Problem(tuple(blocks), residual_width=residual_width, fixed_parameters=fixed_parameters)
    except errors.ScheduleError as err:
        raise errors.ScheduleError(
            f"Fusion groups {sorted(chosen)} cannot be chosen together ({err}); choose a subset of them."
        ) from err


def _unit_block(
    problem: problem_lib.Problem, group: problem_lib.FusionGroup, unit_of: dict[BlockId, BlockId]
) -> problem_lib.Block:
    """The one block a chosen group becomes: its members' outside reads, the group's hidden width."""
    members = [problem.block_by_id[member] for member in group.members]
    paired = [block for block in members if block.kind is Kind.ATTN_MLP]
    head = paired[0] if paired else None
    reads = [dep for block in members for dep in block.depends_on if dep not in group.members]
    return problem_lib.Block(
        unit_of[group.members[0]],
        Kind.ATTN_MLP if head else Kind.MLP,
        num_heads=head.num_heads if head else 0,
        mlp_hidden_width=group.mlp_hidden_width,
        key_size=head.key_size if head else 0,
        value_size=head.value_size if head else 0,
        depends_on=_mapped(reads, unit_of),
    )


def _mapped(reads: Sequence[BlockId], unit_of: dict[BlockId, BlockId]) -> tuple[BlockId, ...]:
    """The distinct blocks of the contracted problem that `reads` map to, in order."""
    return tuple(dict.fromkeys(unit_of.get(dep, dep) for dep in reads))


def expanded(
    problem: problem_lib.Problem, chosen: Sequence[GroupId], placement: bounds.Placement
) -> bounds.Placement:
    """The placement of `problem`'s blocks from a placement of `contracted(problem, chosen)`."""
    unit_of = units(problem, chosen)
    result: bounds.Placement = {}
    for block in problem.blocks:
        if block.id not in unit_of:
            result[block.id] = placement[block.id]
            continue
        sublayer = placement[unit_of[block.id]]
        # A unit holding an ATTN_MLP sits at its attention sublayer; its MLP members take the next one.
        result[block.id] = sublayer + 1 if sublayer % 2 == 0 and block.kind is Kind.MLP else sublayer
    return result


def greedy_choice(problem: problem_lib.Problem) -> tuple[GroupId, ...]:
    """The fusion groups a greedy descent on (ASAP depth, sum of ASAP sublayers) chooses, sorted by id."""
    return _greedy_choice(problem) if problem.fusion_groups else ()


@functools.lru_cache(maxsize=16)  # the portfolio's three heuristics make the same choice
def _greedy_choice(problem: problem_lib.Problem) -> tuple[GroupId, ...]:
    chosen: list[GroupId] = []
    best = _asap_key(problem, chosen)
    assert best is not None  # nothing chosen: the problem itself, a DAG
    while True:
        taken = {member for group_id in chosen for member in problem.fusion_group_by_id[group_id].members}
        candidates = []
        for position, group in enumerate(problem.fusion_groups):
            if group.id in chosen or taken & set(group.members):
                continue
            key = _asap_key(problem, [*chosen, group.id])
            if key is not None and key < best:
                candidates.append((key[0], group.mlp_hidden_width, key[1], position, group.id))
        if not candidates:
            return tuple(sorted(chosen))
        depth, _, sublayer_sum, _, group_id = min(candidates)
        chosen.append(group_id)
        best = (depth, sublayer_sum)


def _asap_key(problem: problem_lib.Problem, chosen: Sequence[GroupId]) -> tuple[int, int] | None:
    """(layers, sum of sublayers) of the contracted problem's ASAP placement; None if the choice is invalid."""
    if problem.residual_saving(chosen) > problem.residual_width:
        return None
    try:
        reduced = _contracted_graph(problem, chosen)
    except errors.ScheduleError:
        return None
    kinds, reads = reduced
    placement: dict[BlockId, int] = {}
    pending = {unit: len(deps) for unit, deps in reads.items()}
    readers: dict[BlockId, list[BlockId]] = {unit: [] for unit in reads}
    for unit, deps in reads.items():
        for dep in deps:
            readers[dep].append(unit)
    ready = [unit for unit, count in pending.items() if count == 0]
    while ready:
        unit = ready.pop()
        after = max((problem_lib.output_sublayer(kinds[dep], placement[dep]) for dep in reads[unit]), default=-1)
        placement[unit] = bounds.earliest_sublayer(kinds[unit], after)
        for reader in readers[unit]:
            pending[reader] -= 1
            if pending[reader] == 0:
                ready.append(reader)
    if len(placement) < len(reads):
        return None  # the chosen groups read each other: no valid placement
    return bounds.layers_used(placement), sum(placement.values())


def _contracted_graph(
    problem: problem_lib.Problem, chosen: Sequence[GroupId]
) -> tuple[dict[BlockId, problem_lib.BlockKind], dict[BlockId, set[BlockId]]]:
    """Kinds and reads of the contracted problem's blocks, without building (and checking) a Problem."""
    unit_of = units(problem, chosen)
    kinds: dict[BlockId, problem_lib.BlockKind] = {}
    reads: dict[BlockId, set[BlockId]] = {}
    for block in problem.blocks:
        unit = unit_of.get(block.id, block.id)
        kinds[unit] = Kind.ATTN_MLP if Kind.ATTN_MLP in (kinds.get(unit), block.kind) else block.kind
        reads.setdefault(unit, set()).update(unit_of.get(dep, dep) for dep in block.depends_on)
    for unit, deps in reads.items():
        deps.discard(unit)  # reads inside a group
    return kinds, reads
