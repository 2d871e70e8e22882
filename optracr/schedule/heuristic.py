"""Heuristic allocations: the reference Tracr's longest-path rule, and ASAP placement.

The reference (`tracr/compiler/craft_graph_to_model.py`, `_allocate_modules_to_layers`) counts hops: a
block's depth is 1 + the largest depth of the blocks it reads (1 when it reads only the embeddings; a
selector-width block is one hop), whatever the kinds. It then condenses, walking depths upwards: when every
block at depth d is an attention block (ATTN, not ATTN_MLP) and every block at depth d + 1 an MLP, the MLPs
join depth d and every deeper block moves up one depth. A block at (condensed) depth d goes to layer d - 1:
an attention block to its attention sublayer, an MLP to its MLP sublayer, an ATTN_MLP to both.

The reference's assembly then packs the non-empty sublayers into attention/MLP slots in order, which could
drop an empty MLP sublayer followed by an empty attention sublayer; after the condensing no such pair lies
between used sublayers (every depth holds a block, and an attention-only depth followed by an MLP-only
depth was merged), so the layer counts above are already the reference's. The reference enumerates paths
to find depths; here one pass over a topological order does it.
"""

from __future__ import annotations

from collections.abc import Sequence

from optracr.schedule import allocation as allocation_lib
from optracr.schedule import bounds
from optracr.schedule import problem as problem_lib

Kind = problem_lib.BlockKind


def hop_depths(problem: problem_lib.Problem) -> dict[problem_lib.BlockId, int]:
    """Each block's hop depth: 1 + the largest depth of its dependencies (1 without dependencies)."""
    depths: dict[problem_lib.BlockId, int] = {}
    for block in problem.topological_order:
        depths[block.id] = 1 + max((depths[dep] for dep in block.depends_on), default=0)
    return depths


def condensed_levels(
    problem: problem_lib.Problem, depths: dict[problem_lib.BlockId, int]
) -> dict[problem_lib.BlockId, int]:
    """Depths after the reference's condensing: an MLP-only depth joins a preceding attention-only depth."""
    by_depth: list[list[problem_lib.Block]] = [[] for _ in range(max(depths.values(), default=0))]
    for block in problem.blocks:
        by_depth[depths[block.id] - 1].append(block)
    levels: dict[problem_lib.BlockId, int] = {}
    level, index = 0, 0
    while index < len(by_depth):
        merged = _only(by_depth[index], Kind.ATTN) and index + 1 < len(by_depth) \
            and _only(by_depth[index + 1], Kind.MLP)
        group = by_depth[index] + (by_depth[index + 1] if merged else [])
        level += 1
        levels.update((block.id, level) for block in group)
        index += 2 if merged else 1
    return levels


def _only(blocks: Sequence[problem_lib.Block], kind: problem_lib.BlockKind) -> bool:
    return all(block.kind is kind for block in blocks)


def hop_sublayers(problem: problem_lib.Problem) -> bounds.Placement:
    """The reference's placement: a block at condensed depth d in layer d - 1, in its kind's sublayer."""
    levels = condensed_levels(problem, hop_depths(problem))
    return {
        block.id: problem_lib.sublayer_of_layer(block.kind, levels[block.id] - 1) for block in problem.blocks
    }


def allocate_with_heuristic(problem: problem_lib.Problem) -> allocation_lib.Allocation:
    """The reference Tracr's longest-path allocation (status HEURISTIC), in linear time."""
    return allocation_lib.from_heuristic(problem, hop_sublayers)


def allocate_asap(problem: problem_lib.Problem) -> allocation_lib.Allocation:
    """Every block at its earliest sublayer (status HEURISTIC): fewest layers, widths not balanced."""
    return allocation_lib.from_heuristic(problem, bounds.earliest_sublayers)
