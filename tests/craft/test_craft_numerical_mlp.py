"""Numerical MLPs: the discretising construction, affine maps and LinearSequenceMap."""

from __future__ import annotations

import numpy as np
import pytest

from optracr import craft, frontend
from optracr.craft import bases, numerical_mlp
from optracr.errors import CompileError

rasp = frontend.rasp
X, OUT = bases.BasisDirection("x"), bases.BasisDirection("out")
BOS = craft.conventions.bos_direction("BOS")
RESIDUAL = bases.space([bases.BasisDirection("one"), BOS, X])


def _frac_prevs(token: str = "x") -> rasp.SOp:
    is_x = rasp.numerical(rasp.Map(lambda t: 1 if t == token else 0, rasp.tokens)).named(f"is_{token}")
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ).named("prevs")
    return rasp.numerical(rasp.Aggregate(prevs, is_x, default=0)).named(f"frac_{token}")


def _apply(mlp: craft.MLP, xs: np.ndarray, *, at_bos: bool = False) -> np.ndarray:
    rows = np.zeros((len(xs), RESIDUAL.num_dims))
    rows[:, 0], rows[:, 1], rows[:, 2] = 1.0, float(at_bos), xs
    return mlp.apply(bases.VectorInBasis(RESIDUAL, rows)).magnitudes


def _discretised(points: list[float], f, categorical: bool = False) -> craft.MLP:
    table = {p: f(p) for p in points}
    if categorical:
        space = bases.space_of_values("out", set(table.values()))
        return numerical_mlp.map_numerical_to_categorical_mlp("out", X, space, table, bos_direction=BOS)
    return numerical_mlp.map_numerical_mlp("out", X, bases.space([OUT]), table, bos_direction=BOS, allow_affine=False)


@pytest.mark.parametrize("seed", range(5))
def test_discretising_mlp_is_exact_within_a_quarter_of_the_smallest_gap(seed: int) -> None:
    rng = np.random.default_rng(seed)
    points = sorted(set(np.round(rng.uniform(-5, 5, 12), 3)))
    mlp = _discretised(points, lambda x: np.sin(3 * x) * 4)
    tolerance = numerical_mlp.exactness_tolerance(points)
    for offset in (0.0, 0.999 * tolerance, -0.999 * tolerance):
        got = _apply(mlp, np.array(points) + offset)[:, 0]
        np.testing.assert_allclose(got, np.sin(3 * np.array(points)) * 4, atol=1e-9)
    # Beyond the known range it holds the nearest end value.
    np.testing.assert_allclose(_apply(mlp, np.array([points[0] - 100, points[-1] + 100]))[:, 0],
                               np.sin(3 * np.array([points[0], points[-1]])) * 4, atol=1e-9)


def test_discretising_mlp_is_not_exact_much_beyond_its_stated_bound() -> None:
    """The bound is meaningful: halfway between two values the output is between the two outputs."""
    mlp = _discretised([0.0, 1.0, 2.0], lambda x: 10.0 * x * x)
    assert 0.0 < _apply(mlp, np.array([0.5]))[0, 0] < 10.0


def test_discretising_mlp_width_counts_output_changes_and_skips_a_zero_anchor() -> None:
    points = [0.0, 1.0, 2.0, 3.0, 4.0]
    assert _discretised(points, lambda x: float(x >= 2)).hidden_width == 2  # one step, anchor at 0
    assert _discretised(points, lambda x: 1.0 + float(x >= 2)).hidden_width == 3  # plus the constant unit
    assert _discretised(points, lambda x: x * x).hidden_width == 2 * 4


def test_discretising_mlp_keeps_activations_small_enough_for_float32() -> None:
    """Large inputs with small gaps: the float32 forward pass stays within 1e-5 of the outputs."""
    points = [1000.0 + 0.25 * k for k in range(40)]
    mlp = _discretised(points, lambda x: np.cos(x))
    rows = np.zeros((len(points), RESIDUAL.num_dims))
    rows[:, 0], rows[:, 2] = 1.0, points
    inputs = bases.VectorInBasis(RESIDUAL, rows).project(mlp.input_space).magnitudes.astype(np.float32)
    hidden = np.maximum(inputs @ mlp.fst.matrix.astype(np.float32), 0.0)
    got = hidden @ mlp.snd.matrix.astype(np.float32)
    np.testing.assert_allclose(got[:, 0], np.cos(points), atol=1e-5)
    assert np.max(hidden) <= 2 / 0.25 * (points[-1] - points[0]) / 2 + 1


