"""Every error path of craft that the lowering tests do not reach: each names what is wrong and what works."""

from __future__ import annotations

import dataclasses
import fractions

import numpy as np
import pytest

from optracr import craft, frontend
from optracr.craft import attention, bases, blocks, categorical_mlp, mlp_units, numerical_mlp, operators
from optracr.craft import selector_width
from optracr.errors import CompileError, OptracrBug

rasp = frontend.rasp
D = bases.BasisDirection
X = bases.space_of_values("x", [1, 2])
OUT = bases.space_of_values("out", ["a"])
BOS = craft.conventions.bos_direction("BOS")


def test_table_output_outside_the_value_set_is_reported() -> None:
    with pytest.raises(CompileError, match="not in the inferred value set"):
        categorical_mlp.map_categorical_mlp("out", X, OUT, {1: "a", 2: "zzz"}, bos_direction=BOS)
    with pytest.raises(CompileError, match="outside the inferred value set"):
        numerical_mlp.map_numerical_to_categorical_mlp("out", D("x"), OUT, {1.0: "zzz"}, bos_direction=BOS)


def test_numerical_output_that_is_not_a_number_is_reported() -> None:
    with pytest.raises(CompileError, match="must be a number, got 'a'; make it categorical"):
        categorical_mlp.map_categorical_to_numerical_mlp("out", X, bases.space([D("out")]), {1: "a"}, bos_direction=BOS)
    with pytest.raises(CompileError, match="must be a number"):
        numerical_mlp.map_numerical_mlp("out", D("x"), bases.space([D("out")]), {1.0: "a"}, bos_direction=BOS)


def test_numerical_inputs_equal_as_floats_with_different_outputs_or_missing_are_reported() -> None:
    table = {fractions.Fraction(1, 3): 1.0, 1 / 3: 2.0}
    with pytest.raises(CompileError, match="differ only by float rounding but map to different outputs"):
        numerical_mlp.map_numerical_mlp("out", D("x"), bases.space([D("out")]), table, bos_direction=BOS)
    with pytest.raises(CompileError, match="at least one known input value"):
        numerical_mlp.map_numerical_mlp("out", D("x"), bases.space([D("out")]), {}, bos_direction=BOS)


def test_selector_width_output_space_missing_a_width_is_reported() -> None:
    with pytest.raises(CompileError, match="missing from its value set"):
        selector_width.selector_width_block(
            "w", X, X, lambda k, q: True, bases.space_of_values("w", [0, 1]), numerical_output=False, max_seq_len=3,
            bos_direction=BOS,
        )


def test_predicate_raising_inside_craft_is_reported() -> None:
    with pytest.raises(CompileError, match="raised ZeroDivisionError on key 1, query 1"):
        attention.select_bilinear(
            "s", X, X, lambda k, q: 1 / (k - q), logit=10.0, bos_fraction=0.5, bos_direction=BOS
        )


def test_unrewritten_expressions_are_reported_with_the_fix() -> None:
    program = rasp.SequenceMap(lambda x, y: x + y, rasp.tokens, rasp.Full(1)).named("total")
    program_graph = frontend.infer_value_sets(frontend.trace(program), frontend.InputSpec({1, 2}, 3))
    with pytest.raises(CompileError, match="no construction for Full; run frontend.analyse"):
        craft.lower(program_graph, fold=False)


def _valid_graph() -> craft.BlockGraph:
    program = rasp.numerical(rasp.Map(lambda t: t == "x", rasp.tokens)).named("is_x")
    return craft.lower(frontend.analyse(program, {"x", "y"}, 3), fold=False)


def test_block_graph_rejects_inconsistent_contents() -> None:
    graph = _valid_graph()
    spaces = dict(graph.spaces)
    with pytest.raises(CompileError, match="no residual subspace"):
        dataclasses.replace(graph, spaces={k: v for k, v in spaces.items() if k != "one"})
    with pytest.raises(CompileError, match="output_space differs"):
        dataclasses.replace(graph, output_space=spaces["tokens"])
    lowered = graph.blocks[0]
    with pytest.raises(CompileError, match="reads \\['later'\\] before any block writes them"):
        dataclasses.replace(graph, blocks=(dataclasses.replace(lowered, reads=("later",)),))
    with pytest.raises(CompileError, match="writes outside"):
        elsewhere = bases.space([D("elsewhere")])
        dataclasses.replace(graph, spaces={**spaces, "is_x": elsewhere}, output_space=elsewhere)
    with pytest.raises(CompileError, match="reads directions outside"):
        dataclasses.replace(graph, blocks=(dataclasses.replace(lowered, reads=("indices",)),))
    with pytest.raises(CompileError, match="two blocks share the id 'is_x'"):
        dataclasses.replace(graph, blocks=(lowered, lowered))
    with pytest.raises(CompileError, match="fresh s-op"):
        dataclasses.replace(graph, blocks=(lowered, dataclasses.replace(lowered, id="is_x_again")))


def test_block_constructors_reject_bad_parts() -> None:
    w_qk = operators.Bilinear(bases.space([D("one")]), bases.space([D("one")]), np.zeros((1, 1)))
    w_ov = operators.Linear(bases.space([D("x")]), bases.space([D("y")]), np.ones((1, 1)))
    with pytest.raises(CompileError, match="one or more AttentionHead"):
        blocks.MultiAttentionHead(())
    with pytest.raises(CompileError, match="one or more MLP"):
        blocks.SeriesWithResiduals(())
    head = blocks.AttentionHead(w_qk, w_ov)
    residual = bases.VectorInBasis(bases.space([D("one"), D("x"), D("y")]), np.ones((2, 3)))
    with pytest.raises(CompileError, match=r"attention_mask must be query x key \(2, 2\), got shape \(1,\)"):
        head.apply(residual, np.array([True]))
    with pytest.raises(CompileError, match="never mask BOS"):
        head.apply(residual, np.array([[True, False], [False, False]]))
    with pytest.raises(CompileError, match="one row per position"):
        head.apply(bases.VectorInBasis(residual.space, np.ones(3)))


def test_operators_reject_missing_directions_and_bad_lifts() -> None:
    form = operators.Bilinear(X, X, np.eye(2))
    with pytest.raises(CompileError, match="left vector lacks"):
        form.apply(OUT.null_vector(1), X.null_vector(1))
    with pytest.raises(CompileError, match="only to spaces that contain"):
        form.lift(OUT, X)
    with pytest.raises(CompileError, match="non-finite"):
        operators.Linear(X, X, np.full((2, 2), np.nan))


def test_hidden_units_reject_bad_weights_and_foreign_directions() -> None:
    with pytest.raises(OptracrBug, match="optracr bug: hidden unit weights map directions to finite numbers"):
        mlp_units.HiddenUnit({D("x", 1): float("inf")}, {})
    unit = mlp_units.HiddenUnit({D("elsewhere"): 1.0}, {D("out", "a"): 1.0})
    with pytest.raises(OptracrBug, match="outside its spaces"):
        mlp_units.build_mlp("out", [mlp_units.InputDomain(X)], OUT, [unit], bos_direction=BOS)
    with pytest.raises(OptracrBug, match="numerical input is one direction"):
        mlp_units.InputDomain(X, numerical=True)
