"""Labelled bases: basis directions, vector spaces spanned by them, and vectors (rows) in those spaces.

Every residual-stream quantity in optracr lives in a ``VectorSpaceWithBasis`` whose directions carry names
(``tokens:a``, ``indices:3``, ``one``, ``frac_prevs``), so operators are written in terms of those names and
nobody pads a matrix by hand. Everything is float64 numpy.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from optracr import errors
from optracr import frontend

Name = str
SortKey = tuple[Any, ...]


def value_sort_key(value: Hashable) -> SortKey:
    """A total order over mixed value types: None, numbers, strings, tuples, then anything by type and repr."""
    if value is None:
        return (0,)
    if isinstance(value, numbers.Real):  # equal numbers of different types: bool, int, float, then -0.0 first
        return (1, value, type(value).__qualname__, repr(value))
    if isinstance(value, str):
        return (2, value)
    if isinstance(value, tuple):
        return (3, tuple(value_sort_key(item) for item in value))
    return (4, type(value).__qualname__, repr(value))


@dataclasses.dataclass(frozen=True, eq=False)
class BasisDirection:
    """One named axis of a vector space: ``name`` alone (numerical s-ops, ``one``) or ``name:value``.

    Two directions are one when their names are and their values are one value to the compiler
    (``frontend.value_key``: ``x:True``, ``x:1`` and ``x:1.0`` are three directions).
    """

    name: Name
    value: Hashable | None = None
    _key: tuple = dataclasses.field(init=False, repr=False, compare=False)
    _hash: int = dataclasses.field(init=False, repr=False, compare=False)  # directions key dicts everywhere

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise errors.OptracrTypeError(
                None, f"a basis direction's name must be a non-empty string, got {self.name!r}"
            )
        try:
            object.__setattr__(self, "_key", (self.name, frontend.value_key(self.value)))
            object.__setattr__(self, "_hash", hash(self._key))
        except TypeError as error:
            raise errors.OptracrTypeError(
                None, f"basis direction {self.name!r}: value {self.value!r} is not hashable"
            ) from error

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BasisDirection):
            return NotImplemented
        return self._key == other._key

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple:
        # Rebuilt, not restored: a string's hash differs between processes, so the cached one must not travel.
        return (BasisDirection, (self.name, self.value))

    @property
    def sort_key(self) -> SortKey:
        """The key ``sorted`` uses: by name, then by value (None, numbers, strings, tuples, other types)."""
        return (self.name, value_sort_key(self.value))

    def __lt__(self, other: BasisDirection) -> bool:
        if not isinstance(other, BasisDirection):
            return NotImplemented
        return self.sort_key < other.sort_key

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclasses.dataclass(frozen=True)
class VectorSpaceWithBasis:
    """A vector space given by an ordered tuple of distinct basis directions."""

    basis: tuple[BasisDirection, ...]
    _index: dict[BasisDirection, int] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        basis = tuple(self.basis)
        for direction in basis:
            if not isinstance(direction, BasisDirection):
                raise errors.OptracrTypeError(None, f"a basis holds BasisDirection objects, got {direction!r}")
        index = {direction: position for position, direction in enumerate(basis)}
        if len(index) != len(basis):
            repeated = sorted({str(d) for d in basis if basis.count(d) > 1})
            raise errors.CompileError(
                None, f"a basis lists every direction once, but {repeated} repeat; list each once (join_vector_spaces "
                "merges spaces that share directions)"
            )
        object.__setattr__(self, "basis", basis)
        object.__setattr__(self, "_index", index)

    @property
    def num_dims(self) -> int:
        """The number of basis directions."""
        return len(self.basis)

    def __len__(self) -> int:
        return len(self.basis)

    def __iter__(self) -> Iterator[BasisDirection]:
        return iter(self.basis)

    def __contains__(self, direction: object) -> bool:
        return direction in self._index

    def index(self, direction: BasisDirection) -> int:
        """The position of ``direction`` in the basis."""
        try:
            return self._index[direction]
        except KeyError:
            raise KeyError(f"direction {direction} is not in the space {self}") from None

    def issubspace(self, other: VectorSpaceWithBasis) -> bool:
        """Whether every direction of this space is a direction of ``other``."""
        return all(direction in other for direction in self.basis)

    def vector_from_basis_direction(self, direction: BasisDirection) -> VectorInBasis:
        """The unit vector along ``direction``."""
        magnitudes = np.zeros(self.num_dims)
        magnitudes[self.index(direction)] = 1.0
        return VectorInBasis(self, magnitudes)

    def null_vector(self, num_rows: int | None = None) -> VectorInBasis:
        """The zero vector (or ``num_rows`` zero rows)."""
        shape = (self.num_dims,) if num_rows is None else (num_rows, self.num_dims)
        return VectorInBasis(self, np.zeros(shape))

    def vector(self, weights: dict[BasisDirection, float]) -> VectorInBasis:
        """The vector with the given weight on each listed direction, zero elsewhere."""
        magnitudes = np.zeros(self.num_dims)
        for direction, weight in weights.items():
            magnitudes[self.index(direction)] += weight
        return VectorInBasis(self, magnitudes)

    def __str__(self) -> str:
        return "[" + ", ".join(str(direction) for direction in self.basis) + "]"


def space(directions: Iterable[BasisDirection]) -> VectorSpaceWithBasis:
    """The space spanned by ``directions``, in the given order."""
    return VectorSpaceWithBasis(tuple(directions))


def space_of_values(name: Name, values: Iterable[Hashable]) -> VectorSpaceWithBasis:
    """One direction ``name:v`` per value, sorted deterministically (mixed value types allowed)."""
    directions = {BasisDirection(name, value) for value in values}
    return VectorSpaceWithBasis(tuple(sorted(directions, key=lambda direction: direction.sort_key)))


def join_vector_spaces(*spaces: VectorSpaceWithBasis) -> VectorSpaceWithBasis:
    """The smallest space holding all ``spaces``; directions keep their first-seen order."""
    seen: dict[BasisDirection, None] = {}
    for each in spaces:
        seen.update(dict.fromkeys(each.basis))
    return VectorSpaceWithBasis(tuple(seen))


def direct_sum(*spaces: VectorSpaceWithBasis) -> VectorSpaceWithBasis:
    """The concatenation of ``spaces``, which must not share a direction."""
    basis = [direction for each in spaces for direction in each.basis]
    if len(set(basis)) != len(basis):
        shared = sorted({str(d) for d in basis if basis.count(d) > 1})
        raise errors.CompileError(
            None, f"a direct sum needs disjoint spaces, but {shared} occur more than once; use join"
        )
    return VectorSpaceWithBasis(tuple(basis))


@dataclasses.dataclass(frozen=True, eq=False)
class VectorInBasis:
    """A vector of ``space`` (shape ``(num_dims,)``) or one per row (``(rows, num_dims)``, rows = positions)."""

    space: VectorSpaceWithBasis
    magnitudes: np.ndarray

    def __post_init__(self) -> None:
        if not isinstance(self.space, VectorSpaceWithBasis):
            raise errors.OptracrTypeError(None, f"a vector's space must be a VectorSpaceWithBasis, got {self.space!r}")
        magnitudes = np.asarray(self.magnitudes, dtype=np.float64)
        if magnitudes.ndim not in (1, 2) or magnitudes.shape[-1] != self.space.num_dims:
            raise errors.CompileError(
                None, f"magnitudes of shape {magnitudes.shape} do not fit a space of {self.space.num_dims} directions; "
                "pass (num_dims,) or (rows, num_dims)"
            )
        object.__setattr__(self, "magnitudes", magnitudes)

    @property
    def basis(self) -> tuple[BasisDirection, ...]:
        """The directions of the vector's space."""
        return self.space.basis

    def project(self, target: VectorSpaceWithBasis) -> VectorInBasis:
        """The components along ``target``'s directions (zero for directions this vector's space lacks)."""
        if target is self.space:
            return self
        magnitudes = np.zeros(self.magnitudes.shape[:-1] + (target.num_dims,))
        source = [(position, self.space._index.get(d)) for position, d in enumerate(target.basis)]
        kept = [(position, index) for position, index in source if index is not None]
        if kept:
            to_positions, from_indices = (list(column) for column in zip(*kept))
            magnitudes[..., to_positions] = self.magnitudes[..., from_indices]
        return VectorInBasis(target, magnitudes)

    def _same_space(self, other: VectorInBasis) -> None:
        if not isinstance(other, VectorInBasis) or other.space != self.space:
            raise errors.CompileError(
                None, "vectors can be added only within one space; project one onto the other's space"
            )

    def __add__(self, other: VectorInBasis) -> VectorInBasis:
        self._same_space(other)
        return VectorInBasis(self.space, self.magnitudes + other.magnitudes)

    def __sub__(self, other: VectorInBasis) -> VectorInBasis:
        self._same_space(other)
        return VectorInBasis(self.space, self.magnitudes - other.magnitudes)

    def __mul__(self, scalar: float) -> VectorInBasis:
        return VectorInBasis(self.space, self.magnitudes * float(scalar))

    __rmul__ = __mul__

    def __neg__(self) -> VectorInBasis:
        return VectorInBasis(self.space, -self.magnitudes)


def stack(rows: Sequence[VectorInBasis]) -> VectorInBasis:
    """Single vectors of one space stacked as rows."""
    if not rows:
        raise errors.CompileError(None, "stack needs at least one vector")
    for row in rows:
        rows[0]._same_space(row)
    return VectorInBasis(rows[0].space, np.stack([row.magnitudes for row in rows]))
