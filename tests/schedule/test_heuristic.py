"""Pins `schedule/heuristic.py`: the reference Tracr's longest-path allocation, reproduced exactly."""


import pytest

from optracr import schedule

Kind = schedule.BlockKind


def block(block_id: str, kind: schedule.BlockKind, *deps: str, hidden: int = 2) -> schedule.Block:
    heads = 0 if kind is Kind.MLP else 1
    return schedule.Block(
        block_id, kind, num_heads=heads, mlp_hidden_width=0 if kind is Kind.ATTN else hidden, depends_on=deps
    )


def two_layer_example() -> schedule.Problem:
    return schedule.Problem(
        (
            block("X", Kind.ATTN),
            block("Y", Kind.MLP, "X"),
            block("Z", Kind.MLP),
            block("W", Kind.ATTN, "Z"),
            block("out", Kind.MLP, "Y", "W"),
        ),
        residual_width=4,
    )


def test_hop_depth_counts_blocks_whatever_their_kind():
    assert schedule.hop_depths(two_layer_example()) == {"X": 1, "Z": 1, "Y": 2, "W": 2, "out": 3}


def test_two_layer_example_takes_three_layers_with_the_heuristic():
    allocation = schedule.allocate(two_layer_example(), allocator="heuristic")
    assert allocation.sublayer_of == {"X": 0, "Z": 1, "Y": 3, "W": 2, "out": 5}
    assert allocation.num_layers == 3
    assert allocation.status is schedule.AllocationStatus.HEURISTIC
    assert allocation.depth_lower_bound == 2


def test_attention_only_depth_followed_by_mlp_only_depth_is_condensed():
    problem = schedule.Problem(
        (block("a", Kind.ATTN), block("m", Kind.MLP, "a"), block("b", Kind.ATTN, "m")), residual_width=2
    )
    assert schedule.allocate_with_heuristic(problem).sublayer_of == {"a": 0, "m": 1, "b": 2}


def test_a_selector_width_at_a_depth_prevents_condensing():
    problem = schedule.Problem(
        (block("a", Kind.ATTN), block("s", Kind.ATTN_MLP), block("m", Kind.MLP, "a")), residual_width=2
    )
    assert schedule.allocate_with_heuristic(problem).sublayer_of == {"a": 0, "s": 0, "m": 3}


def test_condensing_pairs_depths_greedily_from_the_bottom():
    # Depths 1..4 are ATTN, MLP, ATTN, MLP: (1, 2) and (3, 4) merge, giving two layers.
    problem = schedule.Problem(
        (block("a", Kind.ATTN), block("m", Kind.MLP, "a"), block("b", Kind.ATTN, "m"), block("n", Kind.MLP, "b")),
        residual_width=2,
    )
    assert schedule.allocate_with_heuristic(problem).sublayer_of == {"a": 0, "m": 1, "b": 2, "n": 3}


def test_heuristic_reproduces_the_reference_allocation_of_every_library_program(reference_programs):
    for name, (problem, record) in reference_programs.items():
        allocation = schedule.allocate(problem, allocator="heuristic")
        assert dict(allocation.sublayer_of) == record["reference_sublayers"], name
        shape = (allocation.num_layers, allocation.num_heads, allocation.mlp_hidden_width)
        reference = (
            record["reference_num_layers"], record["reference_num_heads"], record["reference_mlp_hidden_width"]
        )
        assert shape == reference, name


def test_reference_layer_counts_of_the_paper_programs(reference_programs):
    layers = {
        name: schedule.allocate_with_heuristic(reference_programs[name][0]).num_layers
        for name in ("reverse", "sort", "sort_freq", "hist", "shuffle_dyck2")
    }
    assert layers == {"reverse": 4, "sort": 3, "sort_freq": 5, "hist": 1, "shuffle_dyck2": 8}


def test_heuristic_is_linear_time_on_a_graph_with_exponentially_many_paths():
    # Each block reads the two before it: about 1.6^n paths, which path enumeration cannot finish.
    blocks = [block("b0", Kind.MLP), block("b1", Kind.ATTN, "b0")]
    for index in range(2, 2000):
        kind = Kind.MLP if index % 2 == 0 else Kind.ATTN
        blocks.append(block(f"b{index}", kind, f"b{index - 1}", f"b{index - 2}"))
    problem = schedule.Problem(tuple(blocks), residual_width=2)
    allocation = schedule.allocate_with_heuristic(problem)  # path enumeration would never return here
    assert allocation.num_layers == 1001  # b0 alone, then (ATTN, MLP) pairs condensed, then b1999 alone


@pytest.mark.parametrize("seed", range(20))
def test_heuristic_leaves_no_empty_sublayer_pair_the_reference_assembly_would_squeeze(seed):
    # The reference packs used sublayers into layers in order, so an unused MLP sublayer followed by an unused
    # attention sublayer would lose it a layer; after condensing there is none, so layer counts match.
    problem = schedule.random_problem(30, seed=seed)
    allocation = schedule.allocate_with_heuristic(problem)
    used = {s for s in range(2 * allocation.num_layers) if allocation.blocks_in_sublayer(problem, s)}
    for sublayer in range(1, 2 * allocation.num_layers - 1, 2):
        assert sublayer in used or sublayer + 1 in used
    assert 0 in used or 1 in used


def test_asap_allocation_uses_the_fewest_layers():
    allocation = schedule.allocate_asap(two_layer_example())
    assert allocation.sublayer_of == {"X": 0, "Y": 1, "Z": 1, "W": 2, "out": 3}
    assert allocation.num_layers == allocation.depth_lower_bound == 2
