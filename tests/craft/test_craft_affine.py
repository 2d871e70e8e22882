"""The affine-combination lowering: exact against its function and the RASP evaluator, never wider than the table."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import optracr
from optracr import craft, frontend, programs, rasp
from optracr.craft import affine, bases, categorical_mlp, conventions, fusion

BOS = conventions.bos_direction("BOS")
ONE = conventions.one_direction()
COEFFICIENTS = (1.0, -1.0, 2.0, -2.0, 0.5, 3.0)


def _categorical(label: str, values: Sequence) -> fusion.FusedInput:
    space = bases.space_of_values(label, values)
    return fusion.FusedInput(space, False, tuple(d.value for d in space.basis))


def _numerical(label: str, values: Sequence[float], error: float = 0.0) -> fusion.FusedInput:
    return fusion.FusedInput(bases.space([bases.BasisDirection(label)]), True, tuple(values), error)


def _output(values: Sequence) -> fusion.FusedOutput:
    return fusion.FusedOutput("out", bases.space_of_values("out", values), False)


def _residual(mlp: craft.MLP, inputs: Sequence[fusion.FusedInput], rows: Sequence[tuple]) -> bases.VectorInBasis:
    """One position per row of input values (None: that input is absent), ``one`` = 1."""
    positions = []
    for row in rows:
        weights = {ONE: 1.0}
        for each, value in zip(inputs, row):
            if value is not None and each.numerical:
                weights[each.space.basis[0]] = value
            elif value is not None:
                weights[bases.BasisDirection(each.space.basis[0].name, value)] = 1.0
        positions.append(mlp.input_space.vector(weights).magnitudes)
    return bases.VectorInBasis(mlp.input_space, np.stack(positions))


def _outputs_at(mlp: craft.MLP, inputs: Sequence[fusion.FusedInput], rows: Sequence[tuple], values: list) -> list:
    """The decoded categorical output at one position per row."""
    written = mlp.apply(_residual(mlp, inputs, rows)).project(bases.space_of_values("out", values))
    return craft.decode_one_hot(written.magnitudes, values)


def _assert_exact(units: fusion.FusedUnits, inputs: Sequence[fusion.FusedInput], function: Callable, values: list) -> None:
    """Every combination of known values, numerical ones also off by +-their error, decodes to ``function``."""
    mlp = units.mlp(bos_direction=BOS)
    rows, expected = [], []
    for combination in itertools.product(*(each.values for each in inputs)):
        for sign in (0.0, 1.0, -1.0):
            rows.append(tuple(v + sign * each.error if each.numerical else v for each, v in zip(inputs, combination)))
            expected.append(function(combination)[0])
    assert _outputs_at(mlp, inputs, rows, values) == expected


def _table_width(inputs: Sequence[fusion.FusedInput], outputs: Sequence[fusion.FusedOutput], function: Callable) -> int:
    return fusion.fused_units(inputs, outputs, function, affine_combinations=False).width


def test_reverse_offset_is_discretised_on_length_minus_index() -> None:
    """opp_idx = length - index at length 64: t = length - indices, about two units per output value."""
    length, indices = _categorical("length", range(65)), _categorical("indices", range(64))
    values = sorted({x - y for x in range(65) for y in range(64)})
    function = lambda v: (v[0] - v[1],)  # noqa: E731
    units = fusion.fused_units([length, indices], [_output(values)], function, name="opp_idx")
    assert units.combination is not None
    assert [(t.label, t.coefficient) for t in units.combination.terms] == [("length", 1.0), ("indices", -1.0)]
    assert units.combination.describe() == "t = 1*length - 1*indices"
    assert units.width == 2 * (len(values) - 1) + 1 < _table_width([length, indices], [_output(values)], function)
    _assert_exact(units, [length, indices], function, values)


@settings(max_examples=40, deadline=None)
@given(
    xs=st.sets(st.integers(-4, 6), min_size=2, max_size=6),
    ys=st.sets(st.integers(-3, 5), min_size=2, max_size=6),
    a=st.sampled_from(COEFFICIENTS),
    b=st.sampled_from(COEFFICIENTS),
    kind=st.sampled_from(["affine", "lookup", "near_miss"]),
    seed=st.integers(0, 2**16),
)
def test_sequence_maps_are_exact_and_never_wider_than_the_table(xs, ys, a, b, kind, seed) -> None:
    """Affine (the sum itself), affine with a lookup (a random table of the sum) and near-misses (one pair off)."""
    rng = np.random.default_rng(seed)
    x_input, y_input = _categorical("x", sorted(xs)), _categorical("y", sorted(ys))
    sums = sorted({a * x + b * y for x in xs for y in ys})
    lookup = {t: int(rng.integers(3)) for t in sums}
    table = {(x, y): a * x + b * y + 0.0 if kind == "affine" else lookup[a * x + b * y] for x in xs for y in ys}
    if kind == "near_miss":
        pair = sorted(table)[int(rng.integers(len(table)))]
        table[pair] = 3
    values = sorted(set(table.values()))
    function = lambda v: (table[v],)  # noqa: E731
    inputs, outputs = [x_input, y_input], [_output(values)]
    units = fusion.fused_units(inputs, outputs, function, name="region")
    assert units.width <= _table_width(inputs, outputs, function)
    if kind == "affine" and len(values) > 1:
        assert units.combination is not None or units.width <= 2 * len(values) - 1
    _assert_exact(units, inputs, function, values)


def test_two_numerical_inputs_are_separated_by_a_lambda() -> None:
    """[x < 0 or y < 0] is no function of x + y; a small lambda orders by x then y and tells every pair apart."""
    grid = [-1.0, -0.5, 0.0, 0.25, 0.5, 1.0]
    inputs = [_numerical("x", grid, 1e-4), _numerical("y", grid, 1e-4)]
    function = lambda v: (v[0] < 0 or v[1] < 0,)  # noqa: E731
    units = fusion.fused_units(inputs, [_output([False, True])], function, name="any_negative")
    coefficients = [term.coefficient for term in units.combination.terms]
    assert coefficients[0] == 1.0 and 0.0 < abs(coefficients[1]) < 0.25 / 2.0
    assert all(term.numerical for term in units.combination.terms)
    _assert_exact(units, inputs, function, [False, True])


def test_an_absent_categorical_input_silences_every_unit() -> None:
    inputs = [_categorical("x", range(6)), _categorical("y", range(6))]
    values = list(range(11))
    units = fusion.fused_units(inputs, [_output(values)], lambda v: (v[0] + v[1],), name="sum")
    assert units.combination is not None
    mlp = units.mlp(bos_direction=BOS)
    written = mlp.apply(_residual(mlp, inputs, [(None, 2), (2, None), (None, None)]))
    np.testing.assert_array_equal(written.magnitudes, 0.0)


def test_non_numeric_categorical_inputs_get_no_combination() -> None:
    inputs = [_categorical("x", ["a", "b"]), _categorical("y", [0, 1])]
    output_space = bases.space_of_values("out", [0])
    assert affine.affine_units("m", inputs, output_space, lambda v: frozenset()) is None


def test_affine_term_and_combination_are_checked_at_construction() -> None:
    with pytest.raises(ValueError, match="finite number, got inf for 'x'"):
        affine.AffineTerm("x", float("inf"), True)
    term = affine.AffineTerm("x", 1.0, True)
    with pytest.raises(ValueError, match="at least one term"):
        affine.AffineCombination((), (0.0,), 0.0)
    with pytest.raises(ValueError, match="ascending"):
        affine.AffineCombination((term,), (1.0, 0.0), 0.0)


# ------------------------------------------------------------------------------------ through compile
def _table_width_of_sequence_map(program_graph: frontend.ProgramGraph, label: str) -> int:
    expr = program_graph.expr(label)
    spaces = [conventions.sop_space(program_graph.label_of(s), rasp.get_encoding(s), program_graph.value_set(
        program_graph.label_of(s))) for s in (expr.fst, expr.snd)]
    table = {(x, y): expr.f(x, y) for x in program_graph.value_set(program_graph.label_of(expr.fst))
             for y in program_graph.value_set(program_graph.label_of(expr.snd))}
    output_space = conventions.sop_space(label, rasp.get_encoding(expr), program_graph.value_set(label))
    return len(categorical_mlp.sequence_map_units(label, tuple(spaces), output_space, table, numerical_output=False))


@settings(max_examples=12, deadline=None)
@given(
    token_values=st.lists(st.integers(-3, 4), min_size=3, max_size=3),
    a=st.sampled_from(COEFFICIENTS),
    b=st.sampled_from(COEFFICIENTS),
    kind=st.sampled_from(["affine", "lookup", "near_miss"]),
)
def test_compiled_sequence_maps_match_the_evaluator(token_values, a, b, kind) -> None:
    """SequenceMaps of a token-valued and an index-valued s-op: exact on every input, never wider than the table."""
    value_of = dict(zip("pqr", token_values))
    x = rasp.categorical(rasp.Map(lambda t: value_of[t], rasp.tokens)).named("x")
    y = rasp.categorical(rasp.Map(lambda i: 2 * i - 1, rasp.indices)).named("y")
    if kind == "affine":
        f = lambda u, v: a * u + b * v  # noqa: E731
    elif kind == "lookup":
        f = lambda u, v: int(a * u + b * v) % 3  # noqa: E731
    else:
        f = lambda u, v: a * u + b * v + (1 if (u, v) == (value_of["p"], 1) else 0)  # noqa: E731
    program = rasp.categorical(rasp.SequenceMap(f, x, y)).named("combined")
    model = optracr.compile(program, {"p", "q", "r"}, 4)
    report = optracr.verify(model, program)
    assert report.num_mismatches == 0 and report.num_checked > 0
    program_graph = frontend.analyse(program, {"p", "q", "r"}, 4)
    (block,) = [b for b in craft.lower(program_graph, fuse=False).blocks if b.id == "combined"]
    assert block.mlp_hidden_width <= _table_width_of_sequence_map(program_graph, "combined")


@pytest.mark.parametrize("allocator", ["solver", "heuristic"])
def test_shuffle_dyck2_takes_two_layers_through_a_separating_lambda(allocator: str) -> None:
    entry = programs.LIBRARY["shuffle_dyck2"]
    program = entry.make(entry.max_seq_len)
    model = optracr.compile(program, entry.vocab, entry.max_seq_len, allocator=allocator)
    if allocator == "solver":
        assert model.config.num_layers == 2
    assert optracr.verify(model, program).ok


def test_the_ground_truth_names_t_and_survives_saving(tmp_path) -> None:
    """reverse at n = 16: opp_idx is discretised on t = length - indices, and the saved model says so too."""
    program = programs.LIBRARY["reverse"].make(16)
    model = optracr.compile(program, set(range(16)), 16)
    location = model.layered.locations["opp_idx"]
    assert (location.affine_inputs, location.affine_coefficients) == (("length", "indices"), (1.0, -1.0))
    assert "discretising t = 1*length - 1*indices" in location.describe()
    assert model.ground_truth()["opp_idx"]["affine_inputs"] == ["length", "indices"]
    loaded = optracr.load(optracr.save(model, tmp_path / "reverse"))
    assert loaded.layered.locations["opp_idx"] == location
    assert optracr.verify(model, program, num_samples=100).ok


def test_a_selector_width_scratch_steps_at_one_threshold_per_row() -> None:
    """x = 1/(w+1) read as w, rows the index: t = w - i, about two units per output, not per (w, i) pair."""
    n = 12
    scratch = fusion.FusedInput(bases.space([bases.BasisDirection("_w_scratch")]), True,
                                tuple(1.0 / (w + 1) for w in range(n + 1)), 1e-7, meanings=tuple(range(n + 1)))
    indices = _categorical("indices", range(n))
    values = sorted({w - i - 1 for w in range(n + 1) for i in range(n)})
    function = lambda v: (round(1.0 / v[0] - 1.0) - v[1] - 1,)  # noqa: E731
    units = fusion.fused_units([scratch, indices], [_output(values)], function, name="opp")
    assert [(t.label, t.coefficient) for t in units.combination.terms] == [("_w_scratch", 1.0), ("indices", -1.0)]
    assert units.width == 2 * (len(values) - 1) + 1
    assert units.width < _table_width([scratch, indices], [_output(values)], function) / 4
    _assert_exact(units, [scratch, indices], function, values)


def test_meanings_belong_to_a_numerical_input_one_per_value() -> None:
    with pytest.raises(ValueError, match="meanings belong to a numerical input, one per value"):
        fusion.FusedInput(bases.space([bases.BasisDirection("x")]), True, (0.5, 1.0), meanings=(1,))
    with pytest.raises(ValueError, match="meanings belong to a numerical input"):
        _categorical("c", [1, 2]).__class__(bases.space_of_values("c", [1, 2]), False, (1, 2), meanings=(1, 2))


def test_reverse_is_two_layers_narrow_and_exact_at_length_24() -> None:
    """The fused length + opp_idx MLP: 2 (2n - 1) + 1 units (t = w - i takes 2n values) instead of (2n + 1) n."""
    n = 24
    program = programs.LIBRARY["reverse"].make(n)
    model = optracr.compile(program, set(range(n)), n)
    assert (model.config.num_layers, model.config.mlp_hidden_size) == (2, 2 * (2 * n - 1) + 1)
    assert model.layered.locations["opp_idx"].affine_formula() == "t = 1*length - 1*indices"
    assert optracr.verify(model, program, num_samples=200).ok
