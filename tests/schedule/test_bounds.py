"""Pins `schedule/bounds.py`: ASAP and ALAP sublayers and the exact fewest number of layers."""

import pytest

from optracr import schedule

Kind = schedule.BlockKind


def block(block_id: str, kind: schedule.BlockKind, *deps: str) -> schedule.Block:
    heads = 0 if kind is Kind.MLP else 1
    hidden = 0 if kind is Kind.ATTN else 2
    return schedule.Block(block_id, kind, num_heads=heads, mlp_hidden_width=hidden, depends_on=deps)


def test_asap_lets_an_mlp_read_an_attention_block_in_the_same_layer():
    problem = schedule.Problem((block("a", Kind.ATTN), block("m", Kind.MLP, "a")), residual_width=2)
    assert schedule.earliest_sublayers(problem) == {"a": 0, "m": 1}
    assert schedule.depth_lower_bound(problem) == 1


def test_asap_puts_a_reader_of_attn_mlp_after_its_mlp_half():
    problem = schedule.Problem(
        (block("s", Kind.ATTN_MLP), block("m", Kind.MLP, "s"), block("a", Kind.ATTN, "s")), residual_width=2
    )
    assert schedule.earliest_sublayers(problem) == {"s": 0, "m": 3, "a": 2}
    assert schedule.depth_lower_bound(problem) == 2


def test_asap_of_a_mixed_chain():
    problem = schedule.Problem(
        (
            block("m1", Kind.MLP), block("m2", Kind.MLP, "m1"), block("a", Kind.ATTN, "m2"),
            block("b", Kind.ATTN, "a"),
        ),
        residual_width=2,
    )
    assert schedule.earliest_sublayers(problem) == {"m1": 1, "m2": 3, "a": 4, "b": 6}
    assert schedule.depth_lower_bound(problem) == 4


def test_alap_places_blocks_as_late_as_their_readers_allow():
    problem = schedule.Problem(
        (
            block("a", Kind.ATTN), block("s", Kind.ATTN_MLP), block("m", Kind.MLP, "a", "s"),
            block("free", Kind.MLP),
        ),
        residual_width=2,
    )
    assert schedule.latest_sublayers(problem, 3) == {"m": 5, "a": 4, "s": 2, "free": 5}


def test_empty_problem_needs_no_layers():
    assert schedule.depth_lower_bound(schedule.Problem((), residual_width=3)) == 0


def test_alap_in_too_few_layers_raises():
    problem = schedule.Problem((block("a", Kind.ATTN), block("b", Kind.ATTN, "a")), residual_width=2)
    with pytest.raises(schedule.ScheduleError, match="cannot be placed in 1 layers; at least 2 are needed"):
        schedule.latest_sublayers(problem, 1)


def test_fused_bounds_let_a_member_share_its_dependencys_mlp_sublayer():
    problem = schedule.Problem(
        (block("s", Kind.ATTN_MLP), block("m1", Kind.MLP, "s"), block("m2", Kind.MLP, "m1"), block("a", Kind.ATTN, "m2")),
        residual_width=2,
        fusion_groups=(schedule.FusionGroup("g", ("s", "m1", "m2"), mlp_hidden_width=3),),
    )
    assert schedule.earliest_sublayers(problem) == {"s": 0, "m1": 3, "m2": 5, "a": 6}
    assert schedule.fused_earliest_sublayers(problem) == {"s": 0, "m1": 1, "m2": 1, "a": 2}
    assert schedule.fused_latest_sublayers(problem, 3) == {"a": 4, "m2": 3, "m1": 3, "s": 2}
    assert (schedule.depth_lower_bound(problem), schedule.fusion_depth_lower_bound(problem)) == (4, 2)


def test_fused_bounds_equal_the_plain_ones_without_groups():
    problem = schedule.random_problem(80, seed=2)
    assert schedule.fused_earliest_sublayers(problem) == schedule.earliest_sublayers(problem)
    assert schedule.fused_latest_sublayers(problem, 20) == schedule.latest_sublayers(problem, 20)


def test_fused_alap_in_too_few_layers_raises():
    problem = schedule.Problem((block("a", Kind.ATTN), block("b", Kind.ATTN, "a")), residual_width=2)
    with pytest.raises(schedule.ScheduleError, match="cannot be placed in 1 layers with any fusion choice"):
        schedule.fused_latest_sublayers(problem, 1)
