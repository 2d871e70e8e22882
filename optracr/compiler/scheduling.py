"""The craft -> schedule adapter: a block graph's blocks as the scheduler's plain data.

craft and schedule know nothing of each other; this module, which the compiler calls between them, reads
each block's kind and widths off its craft structure: heads only -> ``ATTN``, an MLP -> ``MLP``, a head then
an MLP of one layer (selector width) -> ``ATTN_MLP``. ``schedule.BlockKind`` is the one vocabulary of kinds.
"""

from __future__ import annotations

from optracr import craft
from optracr import schedule


def block_kind(lowered: craft.LoweredBlock) -> schedule.BlockKind:
    """The sublayers a block needs: attention, MLP, or both of one layer."""
    if lowered.heads and lowered.mlps:
        return schedule.BlockKind.ATTN_MLP
    return schedule.BlockKind.ATTN if lowered.heads else schedule.BlockKind.MLP


def scheduling_problem(block_graph: craft.BlockGraph) -> schedule.Problem:
    """The allocation problem of ``block_graph``: kinds, widths and dependencies, nothing of RASP."""
    writer = {label: lowered.id for lowered in block_graph.blocks for label in lowered.writes}
    blocks = tuple(
        schedule.Block(
            id=lowered.id,
            kind=block_kind(lowered),
            num_heads=lowered.num_heads,
            mlp_hidden_width=lowered.mlp_hidden_width,
            key_size=lowered.key_size,
            value_size=lowered.value_size,
            depends_on=tuple(sorted({writer[label] for label in lowered.reads if label in writer})),
        )
        for lowered in block_graph.blocks
    )
    width = block_graph.residual_space().num_dims
    rows = _fixed_rows(block_graph)
    return schedule.Problem(
        blocks=blocks,
        residual_width=width,
        fixed_parameters=rows * width,
        fusion_groups=tuple(fusion_group(candidate, block_graph) for candidate in block_graph.fusion_candidates),
        fixed_parameters_per_dim=rows,
    )


def fusion_group(candidate: craft.FusionCandidate, block_graph: craft.BlockGraph) -> schedule.FusionGroup:
    """A fusion candidate as the scheduler's choice: its members, the fused width, the residual it saves."""
    saving = sum(block_graph.spaces[label].num_dims for label in candidate.internal if label in block_graph.block_by_label)
    return schedule.FusionGroup(
        id=candidate.id, members=candidate.members, mlp_hidden_width=candidate.mlp_hidden_width, residual_saving=saving
    )


def _fixed_rows(block_graph: craft.BlockGraph) -> int:
    """Embedding rows (input tokens and positions) plus unembedding columns: each costs D parameters."""
    output_columns = block_graph.spaces[block_graph.output_label].num_dims
    return len(craft.input_tokens(block_graph)) + block_graph.max_seq_len + 1 + output_columns
