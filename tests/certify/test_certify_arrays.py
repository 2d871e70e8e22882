"""certify.arrays: the shortcuts give what the numpy calls they replace give."""

from __future__ import annotations

import numpy as np
import pytest

from optracr.certify import arrays

_CASES = [np.zeros(0, dtype=bool), np.zeros(5, dtype=bool), np.array([False, True, False]), np.ones(4, dtype=bool),
          np.array([0.0, -0.0, 0.0]), np.array([0.0, np.nan]), np.array([[0.0, 2.0], [0.0, 0.0]]),
          np.array([[1.0, -1.0], [np.inf, 3.0]]), np.arange(6) % 3]


@pytest.mark.parametrize("values", _CASES)
def test_some_and_every_are_any_and_all(values: np.ndarray) -> None:
    assert arrays.some(values) == bool(values.any())
    assert arrays.every(values) == bool(values.all())


@pytest.mark.parametrize("values", [*_CASES, np.array([[0, 1], [2, 0]], dtype=np.int8)[:, ::-1],
                                    np.arange(12.0).reshape(3, 4).T, np.array(["", "a"], dtype=object)])
def test_count_nonzero_is_numpys_over_the_whole_array(values: np.ndarray) -> None:
    found = arrays.count_nonzero(values)
    assert found == np.count_nonzero(values)


@pytest.mark.parametrize("values", [case for case in _CASES if case.ndim == 1])
def test_positions_are_flatnonzero(values: np.ndarray) -> None:
    assert arrays.positions(values).tolist() == np.flatnonzero(values).tolist()


@pytest.mark.parametrize(("shape", "value", "dtype"), [(4, np.inf, np.float64), ((2, 3), -np.inf, np.float64),
                                                       (3, -1, np.int64), (0, 1.5, np.float64)])
def test_filled_is_full(shape, value, dtype) -> None:
    found, expected = arrays.filled(shape, value, dtype), np.full(shape, value, dtype=dtype)
    assert found.dtype == expected.dtype and found.shape == expected.shape
    assert found.tobytes() == expected.tobytes()


@pytest.mark.parametrize("size", [1, 7, arrays.SMALL_ENTRIES, arrays.SMALL_ENTRIES + 1])
def test_some_counts_nan_and_ignores_zeros_of_either_sign(size: int) -> None:
    array = np.zeros(size)
    array[-1] = -0.0
    assert not arrays.some(array)
    array[size // 2] = np.nan
    assert arrays.some(array)
    array[size // 2] = 1e-300
    assert arrays.some(array.reshape(size, 1).T)
