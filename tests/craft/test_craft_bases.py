"""Basis directions, labelled spaces and vectors (optracr/craft/bases.py)."""

from __future__ import annotations

import numpy as np
import pytest

from optracr.craft import bases
from optracr.errors import CompileError, OptracrTypeError

D = bases.BasisDirection


def test_direction_prints_name_or_name_colon_value() -> None:
    assert str(D("one")) == "one"
    assert str(D("tokens", "a")) == "tokens:a"
    assert str(D("indices", 3)) == "indices:3"


def test_directions_sort_deterministically_with_mixed_value_types() -> None:
    values = ["b", 2, None, (1, "a"), 1.5, True, frozenset({1})]
    directions = [D("x", value) for value in values] + [D("w", "z")]
    once = sorted(directions)
    assert sorted(reversed(directions)) == once
    assert once[0] == D("w", "z")
    assert [d.value for d in once[1:]] == [None, True, 1.5, 2, "b", (1, "a"), frozenset({1})]


def test_direction_rejects_bad_name_and_unhashable_value() -> None:
    with pytest.raises(OptracrTypeError, match="non-empty string"):
        D("")
    with pytest.raises(OptracrTypeError, match="not hashable"):
        D("x", [1])


def test_space_knows_index_membership_and_subspaces() -> None:
    space = bases.space([D("a"), D("b", 1), D("b", 2)])
    assert space.num_dims == 3
    assert space.index(D("b", 2)) == 2
    assert D("b", 1) in space and D("c") not in space
    assert bases.space([D("b", 2)]).issubspace(space)
    assert not bases.space([D("c")]).issubspace(space)
    with pytest.raises(KeyError, match="not in the space"):
        space.index(D("c"))


def test_space_rejects_repeated_directions() -> None:
    with pytest.raises(CompileError, match="every direction once"):
        bases.space([D("a"), D("a")])


def test_space_of_values_sorts_values() -> None:
    space = bases.space_of_values("x", [3, 1, 2])
    assert [d.value for d in space.basis] == [1, 2, 3]


def test_join_keeps_first_seen_order_and_direct_sum_requires_disjoint_spaces() -> None:
    first, second = bases.space([D("b"), D("a")]), bases.space([D("a"), D("c")])
    assert bases.join_vector_spaces(first, second).basis == (D("b"), D("a"), D("c"))
    assert bases.direct_sum(first, bases.space([D("c")])).basis == (D("b"), D("a"), D("c"))
    with pytest.raises(CompileError, match="disjoint"):
        bases.direct_sum(first, second)


def test_projection_keeps_shared_directions_and_zero_fills_the_rest() -> None:
    source = bases.space([D("a"), D("b"), D("c")])
    vector = bases.VectorInBasis(source, np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    projected = vector.project(bases.space([D("c"), D("z"), D("a")]))
    np.testing.assert_array_equal(projected.magnitudes, [[3.0, 0.0, 1.0], [6.0, 0.0, 4.0]])


def test_vectors_add_only_within_one_space() -> None:
    space = bases.space([D("a"), D("b")])
    total = space.vector_from_basis_direction(D("a")) + 2.0 * space.vector_from_basis_direction(D("b"))
    np.testing.assert_array_equal(total.magnitudes, [1.0, 2.0])
    assert total.magnitudes.dtype == np.float64
    with pytest.raises(CompileError, match="within one space"):
        total + bases.space([D("a")]).null_vector()


def test_vector_rejects_magnitudes_of_the_wrong_width() -> None:
    with pytest.raises(CompileError, match="do not fit"):
        bases.VectorInBasis(bases.space([D("a")]), np.zeros(2))
