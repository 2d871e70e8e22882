"""Pins `schedule/check.py`: the checker rejects each kind of invalid allocation, saying what is wrong."""

import dataclasses

import pytest

from optracr import schedule

Kind = schedule.BlockKind

PROBLEM = schedule.Problem(
    (
        schedule.Block("x", Kind.ATTN, num_heads=1, key_size=3, value_size=2),
        schedule.Block("sw", Kind.ATTN_MLP, num_heads=1, mlp_hidden_width=6, key_size=2, value_size=1),
        schedule.Block("y", Kind.MLP, mlp_hidden_width=4, depends_on=("x",)),
        schedule.Block("z", Kind.ATTN, num_heads=2, key_size=1, value_size=1, depends_on=("sw", "y")),
    ),
    residual_width=8,
    fixed_parameters=10,
)
VALID = {"x": 0, "sw": 0, "y": 1, "z": 2}


def allocation(sublayer_of: dict[str, int]) -> schedule.Allocation:
    """An allocation reporting exactly what `sublayer_of` implies (so only the placement can be wrong)."""
    return schedule.from_placement(
        PROBLEM, sublayer_of, status=schedule.AllocationStatus.HEURISTIC, depth_lower_bound=0
    )


def test_valid_allocation_passes():
    schedule.check(PROBLEM, allocation(VALID))


def test_attention_block_in_mlp_sublayer_is_rejected():
    with pytest.raises(schedule.AllocationError, match=r"Block 'x' \(ATTN\) sits at sublayer 1, an MLP sublayer"):
        schedule.check(PROBLEM, allocation({**VALID, "x": 1, "y": 3}))


def test_mlp_block_in_attention_sublayer_is_rejected():
    with pytest.raises(schedule.AllocationError, match=r"Block 'y' \(MLP\) sits at sublayer 2, an attention"):
        schedule.check(PROBLEM, allocation({**VALID, "y": 2, "z": 4}))


def test_split_attn_mlp_pair_is_rejected():
    with pytest.raises(schedule.AllocationError, match=r"Block 'sw' \(ATTN_MLP\) starts at sublayer 1, so its"):
        schedule.check(PROBLEM, allocation({**VALID, "sw": 1, "z": 4}))


def test_block_in_the_same_sublayer_as_its_dependency_is_rejected():
    with pytest.raises(schedule.AllocationError, match="Block 'z' sits at sublayer 2 but reads 'y' .* >= 4"):
        schedule.check(PROBLEM, allocation({**VALID, "y": 3}))


def test_block_before_its_dependency_is_rejected():
    with pytest.raises(schedule.AllocationError, match="Block 'y' sits at sublayer 1 but reads 'x'"):
        schedule.check(PROBLEM, allocation({**VALID, "x": 2, "z": 4}))


def test_reading_attn_mlp_in_its_mlp_sublayer_is_rejected():
    problem = schedule.Problem(
        (
            schedule.Block("sw", Kind.ATTN_MLP, num_heads=1, mlp_hidden_width=6),
            schedule.Block("m", Kind.MLP, mlp_hidden_width=2, depends_on=("sw",)),
        ),
        residual_width=4,
    )
    bad = schedule.from_placement(
        problem, {"sw": 0, "m": 1}, status=schedule.AllocationStatus.HEURISTIC, depth_lower_bound=0
    )
    match = "after its MLP half at sublayer 1; place 'm' at a sublayer >= 2"
    with pytest.raises(schedule.AllocationError, match=match):
        schedule.check(problem, bad)


def test_missing_block_is_rejected():
    incomplete = dataclasses.replace(allocation(VALID), sublayer_of={"x": 0, "sw": 0, "y": 1})
    with pytest.raises(schedule.AllocationError, match=r"Block 'z' has no sublayer in the allocation"):
        schedule.check(PROBLEM, incomplete)


def test_extra_block_is_rejected():
    padded = dataclasses.replace(allocation(VALID), sublayer_of={**VALID, "ghost": 5})
    with pytest.raises(schedule.AllocationError, match=r"Block 'ghost' is placed but is not in the problem"):
        schedule.check(PROBLEM, padded)


@pytest.mark.parametrize(
    "field", ["num_layers", "num_heads", "key_size", "value_size", "mlp_hidden_width", "parameter_count"]
)
def test_wrong_reported_width_or_parameters_is_rejected(field):
    honest = allocation(VALID)
    if field == "parameter_count":
        lying = dataclasses.replace(honest, parameter_count=honest.parameter_count + 1)
    else:
        lying = dataclasses.replace(honest, shape=dataclasses.replace(honest.shape, **{field: getattr(honest, field) + 1}))
    with pytest.raises(schedule.AllocationError, match=f"reports {field} = .*, but its placement implies"):
        schedule.check(PROBLEM, lying)


