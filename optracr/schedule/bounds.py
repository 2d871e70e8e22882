"""Earliest and latest sublayers of every block, and the exact fewest number of layers.

Placing every block at the earliest sublayer of its kind strictly after its dependencies' outputs (ASAP)
gives each block the smallest sublayer any valid placement can give it: by induction over a topological
order, a block's dependencies sit no earlier than their ASAP sublayers in any placement, so the block sits
no earlier than its own. Layers have no capacity limit, so the ASAP placement is itself valid, and its
number of layers is the minimum over all placements: `depth_lower_bound` is exact, not only a bound.

With fusion groups the fewest layers depend on which groups are chosen. Relaxing every edge inside a group to
"no earlier than" (a member may share its dependency's MLP sublayer) gives each block's earliest and latest
sublayer under any choice (`fused_earliest_sublayers`, `fused_latest_sublayers`, by the same induction), and
`fusion_depth_lower_bound` is a valid lower bound on the layers of any choice: exact without groups (it is then
`depth_lower_bound`), not always reached with them (choosing a group also ties its members to one layer). The
exact fewest layers with choices is what the solver's first phase proves (`Allocation.depth_lower_bound`).
"""

from __future__ import annotations

from collections.abc import Mapping

from optracr.schedule import errors
from optracr.schedule import problem as problem_lib

Placement = dict[problem_lib.BlockId, problem_lib.SublayerIndex]


def earliest_sublayer(kind: problem_lib.BlockKind, after: problem_lib.SublayerIndex) -> problem_lib.SublayerIndex:
    """The first sublayer strictly after sublayer `after` (-1: none) where a block of `kind` can start."""
    first = after + 1
    return first if first % 2 == kind.offset else first + 1


def latest_sublayer(kind: problem_lib.BlockKind, before: problem_lib.SublayerIndex) -> problem_lib.SublayerIndex:
    """The last sublayer where a block of `kind` can start and still finish strictly before `before`."""
    last_output = before - 1
    last_start = last_output - (1 if kind is problem_lib.BlockKind.ATTN_MLP else 0)
    return last_start if last_start % 2 == kind.offset else last_start - 1


def earliest_sublayers(problem: problem_lib.Problem) -> Placement:
    """The ASAP placement: each block at the earliest sublayer its kind and its dependencies allow."""
    placement: Placement = {}
    for block in problem.topological_order:
        ready = max(
            (
                problem_lib.output_sublayer(problem.block_by_id[dep].kind, placement[dep])
                for dep in block.depends_on
            ),
            default=-1,
        )
        placement[block.id] = earliest_sublayer(block.kind, ready)
    return placement


def fused_earliest_sublayers(problem: problem_lib.Problem) -> Placement:
    """Each block's earliest sublayer under any fusion choice (equal to `earliest_sublayers` without groups)."""
    placement: Placement = {}
    for block in problem.topological_order:
        ready = max((_ready_after(problem, dep, block.id, placement[dep]) for dep in block.depends_on), default=-1)
        placement[block.id] = earliest_sublayer(block.kind, ready)
    return placement


def _ready_after(problem: problem_lib.Problem, dep: problem_lib.BlockId, reader: problem_lib.BlockId,
                 sublayer: problem_lib.SublayerIndex) -> problem_lib.SublayerIndex:
    """The sublayer `reader` must come strictly after: `dep`'s output, one less on an edge a fusion may waive."""
    output = problem_lib.output_sublayer(problem.block_by_id[dep].kind, sublayer)
    return output - 1 if (dep, reader) in problem.edge_groups else output


def fused_latest_sublayers(problem: problem_lib.Problem, num_layers: int) -> Placement:
    """Each block's latest sublayer in `num_layers` layers under any fusion choice."""
    return _latest(problem, num_layers, fusion_depth_lower_bound(problem), "fused_latest_sublayers",
                   fusable=problem.edge_groups, when=" with any fusion choice")


def fusion_depth_lower_bound(problem: problem_lib.Problem) -> int:
    """A lower bound on the layers of any placement with any fusion choice (exact without fusion groups)."""
    return layers_used(fused_earliest_sublayers(problem))


def latest_sublayers(problem: problem_lib.Problem, num_layers: int) -> Placement:
    """The ALAP placement in `num_layers` layers: each block as late as the blocks reading it allow."""
    return _latest(problem, num_layers, depth_lower_bound(problem), "latest_sublayers", fusable={}, when="")


def _latest(problem: problem_lib.Problem, num_layers: int, fewest: int, caller: str, *,
            fusable: Mapping[tuple[problem_lib.BlockId, problem_lib.BlockId], object], when: str) -> Placement:
    """Each block as late as its readers allow; an edge in `fusable` may end in the reader's own sublayer."""
    if num_layers < fewest:
        raise errors.ScheduleError(
            f"{caller}: the blocks cannot be placed in {num_layers} layers{when}; "
            f"at least {fewest} are needed, pass num_layers >= {fewest}."
        )
    placement: Placement = {}
    for block in reversed(problem.topological_order):
        deadline = min(
            (placement[reader] + (1 if (block.id, reader) in fusable else 0)
             for reader in problem.graph.successors(block.id)),
            default=2 * num_layers,
        )
        placement[block.id] = latest_sublayer(block.kind, deadline)
    return placement


def depth_lower_bound(problem: problem_lib.Problem) -> int:
    """The fewest layers any valid placement of `problem` needs (exact; 0 without blocks)."""
    return layers_used(earliest_sublayers(problem))


def layers_used(placement: Placement) -> int:
    """The number of layers a placement spans (the last used layer + 1; 0 when empty)."""
    return max((sublayer // 2 + 1 for sublayer in placement.values()), default=0)
