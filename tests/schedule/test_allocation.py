"""Pins `schedule/allocation.py`: allocations are checked data with helpers for assembly."""

import dataclasses

import pytest

from optracr import schedule

Kind = schedule.BlockKind
Status = schedule.AllocationStatus

PROBLEM = schedule.Problem(
    (
        schedule.Block("sw", Kind.ATTN_MLP, num_heads=1, mlp_hidden_width=4, key_size=2, value_size=1),
        schedule.Block("m", Kind.MLP, mlp_hidden_width=3),
        schedule.Block("a", Kind.ATTN, num_heads=1, key_size=2, value_size=1, depends_on=("sw", "m")),
    ),
    residual_width=5,
)


def make(**changes) -> schedule.Allocation:
    allocation = schedule.from_placement(
        PROBLEM, {"sw": 0, "m": 1, "a": 2}, status=Status.HEURISTIC, depth_lower_bound=2
    )
    return dataclasses.replace(allocation, **changes)


def test_from_placement_reports_the_shape_and_parameters():
    allocation = make()
    assert (allocation.num_layers, allocation.num_heads, allocation.mlp_hidden_width) == (2, 1, 7)
    assert allocation.parameter_count == 2 * (1 * 2 * 5 * (2 + 1) + 2 * 5 * 7)


def test_layer_of_gives_the_layer_of_both_halves():
    allocation = make()
    assert [allocation.layer_of(block_id) for block_id in ("sw", "m", "a")] == [0, 0, 1]


def test_layer_of_unknown_block_raises():
    with pytest.raises(schedule.ScheduleError, match="Block 'zz' is not in this allocation"):
        make().layer_of("zz")


def test_blocks_in_sublayer_counts_the_mlp_half_of_attn_mlp():
    allocation = make()
    assert [allocation.blocks_in_sublayer(PROBLEM, s) for s in range(4)] == [("sw",), ("sw", "m"), ("a",), ()]


def test_sublayer_of_is_read_only():
    with pytest.raises(TypeError):
        make().sublayer_of["a"] = 4  # type: ignore[index]


def test_seconds_do_not_take_part_in_equality():
    assert make(seconds=1.0) == make(seconds=2.0)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        (dict(sublayer_of={"sw": -1, "m": 1, "a": 2}), "Block 'sw': sublayer must be a non-negative int"),
        (dict(shape=(1, 1, 2, 1, 7)), "shape must be a schedule.ModelShape"),
        (dict(parameter_count=1.5), "parameter_count must be a non-negative int"),
        (dict(status="OPTIMAL"), "status must be an AllocationStatus"),
        (dict(seconds=-1.0), "seconds must be a finite time >= 0"),
        (dict(status=Status.OPTIMAL), "an OPTIMAL allocation has gap 0.0"),
        (dict(status=Status.FEASIBLE), r"a FEASIBLE allocation needs a relative gap in \[0, 1\]"),
        (dict(status=Status.FEASIBLE, gap=1.5), r"a FEASIBLE allocation needs a relative gap in \[0, 1\]"),
        (dict(gap=0.1), "a HEURISTIC allocation has no solver gap"),
        (dict(status=Status.FALLBACK), "a reason \\(str\\) is required for FALLBACK"),
        (dict(reason="because"), "a reason \\(str\\) is required for FALLBACK and only for it"),
    ],
)
def test_inconsistent_allocation_raises_allocation_error(changes, match):
    with pytest.raises(schedule.AllocationError, match=match):
        make(**changes)


@pytest.mark.parametrize("groups", [["g"], ("b", "a"), ("a", "a"), (3,)])
def test_fusion_groups_must_be_a_sorted_tuple_of_distinct_ids(groups):
    with pytest.raises(schedule.AllocationError, match="fusion_groups must be a sorted tuple of distinct group ids"):
        make(fusion_groups=groups)
