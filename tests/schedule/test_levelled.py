"""Pins `schedule/levelled.py`: list scheduling that spreads widths, always valid in the fewest layers."""

import pytest

from optracr import schedule
from optracr.schedule import levelled

Kind = schedule.BlockKind


@pytest.mark.parametrize("seed", range(15))
def test_levelled_placement_is_valid_in_the_fewest_layers(seed):
    problem = schedule.random_problem(5 + 5 * seed, seed=seed)
    allocation = schedule.allocate_levelled(problem)
    schedule.check(problem, allocation)
    assert allocation.num_layers == schedule.depth_lower_bound(problem)


def test_targets_spread_mlps_over_layers_with_room():
    blocks = (
        schedule.Block("a", Kind.ATTN, num_heads=1),
        schedule.Block("b", Kind.ATTN, num_heads=1, depends_on=("a",)),
        schedule.Block("m1", Kind.MLP, mlp_hidden_width=10),
        schedule.Block("m2", Kind.MLP, mlp_hidden_width=10),
    )
    problem = schedule.Problem(blocks, residual_width=2)
    assert levelled.levelled_sublayers(problem, 2, (1, 10)) == {"a": 0, "m1": 1, "b": 2, "m2": 3}
    assert levelled.levelled_sublayers(problem, 2, (1, 20)) == {"a": 0, "m1": 1, "m2": 1, "b": 2}


def test_deadlines_override_targets():
    blocks = (
        schedule.Block("m1", Kind.MLP, mlp_hidden_width=10), schedule.Block("m2", Kind.MLP, mlp_hidden_width=10)
    )
    problem = schedule.Problem(blocks, residual_width=2)
    assert levelled.levelled_sublayers(problem, 1, (0, 0)) == {"m1": 1, "m2": 1}


def test_levelled_beats_asap_on_wide_parallel_blocks():
    problem = schedule.random_problem(200, seed=0)
    assert schedule.allocate_levelled(problem).parameter_count < schedule.allocate_asap(problem).parameter_count
