"""Pins `schedule/cpsat.py`: the solver finds the lexicographic (layers, parameters) optimum.

The optimum is checked against a brute-force enumeration written here from the rules alone.
"""

import dataclasses
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optracr import schedule
from optracr.schedule import cpsat

Kind = schedule.BlockKind


@st.composite
def small_problems(draw: st.DrawFn, max_blocks: int = 8) -> schedule.Problem:
    """Random DAGs of up to `max_blocks` blocks with random kinds and widths, listed in random order."""
    blocks = []
    for index in range(draw(st.integers(0, max_blocks))):
        kind = draw(st.sampled_from(Kind))
        attention = kind is not Kind.MLP
        deps = draw(st.lists(st.integers(0, index - 1), unique=True, max_size=3)) if index else []
        blocks.append(
            schedule.Block(
                f"b{index}",
                kind,
                num_heads=draw(st.integers(1, 3)) if attention else 0,
                mlp_hidden_width=draw(st.integers(0, 8)) if kind is not Kind.ATTN else 0,
                key_size=draw(st.integers(0, 4)) if attention else 0,
                value_size=draw(st.integers(0, 4)) if attention else 0,
                depends_on=tuple(f"b{dep}" for dep in sorted(deps)),
            )
        )
    return schedule.Problem(
        tuple(draw(st.permutations(blocks))),
        residual_width=draw(st.integers(0, 12)),
        fixed_parameters=draw(st.integers(0, 100)),
    )


def brute_force_optimum(problem: schedule.Problem, max_layers: int) -> tuple[int, int]:
    """The smallest (layers, parameters) over every valid placement in at most `max_layers` layers."""
    order, placed = [], set()
    while len(order) < len(problem.blocks):  # dependencies first, by repeated scanning
        for block in problem.blocks:
            if block.id not in placed and set(block.depends_on) <= placed:
                order.append(block)
                placed.add(block.id)
    dk = max((block.key_size for block in problem.blocks), default=0)
    dv = max((block.value_size for block in problem.blocks), default=0)
    width = problem.residual_width
    best = None

    def evaluate(layer_of: dict[str, int]) -> tuple[int, int]:
        layers = max(layer_of.values(), default=-1) + 1
        heads = [sum(b.num_heads for b in problem.blocks if layer_of[b.id] == k) for k in range(layers)]
        hidden = [sum(b.mlp_hidden_width for b in problem.blocks if layer_of[b.id] == k) for k in range(layers)]
        per_layer = max(heads, default=0) * 2 * width * (dk + dv) + 2 * width * max(hidden, default=0)
        return layers, problem.fixed_parameters + layers * per_layer

    def extend(index: int, layer_of: dict[str, int], output_of: dict[str, int]) -> None:
        nonlocal best
        if index == len(order):
            value = evaluate(layer_of)
            best = value if best is None or value < best else best
            return
        block = order[index]
        for layer in range(max_layers):
            sublayer = 2 * layer + (1 if block.kind is Kind.MLP else 0)
            if all(sublayer > output_of[dep] for dep in block.depends_on):
                layer_of[block.id] = layer
                output_of[block.id] = sublayer + (1 if block.kind is Kind.ATTN_MLP else 0)
                extend(index + 1, layer_of, output_of)
        layer_of.pop(block.id, None)
        output_of.pop(block.id, None)

    extend(0, {}, {})
    assert best is not None
    return best


@settings(max_examples=300, deadline=None)
@given(small_problems())
def test_solver_matches_brute_force_optimum(problem):
    heuristic = schedule.allocate_with_heuristic(problem)
    allocation = schedule.allocate(problem, time_limit_s=10.0)
    schedule.check(problem, allocation)
    optimum = brute_force_optimum(problem, heuristic.num_layers)
    assert (allocation.num_layers, allocation.parameter_count) == optimum
    assert allocation.depth_lower_bound == optimum[0] == schedule.depth_lower_bound(problem)
    assert allocation.status is schedule.AllocationStatus.OPTIMAL


@settings(max_examples=60, deadline=None)
@given(small_problems())
def test_cumulative_load_model_matches_brute_force_too(problem):
    heuristic = schedule.allocate_with_heuristic(problem)
    original = cpsat.MAX_MEMBERSHIP_LITERALS
    cpsat.MAX_MEMBERSHIP_LITERALS = -1  # force the large-model formulation
    try:
        allocation = schedule.allocate(problem, time_limit_s=10.0)
    finally:
        cpsat.MAX_MEMBERSHIP_LITERALS = original
    optimum = brute_force_optimum(problem, heuristic.num_layers)
    assert (allocation.num_layers, allocation.parameter_count) == optimum


@pytest.mark.parametrize(("num_blocks", "seed"), list(itertools.product((10, 20, 30, 40), range(3))))
def test_solver_is_never_worse_than_the_heuristic(num_blocks, seed):
    problem = schedule.random_problem(num_blocks, seed=seed)
    solved = schedule.allocate(problem, time_limit_s=5.0)
    heuristic = schedule.allocate(problem, allocator="heuristic")
    assert (solved.num_layers, solved.parameter_count) <= (heuristic.num_layers, heuristic.parameter_count)
    assert solved.num_layers == solved.depth_lower_bound


