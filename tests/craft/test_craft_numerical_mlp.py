"""Numerical MLPs: the discretising construction, affine maps and LinearSequenceMap."""

from __future__ import annotations

import numpy as np
import pytest

from optracr import craft, frontend
from optracr.craft import bases, numerical_mlp

rasp = frontend.rasp
X, OUT = bases.BasisDirection("x"), bases.BasisDirection("out")
RESIDUAL = bases.space([bases.BasisDirection("one"), bases.BasisDirection("tokens", "BOS"), X])


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
        return numerical_mlp.map_numerical_to_categorical_mlp("out", X, space, table, bos="BOS")
    return numerical_mlp.map_numerical_mlp("out", X, bases.space([OUT]), table, bos="BOS", allow_affine=False)


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


def test_numerical_map_dropping_an_input_writes_zero_there() -> None:
    program = rasp.numerical(rasp.Map(lambda x: 1 / x - 1, _frac_prevs())).named("inverse")
    block_graph = craft.lower(frontend.analyse(program, {"x", "y"}, 4))
    residual = craft.run(block_graph, ["BOS", "y", "x", "x", "y"])
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
