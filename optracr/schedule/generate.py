"""Random scheduling problems shaped like compiled RASP programs, for tests and benchmarks."""

from __future__ import annotations

import random

from optracr.schedule import errors
from optracr.schedule import problem as problem_lib

Kind = problem_lib.BlockKind


def random_problem(num_blocks: int, *, seed: int = 0, window: int = 12) -> problem_lib.Problem:
    """A random DAG of `num_blocks` blocks: each reads 0-3 of the `window` blocks made just before it."""
    if isinstance(num_blocks, bool) or not isinstance(num_blocks, int) or num_blocks < 0:
        raise errors.ScheduleError(f"random_problem: num_blocks must be an int >= 0, got {num_blocks!r}.")
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise errors.ScheduleError(f"random_problem: window must be an int >= 1, got {window!r}.")
    rng = random.Random(seed)
    blocks = [_random_block(rng, index, window) for index in range(num_blocks)]
    residual_width, fixed_parameters = rng.randint(10, 200), rng.randint(0, 10**4)
    return problem_lib.Problem(tuple(blocks), residual_width=residual_width, fixed_parameters=fixed_parameters)


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