def test_two_layer_example_takes_two_layers_with_the_solver():
    problem = schedule.Problem(
        (
            schedule.Block("X", Kind.ATTN, num_heads=1, key_size=2, value_size=2),
            schedule.Block("Y", Kind.MLP, mlp_hidden_width=3, depends_on=("X",)),
            schedule.Block("Z", Kind.MLP, mlp_hidden_width=3),
            schedule.Block("W", Kind.ATTN, num_heads=1, key_size=2, value_size=2, depends_on=("Z",)),
            schedule.Block("out", Kind.MLP, mlp_hidden_width=3, depends_on=("Y", "W")),
        ),
        residual_width=6,
    )
    solved = schedule.allocate(problem)
    assert solved.num_layers == 2
    assert schedule.allocate(problem, allocator="heuristic").num_layers == 3
    assert solved.sublayer_of == {"X": 0, "Y": 1, "Z": 1, "W": 2, "out": 3}


def test_solver_balances_widths_across_layers():
    # Two wide MLPs and one attention chain of two layers: the MLPs go to different layers.
    problem = schedule.Problem(
        (
            schedule.Block("a", Kind.ATTN, num_heads=1, key_size=1, value_size=1),
            schedule.Block("b", Kind.ATTN, num_heads=1, key_size=1, value_size=1, depends_on=("a",)),
            schedule.Block("m1", Kind.MLP, mlp_hidden_width=50),
            schedule.Block("m2", Kind.MLP, mlp_hidden_width=50),
        ),
        residual_width=4,
    )
    solved = schedule.allocate(problem)
    assert (solved.num_layers, solved.mlp_hidden_width) == (2, 50)
    assert schedule.allocate_asap(problem).mlp_hidden_width == 100


def test_solver_proves_the_library_programs_optimal(reference_programs):
    # How fast it does so is measured by benchmarks/model_sizes.py, not asserted here.
    for name, (problem, record) in reference_programs.items():
        solved = schedule.allocate(problem)
        assert solved.status is schedule.AllocationStatus.OPTIMAL, name
        assert solved.num_layers <= record["reference_num_layers"], name


def test_solver_saves_a_layer_on_shuffle_dyck2(reference_programs):
    assert schedule.allocate(reference_programs["shuffle_dyck2"][0]).num_layers == 7


def test_same_problem_gives_the_same_allocation():
    problem = schedule.random_problem(40, seed=3)
    first, second = schedule.allocate(problem), schedule.allocate(problem)
    assert first.status is schedule.AllocationStatus.OPTIMAL
    assert first == second
    assert dict(first.sublayer_of) == dict(second.sublayer_of)


def test_tie_break_places_blocks_early():
    # "late" could sit in layer 0 or 1 at no cost; the tie-break puts it in layer 0.
    problem = schedule.Problem(
        (
            schedule.Block("a", Kind.ATTN, num_heads=1),
            schedule.Block("b", Kind.ATTN, num_heads=1, depends_on=("a",)),
            schedule.Block("late", Kind.MLP, mlp_hidden_width=1),
        ),
        residual_width=3,
    )
    assert schedule.allocate(problem).sublayer_of["late"] == 1


def test_invalid_hint_is_ignored():
    problem = schedule.random_problem(12, seed=1)
    hinted = schedule.allocate_with_cpsat(problem, hint={"b0": 99})
    plain = schedule.allocate_with_cpsat(problem)
    assert (hinted.num_layers, hinted.parameter_count) == (plain.num_layers, plain.parameter_count)


def test_no_time_raises_solver_failure():
    match = "CP-SAT found no allocation in the 0 s left of the time limit"
    with pytest.raises(schedule.SolverFailure, match=match):
        schedule.allocate_with_cpsat(schedule.random_problem(20, seed=0), time_limit_s=0.0)


def test_solver_exception_raises_solver_failure(monkeypatch):
    def explode(self, model, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(cpsat.cp_model.CpSolver, "solve", explode)
    with pytest.raises(schedule.SolverFailure, match="CP-SAT raised RuntimeError: boom"):
        schedule.allocate_with_cpsat(schedule.random_problem(5, seed=0))


def test_infeasible_answer_raises_solver_failure_as_a_bug(monkeypatch):
    def answer_infeasible(self, model, *args, **kwargs):
        return cpsat.cp_model.INFEASIBLE

    monkeypatch.setattr(cpsat.cp_model.CpSolver, "solve", answer_infeasible)
    with pytest.raises(schedule.SolverFailure, match="CP-SAT returned INFEASIBLE .* bug in the schedule stage"):
        schedule.allocate_with_cpsat(schedule.random_problem(5, seed=0))


def test_unproven_answer_reports_the_relative_parameter_gap(monkeypatch):
    problem = schedule.random_problem(8, seed=2)
    original_solve = cpsat.cp_model.CpSolver.solve

    def stop_early(self, model, *args, **kwargs):
        original_solve(self, model, *args, **kwargs)
        return cpsat.cp_model.FEASIBLE

    monkeypatch.setattr(cpsat.cp_model.CpSolver, "solve", stop_early)
    monkeypatch.setattr(cpsat.cp_model.CpSolver, "best_objective_bound", property(lambda self: 0.0))
    solved = schedule.allocate_with_cpsat(problem)
    # A bound of 0 on the objective proves only the fixed parameters.
    expected = (solved.parameter_count - problem.fixed_parameters) / solved.parameter_count
    assert solved.status is schedule.AllocationStatus.FEASIBLE
    assert solved.gap == pytest.approx(expected)


def test_unproven_answer_that_meets_its_bound_is_optimal(monkeypatch):
    original_solve = cpsat.cp_model.CpSolver.solve

    def stop_early(self, model, *args, **kwargs):
        original_solve(self, model, *args, **kwargs)
        return cpsat.cp_model.FEASIBLE

    monkeypatch.setattr(cpsat.cp_model.CpSolver, "solve", stop_early)
    solved = schedule.allocate_with_cpsat(schedule.random_problem(8, seed=2))
    assert (solved.status, solved.gap) == (schedule.AllocationStatus.OPTIMAL, 0.0)
