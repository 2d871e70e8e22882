"""An independent checker that every allocation must pass.

It restates the rules directly rather than reusing the placement code: attention sublayers are even,
MLP sublayers odd; an ATTN_MLP block starts at an even sublayer s and its MLP half takes s + 1, so its
output exists only after s + 1; every block sits strictly after the sublayer where each of its
dependencies' outputs appear; and the reported widths and parameter count are the ones the placement implies.

Fusion choices: the chosen groups exist and are disjoint; the members of a chosen group share one MLP
sublayer (an ATTN_MLP member's attention half sits just before it); precedence is waived only on an edge
between two members of one chosen group; a chosen group's hidden width replaces its members' own in its
layer, and its residual saving narrows the residual width the parameter count uses.
"""

from __future__ import annotations

from optracr.schedule import allocation as allocation_lib
from optracr.schedule import cost
from optracr.schedule import errors
from optracr.schedule import problem as problem_lib

Kind = problem_lib.BlockKind


def check(problem: problem_lib.Problem, allocation: allocation_lib.Allocation) -> None:
    """Raise `AllocationError` saying what is wrong unless `allocation` validly places `problem`."""
    _check_block_ids(problem, allocation)
    for block in problem.blocks:
        _check_parity(block, allocation.sublayer_of[block.id])
    groups = _chosen_groups(problem, allocation)
    for group in groups:
        _check_group_shares_a_sublayer(problem, group, allocation)
    fused_edges = {
        (dep, member) for group in groups for member in group.members for dep in group.members
        if dep in problem.block_by_id[member].depends_on
    }
    for block in problem.blocks:
        _check_dependencies(problem, block, allocation, fused_edges)
    _check_reported_shape(problem, allocation, groups)


def _chosen_groups(
    problem: problem_lib.Problem, allocation: allocation_lib.Allocation
) -> list[problem_lib.FusionGroup]:
    known = {group.id: group for group in problem.fusion_groups}
    owner: dict[str, str] = {}
    for group_id in allocation.fusion_groups:
        if group_id not in known:
            raise errors.AllocationError(
                f"Allocation chooses fusion group '{group_id}', which is not in the problem; "
                f"it offers {sorted(known)}."
            )
        for member in known[group_id].members:
            if member in owner:
                raise errors.AllocationError(
                    f"Allocation chooses fusion groups '{owner[member]}' and '{group_id}', which share block "
                    f"'{member}'; chosen groups must be disjoint, choose one of them."
                )
            owner[member] = group_id
    return [known[group_id] for group_id in allocation.fusion_groups]


def _check_group_shares_a_sublayer(
    problem: problem_lib.Problem, group: problem_lib.FusionGroup, allocation: allocation_lib.Allocation
) -> None:
    mlp_sublayers = {
        member: allocation.sublayer_of[member] + (1 if problem.block_by_id[member].kind is Kind.ATTN_MLP else 0)
        for member in group.members
    }
    if len(set(mlp_sublayers.values())) > 1:
        raise errors.AllocationError(
            f"Fusion group '{group.id}' is chosen, but its members' MLPs sit in different sublayers "
            f"{mlp_sublayers}; a fused MLP is one hidden layer, so place every member in one MLP sublayer."
        )


def _check_block_ids(problem: problem_lib.Problem, allocation: allocation_lib.Allocation) -> None:
    expected = {block.id for block in problem.blocks}
    placed = set(allocation.sublayer_of)
    if missing := sorted(expected - placed):
        raise errors.AllocationError(
            f"Block '{missing[0]}' has no sublayer in the allocation (missing: {missing}); "
            f"every block of the problem must be placed."
        )
    if extra := sorted(placed - expected):
        raise errors.AllocationError(
            f"Block '{extra[0]}' is placed but is not in the problem (extra: {extra}); "
            f"place exactly the problem's blocks."
        )


