"""A levelling heuristic: list scheduling in the fewest layers, keeping layers under target widths.

Sublayers are filled in order. At each one, the blocks of its kind whose inputs are written are taken by
earliest deadline (ALAP sublayer in L layers) first: a block at its deadline is always placed, another only
while its layer stays within the target heads and hidden width. Deadlines come from the ALAP placement, so
the result is always valid in L layers; targets only steer how evenly the widths spread. A small search over
targets keeps the cheapest result. It gives the solver a good first solution and is a fallback candidate.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

from optracr.schedule import allocation as allocation_lib
from optracr.schedule import bounds
from optracr.schedule import cost
from optracr.schedule import problem as problem_lib

Widths = tuple[int, int]  # (heads, hidden units)


def levelled_sublayers(problem: problem_lib.Problem, num_layers: int, targets: Widths) -> bounds.Placement:
    """A valid placement in `num_layers` layers that keeps layers within `targets` where deadlines allow."""
    latest = bounds.latest_sublayers(problem, num_layers)
    order = {block.id: index for index, block in enumerate(problem.topological_order)}
    waiting = {block.id: len(block.depends_on) for block in problem.blocks}
    arrivals: dict[int, list[problem_lib.BlockId]] = {}
    for block in problem.blocks:
        if not block.depends_on:
            arrivals.setdefault(block.kind.offset, []).append(block.id)
    ready: list[list[tuple[int, int, problem_lib.BlockId]]] = [[], []]  # per parity: (deadline, order, id)
    loads: dict[int, list[int]] = {}
    placement: bounds.Placement = {}
    for sublayer in range(2 * num_layers):
        heap = ready[sublayer % 2]
        for block_id in arrivals.pop(sublayer, []):
            heapq.heappush(heap, (latest[block_id], order[block_id], block_id))
        deferred = []
        while heap:
            deadline, _, block_id = entry = heapq.heappop(heap)
            block = problem.block_by_id[block_id]
            layer_load = loads.setdefault(sublayer // 2, [0, 0])
            if deadline > sublayer and not _fits(layer_load, block.widths, targets):
                deferred.append(entry)
                continue
            layer_load[0] += block.num_heads
            layer_load[1] += block.mlp_hidden_width
            placement[block.id] = sublayer
            _release_readers(problem, block, sublayer, placement, waiting, arrivals)
        for entry in deferred:
            heapq.heappush(heap, entry)
    return placement


def _fits(layer_load: list[int], widths: Widths, targets: Widths) -> bool:
    """Whether adding `widths` keeps every width the block adds within its target."""
    return all(load + width <= target for load, width, target in zip(layer_load, widths, targets) if width)


def _release_readers(
    problem: problem_lib.Problem,
    block: problem_lib.Block,
    sublayer: int,
    placement: bounds.Placement,
    waiting: dict[problem_lib.BlockId, int],
    arrivals: dict[int, list[problem_lib.BlockId]],
) -> None:
    """Count `block` as placed; a reader with all inputs placed arrives at its earliest sublayer."""
    for reader_id in problem.graph.successors(block.id):
        waiting[reader_id] -= 1
        if waiting[reader_id] == 0:
            reader = problem.block_by_id[reader_id]
            ready = max(problem_lib.output_sublayer(problem.block_by_id[dep].kind, placement[dep])
                        for dep in reader.depends_on)
            arrivals.setdefault(bounds.earliest_sublayer(reader.kind, ready), []).append(reader_id)


def levelled_placement(problem: problem_lib.Problem, *, max_runs: int = 48) -> bounds.Placement:
    """The cheapest levelled placement in the fewest layers over a small search of target widths.

    A bisection finds the fewest heads the scheduler keeps to with the MLP width unconstrained; then, for that
    head target and the next few, a bisection finds the smallest hidden width it keeps to as well. Tight
    targets can backfire (deferred blocks pile up at their deadlines), so the cheapest result seen wins.
    """
    num_layers = bounds.depth_lower_bound(problem)
    (head_floor, hidden_floor), (head_total, hidden_total) = _target_range(problem, num_layers)
    search = _Search(problem, num_layers, max_runs)
    fewest_heads = search.bisect(head_floor, head_total, lambda heads: (heads, hidden_total), side=0)
    for head_target in range(fewest_heads, min(fewest_heads + 3, max(head_total, head_floor)) + 1):
        search.bisect(hidden_floor, hidden_total, lambda hidden: (head_target, hidden), side=1)
    return search.best_placement


class _Search:
    """Runs of the list scheduler under a budget, remembering the cheapest placement."""

    def __init__(self, problem: problem_lib.Problem, num_layers: int, max_runs: int) -> None:
        self.problem, self.num_layers, self.runs_left = problem, num_layers, max_runs
        self.best_parameters, self.best_placement = -1, bounds.earliest_sublayers(problem)

    def bisect(self, low: int, high: int, targets_for: Callable[[int], Widths], side: int) -> int:
        """The smallest value in [low, high] whose targets the scheduler met (high if none was found)."""
        high = max(low, high)
        while low < high and self.runs_left > 0:
            middle = (low + high) // 2
            if self.meets(targets_for(middle)):
                high = middle
            else:
                low = middle + 1
        return high

    def meets(self, targets: Widths) -> bool:
        """Schedule under `targets`; whether the result stays within them."""
        self.runs_left -= 1
        placement = levelled_sublayers(self.problem, self.num_layers, targets)
        shape = cost.shape_of(self.problem, placement)
        parameters = shape.parameter_count(self.problem)
        if self.best_parameters < 0 or parameters < self.best_parameters:
            self.best_parameters, self.best_placement = parameters, placement
        return shape.num_heads <= targets[0] and shape.mlp_hidden_width <= targets[1]


def _target_range(problem: problem_lib.Problem, num_layers: int) -> tuple[Widths, Widths]:
    """Lower bounds (widest block, average layer) and totals of the heads and of the hidden widths."""
    widths = [block.widths for block in problem.blocks]
    totals = (sum(width[0] for width in widths), sum(width[1] for width in widths))
    floors = tuple(
        max([math.ceil(total / max(num_layers, 1))] + [width[side] for width in widths])
        for side, total in enumerate(totals)
    )
    return (floors[0], floors[1]), totals


def allocate_levelled(problem: problem_lib.Problem) -> allocation_lib.Allocation:
    """The levelling heuristic's allocation (status HEURISTIC): fewest layers, widths spread evenly."""
    return allocation_lib.from_heuristic(problem, levelled_placement)
