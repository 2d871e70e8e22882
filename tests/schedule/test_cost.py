"""Pins `schedule/cost.py`: the one parameter-count formula and the shape a placement implies."""

import pytest

from optracr import schedule

Kind = schedule.BlockKind


def test_parameter_count_matches_the_formula_by_hand():
    # fixed + L * (H * 2D(dk + dv) + 2D * M) = 100 + 3 * (2 * 2 * 10 * (4 + 6) + 2 * 10 * 7) = 100 + 3 * 540
    count = schedule.parameter_count(
        num_layers=3, num_heads=2, key_size=4, value_size=6, mlp_hidden_width=7, residual_width=10,
        fixed_parameters=100,
    )
    assert count == 1720


def test_parameter_count_of_no_layers_is_the_fixed_part():
    assert schedule.parameter_count(
        num_layers=0, num_heads=0, key_size=0, value_size=0, mlp_hidden_width=0, residual_width=9,
        fixed_parameters=42,
    ) == 42


def test_negative_size_in_parameter_count_raises():
    with pytest.raises(schedule.ScheduleError, match="num_heads must be a non-negative int, got -1"):
        schedule.parameter_count(
            num_layers=1, num_heads=-1, key_size=1, value_size=1, mlp_hidden_width=1, residual_width=1
        )


def test_negative_model_shape_raises():
    with pytest.raises(schedule.ScheduleError, match="ModelShape: num_layers must be a non-negative int"):
        schedule.ModelShape(num_layers=-1, num_heads=0, key_size=0, value_size=0, mlp_hidden_width=0)


def test_shape_sums_widths_per_layer_and_takes_the_widest_layer():
    blocks = (
        schedule.Block("a", Kind.ATTN, num_heads=2, key_size=3, value_size=1),
        schedule.Block("b", Kind.ATTN_MLP, num_heads=1, mlp_hidden_width=5, key_size=1, value_size=4),
        schedule.Block("m", Kind.MLP, mlp_hidden_width=6),
        schedule.Block("n", Kind.MLP, mlp_hidden_width=8, depends_on=("b",)),
    )
    problem = schedule.Problem(blocks, residual_width=10)
    shape = schedule.shape_of(problem, {"a": 0, "b": 0, "m": 1, "n": 3})
    # layer 0: heads 2 + 1, hidden 5 + 6; layer 1: hidden 8.
    assert shape == schedule.ModelShape(num_layers=2, num_heads=3, key_size=3, value_size=4, mlp_hidden_width=11)


def test_shape_of_empty_problem_has_no_layers():
    shape = schedule.shape_of(schedule.Problem((), residual_width=5), {})
    assert shape == schedule.ModelShape(num_layers=0, num_heads=0, key_size=0, value_size=0, mlp_hidden_width=0)


def test_chosen_group_replaces_its_members_widths_and_narrows_the_residual():
    blocks = (
        schedule.Block("s", Kind.ATTN_MLP, num_heads=1, mlp_hidden_width=5, key_size=1, value_size=1),
        schedule.Block("m", Kind.MLP, mlp_hidden_width=6, depends_on=("s",)),
        schedule.Block("n", Kind.MLP, mlp_hidden_width=2),
    )
    group = schedule.FusionGroup("g", ("s", "m"), mlp_hidden_width=4, residual_saving=3)
    problem = schedule.Problem(
        blocks, residual_width=10, fixed_parameters=50, fixed_parameters_per_dim=2, fusion_groups=(group,)
    )
    shape = schedule.shape_of(problem, {"s": 0, "m": 1, "n": 1}, ("g",))
    assert (shape.num_layers, shape.num_heads, shape.mlp_hidden_width) == (1, 1, 4 + 2)
    # D' = 7, fixed 50 - 2 * 3: 44 + 1 * (1 * 2 * 7 * 2 + 2 * 7 * 6).
    assert shape.parameter_count(problem, ("g",)) == 44 + 28 + 84
    assert schedule.shape_of(problem, {"s": 0, "m": 3, "n": 1}).mlp_hidden_width == 7
