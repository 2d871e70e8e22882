"""The domain's bounds hold for every vector a table allows: checked against random vectors drawn from tables."""

from __future__ import annotations

import numpy as np
import pytest

from optracr import craft
from optracr.certify import residual, tables
from optracr.errors import OptracrBug


def _label(size: int, numerical: bool = False) -> residual.Label:
    if numerical:
        return residual.Label("x", residual.Role.SOP, (craft.BasisDirection("x"),), [0], True, "x")
    directions = tuple(craft.BasisDirection("x", value) for value in range(size))
    return residual.Label("x", residual.Role.SOP, directions, list(range(size)), False, "x")


def _random_table(rng: np.random.Generator, size: int) -> tables.Table:
    """Categorical rows with noisy one-hots: hot in [1 - a, 1 + b], cold in [-c, d] summing to at most s."""
    label = _label(size)
    rows = 6
    hot = np.array([*rng.integers(0, size, rows - 2), -1, -1])
    hot_lo = np.where(hot >= 0, 1.0 - rng.uniform(0, 0.1, rows), 0.0)
    hot_hi = np.where(hot >= 0, 1.0 + rng.uniform(0, 0.01, rows), 0.0)
    cold_lo = -rng.uniform(0, 0.01, rows)
    cold_hi = rng.uniform(0, 0.1, rows)
    count = size - (hot >= 0)
    sum_hi = np.minimum(rng.uniform(0, 0.2, rows), count * cold_hi)
    sum_lo = count * cold_lo
    states = (*range(rows - 2), tables.NO_VALUE, tables.AT_BOS)
    return tables.build(label, states, hot, (hot_lo, hot_hi), (cold_lo, cold_hi), (sum_lo, sum_hi))


def _draw(rng: np.random.Generator, table: tables.Table, row: int, extreme: bool) -> np.ndarray:
    """A vector the row allows (``extreme``: coordinates at the ends of their ranges where the sum allows)."""
    size = table.label.size
    vector = np.zeros(size)
    cold = [i for i in range(size) if i != table.hot[row]]
    pick = (lambda low, high: rng.choice([low, high])) if extreme else rng.uniform
    budget = table.sum_hi[row] - table.cold_lo[row] * len(cold)
    for i in rng.permutation(cold):
        value = pick(table.cold_lo[row], table.cold_hi[row])
        extra = min(value - table.cold_lo[row], budget)
        budget -= extra
        vector[i] = table.cold_lo[row] + extra
    if table.hot[row] >= 0:
        vector[table.hot[row]] = pick(table.hot_lo[row], table.hot_hi[row])
    return vector


