"""Lookup-table MLPs for categorical Map and SequenceMap, checked against the evaluator on every input."""

from __future__ import annotations

import itertools

import numpy as np

from optracr import craft, frontend

rasp = frontend.rasp
DIGITS = {1, 2, 3}


def _block(block_graph: craft.BlockGraph, label: str) -> craft.LoweredBlock:
    return block_graph.block_by_label[label]


def test_categorical_map_is_exact_with_one_unit_per_output_value(checker, inputs) -> None:
    program = rasp.Map(lambda t: "A" if t == "c" else t.upper(), rasp.tokens).named("upper")
    block_graph = checker(program, {"a", "b", "c"}, 4, inputs[0]({"a", "b", "c"}, 4))
    lowered = _block(block_graph, "upper")
    assert (type(lowered.block), lowered.mlp_hidden_width, lowered.num_heads) == (craft.MLP, 2, 0)


def test_categorical_map_of_a_boolean_comparison(checker, inputs) -> None:
    program = (rasp.tokens == "a").named("is_a")
    block_graph = checker(program, {"a", "b", "c"}, 3, inputs[0]({"a", "b", "c"}, 3))
    assert _block(block_graph, "is_a").mlp_hidden_width == 2


def test_categorical_to_numerical_map_keeps_negative_outputs(checker, inputs, run_graph) -> None:
    """Regression: the reference clips negative outputs of a categorical -> numerical MLP to 0."""
    program = rasp.numerical(rasp.Map(lambda x: -x, rasp.tokens)).named("negated")
    block_graph = checker(program, DIGITS, 4, inputs[0](DIGITS, 4))
    residual = run_graph(block_graph, ["BOS", 1, 3, 2])
    assert craft.decode(block_graph, residual) == [-1.0, -3.0, -2.0]
    assert _block(block_graph, "negated").mlp_hidden_width == 1


def test_categorical_to_numerical_map_with_both_signs_uses_two_units(checker, inputs) -> None:
    program = rasp.numerical(rasp.Map(lambda x: 2.5 * (x - 2), rasp.tokens)).named("centred")
    block_graph = checker(program, DIGITS, 4, inputs[0](DIGITS, 4))
    assert _block(block_graph, "centred").mlp_hidden_width == 2


def test_map_whose_function_raises_on_one_value_compiles_and_gives_no_output_there(checker, inputs, run_graph) -> None:
    """Regression: the reference crashes on a function that raises where value inference skipped the value."""
    program = rasp.Map(lambda x: 6 // x, rasp.tokens).named("six_over")
    vocab = {0, 1, 2, 3}
    # inputs holding 0 are skipped there
    block_graph = checker(program, vocab, 3, inputs[0](vocab, 3), partial_functions="allow")
    residual = run_graph(block_graph, ["BOS", 2, 0, 3])
    assert craft.decode(block_graph, residual) == [3, None, 2]
    numerical = rasp.numerical(rasp.Map(lambda x: 6 / x, rasp.tokens)).named("six_over_numerical")
    block_graph = craft.lower(frontend.analyse(numerical, vocab, 3, partial_functions="allow"), fold=False)
    assert craft.decode(block_graph, run_graph(block_graph, ["BOS", 2, 0])) == [3.0, 0.0]


def test_map_returning_none_gives_no_output(checker, inputs, run_graph) -> None:
    program = rasp.Map(lambda x: None if x == 2 else x, rasp.tokens).named("drop_two")
    block_graph = checker(program, DIGITS, 3, inputs[0](DIGITS, 3))
    assert craft.decode(block_graph, run_graph(block_graph, ["BOS", 2, 1])) == [None, 1]


def test_categorical_sequence_map_is_exact(checker, inputs) -> None:
    program = rasp.SequenceMap(lambda x, i: (x + i) % 3, rasp.tokens, rasp.indices).named("mix")
    checker(program, DIGITS, 4, inputs[0](DIGITS, 4))


def test_categorical_sequence_map_with_numerical_output_is_exact(checker, inputs) -> None:
    program = rasp.numerical(rasp.SequenceMap(lambda x, i: x * i - 2.5, rasp.tokens, rasp.indices)).named("affine")
    block_graph = checker(program, DIGITS, 4, inputs[0](DIGITS, 4))
    assert _block(block_graph, "affine").mlp_hidden_width <= 2 * 3


def test_sequence_map_raising_on_some_pairs_gives_no_output_there(checker, inputs, run_graph) -> None:
    program = rasp.SequenceMap(lambda x, i: 12 // (x - i), rasp.tokens, rasp.indices).named("ratio")
    block_graph = checker(program, DIGITS, 4, inputs[0](DIGITS, 4), partial_functions="allow")
    # token 1 at index 1: 12 // 0 raises, so no value there.
    assert craft.decode(block_graph, run_graph(block_graph, ["BOS", 3, 1, 1]))[1] is None


def test_sequence_map_width_counts_distinct_outputs_per_row_of_the_narrower_orientation() -> None:
    program = rasp.SequenceMap(lambda x, i: x > i, rasp.tokens, rasp.indices).named("greater")
    program_graph = frontend.analyse(program, DIGITS, 5)
    lowered = craft.lower(program_graph, fold=False).block_by_label["greater"]
    # rows over tokens (3 rows): token x gives True for i < x and False otherwise: 2 outputs per row.
    assert lowered.mlp_hidden_width == 3 * 2 <= 3 * 5


def test_sequence_map_of_one_sop_twice_is_a_map(checker, inputs) -> None:
    program = rasp.SequenceMap(lambda x, y: x * y, rasp.tokens, rasp.tokens).named("square")
    block_graph = checker(program, DIGITS, 3, inputs[0](DIGITS, 3))
    assert _block(block_graph, "square").mlp_hidden_width == 3  # one unit per output value 1, 4, 9


def test_linear_sequence_map_of_categorical_inputs_is_a_table(checker, inputs) -> None:
    program = rasp.LinearSequenceMap(rasp.tokens, rasp.indices, 2, -1).named("linear")
    checker(program, DIGITS, 4, inputs[0](DIGITS, 4))


def test_table_mlps_are_silent_at_bos_whatever_their_inputs_hold() -> None:
    """At BOS every hidden unit's pre-activation is negative for any one-hot (or absent) input values."""
    program = rasp.SequenceMap(lambda x, i: x + i > 3, rasp.tokens, rasp.indices).named("total")
    block_graph = craft.lower(frontend.analyse(program, DIGITS, 3), fold=False)
    mlp = block_graph.block_by_label["total"].block
    token_choices = [None] + [craft.BasisDirection("tokens", v) for v in sorted(DIGITS)]
    index_choices = [None] + [craft.BasisDirection("indices", i) for i in range(3)]
    for token, index in itertools.product(token_choices, index_choices):
        weights = {craft.BasisDirection("one"): 1.0, craft.BasisDirection("tokens", "BOS"): 1.0}
        weights.update({d: 1.0 for d in (token, index) if d is not None})
        row = mlp.input_space.vector(weights)
        hidden = mlp.fst.apply(craft.VectorInBasis(row.space, row.magnitudes[None, :]))
        assert np.all(hidden.magnitudes < 0.0)
