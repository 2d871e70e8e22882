"""Pins `schedule/generate.py`: seeded random problems for tests and benchmarks."""

import pytest

from optracr import schedule


def test_same_seed_gives_the_same_problem():
    assert schedule.random_problem(50, seed=7) == schedule.random_problem(50, seed=7)
    assert schedule.random_problem(50, seed=7) != schedule.random_problem(50, seed=8)


def test_dependencies_stay_within_the_window():
    problem = schedule.random_problem(100, seed=1, window=5)
    for index, block in enumerate(problem.blocks):
        assert all(index - 5 <= int(dep[1:]) < index for dep in block.depends_on)


@pytest.mark.parametrize(
    ("num_blocks", "window", "match"),
    [(-1, 12, "num_blocks must be an int >= 0"), (10, 0, "window must be an int >= 1")],
)
def test_invalid_generator_arguments_raise(num_blocks, window, match):
    with pytest.raises(schedule.ScheduleError, match=match):
        schedule.random_problem(num_blocks, window=window)


def test_fusion_groups_are_valid_and_leave_the_blocks_as_without_them():
    plain = schedule.random_problem(60, seed=3)
    fused = schedule.random_problem(60, seed=3, fusion_groups=6)
    assert fused.blocks == plain.blocks and (fused.residual_width, fused.fixed_parameters) == (
        plain.residual_width, plain.fixed_parameters
    )
    assert 1 <= len(fused.fusion_groups) <= 6
    assert sum(group.residual_saving for group in fused.fusion_groups) <= fused.residual_width
    assert fused.fixed_parameters_per_dim * fused.residual_width <= fused.fixed_parameters


def test_invalid_fusion_group_count_raises():
    with pytest.raises(schedule.ScheduleError, match="fusion_groups must be an int >= 0"):
        schedule.random_problem(10, fusion_groups=-1)
