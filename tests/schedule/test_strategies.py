"""Pins `schedule/strategies.py`: the entry point, its options, and the solver's fallback."""

import math
import warnings

import pytest

from optracr import schedule

Status = schedule.AllocationStatus


def test_time_limit_zero_falls_back_with_a_warning():
    problem = schedule.random_problem(20, seed=4)
    match = "fell back to a heuristic: CP-SAT found no allocation"
    with pytest.warns(schedule.AllocationFallbackWarning, match=match):
        allocation = schedule.allocate(problem, time_limit_s=0.0)
    schedule.check(problem, allocation)
    assert allocation.status is Status.FALLBACK
    assert "time limit" in allocation.reason
    assert allocation.gap is None


def test_problem_the_solver_cannot_finish_in_time_falls_back_to_a_valid_allocation():
    problem = schedule.random_problem(400, seed=1)
    with pytest.warns(schedule.AllocationFallbackWarning, match="raise time_limit_s"):
        allocation = schedule.allocate(problem, time_limit_s=0.01)
    schedule.check(problem, allocation)
    assert allocation.status is Status.FALLBACK
    assert allocation.num_layers == schedule.depth_lower_bound(problem)


def test_fallback_is_the_cheapest_heuristic_allocation():
    problem = schedule.random_problem(30, seed=2)
    with pytest.warns(schedule.AllocationFallbackWarning):
        fallback = schedule.allocate(problem, time_limit_s=0.0)
    candidates = [
        schedule.allocate_with_heuristic(problem),
        schedule.allocate_asap(problem),
        schedule.allocate_levelled(problem),
    ]
    cheapest = min(candidates, key=lambda allocation: (allocation.num_layers, allocation.parameter_count))
    assert dict(fallback.sublayer_of) == dict(cheapest.sublayer_of)


def test_solver_failure_of_any_primary_becomes_a_fallback_with_its_reason():
    def failing(problem, *, hint, time_limit_s):
        raise schedule.SolverFailure("out of luck")

    allocator = schedule.with_fallback(failing, schedule.allocate_with_heuristic, time_limit_s=1.0)
    problem = schedule.random_problem(6, seed=0)
    with pytest.warns(schedule.AllocationFallbackWarning, match="out of luck"):
        allocation = allocator(problem)
    assert (allocation.status, allocation.reason) == (Status.FALLBACK, "out of luck")
    assert dict(allocation.sublayer_of) == dict(schedule.allocate_with_heuristic(problem).sublayer_of)


def test_primary_is_seeded_with_the_fallback_allocation_and_the_time_left():
    seen = {}

    def recording(problem, *, hint, time_limit_s):
        seen.update(hint=dict(hint), time_limit_s=time_limit_s)
        return schedule.allocate_asap(problem)

    problem = schedule.random_problem(6, seed=0)
    schedule.with_fallback(recording, schedule.allocate_with_heuristic, time_limit_s=3.0)(problem)
    assert seen["hint"] == dict(schedule.allocate_with_heuristic(problem).sublayer_of)
    assert 0.0 < seen["time_limit_s"] <= 3.0


def test_best_of_takes_fewest_layers_then_fewest_parameters():
    problem = schedule.random_problem(25, seed=5)
    best = schedule.best_of(schedule.allocate_with_heuristic, schedule.allocate_asap)(problem)
    heuristic, asap = schedule.allocate_with_heuristic(problem), schedule.allocate_asap(problem)
    expected = min((heuristic, asap), key=lambda allocation: (allocation.num_layers, allocation.parameter_count))
    assert dict(best.sublayer_of) == dict(expected.sublayer_of)


def test_solver_success_emits_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        allocation = schedule.allocate(schedule.random_problem(15, seed=0))
    assert allocation.status is Status.OPTIMAL


def test_heuristic_allocator_returns_the_reference_heuristic():
    problem = schedule.random_problem(15, seed=0)
    assert schedule.allocate(problem, allocator="heuristic") == schedule.allocate_with_heuristic(problem)


def test_empty_problem_allocates_to_no_layers():
    allocation = schedule.allocate(schedule.Problem((), residual_width=3, fixed_parameters=7))
    assert (allocation.num_layers, allocation.parameter_count, allocation.status) == (0, 7, Status.OPTIMAL)


