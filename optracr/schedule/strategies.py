"""Allocators as small callables, the wrappers composing them, and the stage's entry point `allocate`."""

from __future__ import annotations

import dataclasses
import functools
import math
import time
import warnings
from collections.abc import Mapping
from typing import Protocol

from optracr import options
from optracr.schedule import allocation as allocation_lib
from optracr.schedule import bounds
from optracr.schedule import cpsat
from optracr.schedule import errors
from optracr.schedule import heuristic
from optracr.schedule import levelled
from optracr.schedule import problem as problem_lib

# The package re-exports the function `check` under the module's name, so import the function itself.
from optracr.schedule.check import check as check_allocation

ALLOCATORS = options.ALLOCATORS


class Allocator(Protocol):
    """Anything that places the blocks of a problem: problem -> allocation."""

    def __call__(self, problem: problem_lib.Problem, /) -> allocation_lib.Allocation: ...


class SeededAllocator(Protocol):
    """An allocator that starts from a valid placement and must answer within a time limit.

    For a problem with fusion groups, when the seed chose some, it is also passed `hint_fusion_groups` (the
    chosen ids); `allocate_with_cpsat` takes both.
    """

    def __call__(
        self,
        problem: problem_lib.Problem,
        /,
        *,
        hint: Mapping[problem_lib.BlockId, problem_lib.SublayerIndex],
        time_limit_s: float,
    ) -> allocation_lib.Allocation: ...


def best_of(*allocators: Allocator) -> Allocator:
    """The allocator returning the smallest (layers, parameters) of `allocators`' results; ties go first."""

    def allocate_best(problem: problem_lib.Problem) -> allocation_lib.Allocation:
        start = time.perf_counter()
        results = [allocator(problem) for allocator in allocators]
        best = min(results, key=lambda result: (result.num_layers, result.parameter_count))
        return dataclasses.replace(best, seconds=time.perf_counter() - start)

    return allocate_best


def with_fallback(primary: SeededAllocator, fallback: Allocator, *, time_limit_s: float) -> Allocator:
    """`primary` seeded with `fallback`'s allocation; that allocation, marked FALLBACK, if `primary` fails.

    The fallback's time counts against `time_limit_s`; a `SolverFailure` from `primary` becomes an
    `AllocationFallbackWarning` and status FALLBACK with the failure as `reason`.
    """

    def allocate_or_fall_back(problem: problem_lib.Problem) -> allocation_lib.Allocation:
        start = time.perf_counter()
        seed_allocation = fallback(problem)
        # Only a seed that chose fusion groups passes them, so primaries of problems without groups need not know.
        chosen = {"hint_fusion_groups": seed_allocation.fusion_groups} if seed_allocation.fusion_groups else {}
        try:
            result = primary(
                problem,
                hint=seed_allocation.sublayer_of,
                time_limit_s=max(0.0, time_limit_s - (time.perf_counter() - start)),
                **chosen,
            )
        except errors.SolverFailure as failure:
            warnings.warn(
                f"Allocation fell back to a heuristic: {failure}.", errors.AllocationFallbackWarning, stacklevel=3
            )
            return dataclasses.replace(
                seed_allocation,
                status=allocation_lib.AllocationStatus.FALLBACK,
                gap=None,
                reason=str(failure),
                seconds=time.perf_counter() - start,
            )
        return dataclasses.replace(result, seconds=time.perf_counter() - start)

    return allocate_or_fall_back


def unless_forced(allocator: Allocator) -> Allocator:
    """`allocator`, skipped for a problem without fusion groups whose fewest layers admit one placement only.

    Layers have no capacity, so when every block's earliest and latest sublayers in the fewest layers agree,
    that placement is the only one in the fewest layers: optimal in layers and hence in parameters (status
    OPTIMAL, gap 0) without a search. Most small programs' problems are such chains of forced blocks.
    """

    def allocate_forced_or_search(problem: problem_lib.Problem) -> allocation_lib.Allocation:
        start = time.perf_counter()
        if not problem.fusion_groups:
            num_layers = bounds.depth_lower_bound(problem)
            earliest = bounds.earliest_sublayers(problem)
            if earliest == bounds.latest_sublayers(problem, num_layers):
                return allocation_lib.from_placement(
                    problem, earliest, status=allocation_lib.AllocationStatus.OPTIMAL, depth_lower_bound=num_layers,
                    gap=0.0, seconds=time.perf_counter() - start,
                )
        return allocator(problem)

    return allocate_forced_or_search


def heuristic_portfolio() -> Allocator:
    """The cheapest of the reference heuristic, ASAP and the levelling heuristic (ties: that order), each with
    the greedy fusion choice."""
    return best_of(heuristic.allocate_with_heuristic, heuristic.allocate_asap, levelled.allocate_levelled)


def solver_allocator(
    *,
    time_limit_s: float = options.CompileOptions.time_limit_s,
    workers: int = options.CompileOptions.workers,
    seed: int = options.CompileOptions.seed,
) -> Allocator:
    """CP-SAT seeded with, and falling back to, the heuristic portfolio's allocation; neither where the
    placement is forced (`unless_forced`)."""
    solver = functools.partial(cpsat.allocate_with_cpsat, workers=workers, seed=seed)
    return unless_forced(with_fallback(solver, heuristic_portfolio(), time_limit_s=time_limit_s))


def allocate(
    problem: problem_lib.Problem,
    *,
    allocator: str = options.CompileOptions.allocator,
    time_limit_s: float = options.CompileOptions.time_limit_s,
    workers: int = options.CompileOptions.workers,
    seed: int = options.CompileOptions.seed,
) -> allocation_lib.Allocation:
    """Place every block of `problem` in a layer; the result has passed `check`."""
    _check_options(allocator, time_limit_s, workers, seed)
    if not isinstance(problem, problem_lib.Problem):
        raise errors.ScheduleError(f"allocate: expected a schedule.Problem, got {type(problem).__name__}.")
    chosen: Allocator
    if allocator == "heuristic":
        chosen = heuristic.allocate_with_heuristic
    else:
        chosen = solver_allocator(time_limit_s=time_limit_s, workers=workers, seed=seed)
    result = chosen(problem)
    check_allocation(problem, result)
    return result


def _check_options(allocator: str, time_limit_s: float, workers: int, seed: int) -> None:
    if allocator not in ALLOCATORS:
        raise errors.ScheduleError(
            f"allocate: unknown allocator {allocator!r}; valid values are {', '.join(map(repr, ALLOCATORS))}."
        )
    if isinstance(time_limit_s, bool) or not isinstance(time_limit_s, (int, float)) \
            or not math.isfinite(time_limit_s) or time_limit_s < 0:
        raise errors.ScheduleError(
            f"allocate: time_limit_s must be a finite number of seconds >= 0, got {time_limit_s!r}; e.g. 5.0."
        )
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise errors.ScheduleError(
            f"allocate: workers must be an int >= 1, got {workers!r}; 1 gives deterministic results."
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise errors.ScheduleError(f"allocate: seed must be an int in [0, 2**31), got {seed!r}.")
