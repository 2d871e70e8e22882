"""Pins `schedule/compact.py`: the tie-break moves blocks earlier without costing a parameter."""

import pytest

from optracr import schedule
from optracr.schedule import bounds
from optracr.schedule import compact

Kind = schedule.BlockKind


@pytest.mark.parametrize("seed", range(10))
def test_pulling_earlier_keeps_validity_and_cost_and_never_moves_later(seed):
    problem = schedule.random_problem(40, seed=seed)
    late = bounds.latest_sublayers(problem, schedule.depth_lower_bound(problem))
    pulled = compact.pull_earlier(problem, late)
    before = schedule.shape_of(problem, late).parameter_count(problem)
    allocation = schedule.from_placement(
        problem, pulled, status=schedule.AllocationStatus.HEURISTIC, depth_lower_bound=0
    )
    schedule.check(problem, allocation)
    assert allocation.parameter_count <= before
    assert all(pulled[block_id] <= late[block_id] for block_id in late)


def test_a_block_moves_to_the_first_layer_with_room():
    blocks = (
        schedule.Block("a", Kind.ATTN, num_heads=1),
        schedule.Block("b", Kind.ATTN, num_heads=1, depends_on=("a",)),
        schedule.Block("c", Kind.ATTN, num_heads=1, depends_on=("b",)),
        schedule.Block("wide", Kind.MLP, mlp_hidden_width=8),
        schedule.Block("small", Kind.MLP, mlp_hidden_width=3),
    )
    problem = schedule.Problem(blocks, residual_width=2)
    pulled = compact.pull_earlier(problem, {"a": 0, "b": 2, "c": 4, "wide": 1, "small": 5})
    # Layer 0 already holds 8 hidden units (M = 8), so "small" moves from layer 2 to layer 1, not to layer 0.
    assert pulled == {"a": 0, "b": 2, "c": 4, "wide": 1, "small": 3}
