"""Pins the fusion choices of `schedule/cpsat.py`: the solver chooses groups and places blocks optimally.

The optimum is checked against a brute force over every choice of disjoint groups and every placement, written
here from the rules alone (not from the solver's constraint families).
"""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optracr import schedule
from optracr.schedule import problem as problem_lib

Kind = schedule.BlockKind


@st.composite
def small_fusion_problems(draw: st.DrawFn, max_blocks: int = 7, max_groups: int = 3) -> schedule.Problem:
    """Random DAGs of up to `max_blocks` blocks with up to `max_groups` valid (maybe overlapping) fusion groups."""
    blocks = []
    for index in range(draw(st.integers(2, max_blocks))):
        kind = draw(st.sampled_from([Kind.MLP, Kind.MLP, Kind.ATTN, Kind.ATTN_MLP]))
        attention = kind is not Kind.MLP
        deps = draw(st.lists(st.integers(0, index - 1), unique=True, min_size=1, max_size=2)) if index else []
        blocks.append(schedule.Block(
            f"b{index}", kind,
            num_heads=draw(st.integers(1, 2)) if attention else 0,
            mlp_hidden_width=draw(st.integers(0, 8)) if kind is not Kind.ATTN else 0,
            key_size=draw(st.integers(0, 3)) if attention else 0,
            value_size=draw(st.integers(0, 3)) if attention else 0,
            depends_on=tuple(f"b{dep}" for dep in sorted(deps)),
        ))
    residual_width = draw(st.integers(4, 12))
    base = schedule.Problem(tuple(blocks), residual_width=residual_width)
    groups = []
    starts = [block.id for block in blocks if block.kind is not Kind.ATTN]
    for _ in range(draw(st.integers(0, max_groups)) if starts else 0):
        members = [draw(st.sampled_from(starts))]
        for _ in range(draw(st.integers(1, 3))):  # grow along dependency edges, as a compiler's regions do
            frontier = sorted({
                n for m in members for n in (*base.graph.successors(m), *base.graph.predecessors(m))
                if n not in members and base.block_by_id[n].kind is not Kind.ATTN
            })
            if frontier:
                members.append(draw(st.sampled_from(frontier)))
        if len(members) < 2:
            continue
        group = schedule.FusionGroup(
            f"g{len(groups)}", tuple(members), mlp_hidden_width=draw(st.integers(0, 12)),
            residual_saving=draw(st.integers(0, 2)),
        )
        try:
            problem_lib.check_fusion_group(group, base.block_by_id, base.graph)
        except schedule.ScheduleError:
            continue
        groups.append(group)
    per_dim = draw(st.integers(0, 5))
    return schedule.Problem(
        tuple(draw(st.permutations(blocks))), residual_width=residual_width,
        fixed_parameters=per_dim * residual_width + draw(st.integers(0, 50)), fusion_groups=tuple(groups),
        fixed_parameters_per_dim=per_dim,
    )


def brute_force_optimum(problem: schedule.Problem, max_layers: int) -> tuple[int, int]:
    """The smallest (layers, parameters) over every disjoint choice of groups and every valid placement."""
    best = None
    for size in range(len(problem.fusion_groups) + 1):
        for chosen in itertools.combinations(problem.fusion_groups, size):
            members = [member for group in chosen for member in group.members]
            if len(members) != len(set(members)) or sum(g.residual_saving for g in chosen) > problem.residual_width:
                continue
            for value in _placements(problem, chosen, max_layers):
                best = value if best is None or value < best else best
    assert best is not None
    return best


def _placements(problem, chosen, max_layers):
    group_of = {member: group for group in chosen for member in group.members}
    order, placed = [], set()
    while len(order) < len(problem.blocks):
        for block in problem.blocks:
            if block.id not in placed and set(block.depends_on) <= placed:
                order.append(block)
                placed.add(block.id)
    saving = sum(group.residual_saving for group in chosen)
    width = problem.residual_width - saving
    fixed = problem.fixed_parameters - problem.fixed_parameters_per_dim * saving
    dk = max((b.key_size for b in problem.blocks), default=0)
    dv = max((b.value_size for b in problem.blocks), default=0)

    def evaluate(layer_of):
        layers = max(layer_of.values()) + 1
        heads, hidden = [0] * layers, [0] * layers
        for block in problem.blocks:
            heads[layer_of[block.id]] += block.num_heads
            if block.id not in group_of:
                hidden[layer_of[block.id]] += block.mlp_hidden_width
        for group in chosen:
            hidden[layer_of[group.members[0]]] += group.mlp_hidden_width
        return layers, fixed + layers * (max(heads) * 2 * width * (dk + dv) + 2 * width * max(hidden))

    def extend(index, layer_of, output_of):
        if index == len(order):
            yield evaluate(layer_of)
            return
        block = order[index]
        group = group_of.get(block.id)
        for layer in range(max_layers):
            if group and any(layer_of.get(m, layer) != layer for m in group.members):
                continue
            sublayer = 2 * layer + (1 if block.kind is Kind.MLP else 0)
            fused = {dep for dep in block.depends_on if group and dep in group.members}
            if all(sublayer > output_of[dep] for dep in block.depends_on if dep not in fused):
                layer_of[block.id] = layer
                output_of[block.id] = sublayer + (1 if block.kind is Kind.ATTN_MLP else 0)
                yield from extend(index + 1, layer_of, output_of)
                del layer_of[block.id], output_of[block.id]

    yield from extend(0, {}, {})


