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


@pytest.mark.parametrize("end", [-np.inf, np.inf])
def test_an_unbounded_cold_entry_leaves_the_cold_box_unbounded_and_an_absent_one_is_zero(end: float) -> None:
    low = np.array([[0.9, 0.0, -1e-3], [1.0, 0.0, 0.0]])
    high = low + 1e-3
    (low if end < 0 else high)[0, 2] = end  # row 0: one cold entry unbounded on one side
    hot, hot_lo, hot_hi, cold_lo, cold_hi, sum_lo, sum_hi = mlp._summaries(_label(3), np.array([0, 0]), low, high)
    assert (cold_lo[0], sum_lo[0]) == (-np.inf, -np.inf) if end < 0 else (cold_hi[0], sum_hi[0]) == (np.inf, np.inf)
    assert (cold_lo[1], cold_hi[1]) == (0.0, 1e-3)
    one = mlp._summaries(_label(1), np.array([0, -1]), np.array([[0.5], [0.25]]), np.array([[1.5], [0.75]]))
    assert [part.tolist() for part in one[3:]] == [[0.0, 0.25], [0.0, 0.75], [0.0, 0.25], [0.0, 0.75]]


def _hull_by_state(rows: tuple[np.ndarray, ...], codes: np.ndarray, count: int, bos: list[float]) -> list[list]:
    """Per field, per state the least (low sides) or largest (high sides) of its combinations' values, then BOS's."""
    found = []
    for field, values in enumerate(rows):
        pick = min if field % 2 == 0 else max
        found.append([pick(float(values[i]) for i in range(len(codes)) if codes[i] == state) for state in range(count)]
                     + [bos[field]])
    return found


@pytest.mark.parametrize("seed", range(10))
def test_the_hull_of_states_met_once_each_is_their_own_summaries(seed: int) -> None:
    rng = np.random.default_rng(seed)
    count = int(rng.integers(1, 9))
    codes = rng.permutation(count)  # every state met by exactly one combination
    rows = tuple(rng.choice([-1.5, -0.0, 0.0, 2.0, np.inf, -np.inf], count) for _ in range(6))
    bos = rng.normal(size=6).tolist()
    found = mlp._hull(rows, codes, count, bos)
    expected = _hull_by_state(rows, codes, count, bos)
    assert [part.tobytes() for part in found] == [np.array(values).tobytes() for values in expected]


def test_deviation_ends_stay_the_starting_zero_until_a_label_adds_one() -> None:
    assert mlp._ends(0.0, (2, 3, 4)) == (0.0, 0.0)
    added = np.arange(24.0).reshape(2, 3, 4)
    low, high = mlp._ends(added, (2, 3, 4))
    assert low.tolist() == added[0].tolist() and high.tolist() == added[1].tolist()
    low, high = mlp._ends(added[:, :1], (2, 3, 4))  # one row of every combination: spread to all
    assert low.tolist() == [added[0, 0].tolist()] * 3 and high.tolist() == [added[1, 0].tolist()] * 3
