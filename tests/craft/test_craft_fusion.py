"""Fused MLPs: one hidden layer computing several s-ops from several inputs, checked on every input combination."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optracr import craft
from optracr.craft import bases, categorical_mlp, conventions, fusion, numerical_mlp
from optracr.errors import CompileError

BOS = conventions.bos_direction("BOS")
ONE = conventions.one_direction()
Table = dict[tuple, tuple]


def _categorical(label: str, values: Sequence) -> fusion.FusedInput:
    space = bases.space_of_values(label, values)
    return fusion.FusedInput(space, False, tuple(d.value for d in space.basis))


def _numerical(label: str, values: Sequence[float], error: float = 0.0) -> fusion.FusedInput:
    return fusion.FusedInput(bases.space([bases.BasisDirection(label)]), True, tuple(values), error)


def _output(label: str, values: Sequence | None = None) -> fusion.FusedOutput:
    """A categorical output over ``values``, or a numerical one when ``values`` is None."""
    if values is None:
        return fusion.FusedOutput(label, bases.space([bases.BasisDirection(label)]), True)
    return fusion.FusedOutput(label, bases.space_of_values(label, values), False)


def _combinations(inputs: Sequence[fusion.FusedInput]) -> list[tuple]:
    return list(itertools.product(*(each.values for each in inputs)))


def _residual(
    mlp: craft.MLP, inputs: Sequence[fusion.FusedInput], rows: Sequence[tuple], *, at_bos: bool = False
) -> bases.VectorInBasis:
    """One position per row of input values (None: absent), ``one`` = 1 and ``tokens:BOS`` = ``at_bos``."""
    space = mlp.input_space
    magnitudes = np.zeros((len(rows), space.num_dims))
    magnitudes[:, space.index(ONE)] = 1.0
    magnitudes[:, space.index(BOS)] = float(at_bos)
    for position, row in enumerate(rows):
        for each, value in zip(inputs, row):
            if each.numerical:
                magnitudes[position, space.index(each.space.basis[0])] = value
            elif value is not None:
                magnitudes[position, space.index(bases.BasisDirection(each.space.basis[0].name, value))] = 1.0
    return bases.VectorInBasis(space, magnitudes)


def _decoded(mlp: craft.MLP, outputs: Sequence[fusion.FusedOutput], residual: bases.VectorInBasis) -> list[list]:
    """Per output, its value at every position: decoded one-hot (categorical) or the number (numerical)."""
    written = mlp.apply(residual)
    decoded = []
    for output in outputs:
        magnitudes = written.project(output.space).magnitudes
        if output.numerical:
            decoded.append(list(magnitudes[:, 0]))
        else:
            decoded.append(craft.decode_one_hot(magnitudes, [d.value for d in output.space.basis]))
    return decoded


def _assert_matches(
    mlp: craft.MLP,
    inputs: Sequence[fusion.FusedInput],
    outputs: Sequence[fusion.FusedOutput],
    function: Callable[[tuple], tuple],
) -> None:
    """Every combination of known values (numerical ones also off by +-error) decodes to ``function``'s outputs."""
    rows, expected = [], []
    for combination in _combinations(inputs):
        offsets = {0.0}
        offsets |= {e for each in inputs if each.numerical for e in (each.error, -each.error)}
        for offset in sorted(offsets):
            rows.append(tuple(v + offset if each.numerical else v for each, v in zip(inputs, combination)))
            expected.append(function(combination))
    decoded = _decoded(mlp, outputs, _residual(mlp, inputs, rows))
    for index, output in enumerate(outputs):
        want = [values[index] for values in expected]
        if output.numerical:
            want = [0.0 if value is None else value for value in want]
            np.testing.assert_allclose(decoded[index], want, rtol=0.0, atol=1e-9, err_msg=output.label)
        else:
            assert decoded[index] == want, output.label