def assert_groups_hold(problem: schedule.Problem, allocation: schedule.Allocation) -> None:
    """The chosen groups' semantics, restated: disjoint, one MLP sublayer, outside readers after it."""
    members = [m for g in allocation.fusion_groups for m in problem.fusion_group_by_id[g].members]
    assert len(members) == len(set(members))
    for group_id in allocation.fusion_groups:
        group = problem.fusion_group_by_id[group_id]
        mlp_sublayers = {
            allocation.sublayer_of[m] + (problem.block_by_id[m].kind is Kind.ATTN_MLP) for m in group.members
        }
        assert len(mlp_sublayers) == 1 and next(iter(mlp_sublayers)) % 2 == 1
        for block in problem.blocks:
            if block.id not in group.members and set(block.depends_on) & set(group.members):
                assert allocation.sublayer_of[block.id] > next(iter(mlp_sublayers))


@settings(max_examples=300, deadline=None)
@given(small_fusion_problems())
def test_solver_matches_brute_force_optimum_over_fusion_choices(problem):
    heuristic = schedule.allocate_with_heuristic(problem)
    allocation = schedule.allocate(problem, time_limit_s=10.0)
    schedule.check(problem, allocation)
    assert_groups_hold(problem, allocation)
    optimum = brute_force_optimum(problem, heuristic.num_layers)
    assert (allocation.num_layers, allocation.parameter_count) == optimum
    assert allocation.status is schedule.AllocationStatus.OPTIMAL
    assert allocation.depth_lower_bound == optimum[0]
    assert schedule.fusion_depth_lower_bound(problem) <= optimum[0] <= schedule.depth_lower_bound(problem)


@pytest.mark.parametrize("seed", range(200))
def test_solver_never_has_more_layers_than_the_heuristic_with_fusion_groups(seed):
    problem = schedule.random_problem(8 + seed % 25, seed=seed, fusion_groups=1 + seed % 5)
    solved = schedule.allocate(problem, time_limit_s=5.0)
    heuristic = schedule.allocate(problem, allocator="heuristic")
    assert_groups_hold(problem, solved)
    assert solved.num_layers <= heuristic.num_layers
    assert solved.num_layers <= schedule.depth_lower_bound(problem)


def test_fusing_a_chain_of_maps_saves_layers_and_residual_width():
    problem = schedule.Problem(
        (
            schedule.Block("sw", Kind.ATTN_MLP, num_heads=1, mlp_hidden_width=6, key_size=2, value_size=1),
            schedule.Block("m1", Kind.MLP, mlp_hidden_width=4, depends_on=("sw",)),
            schedule.Block("m2", Kind.MLP, mlp_hidden_width=4, depends_on=("m1",)),
            schedule.Block("a", Kind.ATTN, num_heads=1, key_size=2, value_size=1, depends_on=("m2",)),
        ),
        residual_width=20, fixed_parameters=400, fixed_parameters_per_dim=10,
        fusion_groups=(schedule.FusionGroup("g", ("sw", "m1", "m2"), mlp_hidden_width=9, residual_saving=2),),
    )
    solved = schedule.allocate(problem)
    assert solved.fusion_groups == ("g",)
    assert dict(solved.sublayer_of) == {"sw": 0, "m1": 1, "m2": 1, "a": 2}
    # D' = 18, fixed 400 - 10 * 2; L = 2, H = 1, M = 9: 380 + 2 * (1 * 2 * 18 * 3 + 2 * 18 * 9).
    assert (solved.num_layers, solved.mlp_hidden_width, solved.parameter_count) == (2, 9, 380 + 2 * (108 + 324))
    assert schedule.depth_lower_bound(problem) == 4


def test_a_group_that_keeps_the_depth_is_chosen_only_if_it_saves_parameters():
    blocks = (
        schedule.Block("a", Kind.ATTN, num_heads=1, key_size=1, value_size=1),
        schedule.Block("m1", Kind.MLP, mlp_hidden_width=4, depends_on=("a",)),
        schedule.Block("b", Kind.ATTN, num_heads=1, key_size=1, value_size=1, depends_on=("a",)),
        schedule.Block("c", Kind.ATTN, num_heads=1, key_size=1, value_size=1, depends_on=("b",)),
        schedule.Block("m2", Kind.MLP, mlp_hidden_width=4, depends_on=("m1",)),
    )
    # m1 at layer 0 and m2 at layer 1 already fit the 2 layers c needs: fusing saves no layer.
    wide = schedule.FusionGroup("g", ("m1", "m2"), mlp_hidden_width=10)
    narrow = schedule.FusionGroup("g", ("m1", "m2"), mlp_hidden_width=3)
    assert schedule.allocate(schedule.Problem(blocks, residual_width=5, fusion_groups=(wide,))).fusion_groups == ()
    assert schedule.allocate(schedule.Problem(blocks, residual_width=5, fusion_groups=(narrow,))).fusion_groups == ("g",)


def test_of_overlapping_groups_the_one_saving_more_layers_is_chosen():
    blocks = tuple(
        schedule.Block(f"m{i}", Kind.MLP, mlp_hidden_width=2, depends_on=(f"m{i - 1}",) if i else ()) for i in range(4)
    )
    groups = (
        schedule.FusionGroup("left", ("m0", "m1", "m2"), mlp_hidden_width=3),  # 2 layers: m0-m2, then m3
        schedule.FusionGroup("right", ("m2", "m3"), mlp_hidden_width=3),  # 3 layers: m0, m1, then m2-m3
    )
    problem = schedule.Problem(blocks, residual_width=4, fusion_groups=groups)
    solved = schedule.allocate(problem)
    assert (solved.fusion_groups, solved.num_layers) == (("left",), 2)
    assert schedule.allocate(problem, allocator="heuristic").fusion_groups == ("left",)
