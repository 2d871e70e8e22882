"""Random scheduling problems shaped like compiled RASP programs, for tests and benchmarks.

With `fusion_groups=n`, up to n random valid fusion groups are offered (they may overlap): each grows from a
random MLP or ATTN_MLP block along dependency edges to MLP readers and MLP or ATTN_MLP dependencies, and is
kept only if the problem's own group check accepts it. The blocks are drawn first, so the same seed gives the
same blocks with or without groups.
"""

from __future__ import annotations

import dataclasses
import random

from optracr.schedule import errors
from optracr.schedule import problem as problem_lib

Kind = problem_lib.BlockKind


def random_problem(
    num_blocks: int, *, seed: int = 0, window: int = 12, fusion_groups: int = 0
) -> problem_lib.Problem:
    """A random DAG of `num_blocks` blocks: each reads 0-3 of the `window` blocks made just before it; with
    up to `fusion_groups` random valid fusion groups."""
    if isinstance(num_blocks, bool) or not isinstance(num_blocks, int) or num_blocks < 0:
        raise errors.ScheduleError(f"random_problem: num_blocks must be an int >= 0, got {num_blocks!r}.")
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise errors.ScheduleError(f"random_problem: window must be an int >= 1, got {window!r}.")
    if isinstance(fusion_groups, bool) or not isinstance(fusion_groups, int) or fusion_groups < 0:
        raise errors.ScheduleError(f"random_problem: fusion_groups must be an int >= 0, got {fusion_groups!r}.")
    rng = random.Random(seed)
    blocks = [_random_block(rng, index, window) for index in range(num_blocks)]
    residual_width, fixed_parameters = rng.randint(10, 200), rng.randint(0, 10**4)
    problem = problem_lib.Problem(tuple(blocks), residual_width=residual_width, fixed_parameters=fixed_parameters)
    if not fusion_groups:
        return problem
    return dataclasses.replace(
        problem,
        fusion_groups=_random_groups(rng, problem, fusion_groups),
        fixed_parameters_per_dim=rng.randint(0, fixed_parameters // residual_width),
    )


def _random_groups(rng: random.Random, problem: problem_lib.Problem, count: int) -> tuple[problem_lib.FusionGroup, ...]:
    """Up to `count` valid fusion groups of 2-4 blocks; their savings total at most the residual width."""
    starts = [block.id for block in problem.blocks if block.kind is not Kind.ATTN]
    groups: list[problem_lib.FusionGroup] = []
    saved = 0
    for _ in range(20 * count if starts else 0):
        if len(groups) == count:
            break
        region = _grow_region(rng, problem, rng.choice(starts), size=rng.randint(2, 4))
        if len(region) < 2:
            continue
        widths = [problem.block_by_id[member].mlp_hidden_width for member in region]
        saving = min(rng.randint(0, len(region) - 1), problem.residual_width - saved)
        group = problem_lib.FusionGroup(
            f"g{len(groups)}", tuple(region), mlp_hidden_width=rng.randint(1, 2 * sum(widths) + 2),
            residual_saving=saving,
        )
        try:
            problem_lib.check_fusion_group(group, problem.block_by_id, problem.graph)
        except errors.ScheduleError:
            continue
        groups.append(group)
        saved += saving
    return tuple(groups)


def _grow_region(rng: random.Random, problem: problem_lib.Problem, start: str, size: int) -> list[str]:
    """`start` and up to `size - 1` blocks reached along edges: MLP readers, MLP or ATTN_MLP dependencies."""
    region = [start]
    for _ in range(size - 1):
        frontier = sorted({
            neighbour
            for member in region
            for neighbour in [*problem.graph.successors(member), *problem.graph.predecessors(member)]
            if neighbour not in region and problem.block_by_id[neighbour].kind is not Kind.ATTN
        })
        if not frontier:
            break
        region.append(rng.choice(frontier))
    return region


def _random_block(rng: random.Random, index: int, window: int) -> problem_lib.Block:
    # Like RASP programs: mostly maps (MLP), many aggregates (ATTN), a few selector widths (ATTN_MLP).
    kind = rng.choices([Kind.MLP, Kind.ATTN, Kind.ATTN_MLP], weights=[5, 4, 1])[0]
    earlier = range(max(0, index - window), index)
    fan_in = min(len(earlier), rng.choice([0, 1, 1, 2, 2, 3]))
    depends_on = tuple(f"b{dep}" for dep in sorted(rng.sample(earlier, fan_in)))
    attention = kind is not Kind.MLP
    return problem_lib.Block(
        id=f"b{index}",
        kind=kind,
        num_heads=1 if attention else 0,
        mlp_hidden_width=rng.randint(1, 60) if kind is not Kind.ATTN else 0,
        key_size=rng.randint(2, 32) if attention else 0,
        value_size=rng.randint(1, 12) if attention else 0,
        depends_on=depends_on,
    )