def _random_function(
    rng: np.random.Generator, inputs: Sequence[fusion.FusedInput], outputs: Sequence[fusion.FusedOutput]
) -> Callable[[tuple], tuple]:
    """A random table over every combination: categorical outputs None a quarter of the time, numbers 0 too."""

    def draw(output: fusion.FusedOutput):
        if output.numerical:
            return [None, 0.0, 1.0, -2.5, 3.0, 0.75][rng.integers(6)]
        values = [d.value for d in output.space.basis]
        return None if rng.random() < 0.25 else values[rng.integers(len(values))]

    table: Table = {combination: tuple(draw(output) for output in outputs) for combination in _combinations(inputs)}
    return table.__getitem__


OUTPUT_SETS = {
    "categorical": [("o", ["p", "q", "r"])],
    "numerical": [("n", None)],
    "several": [("o", [0, 1, 2, 3]), ("n", None), ("m", None), ("b", [True, False])],
}


@pytest.mark.parametrize("outputs", list(OUTPUT_SETS))
@pytest.mark.parametrize("sizes", [(4,), (3, 2), (2, 3, 2)])
@pytest.mark.parametrize("seed", range(3))
def test_fused_mlp_of_categorical_inputs_matches_the_function_on_every_combination(
    outputs: str, sizes: tuple[int, ...], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    inputs = [_categorical(f"in{i}", [f"v{j}" for j in range(size)]) for i, size in enumerate(sizes)]
    fused_outputs = [_output(label, values) for label, values in OUTPUT_SETS[outputs]]
    function = _random_function(rng, inputs, fused_outputs)
    mlp = fusion.fused_mlp("region", inputs, fused_outputs, function, bos_direction=BOS)
    _assert_matches(mlp, inputs, fused_outputs, function)
    assert mlp.hidden_width == fusion.fused_width(inputs, fused_outputs, function)


@pytest.mark.parametrize("outputs", list(OUTPUT_SETS))
@pytest.mark.parametrize("sizes", [(), (2,), (3, 2)])
@pytest.mark.parametrize("seed", range(3))
def test_fused_mlp_of_one_numerical_input_matches_the_function_within_its_error(
    outputs: str, sizes: tuple[int, ...], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    points = sorted(set(np.round(rng.uniform(-3.0, 3.0, 6), 2).tolist()))
    error = 0.24 * float(np.min(np.diff(points)))
    categorical = [_categorical(f"in{i}", [f"v{j}" for j in range(size)]) for i, size in enumerate(sizes)]
    inputs = [*categorical[:1], _numerical("x", points, error), *categorical[1:]]  # numerical not always first
    fused_outputs = [_output(label, values) for label, values in OUTPUT_SETS[outputs]]
    function = _random_function(rng, inputs, fused_outputs)
    mlp = fusion.fused_mlp("region", inputs, fused_outputs, function, bos_direction=BOS)
    _assert_matches(mlp, inputs, fused_outputs, function)
    assert mlp.hidden_width == fusion.fused_width(inputs, fused_outputs, function)


def _region_with_every_kind() -> tuple[list[fusion.FusedInput], list[fusion.FusedOutput], Callable]:
    """Inputs c in {p, q}, x in {-1, 0.5, 2} (error 0.1), d in {0, 1}; a categorical and a numerical output."""
    inputs = [_categorical("c", ["p", "q"]), _numerical("x", [-1.0, 0.5, 2.0], 0.1), _categorical("d", [0, 1])]
    outputs = [_output("o", ["lo", "hi"]), _output("n")]

    def function(values: tuple) -> tuple:
        c, x, d = values
        return ("hi" if x > 0 else "lo", x * x + d if c == "p" else -3.0)

    return inputs, outputs, function


@pytest.mark.parametrize("numerical", [False, True])
def test_an_absent_categorical_input_gives_no_output(numerical: bool) -> None:
    inputs, outputs, function = _region_with_every_kind()
    if not numerical:
        inputs = [inputs[0], inputs[2]]
        function_of_two = function
        function = lambda values: function_of_two((values[0], 2.0, values[1]))  # noqa: E731
    mlp = fusion.fused_mlp("region", inputs, outputs, function, bos_direction=BOS)
    rows = []
    for combination in _combinations(inputs):
        for absent in (i for i, each in enumerate(inputs) if not each.numerical):
            rows.append(tuple(None if i == absent else value for i, value in enumerate(combination)))
    if numerical:  # the numerical input anywhere in its range, 0 included
        rows += [(None, x, None) for x in (-1.1, 0.0, 2.1)]
    np.testing.assert_array_equal(mlp.apply(_residual(mlp, inputs, rows)).magnitudes, 0.0)


def test_fused_mlp_writes_exactly_zero_at_bos() -> None:
    inputs, outputs, function = _region_with_every_kind()
    mlp = fusion.fused_mlp("region", inputs, outputs, function, bos_direction=BOS)
    rows = [(c, x + offset, d) for c, x, d in _combinations(inputs) for offset in (-0.1, 0.0, 0.1)]
    rows += [("p", 0.0, 1), (None, 0.0, None)]
    np.testing.assert_array_equal(mlp.apply(_residual(mlp, inputs, rows, at_bos=True)).magnitudes, 0.0)
    cat_inputs = [inputs[0], inputs[2]]
    cat_mlp = fusion.fused_mlp("region", cat_inputs, outputs, lambda v: function((v[0], 1.0, v[1])), bos_direction=BOS)
    at_bos = _residual(cat_mlp, cat_inputs, _combinations(cat_inputs), at_bos=True)
    np.testing.assert_array_equal(cat_mlp.apply(at_bos).magnitudes, 0.0)


def test_numerical_width_is_two_units_per_output_change_plus_an_anchor_per_combination_without_zero() -> None:
    """x in {0, 1, 2, 3}, c in {p, q, r}: g_p = [x >= 2] (1 change, zero anchor: 2 units), g_q = 5 (constant,
    no zero: 1 unit), g_r = None everywhere (0 units), so 3 units."""
    inputs = [_numerical("x", [0.0, 1.0, 2.0, 3.0]), _categorical("c", ["p", "q", "r"])]
    outputs = [_output("n")]
    table = {"p": lambda x: float(x >= 2), "q": lambda x: 5.0, "r": lambda x: None}
    function = lambda values: (table[values[1]](values[0]),)  # noqa: E731
    mlp = fusion.fused_mlp("region", inputs, outputs, function, bos_direction=BOS)
    assert mlp.hidden_width == fusion.fused_width(inputs, outputs, function) == 3
    assert mlp.hidden_space == conventions.hidden_space("region", 3)
    _assert_matches(mlp, inputs, outputs, function)


def test_categorical_width_picks_the_column_giving_fewest_units() -> None:
    """f(a, b) = a: with a as the column each b row has 3 tuples (6 units); with b as the column each a row has
    one tuple (3 units), each reading a:i, both b directions and one = -1."""
    inputs = [_categorical("a", [1, 2, 3]), _categorical("b", ["x", "y"])]
    outputs = [_output("o", [1, 2, 3])]
    mlp = fusion.fused_mlp("region", inputs, outputs, lambda values: (values[0],), bos_direction=BOS)
    assert mlp.hidden_width == 3
    first = mlp.fst.matrix
    rows = {str(d): first[mlp.input_space.index(d)] for d in mlp.input_space.basis}
    np.testing.assert_array_equal(rows["a:1"], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(rows["b:x"], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(rows["b:y"], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(rows["one"], [-1.0, -1.0, -1.0])
    np.testing.assert_array_equal(mlp.snd.matrix, np.eye(3))
    # f(a, b) = b: with a as the column each b row has one tuple (2 units); with b, each a row has 2 (6 units).
    two = fusion.fused_width(inputs, [_output("o", ["x", "y"])], lambda values: (values[1],))
    assert two == 2


def test_categorical_width_is_the_sum_over_rows_of_distinct_output_tuples() -> None:
    """a in {0, 1, 2}, b in {0, 1}, outputs (a + b) % 2 and max(a, b) or None when a == b: counted by hand."""
    inputs = [_categorical("a", [0, 1, 2]), _categorical("b", [0, 1])]
    outputs = [_output("parity", [0, 1]), _output("top")]

    def function(values: tuple) -> tuple:
        a, b = values
        return (None, None) if a == b else ((a + b) % 2, float(max(a, b)))

    # Column b, rows a: a=0 -> {(1, 1.0)}; a=1 -> {(1, 1.0)}; a=2 -> {(0, 2.0), (1, 2.0)}: 4 units.
    # Column a, rows b: b=0 -> {(1, 1.0), (0, 2.0)}; b=1 -> {(1, 1.0), (1, 2.0)}: 4 units; a first, a is the column.
    assert fusion.fused_width(inputs, outputs, function) == 4
    mlp = fusion.fused_mlp("region", inputs, outputs, function, bos_direction=BOS)
    _assert_matches(mlp, inputs, outputs, function)


def test_rows_where_a_numerical_output_takes_many_values_use_one_unit_per_sign() -> None:
    """f(a, b) = a b - 4 on {1, 2, 3}^2, rows a: a=1 gives -3, -2, -1 (1 unit: the negative sign), a=2 gives -2,
    0, 2 (2 units either way), a=3 gives -1, 2, 5 (2 units, not 3): 5 units, as the unfused SequenceMap."""
    inputs = [_categorical("a", [1, 2, 3]), _categorical("b", [1, 2, 3])]
    outputs = [_output("n")]
    function = lambda values: (values[0] * values[1] - 4.0,)  # noqa: E731
    mlp = fusion.fused_mlp("region", inputs, outputs, function, bos_direction=BOS)
    assert mlp.hidden_width == 5
    _assert_matches(mlp, inputs, outputs, function)
    many = [_categorical("t", [1, 2, 3, 4, 5])]
    assert fusion.fused_width(many, outputs, lambda values: (values[0] / 3,)) == 1
    both = [_output("n"), _output("o", ["even", "odd"])]
    split = lambda values: (values[0] * values[1] - 4.0, ["even", "odd"][values[0] * values[1] % 2])  # noqa: E731
    mlp = fusion.fused_mlp("region", inputs, both, split, bos_direction=BOS)
    _assert_matches(mlp, inputs, both, split)


@pytest.mark.parametrize("seed", range(6))
def test_fused_mlp_of_one_map_or_sequence_map_is_never_wider_than_the_unfused_block(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = _categorical("a", list(range(int(rng.integers(1, 5)))))
    b = _categorical("b", list(range(int(rng.integers(1, 5)))))
    for numerical in (False, True):
        output = _output("o", None if numerical else ["p", "q", "r"])
        for inputs in ([a], [a, b]):
            function = _random_function(rng, inputs, [output])
            table = {key if len(inputs) == 2 else key[0]: function(key)[0] for key in _combinations(inputs)}
            if len(inputs) == 2:
                unfused = categorical_mlp.sequence_map_categorical_mlp(
                    "o", a.space, b.space, output.space, table, numerical_output=numerical, bos_direction=BOS
                )
            elif numerical:
                unfused = categorical_mlp.map_categorical_to_numerical_mlp(
                    "o", a.space, output.space, table, bos_direction=BOS
                )
            else:
                unfused = categorical_mlp.map_categorical_mlp("o", a.space, output.space, table, bos_direction=BOS)
            assert fusion.fused_width(inputs, [output], function) <= unfused.hidden_width


def test_fused_mlp_of_one_input_is_as_wide_as_the_unfused_constructions() -> None:
    """One categorical input: the Map lookup table; one numerical input: the discretising Map."""
    tokens = _categorical("t", ["a", "b", "c", "d"])
    table = {"a": "x", "b": "y", "c": "x", "d": None}
    space = bases.space_of_values("o", ["x", "y"])
    unfused = categorical_mlp.map_categorical_mlp("o", tokens.space, space, table, bos_direction=BOS)
    fused = fusion.fused_mlp("o", [tokens], [_output("o", ["x", "y"])], lambda v: (table[v[0]],), bos_direction=BOS)
    np.testing.assert_array_equal(fused.fst.matrix, unfused.fst.matrix)
    np.testing.assert_array_equal(fused.snd.matrix, unfused.snd.matrix)
    points = [-2.0, -0.5, 0.0, 1.0, 4.0]
    cube = {p: p**3 - 1 for p in points}
    x = _numerical("x", points)
    unfused = numerical_mlp.map_numerical_mlp(
        "n", x.space.basis[0], _output("n").space, cube, bos_direction=BOS, allow_affine=False
    )
    fused = fusion.fused_mlp("n", [x], [_output("n")], lambda v: (cube[v[0]],), bos_direction=BOS)
    np.testing.assert_array_equal(fused.fst.matrix, unfused.fst.matrix)
    np.testing.assert_array_equal(fused.snd.matrix, unfused.snd.matrix)


def test_several_numerical_inputs_are_refused_without_affine_combinations() -> None:
    inputs = [_numerical("x", [0.0, 1.0]), _categorical("c", [1]), _numerical("y", [0.0, 1.0])]
    message = r"'region'.*writing o has several numerical inputs \(x, y\).*cannot be fused"
    with pytest.raises(CompileError, match=message):
        fusion.fused_mlp(
            "region", inputs, [_output("o", [0])], lambda v: (0,), bos_direction=BOS, affine_combinations=False
        )
    with pytest.raises(CompileError, match="several numerical inputs"):
        fusion.fused_units(inputs, [_output("o", [0])], lambda v: (0,), affine_combinations=False)


def test_several_numerical_inputs_too_noisy_for_any_combination_are_refused() -> None:
    """x XOR y needs t to tell all four pairs apart; an error of 0.3 on each input leaves no choice resolvable."""
    inputs = [_numerical("x", [0.0, 1.0], 0.3), _numerical("y", [0.0, 1.0], 0.3)]
    function = lambda v: (float(v[0] != v[1]),)  # noqa: E731
    with pytest.raises(CompileError, match=r"several numerical inputs \(x, y\) and its outputs are no function"):
        fusion.fused_width(inputs, [_output("o")], function, name="region")


def test_gaps_too_small_for_the_error_are_refused() -> None:
    """0 and 0.001 step in row q only; a quarter of 0.001 must exceed the error (and rounding)."""
    inputs = [_categorical("c", ["p", "q"]), _numerical("x", [0.0, 1e-3, 1.0], 2.4e-4)]
    outputs = [_output("n")]
    function = lambda v: (float(v[1] > 0) if v[0] == "q" else float(v[1] > 0.5),)  # noqa: E731
    fusion.fused_mlp("region", inputs, outputs, function, bos_direction=BOS)
    inputs[1] = _numerical("x", [0.0, 1e-3, 1.0], 2.5e-4)
    message = r"'region'.* 0\.0 and 0\.001 map to different outputs but are only 0\.001 apart.* 0\.00025.* above 0\.001"
    with pytest.raises(CompileError, match=message):
        fusion.fused_mlp("region", inputs, outputs, function, bos_direction=BOS)
    with pytest.raises(CompileError, match=message):
        fusion.fused_width(inputs, outputs, function, name="region")


def test_known_values_one_rounding_apart_are_merged_or_refused() -> None:
    near = [0.1, 0.2, 0.20000000000000004, 0.3]
    inputs = [_categorical("c", ["p", "q"]), _numerical("x", near)]
    outputs = [_output("o", [False, True])]
    agree = lambda v: (v[1] > 0.25 if v[0] == "p" else v[1] < 0.15,)  # noqa: E731
    mlp = fusion.fused_mlp("region", inputs, outputs, agree, bos_direction=BOS)
    _assert_matches(mlp, inputs, outputs, agree)
    disagree = lambda v: (v[1] > 0.2,)  # noqa: E731
    with pytest.raises(CompileError, match="'region'.*differ only by float rounding but map to different outputs"):
        fusion.fused_mlp("region", inputs, outputs, disagree, bos_direction=BOS)


def test_output_values_the_outputs_cannot_hold_are_refused() -> None:
    inputs = [_categorical("c", ["p", "q"])]
    with pytest.raises(CompileError, match="'o': the function gives 'z', which is not in the inferred value set"):
        fusion.fused_mlp("region", inputs, [_output("o", ["x"])], lambda v: ("z",), bos_direction=BOS)
    with pytest.raises(CompileError, match="'n': a numerical output is a finite number, got nan"):
        fusion.fused_width(inputs, [_output("n")], lambda v: (float("nan"),))
    with pytest.raises(CompileError, match=r"'region': the region function returns one value per output \(o\)"):
        fusion.fused_width(inputs, [_output("o", ["x"])], lambda v: ("x", "x"), name="region")


def test_a_region_reading_an_sop_twice_or_writing_what_it_reads_is_refused() -> None:
    c = _categorical("c", ["p"])
    with pytest.raises(CompileError, match="'region': a fused region's inputs and outputs are distinct s-ops"):
        fusion.fused_width([c, c], [_output("o", ["p"])], lambda v: ("p",), name="region")
    with pytest.raises(CompileError, match="distinct s-ops"):
        fusion.fused_width([c], [_output("c", ["p"])], lambda v: ("p",))


def test_malformed_inputs_and_outputs_cannot_be_built() -> None:
    space = bases.space_of_values("c", ["p", "q"])
    with pytest.raises(CompileError, match="directions' values in order"):
        fusion.FusedInput(space, False, ("q", "p"))
    with pytest.raises(CompileError, match="finite numbers"):
        fusion.FusedInput(bases.space([bases.BasisDirection("x")]), True, (0.0, float("inf")))
    with pytest.raises(CompileError, match="owns only directions named 'o'"):
        fusion.FusedOutput("o", space, False)


@st.composite
def _regions(draw) -> tuple[list[fusion.FusedInput], list[fusion.FusedOutput], Table]:
    """Up to 2 categorical inputs (1-3 values) and maybe one numerical (1-4 values); 1-2 outputs; any table."""
    sizes = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2))
    inputs = [_categorical(f"c{i}", list(range(size))) for i, size in enumerate(sizes)]
    if not inputs or draw(st.booleans()):
        points = draw(st.lists(st.integers(-8, 8), min_size=1, max_size=4, unique=True))
        inputs.insert(draw(st.integers(0, len(inputs))), _numerical("x", [p / 4 for p in points], 0.06))
    outputs = [_output(f"o{i}", None if draw(st.booleans()) else ["a", "b"]) for i in range(draw(st.integers(1, 2)))]
    values = {
        output.label: st.sampled_from([None, 0.0, 1.5, -2.0] if output.numerical else [None, "a", "b"])
        for output in outputs
    }
    table = {
        combination: tuple(draw(values[output.label]) for output in outputs) for combination in _combinations(inputs)
    }
    return inputs, outputs, table


@settings(max_examples=60, deadline=None)
@given(region=_regions())
def test_fused_mlp_of_a_random_table_is_exact_and_as_wide_as_fused_width(region) -> None:
    inputs, outputs, table = region
    mlp = fusion.fused_mlp("region", inputs, outputs, table.__getitem__, bos_direction=BOS)
    assert mlp.hidden_width == fusion.fused_width(inputs, outputs, table.__getitem__)
    _assert_matches(mlp, inputs, outputs, table.__getitem__)
    bos_rows = _combinations(inputs)
    np.testing.assert_array_equal(mlp.apply(_residual(mlp, inputs, bos_rows, at_bos=True)).magnitudes, 0.0)
