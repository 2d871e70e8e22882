"""Pins `schedule/problem.py`: blocks and problems are checked plain data."""

import pytest

from optracr import schedule

Kind = schedule.BlockKind


def attn(block_id: str, *deps: str, heads: int = 1) -> schedule.Block:
    return schedule.Block(block_id, Kind.ATTN, num_heads=heads, key_size=2, value_size=1, depends_on=deps)


def mlp(block_id: str, *deps: str, hidden: int = 4) -> schedule.Block:
    return schedule.Block(block_id, Kind.MLP, mlp_hidden_width=hidden, depends_on=deps)


def test_depends_on_and_blocks_become_tuples():
    block = schedule.Block("y", Kind.MLP, mlp_hidden_width=3, depends_on=["x"])
    problem = schedule.Problem([attn("x"), block], residual_width=4)
    assert block.depends_on == ("x",)
    assert isinstance(problem.blocks, tuple)


def test_topological_order_puts_dependencies_first_and_keeps_block_order_otherwise():
    problem = schedule.Problem((mlp("c", "a"), attn("b"), attn("a")), residual_width=4)
    assert [block.id for block in problem.topological_order] == ["b", "a", "c"]


def test_key_and_value_size_are_maxima_over_all_heads():
    wide_key = schedule.Block("k", Kind.ATTN, num_heads=1, key_size=9, value_size=1)
    wide_value = schedule.Block("v", Kind.ATTN_MLP, num_heads=2, mlp_hidden_width=3, key_size=2, value_size=7)
    problem = schedule.Problem((wide_key, wide_value, mlp("m")), residual_width=4)
    assert (problem.key_size, problem.value_size) == (9, 7)
    assert schedule.Problem((), residual_width=4).key_size == 0


def test_widths_are_heads_and_hidden_units():
    block = schedule.Block("s", Kind.ATTN_MLP, num_heads=1, mlp_hidden_width=12, key_size=2, value_size=1)
    assert block.widths == (1, 12)


def test_problems_are_hashable_and_compare_by_value():
    assert schedule.Problem((attn("x"),), residual_width=3) == schedule.Problem((attn("x"),), residual_width=3)
    assert hash(schedule.Problem((attn("x"),), residual_width=3)) == hash(
        schedule.Problem((attn("x"),), residual_width=3)
    )


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: schedule.Block("", Kind.MLP), "non-empty string"),
        (lambda: schedule.Block("x", "MLP"), "kind must be a BlockKind"),
        (lambda: schedule.Block("x", Kind.MLP, mlp_hidden_width=-1), "Block 'x': mlp_hidden_width must be a non"),
        (lambda: schedule.Block("x", Kind.ATTN, num_heads=True), "Block 'x': num_heads must be a non-negative"),
        (lambda: schedule.Block("x", Kind.ATTN, num_heads=1, key_size=2.0), "key_size must be a non-negative int"),
        (lambda: schedule.Block("x", Kind.ATTN), "Block 'x': a ATTN block needs num_heads >= 1"),
        (lambda: schedule.Block("x", Kind.ATTN_MLP, mlp_hidden_width=3), "a ATTN_MLP block needs num_heads >= 1"),
        (lambda: schedule.Block("x", Kind.ATTN, num_heads=1, mlp_hidden_width=2), "use kind ATTN_MLP"),
        (lambda: schedule.Block("x", Kind.MLP, num_heads=1), "an MLP block has no heads"),
        (lambda: schedule.Block("x", Kind.MLP, value_size=3), "an MLP block has no heads"),
        (lambda: schedule.Block("x", Kind.MLP, depends_on="y"), "depends_on must be a sequence of block ids"),
        (lambda: schedule.Block("x", Kind.MLP, depends_on=(3,)), "dependency 3 is not a block id"),
        (lambda: schedule.Block("x", Kind.MLP, depends_on=("x",)), "Block 'x' depends on itself"),
        (lambda: schedule.Block("x", Kind.MLP, depends_on=("y", "y")), "repeats an id"),
    ],
)
def test_invalid_block_raises_schedule_error(make, match):
    with pytest.raises(schedule.ScheduleError, match=match):
        make()


def test_duplicate_block_id_raises():
    with pytest.raises(schedule.ScheduleError, match="Block 'x' appears twice"):
        schedule.Problem((attn("x"), mlp("x")), residual_width=4)


def test_unknown_dependency_raises_naming_both_blocks():
    with pytest.raises(schedule.ScheduleError, match="Block 'y' depends on unknown block 'ghost'"):
        schedule.Problem((mlp("y", "ghost"),), residual_width=4)


def test_cycle_raises_with_the_cycle():
    with pytest.raises(schedule.ScheduleError, match=r"through the cycle '.' -> '.' -> '.' -> '.'"):
        schedule.Problem((mlp("a", "c"), attn("b", "a"), mlp("c", "b")), residual_width=4)


def test_non_block_in_problem_raises():
    with pytest.raises(schedule.ScheduleError, match="must be Block instances"):
        schedule.Problem(("x",), residual_width=4)


@pytest.mark.parametrize(
    ("residual_width", "fixed_parameters", "match"),
    [(-1, 0, "residual_width must be a non-negative int"), (4, -5, "fixed_parameters must be a non-negative int")],
)
def test_negative_problem_sizes_raise(residual_width, fixed_parameters, match):
    with pytest.raises(schedule.ScheduleError, match=match):
        schedule.Problem((), residual_width=residual_width, fixed_parameters=fixed_parameters)