def test_depth_lower_bound_above_the_layers_is_rejected():
    with pytest.raises(schedule.AllocationError, match="depth_lower_bound = 5, above its own 2 layers"):
        schedule.check(PROBLEM, dataclasses.replace(allocation(VALID), depth_lower_bound=5))


# Fusion choices: sw's MLP half, m1 and m2 may share one MLP sublayer; `out` reads m2.
FUSED = schedule.Problem(
    (
        schedule.Block("sw", Kind.ATTN_MLP, num_heads=1, mlp_hidden_width=6, key_size=2, value_size=1),
        schedule.Block("m1", Kind.MLP, mlp_hidden_width=4, depends_on=("sw",)),
        schedule.Block("m2", Kind.MLP, mlp_hidden_width=4, depends_on=("m1",)),
        schedule.Block("out", Kind.ATTN, num_heads=1, key_size=2, value_size=1, depends_on=("m2",)),
    ),
    residual_width=10,
    fixed_parameters=100,
    fixed_parameters_per_dim=5,
    fusion_groups=(
        schedule.FusionGroup("all", ("sw", "m1", "m2"), mlp_hidden_width=20, residual_saving=2),
        schedule.FusionGroup("maps", ("m1", "m2"), mlp_hidden_width=5),
    ),
)
FUSED_VALID = {"sw": 0, "m1": 1, "m2": 1, "out": 2}


def fused(sublayer_of: dict[str, int], groups: tuple[str, ...] = ("all",)) -> schedule.Allocation:
    return schedule.from_placement(
        FUSED, sublayer_of, status=schedule.AllocationStatus.HEURISTIC, depth_lower_bound=0, fusion_groups=groups
    )


def test_valid_fused_allocation_passes_and_is_charged_the_group_width_at_the_narrower_residual():
    allocation = fused(FUSED_VALID)
    schedule.check(FUSED, allocation)
    # D' = 8, fixed 100 - 5 * 2; L = 2, H = 1, M = 20.
    assert allocation.parameter_count == 90 + 2 * (1 * 2 * 8 * 3 + 2 * 8 * 20)


def test_fused_group_charged_less_than_its_width_is_rejected():
    honest = fused(FUSED_VALID)
    cheap = dataclasses.replace(honest, shape=dataclasses.replace(honest.shape, mlp_hidden_width=14))
    with pytest.raises(schedule.AllocationError, match="reports mlp_hidden_width = 14, but its placement implies 20"):
        schedule.check(FUSED, cheap)


def test_fused_parameters_at_the_full_residual_width_are_rejected():
    honest = fused(FUSED_VALID)
    unsaved = dataclasses.replace(honest, parameter_count=honest.shape.parameter_count(FUSED))
    with pytest.raises(schedule.AllocationError, match="reports parameter_count = .*, but its placement implies"):
        schedule.check(FUSED, unsaved)


def test_members_of_a_chosen_group_in_different_sublayers_are_rejected():
    with pytest.raises(schedule.AllocationError, match="Fusion group 'all' is chosen, but its members' MLPs sit in"):
        schedule.check(FUSED, fused({**FUSED_VALID, "m2": 3, "out": 4}))


def test_overlapping_chosen_groups_are_rejected():
    with pytest.raises(schedule.AllocationError, match="groups 'all' and 'maps', which share block 'm1'"):
        schedule.check(FUSED, fused(FUSED_VALID, ("all", "maps")))


def test_unknown_chosen_group_is_rejected():
    with pytest.raises(schedule.AllocationError, match="chooses fusion group 'ghost', which is not in the problem"):
        schedule.check(FUSED, dataclasses.replace(fused(FUSED_VALID), fusion_groups=("ghost",)))


def test_outside_reader_in_the_groups_sublayer_or_before_is_rejected():
    with pytest.raises(schedule.AllocationError, match="Block 'out' sits at sublayer 0 but reads 'm2'"):
        schedule.check(FUSED, fused({**FUSED_VALID, "out": 0}))


def test_precedence_inside_a_group_is_waived_only_when_it_is_chosen():
    with pytest.raises(schedule.AllocationError, match="Block 'm1' sits at sublayer 1 but reads 'sw'"):
        schedule.check(FUSED, fused(FUSED_VALID, ("maps",)))
    maps_fused = {"sw": 0, "m1": 3, "m2": 3, "out": 4}
    schedule.check(FUSED, fused(maps_fused, ("maps",)))
    with pytest.raises(schedule.AllocationError, match="Block 'm2' sits at sublayer 3 but reads 'm1'"):
        schedule.check(FUSED, fused(maps_fused, ()))
