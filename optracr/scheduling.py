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
    return schedule.Problem(blocks=blocks, residual_width=width, fixed_parameters=_fixed_parameters(block_graph, width))


def _fixed_parameters(block_graph: craft.BlockGraph, width: int) -> int:
    """Embedding rows (input tokens and positions) and unembedding columns, times the residual width."""
    output_columns = block_graph.spaces[block_graph.output_label].num_dims
    return (len(craft.input_tokens(block_graph)) + block_graph.max_seq_len + 1 + output_columns) * width