def test_discretising_mlp_is_silent_at_bos_for_any_known_input() -> None:
    points = [-3.0, -1.0, 0.5, 2.0, 7.0]
    cubic = _discretised(points, lambda x: x**3 - 5)
    for mlp in (cubic, _discretised(points, lambda x: int(x > 0), categorical=True)):
        np.testing.assert_array_equal(_apply(mlp, np.array(points + [0.0]), at_bos=True), 0.0)


def test_numerical_to_categorical_map_is_exact_on_a_mean(checker, inputs) -> None:
    program = rasp.Map(lambda x: round(3 * x), _frac_prevs()).named("thirds")
    checker(program, {"x", "y"}, 6, inputs[0]({"x", "y"}, 6))


def test_numerical_map_on_a_mean_is_exact(checker, inputs) -> None:
    """Regression: the reference's value set for a mean is too small, so 2 * frac_prevs is wrong."""
    program = rasp.numerical(rasp.Map(lambda x: 2 * x, _frac_prevs())).named("double")
    vocab = {"x", "y"}
    block_graph = checker(program, vocab, 10, inputs[0](vocab, 5) + inputs[1](vocab, 10, 150))
    assert block_graph.block_by_label["double"].mlp_hidden_width == 1  # affine on the known inputs


def test_non_affine_numerical_map_on_a_mean_is_exact(checker, inputs) -> None:
    program = rasp.numerical(rasp.Map(lambda x: x * x - 0.5, _frac_prevs())).named("square")
    vocab = {"x", "y"}
    checker(program, vocab, 10, inputs[0](vocab, 5) + inputs[1](vocab, 10, 150))


def test_numerical_map_dropping_an_input_writes_zero_there(run_graph) -> None:
    program = rasp.numerical(rasp.Map(lambda x: 1 / x - 1, _frac_prevs())).named("inverse")
    block_graph = craft.lower(frontend.analyse(program, {"x", "y"}, 4, partial_functions="allow"), fold=False)
    residual = run_graph(block_graph, ["BOS", "y", "x", "x", "y"])
    np.testing.assert_allclose(craft.decode(block_graph, residual), [0.0, 1.0, 0.5, 1.0], atol=1e-6)


def test_linear_sequence_map_of_numerical_inputs_is_exact_with_two_units(checker, inputs) -> None:
    program = rasp.numerical(rasp.LinearSequenceMap(_frac_prevs("x"), _frac_prevs("y"), 1.5, -2.0)).named("diff")
    vocab = {"x", "y", "z"}
    block_graph = checker(program, vocab, 5, inputs[0](vocab, 4) + inputs[1](vocab, 5, 50))
    assert block_graph.block_by_label["diff"].mlp_hidden_width == 2


def test_linear_sequence_map_with_one_sign_uses_one_unit(checker, inputs) -> None:
    program = rasp.numerical(rasp.LinearSequenceMap(_frac_prevs("x"), _frac_prevs("y"), 1.0, 3.0)).named("total")
    vocab = {"x", "y", "z"}
    block_graph = checker(program, vocab, 4, inputs[0](vocab, 4))
    assert block_graph.block_by_label["total"].mlp_hidden_width == 1


def test_linear_sequence_map_of_one_sop_twice(checker, inputs) -> None:
    frac = _frac_prevs()
    program = rasp.numerical(rasp.LinearSequenceMap(frac, frac, 2.0, -5.0)).named("scaled")
    block_graph = checker(program, {"x", "y"}, 4, inputs[0]({"x", "y"}, 4))
    lowered = block_graph.block_by_label["scaled"]
    assert lowered.reads == ("frac_x",) and lowered.mlp_hidden_width == 1


# Known input values one float rounding apart: means such as 0.2 and 0.20000000000000004 (``total / count``).
NEAR_DUPLICATES = [0.1, 0.2, 0.20000000000000004, 0.3]


