"""An MLP group's per-combination summaries: each row's own, so the BOS position's can be summarised with the rest."""

from __future__ import annotations

import numpy as np
import pytest

from optracr import craft
from optracr.certify import mlp, residual


def _label(size: int) -> residual.Label:
    directions = tuple(craft.BasisDirection("x", value) for value in range(size))
    return residual.Label("x", residual.Role.SOP, directions, list(range(size)), False, "x")


@pytest.mark.parametrize("seed", range(20))
def test_summaries_of_many_rows_are_each_rows_own_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size, count = int(rng.integers(1, 21)), int(rng.integers(1, 40))  # past 8 directions numpy sums pairwise
    low = rng.normal(size=(count, size)) * 10.0 ** rng.integers(-12, 3, size=(count, size))
    high = low + rng.uniform(0, 1e-3, size=low.shape)
    hot = rng.integers(-1, size, count)
    together = mlp._summaries(_label(size), hot, low, high)
    for row in range(count):
        alone = mlp._summaries(_label(size), hot[row : row + 1], low[row : row + 1], high[row : row + 1])
        assert [part[row].tobytes() for part in together] == [part[0].tobytes() for part in alone]


def test_the_hull_of_a_states_combinations_ends_with_the_bos_positions_summary() -> None:
    codes = np.array([1, 0, 1])
    # per field (low sides take minima, high sides maxima) the three combinations' values; state 1 has two
    rows = tuple(np.array([float(i), 2.0 * i, -1.0]) + index for index, i in enumerate([3, 4, 5, 6, 7, 8]))
    merged = mlp._hull(rows, codes, 2, [10.0, 11.0, 12.0, 13.0, 14.0, 15.0])
    assert [part.tolist() for part in merged] == [
        [6.0, -1.0, 10.0], [9.0, 5.0, 11.0], [12.0, 1.0, 12.0], [15.0, 9.0, 13.0], [18.0, 3.0, 14.0],
        [21.0, 13.0, 15.0]]


@pytest.mark.parametrize("seed", range(10))
def test_summaries_match_the_direction_by_direction_rule(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    size, count = int(rng.integers(2, 12)), int(rng.integers(1, 20))
    low = rng.normal(size=(count, size))
    high = low + rng.uniform(0, 1e-3, size=low.shape)
    hot = rng.integers(-1, size, count)
    found = mlp._summaries(_label(size), hot, low, high)
    for row in range(count):
        cold = [column for column in range(size) if column != hot[row]]
        is_cold = np.arange(size) != hot[row]
        own = hot[row] >= 0
        expected = (hot[row], low[row, hot[row]] if own else 0.0, high[row, hot[row]] if own else 0.0,
                    min(low[row, cold]), max(high[row, cold]), np.where(is_cold, low[row], 0.0).sum(),
                    np.where(is_cold, high[row], 0.0).sum())
        assert [float(part[row]) for part in found] == [float(value) for value in expected]
