"""Schedule: place the blocks of a compiled program in transformer layers.

The problem is plain data (no RASP, no craft): blocks of kind ATTN (one attention sublayer), MLP (one MLP
sublayer) or ATTN_MLP (the attention and the MLP sublayer of one layer, as selector width needs), each with
its heads, MLP hidden width, key and value size, and the blocks it reads. Sublayers alternate: 2k is the
attention of layer k, 2k + 1 its MLP; a block sits strictly after the sublayers where its inputs are
written. Every layer is padded to the widest, so the model has `fixed + L * (H * 2D(dk + dv) + 2D * M)`
parameters (`parameter_count`).

The problem may offer optional fusions (`FusionGroup`): blocks whose MLPs one hidden layer may compute in one
MLP sublayer. A chosen group's members share that sublayer (precedence between them is waived), its
`mlp_hidden_width` replaces their own widths, and its `residual_saving` narrows D (and the fixed parameters by
`fixed_parameters_per_dim` per direction). The allocation lists the chosen groups (`Allocation.fusion_groups`).

The objective is lexicographic: fewest layers L, then fewest parameters. Without fusion groups the fewest
layers are known exactly without search: placing every block as early as possible (ASAP) is valid and minimal
(`depth_lower_bound`); with them a first solver phase minimises them, from `fusion_depth_lower_bound` up.
The CP-SAT model (`allocate_with_cpsat`) fixes L and, over one layer variable per block restricted to
[ASAP, ALAP] layers (and one literal per fusion group), minimises the parameters: the widest layer's heads H
and hidden width M weighted by their cost, at the residual width the chosen groups leave; then it moves
blocks (a chosen group as a unit) as early as those widths allow. `allocate` first runs a portfolio of
heuristics: the reference Tracr's longest-path rule (`allocate_with_heuristic`, what `allocator="heuristic"`
returns), ASAP (`allocate_asap`) and a levelling list scheduler (`allocate_levelled`), each after a greedy
fusion choice (`greedy_choice`); the cheapest in (layers, parameters) seeds the solver, and is returned with
status FALLBACK and an `AllocationFallbackWarning` if the solver finds nothing within the time limit. Every
allocation `allocate` returns has passed the independent `check`.

Example:
    >>> from optracr import schedule
    >>> problem = schedule.Problem(
    ...     (
    ...         schedule.Block("x", schedule.BlockKind.ATTN, num_heads=1, key_size=4, value_size=2),
    ...         schedule.Block("y", schedule.BlockKind.MLP, mlp_hidden_width=8, depends_on=("x",)),
    ...     ),
    ...     residual_width=10,
    ... )
    >>> result = schedule.allocate(problem)
    >>> dict(result.sublayer_of), result.num_layers, result.parameter_count, result.status.name
    ({'x': 0, 'y': 1}, 1, 280, 'OPTIMAL')
"""

from optracr.schedule.allocation import Allocation, AllocationStatus, from_placement
from optracr.schedule.bounds import (
    depth_lower_bound,
    earliest_sublayers,
    fused_earliest_sublayers,
    fused_latest_sublayers,
    fusion_depth_lower_bound,
    latest_sublayers,
)
from optracr.schedule.check import check
from optracr.schedule.cost import ModelShape, parameter_count, shape_of
from optracr.schedule.cpsat import allocate_with_cpsat
from optracr.schedule.errors import AllocationError, AllocationFallbackWarning, ScheduleError, SolverFailure
from optracr.schedule.generate import random_problem
from optracr.schedule.heuristic import allocate_asap, allocate_with_heuristic, hop_depths
from optracr.schedule.levelled import allocate_levelled
from optracr.schedule.fusion import greedy_choice
from optracr.schedule.problem import Block, BlockId, BlockKind, FusionGroup, GroupId, LayerIndex, Problem, SublayerIndex
from optracr.schedule.strategies import (
    ALLOCATORS,
    Allocator,
    SeededAllocator,
    allocate,
    best_of,
    heuristic_portfolio,
    solver_allocator,
    unless_forced,
    with_fallback,
)

__all__ = [
    "ALLOCATORS",
    "Allocation",
    "AllocationError",
    "AllocationFallbackWarning",
    "AllocationStatus",
    "Allocator",
    "Block",
    "BlockId",
    "BlockKind",
    "FusionGroup",
    "GroupId",
    "LayerIndex",
    "ModelShape",
    "Problem",
    "ScheduleError",
    "SeededAllocator",
    "SolverFailure",
    "SublayerIndex",
    "allocate",
    "allocate_asap",
    "allocate_levelled",
    "allocate_with_cpsat",
    "allocate_with_heuristic",
    "best_of",
    "check",
    "depth_lower_bound",
    "earliest_sublayers",
    "from_placement",
    "fused_earliest_sublayers",
    "fused_latest_sublayers",
    "fusion_depth_lower_bound",
    "greedy_choice",
    "heuristic_portfolio",
    "hop_depths",
    "latest_sublayers",
    "parameter_count",
    "random_problem",
    "shape_of",
    "solver_allocator",
    "unless_forced",
    "with_fallback",
]