def _means_of_tenths(f, *, numerical: bool = False) -> rasp.SOp:
    """``f`` of the running mean of 0.1 / 0.2 / 0.3 (tokens a / b / c): its value set has near-duplicates."""
    tenths = rasp.numerical(rasp.Map({"a": 0.1, "b": 0.2, "c": 0.3}.get, rasp.tokens)).named("tenths")
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ).named("prevs")
    mean = rasp.numerical(rasp.Aggregate(prevs, tenths, default=0)).named("mean")
    program = rasp.Map(f, mean).named("judged")
    return rasp.numerical(program) if numerical else program


@pytest.mark.parametrize("categorical", [False, True])
def test_inputs_one_rounding_apart_are_merged_so_the_mlp_is_exact_within_the_real_gap(categorical: bool) -> None:
    """Regression: the 4e-17 between 0.2 and 0.20000000000000004 counted as the smallest gap, so every ramp
    reached to within 1e-17 of a known value and the construction claimed no tolerance at all."""
    mlp = _discretised(NEAR_DUPLICATES, lambda x: int(x > 0.25), categorical=categorical)
    assert np.max(np.abs(mlp.fst.matrix)) < 100.0  # slopes about 1 / (real gap of 0.1)
    tolerance = numerical_mlp.exactness_tolerance(NEAR_DUPLICATES)
    assert tolerance == pytest.approx(0.025)
    expected = np.array([0.0, 0.0, 0.0, 1.0])
    for offset in (0.0, 0.999 * tolerance, -0.999 * tolerance):
        got = _apply(mlp, np.array(NEAR_DUPLICATES) + offset)
        np.testing.assert_allclose(got[:, -1], expected, atol=1e-9)


def test_mean_with_near_duplicate_values_compiles_exactly_when_they_agree(checker, inputs) -> None:
    vocab = {"a", "b", "c"}
    checker(_means_of_tenths(lambda x: x > 0.25), vocab, 5, inputs[0](vocab, 5))
    checker(_means_of_tenths(lambda x: x * x, numerical=True), vocab, 4, inputs[0](vocab, 4))


def test_inputs_one_rounding_apart_with_different_outputs_are_refused() -> None:
    """The evaluator's answer itself hangs on rounding (0.6000000000000001 / 3 > 0.2); before, 77 of 120 inputs
    of this program came out wrong, far from 0.2 too."""
    with pytest.raises(CompileError, match="'judged'.*differ only by float rounding but map to different outputs"):
        craft.lower(frontend.analyse(_means_of_tenths(lambda x: x > 0.2), {"a", "b", "c"}, 4), fold=False)
    with pytest.raises(CompileError, match=r"\(0 and 1\); no MLP can tell them apart: round the input"):
        _discretised(NEAR_DUPLICATES, lambda x: int(x > 0.2), categorical=True)


def _mean(small: float, predicate=rasp.Comparison.LEQ) -> rasp.SOp:
    """The running mean of 0 / ``small`` / 1 (tokens a / b / c)."""
    values = rasp.numerical(rasp.Map({"a": 0.0, "b": small, "c": 1.0}.get, rasp.tokens)).named("values")
    prevs = rasp.Select(rasp.indices, rasp.indices, predicate).named("prevs")
    return rasp.numerical(rasp.Aggregate(prevs, values, default=0)).named("mean")


def _positive_mean(small: float) -> rasp.SOp:
    """Whether the running mean of 0 / ``small`` / 1 (tokens a / b / c) is positive."""
    return rasp.Map(lambda x: x > 0, _mean(small)).named("positive")


def test_gap_too_small_for_the_attention_leak_is_refused() -> None:
    """The mean 1e-6 / 4 is 2.5e-7 from 0, where the output changes, but the head's stray softmax mass may move
    a mean of values spread over [0, 1] by 1e-7."""
    message = (
        r"'positive'.* 0\.0 and 2\.5e-07 map to different outputs but are only 2\.5e-07 apart, while the input "
        r"may be off by up to 1e-07 .* needs such gaps above 4e-07"
    )
    with pytest.raises(CompileError, match=message):
        craft.lower(frontend.analyse(_positive_mean(1e-6), {"a", "b", "c"}, 4), fold=False)


