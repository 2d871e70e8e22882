"""The decoding check's per-combination rule against the plain column-by-column rule: margins and errors of a
categorical output, and the smallest margin per output value with where it is first met."""

from __future__ import annotations

import numpy as np
import pytest

from optracr.certify import decoding


def _categorical_by_columns(columns: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per combination: the margin by which the right column stays above 1/2 and every other below it, and the
    largest distance of any column from its exact value (1 for the right one, 0 for the others); the others
    counted only where their high end is finite."""
    rows = np.arange(len(columns))
    safe, has = np.maximum(columns, 0), columns >= 0
    others = high.copy()
    others[rows[has], safe[has]] = -np.inf
    other_high = others.max(axis=1, initial=-np.inf)
    other_low = np.where(np.isfinite(others), low, 0.0)
    own_low, own_high = low[rows, safe], high[rows, safe]
    margin = np.where(has, np.minimum(own_low - 0.5, 0.5 - other_high), 0.5 - other_high)
    margin = np.where(columns == -2, -np.inf, margin)
    error = np.maximum(np.where(has, np.maximum(np.abs(1.0 - own_low), np.abs(own_high - 1.0)), 0.0),
                       np.maximum(np.abs(np.where(np.isfinite(others), others, 0.0)).max(axis=1, initial=0.0),
                                  np.abs(other_low).max(axis=1, initial=0.0)))
    return margin, error


@pytest.mark.parametrize("seed", range(30))
def test_categorical_margins_and_errors_match_the_column_by_column_rule(seed: int) -> None:
    rng = np.random.default_rng(seed)
    count, outputs = int(rng.integers(1, 9)), int(rng.integers(1, 6))
    columns = rng.integers(-2 if seed % 2 else 0, outputs, count)  # every value with a class, or some without
    low = rng.normal(scale=0.6, size=(count, outputs))
    high = low + rng.uniform(0.0, 0.2, size=(count, outputs))
    for _ in range(int(rng.integers(0, 4))):  # unbounded or lost ends
        row, column = int(rng.integers(count)), int(rng.integers(outputs))
        choice = int(rng.integers(3))
        if choice == 0:
            high[row, column] = np.inf
        elif choice == 1:
            low[row, column] = -np.inf
        else:
            low[row, column] = np.nan
    with np.errstate(invalid="ignore"):
        found = decoding._categorical(columns, low, high)
        expected = _categorical_by_columns(columns, low, high)
    for part, reference in zip(found, expected):
        assert part.tobytes() == reference.tobytes()


def _keep_smallest_by_values(margin_of: np.ndarray, worst_at: np.ndarray, code: np.ndarray, margin: np.ndarray,
                             start: int) -> None:
    """Per value code met (-1: none), the smallest margin if below the one kept, with its first combination."""
    for index in range(len(code)):
        value = int(code[index])
        if value >= 0 and margin[index] < margin_of[value]:
            margin_of[value], worst_at[value] = margin[index], start + index


@pytest.mark.parametrize("one_by_one", [True, False])
@pytest.mark.parametrize("seed", range(30))
def test_keep_smallest_keeps_each_values_first_smallest_margin(seed: int, one_by_one: bool, monkeypatch) -> None:
    monkeypatch.setattr(decoding, "SMALL_CHUNK", 1 << 20 if one_by_one else 0)  # the small chunks' way, or sorting
    rng = np.random.default_rng(seed)
    values = int(rng.integers(1, 6))
    found = (np.full(values, np.inf), np.full(values, -1, dtype=np.int64))
    expected = (found[0].copy(), found[1].copy())
    start = 0
    for _ in range(3):  # chunks one after the other
        count = int(rng.integers(0, 12))
        code = rng.integers(-1, values, count)
        margin = rng.choice([-np.inf, -0.5, 0.0, 0.25, 0.5, np.inf], count)  # ties, so the first must win
        decoding._keep_smallest(*found, code, margin, start)
        _keep_smallest_by_values(*expected, code, margin, start)
        start += count
    assert found[0].tobytes() == expected[0].tobytes()
    assert found[1].tolist() == expected[1].tolist()


def test_class_columns_key_values_by_type_and_mark_none_and_missing() -> None:
    classes = (1, "a", 2.0, True)
    values = [True, 1, 1.0, "a", None, decoding.meaning_lib.UNDEFINED, 2.0, 2, "b"]
    expected = [3, 0, -2, 1, -1, -1, 2, -2, -2]  # True, 1 and 1.0 are three values
    assert decoding._columns(values, classes).tolist() == expected
