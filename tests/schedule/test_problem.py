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


def group(group_id: str, *members: str, hidden: int = 4, saving: int = 0) -> schedule.FusionGroup:
    return schedule.FusionGroup(group_id, members, mlp_hidden_width=hidden, residual_saving=saving)


def sw(block_id: str, *deps: str) -> schedule.Block:
    return schedule.Block(block_id, Kind.ATTN_MLP, num_heads=1, mlp_hidden_width=3, depends_on=deps)


# A chain m1 -> m2 -> m3; m2 -> a -> m4 <- m1; selector widths s -> m5 and m1 -> t.
FUSIBLE = (
    mlp("m1"), mlp("m2", "m1"), mlp("m3", "m2"), attn("a", "m2"), mlp("m4", "a", "m1"), sw("s"), mlp("m5", "s"),
    sw("t", "m1"),
)


def test_valid_fusion_groups_are_accepted_and_listed_by_edge():
    problem = schedule.Problem(
        FUSIBLE, residual_width=4,
        fusion_groups=[group("chain", "m1", "m2", "m3"), group("pair", "m1", "m2"), group("width", "s", "m5")],
    )
    assert isinstance(problem.fusion_groups, tuple)
    assert problem.edge_groups == {("m1", "m2"): ("chain", "pair"), ("m2", "m3"): ("chain",), ("s", "m5"): ("width",)}


@pytest.mark.parametrize(
    ("groups", "match"),
    [
        ((group("g", "m1", "ghost"),), "FusionGroup 'g': member 'ghost' is not a block of the problem"),
        ((group("g", "m1", "a"),), "member 'a' is an ATTN block, which has no MLP to fuse"),
        ((group("g", "s", "t", "m1"),), r"members \['s', 't'\] are both ATTN_MLP"),
        ((group("g", "m1", "t"),), "ATTN_MLP member 't' reads member 'm1', but its attention half runs before"),
        ((group("g", "m1", "m3"),), "members \\('m1', 'm3'\\) are not connected through their own dependencies"),
        ((group("g", "m2", "m4", "m1"),), "the path 'm2' -> 'a' -> 'm4' leaves the group through 'a'"),
        ((group("g", "m1", "m2"), group("g", "m2", "m3")), "FusionGroup 'g' appears twice"),
        ((group("g", "m1", "m2", saving=5),), "residual_saving 5 exceeds the residual width 4"),
        (("g",), "fusion_groups must be FusionGroup instances"),
        (group("g", "m1", "m2"), "fusion_groups must be a sequence of FusionGroup"),
    ],
)
def test_malformed_fusion_group_raises(groups, match):
    with pytest.raises(schedule.ScheduleError, match=match):
        schedule.Problem(FUSIBLE, residual_width=4, fusion_groups=groups)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: group("", "m1", "m2"), "FusionGroup id must be a non-empty string"),
        (lambda: group("g", "m1"), r"FusionGroup 'g': members \('m1',\) must be at least 2 distinct block ids"),
        (lambda: group("g", "m1", "m1"), "must be at least 2 distinct block ids"),
        (lambda: schedule.FusionGroup("g", "m1", mlp_hidden_width=2), "members must be a sequence of block ids"),
        (lambda: schedule.FusionGroup("g", ("m1", 2), mlp_hidden_width=2), r"members must be block ids \(str\)"),
        (lambda: group("g", "m1", "m2", hidden=-1), "FusionGroup 'g': mlp_hidden_width must be a non-negative int"),
        (lambda: group("g", "m1", "m2", saving=1.5), "FusionGroup 'g': residual_saving must be a non-negative int"),
    ],
)
def test_invalid_fusion_group_fields_raise(make, match):
    with pytest.raises(schedule.ScheduleError, match=match):
        make()


def test_fixed_parameters_per_dim_beyond_the_fixed_parameters_raises():
    with pytest.raises(schedule.ScheduleError, match="fixed_parameters_per_dim \\* residual_width = 3 \\* 4 exceeds"):
        schedule.Problem((), residual_width=4, fixed_parameters=10, fixed_parameters_per_dim=3)
