"""Linear and bilinear operators between labelled spaces, built from their action on basis directions.

Matrices use the row-vector convention of the transformer: a ``Linear`` maps row ``x`` to ``x @ matrix``
(shape ``(input dims, output dims)``); a ``Bilinear`` gives ``left @ matrix @ right.T``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from optracr import errors
from optracr.craft import bases

LinearAction = Callable[[bases.BasisDirection], bases.VectorInBasis | None]
BilinearAction = Callable[[bases.BasisDirection, bases.BasisDirection], float]


def _checked_matrix(matrix: np.ndarray, rows: int, columns: int, what: str) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape != (rows, columns):
        raise errors.CompileError(None, f"{what} needs a matrix of shape {(rows, columns)}, got {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise errors.CompileError(None, f"{what} has a non-finite entry; weights must be finite numbers")
    return matrix


def _lifted(matrix: np.ndarray, rows_from: bases.VectorSpaceWithBasis, rows_to: bases.VectorSpaceWithBasis,
            cols_from: bases.VectorSpaceWithBasis, cols_to: bases.VectorSpaceWithBasis) -> np.ndarray:
    if not rows_from.issubspace(rows_to) or not cols_from.issubspace(cols_to):
        raise errors.CompileError(None, "an operator can be lifted only to spaces that contain its own")
    lifted = np.zeros((rows_to.num_dims, cols_to.num_dims))
    row_index = [rows_to.index(d) for d in rows_from.basis]
    col_index = [cols_to.index(d) for d in cols_from.basis]
    lifted[np.ix_(row_index, col_index)] = matrix
    return lifted


@dataclasses.dataclass(frozen=True, eq=False)
class Linear:
    """A linear map ``input_space -> output_space``; ``matrix[i, j]`` is input direction i's weight on output j."""

    input_space: bases.VectorSpaceWithBasis
    output_space: bases.VectorSpaceWithBasis
    matrix: np.ndarray

    def __post_init__(self) -> None:
        matrix = _checked_matrix(self.matrix, self.input_space.num_dims, self.output_space.num_dims, "Linear")
        object.__setattr__(self, "matrix", matrix)

    @classmethod
    def from_action(
        cls,
        input_space: bases.VectorSpaceWithBasis,
        output_space: bases.VectorSpaceWithBasis,
        action: LinearAction,
    ) -> Linear:
        """The map sending each input direction ``d`` to ``action(d)`` (None means zero)."""
        matrix = np.zeros((input_space.num_dims, output_space.num_dims))
        for row, direction in enumerate(input_space.basis):
            image = action(direction)
            if image is None:
                continue
            if image.space is not output_space and not image.space.issubspace(output_space):
                raise errors.CompileError(None, f"the image of {direction} leaves the output space: {image.space}")
            matrix[row] = image.project(output_space).magnitudes
        return cls(input_space, output_space, matrix)

    def apply(self, vector: bases.VectorInBasis) -> bases.VectorInBasis:
        """The image of ``vector`` (per row); it must contain the input space."""
        if not self.input_space.issubspace(vector.space):
            raise errors.CompileError(None, f"the vector lacks input directions of this map: {self.input_space}")
        return bases.VectorInBasis(self.output_space, vector.project(self.input_space).magnitudes @ self.matrix)

    def lift(self, input_space: bases.VectorSpaceWithBasis, output_space: bases.VectorSpaceWithBasis) -> Linear:
        """The same map on larger spaces, zero on the added directions."""
        matrix = _lifted(self.matrix, self.input_space, input_space, self.output_space, output_space)
        return Linear(input_space, output_space, matrix)


@dataclasses.dataclass(frozen=True, eq=False)
class Bilinear:
    """A bilinear form ``left_space x right_space -> R``; ``matrix[i, j]`` is its value on (left i, right j)."""

    left_space: bases.VectorSpaceWithBasis
    right_space: bases.VectorSpaceWithBasis
    matrix: np.ndarray

    def __post_init__(self) -> None:
        matrix = _checked_matrix(self.matrix, self.left_space.num_dims, self.right_space.num_dims, "Bilinear")
        object.__setattr__(self, "matrix", matrix)

    @classmethod
    def from_action(
        cls,
        left_space: bases.VectorSpaceWithBasis,
        right_space: bases.VectorSpaceWithBasis,
        action: BilinearAction,
    ) -> Bilinear:
        """The form whose value on each pair of basis directions is ``action(left, right)``."""
        matrix = np.zeros((left_space.num_dims, right_space.num_dims))  # row by row: no list of lists at scale
        for row, left in enumerate(left_space.basis):
            matrix[row] = [float(action(left, right)) for right in right_space.basis]
        return cls(left_space, right_space, matrix)

    def apply(self, left: bases.VectorInBasis, right: bases.VectorInBasis) -> np.ndarray:
        """``left @ matrix @ right.T``: for rows, a (left rows, right rows) array."""
        for vector, own, side in ((left, self.left_space, "left"), (right, self.right_space, "right")):
            if not own.issubspace(vector.space):
                raise errors.CompileError(None, f"the {side} vector lacks directions of this form: {own}")
        left_magnitudes = left.project(self.left_space).magnitudes
        right_magnitudes = right.project(self.right_space).magnitudes
        return left_magnitudes @ self.matrix @ right_magnitudes.T

    def lift(self, left_space: bases.VectorSpaceWithBasis, right_space: bases.VectorSpaceWithBasis) -> Bilinear:
        """The same form on larger spaces, zero on the added directions."""
        matrix = _lifted(self.matrix, self.left_space, left_space, self.right_space, right_space)
        return Bilinear(left_space, right_space, matrix)