def test_unknown_allocator_lists_the_valid_values():
    match = "unknown allocator 'greedy'; valid values are 'solver', 'heuristic'"
    with pytest.raises(schedule.ScheduleError, match=match):
        schedule.allocate(schedule.Problem((), residual_width=1), allocator="greedy")


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (dict(time_limit_s=-1.0), "time_limit_s must be a finite number of seconds >= 0"),
        (dict(time_limit_s=math.nan), "time_limit_s must be a finite number of seconds >= 0"),
        (dict(time_limit_s=True), "time_limit_s must be a finite number of seconds >= 0"),
        (dict(workers=0), "workers must be an int >= 1"),
        (dict(seed=-1), r"seed must be an int in \[0, 2\*\*31\)"),
    ],
)
def test_invalid_option_raises(options, match):
    with pytest.raises(schedule.ScheduleError, match=match):
        schedule.allocate(schedule.Problem((), residual_width=1), **options)


def test_non_problem_raises():
    with pytest.raises(schedule.ScheduleError, match="expected a schedule.Problem, got dict"):
        schedule.allocate({})


def test_fallback_with_fusion_groups_keeps_the_greedy_choice():
    problem = schedule.random_problem(30, seed=2, fusion_groups=5)
    with pytest.warns(schedule.AllocationFallbackWarning):
        fallback = schedule.allocate(problem, time_limit_s=0.0)
    schedule.check(problem, fallback)
    assert fallback.fusion_groups == schedule.greedy_choice(problem) != ()


def test_primary_is_seeded_with_the_fallbacks_fusion_choice():
    seen = {}

    def recording(problem, *, hint, time_limit_s, hint_fusion_groups=()):
        seen.update(hint_fusion_groups=hint_fusion_groups)
        return schedule.allocate_asap(problem)

    problem = schedule.random_problem(30, seed=2, fusion_groups=5)
    schedule.with_fallback(recording, schedule.allocate_with_heuristic, time_limit_s=3.0)(problem)
    assert seen["hint_fusion_groups"] == schedule.allocate_with_heuristic(problem).fusion_groups != ()


def _block(block_id: str, kind: str, *depends_on: str, width: int = 4) -> schedule.Block:
    heads = 0 if kind == "MLP" else 1
    return schedule.Block(
        id=block_id, kind=schedule.BlockKind[kind], num_heads=heads, mlp_hidden_width=0 if heads else width,
        key_size=2 * heads, value_size=2 * heads, depends_on=depends_on,
    )


def _refusing(problem, /):
    raise AssertionError("the search ran although the placement is forced")


def test_a_forced_chain_is_placed_without_a_search_and_is_what_the_solver_finds():
    chain = schedule.Problem(
        (_block("a", "ATTN"), _block("b", "MLP", "a"), _block("c", "ATTN", "b"), _block("d", "MLP", "c", "a")),
        residual_width=10,
    )
    forced = schedule.unless_forced(_refusing)(chain)
    solved = schedule.allocate_with_cpsat(chain)
    assert dict(forced.sublayer_of) == dict(solved.sublayer_of) == {"a": 0, "b": 1, "c": 2, "d": 3}
    assert (forced.status, forced.gap, forced.parameter_count) == (Status.OPTIMAL, 0.0, solved.parameter_count)
    assert forced.depth_lower_bound == 2


def test_a_block_with_room_to_move_goes_to_the_search():
    # "free" may sit in layer 0 or 1: the parameters decide, so the search must run
    loose = schedule.Problem((_block("a", "ATTN"), _block("b", "MLP", "a"), _block("c", "ATTN", "b"),
                              _block("free", "MLP")), residual_width=10)
    called = []
    schedule.unless_forced(lambda problem: called.append(problem) or schedule.allocate_with_cpsat(problem))(loose)
    assert called == [loose]


def test_problems_with_fusion_groups_go_to_the_search():
    problem = schedule.random_problem(12, seed=3, window=1, fusion_groups=2)
    assert problem.fusion_groups
    with pytest.raises(AssertionError, match="forced"):
        schedule.unless_forced(_refusing)(problem)


@pytest.mark.parametrize("seed", range(40))
def test_skipping_forced_problems_never_changes_the_solver_allocation(seed):
    problem = schedule.random_problem(4 + seed % 9, seed=seed, window=1 + seed % 3)
    ours, solver = schedule.allocate(problem), schedule.allocate_with_cpsat(problem)
    assert (ours.num_layers, ours.parameter_count, ours.status) == (solver.num_layers, solver.parameter_count,
                                                                     solver.status)