@pytest.mark.parametrize("seed", range(5))
def test_linear_bound_contains_every_allowed_vector_read_through_the_weights(seed: int) -> None:
    rng = np.random.default_rng(seed)
    table = _random_table(rng, 7)
    weights = rng.normal(size=(7, 5)) * rng.choice([0.0, 1.0, 40.0], size=(7, 5))
    bound = tables.linear_bound(table, weights)
    for row in range(table.num_rows):
        for trial in range(300):
            value = _draw(rng, table, row, extreme=trial % 2 == 0) @ weights
            assert np.all(value >= bound.low[row] - 1e-12) and np.all(value <= bound.high[row] + 1e-12)
            terms = np.abs(_draw(rng, table, row, True)[:, None] * weights)
            assert np.all(terms.sum(axis=0) <= bound.main[row] + bound.rest[row] + 1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_bilinear_bound_contains_every_allowed_pair_of_vectors(seed: int) -> None:
    rng = np.random.default_rng(seed)
    left, right = _random_table(rng, 5), _random_table(rng, 6)
    weights = rng.normal(size=(5, 6)) * 30.0
    rows_left, rows_right = np.arange(left.num_rows), np.arange(right.num_rows)
    center, reach = tables.bilinear_bound(left, right, weights, rows_left, rows_right)
    for a in rows_left:
        for b in rows_right:
            for trial in range(40):
                x, y = _draw(rng, left, a, trial % 2 == 0), _draw(rng, right, b, trial % 3 == 0)
                assert abs(x @ weights @ y - center[a, b]) <= reach[a, b] + 1e-9
                terms = np.abs(np.outer(x, y) * weights)
                hot = (left.hot[a], right.hot[b])
                others = terms.sum() - (terms[hot] if min(hot) >= 0 else 0.0)
                assert others <= reach[a, b] + 1e-9


def test_an_exact_table_reads_as_exact_values() -> None:
    label = _label(3)
    table = tables.ideal(label, (0, 1, 2, tables.NO_VALUE, tables.AT_BOS))
    weights = np.array([[1.0, -2.0], [0.5, 3.0], [0.0, 7.0]])
    bound = tables.linear_bound(table, weights)
    assert table.exact
    np.testing.assert_array_equal(bound.center, [[1.0, -2.0], [0.5, 3.0], [0.0, 7.0], [0, 0], [0, 0]])
    assert not np.any(bound.lo) and not np.any(bound.hi)


def test_a_tables_last_state_must_be_the_bos_position() -> None:
    with pytest.raises(OptracrBug, match="the last state is the BOS position's"):
        tables.build(_label(2), (0, 1), [0, 1], ([1, 1], [1, 1]), ([0, 0], [0, 0]), ([0, 0], [0, 0]))


@pytest.mark.parametrize("seed", range(3))
def test_reading_through_the_identity_is_each_directions_own_range(seed: int) -> None:
    rng = np.random.default_rng(seed)
    table = _random_table(rng, 4)
    bound = tables.linear_bound(table, np.eye(4))
    for row in range(table.num_rows):
        for trial in range(200):
            value = _draw(rng, table, row, extreme=trial % 2 == 0)
            assert np.all(value >= bound.low[row] - 1e-12) and np.all(value <= bound.high[row] + 1e-12)


def test_state_keys_are_each_states_key() -> None:
    states = [1, True, 1.0, 0.0, -0.0, float("nan"), "a", (1, 2.0), frozenset({1}), 2.5, -3, False, tables.NO_VALUE,
              tables.AT_BOS]
    keys = tables._state_keys(states)
    assert len(keys) == len(states)
    for key, state in zip(keys, states):
        assert key == tables.state_key(state) or (key is not state and repr(key) == repr(tables.state_key(state)))


def test_a_bound_lost_to_nan_becomes_unknown() -> None:
    nan = float("nan")
    table = tables.build(_label(2), (0, tables.AT_BOS), [0, -1], ([nan, 0.0], [1.0, nan]), ([0.0, nan], [0.0, 0.0]),
                         ([0.0, 0.0], [nan, 0.0]))
    assert table.hot_lo.tolist() == [-np.inf, 0.0] and table.hot_hi.tolist() == [1.0, np.inf]
    assert table.cold_lo.tolist() == [0.0, -np.inf] and table.sum_hi.tolist() == [np.inf, 0.0]
    assert table.center.tolist() == [1.0, 0.0]
    assert not table.hot_lo.flags.writeable


@pytest.mark.parametrize("field", ["hot_lo", "cold_hi", "sum_hi"])
def test_a_table_needs_one_entry_per_state_in_every_field(field: str) -> None:
    arrays = {"hot": [0, -1], "hot_lo": [1.0, 0.0], "hot_hi": [1.0, 0.0], "cold_lo": [0.0, 0.0],
              "cold_hi": [0.0, 0.0], "sum_lo": [0.0, 0.0], "sum_hi": [0.0, 0.0]}
    arrays[field] = arrays[field] + arrays[field][:1]
    with pytest.raises(OptracrBug, match=f"{field} needs one entry per state"):
        tables.build(_label(2), (0, tables.AT_BOS), arrays["hot"], (arrays["hot_lo"], arrays["hot_hi"]),
                     (arrays["cold_lo"], arrays["cold_hi"]), (arrays["sum_lo"], arrays["sum_hi"]))


def test_a_table_needs_one_hot_entry_per_state() -> None:
    with pytest.raises(OptracrBug, match="hot needs one entry per state"):
        tables.build(_label(2), (0, tables.AT_BOS), [0, -1, 1], ([1.0, 0.0], [1.0, 0.0]), ([0.0, 0.0], [0.0, 0.0]),
                     ([0.0, 0.0], [0.0, 0.0]))


@pytest.mark.parametrize("floats", [np.zeros((7, 3)), np.zeros((6, 2)), np.zeros((7, 2), dtype=np.float32)])
def test_a_table_of_float_rows_needs_seven_float64_rows_of_one_entry_per_state(floats: np.ndarray) -> None:
    with pytest.raises(OptracrBug, match="its float fields need one float64 entry per state each"):
        tables.Table.of(_label(2), (0, tables.AT_BOS), np.array([0, -1]), floats)


@pytest.mark.parametrize("seed", range(4))
def test_a_table_of_float_rows_is_the_table_of_its_fields(seed: int) -> None:
    rng = np.random.default_rng(seed)
    given = _random_table(rng, 4)
    fields = [getattr(given, name) for name in ("center", "hot_lo", "hot_hi", "cold_lo", "cold_hi", "sum_lo",
                                                "sum_hi")]
    fields[1] = np.where(rng.random(given.num_rows) < 0.3, np.nan, fields[1])  # lost bounds become unknown alike
    one_by_one = tables.Table(given.label, given.states, given.hot.copy(), *fields)
    at_once = tables.Table.of(given.label, given.states, given.hot.copy(), np.array(fields))
    for name in ("hot", "center", "hot_lo", "hot_hi", "cold_lo", "cold_hi", "sum_lo", "sum_hi"):
        assert getattr(one_by_one, name).tobytes() == getattr(at_once, name).tobytes(), name
        assert not getattr(at_once, name).flags.writeable
    assert at_once.states == one_by_one.states and at_once.label is one_by_one.label


@pytest.mark.parametrize("states", [(0.5, 2, True, tables.AT_BOS), (0.5, tables.NO_VALUE, -1, tables.AT_BOS)])
def test_a_numerical_tables_states_as_numbers_are_their_floats(states: tuple) -> None:
    label = _label(1, numerical=True)
    table = tables.ideal(label, states)
    numbers, is_value = table.numbers()
    expected = [0.0 if isinstance(state, type(tables.AT_BOS)) else float(state) for state in states]
    assert numbers.tolist() == expected and table.intended_hot().tolist() == expected
    assert is_value.tolist() == [not isinstance(state, type(tables.AT_BOS)) for state in states]


@pytest.mark.parametrize("seed", range(12))
def test_column_stats_hold_each_columns_two_largest_of_each_sign(seed: int) -> None:
    rng = np.random.default_rng(seed)
    weights = rng.choice([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0], size=(int(rng.integers(2, 7)), int(rng.integers(1, 6))))
    stats = tables._column_stats(weights)
    for sign, top, second, top_row in ((1.0, stats.top_positive, stats.second_positive, stats.top_positive_row),
                                       (-1.0, stats.top_negative, stats.second_negative, stats.top_negative_row)):
        part = np.maximum(sign * weights, 0.0)
        ordered = np.sort(part, axis=0)  # ties kept: the second largest may equal the largest
        assert top.tolist() == ordered[-1].tolist() and second.tolist() == ordered[-2].tolist()
        assert part[top_row, np.arange(weights.shape[1])].tolist() == top.tolist()
    assert stats.total.tolist() == weights.sum(axis=0).tolist()
    assert stats.absolute.tolist() == np.abs(weights).max(axis=0).tolist()


def test_states_keys_are_equal_exactly_when_the_states_are_by_value_key() -> None:
    key = tables.StatesKey
    assert key((1, "a", tables.NO_VALUE)) == key((1, "a", tables.NO_VALUE))
    assert hash(key((1, "a"))) == hash(key((1, "a")))
    assert key((1, "a")) != key((1.0, "a")) != key((True, "a"))  # equal values, hashed alike, told apart
    assert key((0.0,)) != key((-0.0,))
    assert key((1, 2)) != key((2, 1)) and key(()) == key(())
    table = tables.ideal(_label(3), (0, 1, 2, tables.AT_BOS))
    assert table.states_key(np.arange(3)) is table.states_key(np.arange(3))  # the value rows' key is remembered
    assert table.states_key(np.array([0, 2])) == key((0, 2))


def _tables_of_every_kind(rng: np.random.Generator) -> list[tuple[tables.Table, np.ndarray]]:
    """(table, weights) pairs reaching each of linear_bound's paths: exact rows, the identity, a single numerical
    direction, and the general rule."""
    noisy = _random_table(rng, 5)
    exact = tables.ideal(_label(5), (0, 1, 2, 3, tables.NO_VALUE, tables.AT_BOS))
    single = tables.build(_label(1, numerical=True), (0.5, 2.0, tables.AT_BOS), [0, 0, 0],
                          ([0.4, 1.9, 0.0], [0.6, 2.1, 0.0]),
                          ([0.0] * 3, [0.0] * 3), ([0.0] * 3, [0.0] * 3))
    return [(noisy, rng.normal(size=(5, 4)) * 20.0), (exact, rng.normal(size=(5, 3))), (noisy, np.eye(5)),
            (single, rng.normal(size=(1, 3))), (exact, np.eye(5))]


@pytest.mark.parametrize("seed", range(6))
def test_bounds_over_every_row_are_the_bounds_of_each_row_to_the_bit(seed: int) -> None:
    """Every row read as the table holds it gives, row by row, what reading chosen rows gives."""
    rng = np.random.default_rng(seed)
    for table, weights in _tables_of_every_kind(rng):
        every = tables.linear_bound(table, weights)
        chosen = np.sort(rng.choice(table.num_rows, size=table.num_rows - 1, replace=False))
        some = tables.linear_bound(table, weights, chosen)
        for name in ("center", "lo", "hi", "main", "rest"):
            assert getattr(every, name)[chosen].tobytes() == getattr(some, name).tobytes(), name
    left, right = _random_table(rng, 5), _random_table(rng, 6)
    weights = rng.normal(size=(5, 6)) * 30.0
    all_left, all_right = np.arange(left.num_rows), np.arange(right.num_rows)
    some_left, some_right = all_left[[0, 2, 5]], all_right[1:]
    every = tables.bilinear_bound(left, right, weights, all_left, all_right)
    some = tables.bilinear_bound(left, right, weights, some_left, some_right)
    for found, expected in zip(every, some, strict=True):
        assert found[np.ix_(some_left, some_right)].tobytes() == expected.tobytes()


@pytest.mark.parametrize("hot", [[0, 2, -1, 1, -1], [-1, -1], [1, 0, 2, 2, -1]])
def test_exact_one_hots_are_exact_by_the_tables_own_rule(hot: list[int]) -> None:
    table = tables.ideal_rows(_label(3), (*range(len(hot) - 1), tables.AT_BOS), hot)
    assert table.exact
    del table.__dict__["_exact"]  # the rule worked out afresh
    assert table.exact
