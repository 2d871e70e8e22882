"""Pins `schedule/fusion.py`: the greedy fusion choice and problems with chosen groups contracted to one block;
and that problems without fusion groups are allocated exactly as before fusion existed."""

import json
import pathlib

import pytest

from optracr import schedule
from optracr.schedule import compact
from optracr.schedule import fusion

Kind = schedule.BlockKind
PINNED = pathlib.Path(__file__).parent / "data" / "unfused_allocations.json"


def chain_problem() -> schedule.Problem:
    """sw -> m1 -> m2 -> a -> m3 -> m4: two fusible regions around an attention block."""
    return schedule.Problem(
        (
            schedule.Block("sw", Kind.ATTN_MLP, num_heads=1, mlp_hidden_width=6, key_size=2, value_size=1),
            schedule.Block("m1", Kind.MLP, mlp_hidden_width=4, depends_on=("sw",)),
            schedule.Block("m2", Kind.MLP, mlp_hidden_width=4, depends_on=("m1",)),
            schedule.Block("a", Kind.ATTN, num_heads=1, key_size=2, value_size=1, depends_on=("m2",)),
            schedule.Block("m3", Kind.MLP, mlp_hidden_width=3, depends_on=("a",)),
            schedule.Block("m4", Kind.MLP, mlp_hidden_width=3, depends_on=("m3",)),
        ),
        residual_width=20,
        fusion_groups=(
            schedule.FusionGroup("head", ("sw", "m1", "m2"), mlp_hidden_width=9),
            schedule.FusionGroup("maps", ("m1", "m2"), mlp_hidden_width=2),
            schedule.FusionGroup("tail", ("m3", "m4"), mlp_hidden_width=5),
        ),
    )


def test_contracting_a_group_makes_one_block_in_its_first_members_place():
    contracted = fusion.contracted(chain_problem(), ("head", "tail"))
    assert [(b.id, b.kind, b.mlp_hidden_width, b.depends_on) for b in contracted.blocks] == [
        ("sw", Kind.ATTN_MLP, 9, ()), ("a", Kind.ATTN, 0, ("sw",)), ("m3", Kind.MLP, 5, ("a",)),
    ]
    problem = chain_problem()
    assert fusion.contracted(problem, ()) is problem


def test_expanding_puts_mlp_members_in_the_units_mlp_sublayer():
    placement = fusion.expanded(chain_problem(), ("head", "tail"), {"sw": 0, "a": 2, "m3": 3})
    assert placement == {"sw": 0, "m1": 1, "m2": 1, "a": 2, "m3": 3, "m4": 3}


def test_greedy_takes_the_group_saving_most_layers_and_leaves_overlapping_ones():
    assert schedule.greedy_choice(chain_problem()) == ("head", "tail")


def test_heuristics_place_chosen_groups_as_one_block():
    problem = chain_problem()
    for allocate in (schedule.allocate_with_heuristic, schedule.allocate_asap, schedule.allocate_levelled):
        allocation = allocate(problem)
        schedule.check(problem, allocation)
        assert allocation.fusion_groups == ("head", "tail")
        assert allocation.num_layers == 2
        assert allocation.depth_lower_bound == schedule.fusion_depth_lower_bound(problem) == 2


def test_groups_reading_each_other_cannot_be_chosen_together():
    # A = {a1, a2} and B = {b1, b2}: a1 -> b1 and b2 -> a2, each convex, but A and B read each other.
    blocks = (
        schedule.Block("a1", Kind.MLP, mlp_hidden_width=1),
        schedule.Block("b2", Kind.MLP, mlp_hidden_width=1),
        schedule.Block("a2", Kind.MLP, mlp_hidden_width=1, depends_on=("a1", "b2")),
        schedule.Block("b1", Kind.MLP, mlp_hidden_width=1, depends_on=("b2", "a1")),
    )
    groups = (
        schedule.FusionGroup("A", ("a1", "a2"), mlp_hidden_width=1),
        schedule.FusionGroup("B", ("b2", "b1"), mlp_hidden_width=1),
    )
    problem = schedule.Problem(blocks, residual_width=2, fusion_groups=groups)
    with pytest.raises(schedule.ScheduleError, match=r"Fusion groups \['A', 'B'\] cannot be chosen together"):
        fusion.contracted(problem, ("A", "B"))
    # Either alone ties its members to the later layer and costs a layer, so neither is worth choosing.
    assert schedule.greedy_choice(problem) == ()
    solved = schedule.allocate(problem)
    assert (solved.fusion_groups, solved.num_layers, solved.status) == ((), 2, schedule.AllocationStatus.OPTIMAL)


def test_pulling_earlier_moves_a_chosen_group_as_a_unit():
    problem = chain_problem()
    late = {"sw": 0, "m1": 1, "m2": 1, "a": 2, "m3": 5, "m4": 5}
    assert compact.pull_earlier(problem, late, ("head", "tail")) == {
        "sw": 0, "m1": 1, "m2": 1, "a": 2, "m3": 3, "m4": 3,
    }


@pytest.mark.parametrize("seed", range(10))
def test_pulling_earlier_with_groups_keeps_validity_and_cost(seed):
    problem = schedule.random_problem(30, seed=seed, fusion_groups=4)
    solved = schedule.allocate(problem)
    pulled = compact.pull_earlier(problem, dict(solved.sublayer_of), solved.fusion_groups)
    again = schedule.from_placement(
        problem, pulled, status=schedule.AllocationStatus.HEURISTIC, depth_lower_bound=0,
        fusion_groups=solved.fusion_groups,
    )
    schedule.check(problem, again)
    assert again.parameter_count <= solved.parameter_count


def test_problems_without_groups_are_allocated_exactly_as_before_fusion():
    # Pinned from the allocators before fusion groups existed (random problems, every allocator).
    pinned = json.loads(PINNED.read_text())
    allocators = {
        "solver": schedule.allocate,
        "heuristic": schedule.allocate_with_heuristic,
        "asap": schedule.allocate_asap,
        "levelled": schedule.allocate_levelled,
    }
    for key, expected in pinned.items():
        num_blocks, seed, name = key.split("-")
        allocation = allocators[name](schedule.random_problem(int(num_blocks), seed=int(seed)))
        assert dict(allocation.sublayer_of) == expected["sublayer_of"], key
        assert (allocation.parameter_count, allocation.status.name) == (expected["parameter_count"], expected["status"])
        assert allocation.fusion_groups == ()
