"""A deterministic tie-break: move blocks to earlier layers without widening any layer.

Applied to the solver's placement, it turns "some optimal placement" into one where every block sits as early
as the widest layer (H heads, M hidden units) allows, so among equally cheap placements early ones win. Blocks
are visited in topological order and only moved earlier, so the blocks reading them stay valid. A chosen fusion
group moves as a unit or not at all: the pull runs on the problem with each chosen group contracted to one
block (`fusion.contracted`), whose placements are valid for the problem itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from optracr.schedule import bounds
from optracr.schedule import cost
from optracr.schedule import fusion
from optracr.schedule import problem as problem_lib

Loads = tuple[dict[int, int], dict[int, int]]  # heads and hidden units, per layer


def pull_earlier(
    problem: problem_lib.Problem, placement: bounds.Placement, fusion_groups: Sequence[problem_lib.GroupId] = ()
) -> bounds.Placement:
    """`placement` with each block (or chosen group) moved to its earliest layer keeping every layer in H and M."""
    if fusion_groups:
        unit_of = fusion.units(problem, fusion_groups)
        unit_sublayers: bounds.Placement = {}
        for block_id, sublayer in placement.items():  # a unit sits where its first half does
            unit = unit_of.get(block_id, block_id)
            unit_sublayers[unit] = min(sublayer, unit_sublayers.get(unit, sublayer))
        pulled = _pull_earlier(fusion.contracted(problem, fusion_groups), unit_sublayers)
        return fusion.expanded(problem, fusion_groups, pulled)
    return _pull_earlier(problem, placement)


def _pull_earlier(problem: problem_lib.Problem, placement: bounds.Placement) -> bounds.Placement:
    shape = cost.shape_of(problem, placement)
    capacity = (shape.num_heads, shape.mlp_hidden_width)
    loads: Loads = ({}, {})
    for block in problem.blocks:
        _add_load(loads, block, placement[block.id] // 2, 1)
    pulled: bounds.Placement = {}
    for block in problem.topological_order:
        ready = max(
            (problem_lib.output_sublayer(problem.block_by_id[dep].kind, pulled[dep]) for dep in block.depends_on),
            default=-1,
        )
        current = placement[block.id]
        for sublayer in range(bounds.earliest_sublayer(block.kind, ready), current, 2):
            if _fits(loads, capacity, block, sublayer // 2):
                _add_load(loads, block, current // 2, -1)
                _add_load(loads, block, sublayer // 2, 1)
                current = sublayer
                break
        pulled[block.id] = current
    return pulled


def _add_load(loads: Loads, block: problem_lib.Block, layer: int, sign: int) -> None:
    for load, width in zip(loads, block.widths):
        load[layer] = load.get(layer, 0) + sign * width


def _fits(loads: Loads, capacity: tuple[int, int], block: problem_lib.Block, layer: int) -> bool:
    return all(load.get(layer, 0) + width <= cap for load, width, cap in zip(loads, block.widths, capacity))