def _check_parity(block: problem_lib.Block, sublayer: int) -> None:
    if block.kind is Kind.MLP and sublayer % 2 == 0:
        raise errors.AllocationError(
            f"Block '{block.id}' (MLP) sits at sublayer {sublayer}, an attention sublayer; "
            f"an MLP block needs an odd sublayer, such as {sublayer + 1}."
        )
    if block.kind is Kind.ATTN and sublayer % 2 == 1:
        raise errors.AllocationError(
            f"Block '{block.id}' (ATTN) sits at sublayer {sublayer}, an MLP sublayer; "
            f"an attention block needs an even sublayer, such as {sublayer + 1}."
        )
    if block.kind is Kind.ATTN_MLP and sublayer % 2 == 1:
        raise errors.AllocationError(
            f"Block '{block.id}' (ATTN_MLP) starts at sublayer {sublayer}, so its attention and MLP halves "
            f"would be split across layers {sublayer // 2} and {sublayer // 2 + 1}; it must start at an even "
            f"sublayer such as {sublayer + 1} (its MLP half then takes {sublayer + 2})."
        )


def _check_dependencies(
    problem: problem_lib.Problem,
    block: problem_lib.Block,
    allocation: allocation_lib.Allocation,
    fused_edges: set[tuple[str, str]],
) -> None:
    sublayer = allocation.sublayer_of[block.id]
    for dep_id in block.depends_on:
        if (dep_id, block.id) in fused_edges:
            continue  # computed by the same fused hidden layer
        dep = problem.block_by_id[dep_id]
        dep_sublayer = allocation.sublayer_of[dep_id]
        written_at = dep_sublayer + 1 if dep.kind is Kind.ATTN_MLP else dep_sublayer
        if sublayer <= written_at:
            where = f"after its MLP half at sublayer {written_at}" if dep.kind is Kind.ATTN_MLP \
                else f"at sublayer {written_at}"
            raise errors.AllocationError(
                f"Block '{block.id}' sits at sublayer {sublayer} but reads '{dep_id}' ({dep.kind.name}), "
                f"whose output exists only {where}; place '{block.id}' at a sublayer >= {written_at + 1}."
            )


def _check_reported_shape(
    problem: problem_lib.Problem, allocation: allocation_lib.Allocation, groups: list[problem_lib.FusionGroup]
) -> None:
    layers = [allocation.sublayer_of[block.id] // 2 for block in problem.blocks]
    heads = [0] * (max(layers, default=-1) + 1)
    hidden = [0] * len(heads)
    fused = {member for group in groups for member in group.members}
    for block, layer in zip(problem.blocks, layers):
        if block.kind in (Kind.ATTN, Kind.ATTN_MLP):
            heads[layer] += block.num_heads
        if block.kind in (Kind.MLP, Kind.ATTN_MLP) and block.id not in fused:
            hidden[layer] += block.mlp_hidden_width
    for group in groups:
        hidden[allocation.sublayer_of[group.members[-1]] // 2] += group.mlp_hidden_width
    saving = sum(group.residual_saving for group in groups)
    implied = {
        "num_layers": len(heads),
        "num_heads": max(heads, default=0),
        "key_size": max((block.key_size for block in problem.blocks), default=0),
        "value_size": max((block.value_size for block in problem.blocks), default=0),
        "mlp_hidden_width": max(hidden, default=0),
    }
    implied["parameter_count"] = cost.parameter_count(
        **implied,
        residual_width=problem.residual_width - saving,
        fixed_parameters=problem.fixed_parameters - problem.fixed_parameters_per_dim * saving,
    )
    for name, value in implied.items():
        if getattr(allocation, name) != value:
            raise errors.AllocationError(
                f"Allocation reports {name} = {getattr(allocation, name)}, but its placement implies {value}; "
                f"report the widths of the placement (build it with allocation.from_placement)."
            )
    if allocation.depth_lower_bound > allocation.num_layers:
        raise errors.AllocationError(
            f"Allocation reports depth_lower_bound = {allocation.depth_lower_bound}, above its own "
            f"{allocation.num_layers} layers; a lower bound cannot exceed a valid placement's depth."
        )