@pytest.mark.parametrize(
    ("scaled", "error"),
    [
        (lambda mean: rasp.numerical(rasp.Map(lambda x: 3 * x, mean)), "3e-07"),
        (lambda mean: rasp.numerical(rasp.LinearSequenceMap(mean, mean, 1.0, 2.0)), "3e-07"),
    ],
)
def test_affine_maps_carry_the_error_of_their_inputs_scaled(scaled, error: str) -> None:
    program = rasp.Map(lambda x: x > 0, scaled(_mean(1e-6)), simplify=False).named("positive")
    with pytest.raises(CompileError, match=f"'positive'.* may be off by up to {error} "):
        craft.lower(frontend.analyse(program, {"a", "b", "c"}, 4), fold=False)


def test_difference_of_two_means_that_is_zero_up_to_rounding_is_refused() -> None:
    """Means over selections inference cannot tell are the same (here: a callable predicate against LEQ) may be
    summed in different orders as far as it knows, so their difference can be -1.1e-16 or 5.6e-17 where it is 0:
    whether it is > 0 is float noise."""
    other = _mean(1e-6, lambda key, query: key <= query).named("other")
    difference = rasp.numerical(rasp.LinearSequenceMap(_mean(1e-6), other, 1.0, -1.0))
    program = rasp.Map(lambda x: x > 0, difference).named("positive")
    with pytest.raises(CompileError, match="'positive'.* differ only by float rounding but map to different outputs"):
        craft.lower(frontend.analyse(program, {"a", "b", "c"}, 4), fold=False)


def test_difference_of_two_means_over_the_same_positions_is_exactly_zero_and_compiles(checker, inputs) -> None:
    """Over the same selection both means add the same numbers in the same order: the difference is 0.0."""
    difference = rasp.numerical(rasp.LinearSequenceMap(_mean(1e-6), _mean(1e-6).named("other"), 1.0, -1.0))
    program = rasp.Map(lambda x: x > 0, difference).named("positive")
    assert frontend.analyse(program, {"a", "b", "c"}, 4).value_set("positive") == {False}
    checker(program, {"a", "b", "c"}, 4, inputs[0]({"a", "b", "c"}, 4))


def test_gap_wide_enough_for_the_attention_leak_compiles_exactly(checker, inputs) -> None:
    checker(_positive_mean(1e-5), {"a", "b", "c"}, 4, inputs[0]({"a", "b", "c"}, 4))


def test_gap_check_uses_the_stated_input_error() -> None:
    table = {0.0: 0.0, 1e-3: 1.0, 1.0: 0.0}
    space = bases.space([OUT])
    numerical_mlp.map_numerical_mlp("out", X, space, table, bos_direction=BOS, input_error=2.4e-4)
    with pytest.raises(CompileError, match=r"'out'.* 0\.0 and 0\.001 map to .* only 0\.001 apart.* above 0\.001"):
        numerical_mlp.map_numerical_mlp("out", X, space, table, bos_direction=BOS, input_error=2.5e-4)


def test_gaps_the_output_does_not_change_across_need_no_resolution() -> None:
    """Only steps need room: 0 and 1e-3 share an output, so the tolerance comes from the gap up to 1."""
    points = [0.0, 1e-3, 1.0]
    mlp = numerical_mlp.map_numerical_mlp(
        "out", X, bases.space([OUT]), {0.0: 0.0, 1e-3: 0.0, 1.0: 1.0}, bos_direction=BOS, input_error=0.2
    )
    for offset in (0.24, -0.24):
        np.testing.assert_allclose(_apply(mlp, np.array(points) + offset)[:, 0], [0.0, 0.0, 1.0], atol=1e-12)


def test_selector_width_at_a_long_max_seq_len_passes_the_gap_check() -> None:
    """Widths 1/(w+1) lie 1/(N(N+1)) ~ 2.5e-7 apart at N = 2000, more than the head's tiny stray mass allows."""
    same = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ).named("same")
    program = rasp.numerical(rasp.SelectorWidth(same)).named("count")
    block_graph = craft.lower(frontend.analyse(program, {"a", "b"}, 2000), fold=False)
    assert block_graph.block_by_label["count"].mlp_hidden_width == 2 * 2000
