"""Linear and bilinear operators built from actions on basis directions (optracr/craft/operators.py)."""

from __future__ import annotations

import numpy as np
import pytest

from optracr.craft import bases, operators
from optracr.errors import CompileError

D = bases.BasisDirection
IN = bases.space([D("x", 0), D("x", 1)])
OUT = bases.space([D("y", "a"), D("y", "b"), D("y", "c")])


def test_linear_from_action_places_each_image_in_its_row() -> None:
    images = {D("x", 0): OUT.vector({D("y", "b"): 2.0}), D("x", 1): None}
    linear = operators.Linear.from_action(IN, OUT, images.__getitem__)
    np.testing.assert_array_equal(linear.matrix, [[0.0, 2.0, 0.0], [0.0, 0.0, 0.0]])


def test_linear_accepts_images_in_a_subspace_of_the_output() -> None:
    sub = bases.space([D("y", "c")])
    linear = operators.Linear.from_action(IN, OUT, lambda d: sub.vector_from_basis_direction(D("y", "c")))
    np.testing.assert_array_equal(linear.matrix[:, 2], [1.0, 1.0])


def test_linear_rejects_images_outside_the_output_space() -> None:
    other = bases.space([D("z")])
    with pytest.raises(CompileError, match="leaves the output space"):
        operators.Linear.from_action(IN, OUT, lambda d: other.vector_from_basis_direction(D("z")))


def test_linear_apply_reads_only_its_input_directions() -> None:
    linear = operators.Linear.from_action(IN, OUT, lambda d: OUT.vector({D("y", "a"): 1.0 + d.value}))
    residual = bases.VectorInBasis(bases.space([D("noise"), *IN.basis]), np.array([[100.0, 1.0, 2.0]]))
    np.testing.assert_array_equal(linear.apply(residual).magnitudes, [[5.0, 0.0, 0.0]])
    with pytest.raises(CompileError, match="lacks input directions"):
        linear.apply(bases.space([D("x", 0)]).null_vector(1))


def test_linear_lift_pads_with_zeros() -> None:
    linear = operators.Linear(IN, OUT, np.arange(6.0).reshape(2, 3))
    big_in = bases.space([D("x", 1), D("q"), D("x", 0)])
    lifted = linear.lift(big_in, OUT)
    np.testing.assert_array_equal(lifted.matrix, [[3.0, 4.0, 5.0], [0.0, 0.0, 0.0], [0.0, 1.0, 2.0]])


def test_linear_rejects_a_matrix_of_the_wrong_shape() -> None:
    with pytest.raises(CompileError, match="shape"):
        operators.Linear(IN, OUT, np.zeros((3, 2)))


def test_bilinear_from_action_and_apply() -> None:
    form = operators.Bilinear.from_action(IN, OUT, lambda left, right: float(left.value == 1 and right.value == "c"))
    left = bases.VectorInBasis(IN, np.array([[0.0, 1.0], [1.0, 0.0]]))
    right = bases.VectorInBasis(OUT, np.array([[0.0, 0.0, 2.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))
    np.testing.assert_array_equal(form.apply(left, right), [[2.0, 0.0, 1.0], [0.0, 0.0, 0.0]])


def test_bilinear_lift_keeps_values_on_original_pairs() -> None:
    form = operators.Bilinear(IN, OUT, np.arange(6.0).reshape(2, 3))
    lifted = form.lift(bases.join_vector_spaces(IN, bases.space([D("one")])), OUT)
    np.testing.assert_array_equal(lifted.matrix[:2], form.matrix)
    np.testing.assert_array_equal(lifted.matrix[2], [0.0, 0.0, 0.0])
