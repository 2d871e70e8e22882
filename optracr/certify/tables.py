"""The abstract domain: what a label's directions may hold at one position, per value its s-op has there.

A ``Table`` has one row per *state* of the label at a position: a value of its s-op, ``NO_VALUE`` (the s-op is
None there) or, always last, ``AT_BOS`` (the BOS position). A row bounds the label's directions:

- the *hot* direction (the one-hot's 1 for a categorical value; the one direction of a numerical label; none for
  ``NO_VALUE`` and mostly for ``AT_BOS``) lies in ``[hot_lo, hot_hi]``, around the reference ``center``;
- every other (*cold*) direction lies in ``[cold_lo, cold_hi]``, and their sum in ``[sum_lo, sum_hi]``.

The sum bound is what keeps one-hots read through wide weights tight: a head's stray softmax mass spreads over
many cold directions, each up to the mass, but all of them together hold no more than it.
``linear_bound`` and ``bilinear_bound`` turn rows into bounds on what weights read from them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence

import numpy as np

from optracr import frontend
from optracr.certify import arrays
from optracr.certify import residual as residual_lib
from optracr.errors import OptracrBug


class _State:
    """A state that is not a value: no value (None), or the BOS position."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def __reduce__(self) -> str:
        return self.name


NO_VALUE = _State("NO_VALUE")
AT_BOS = _State("AT_BOS")
ROW_CHUNK = 1 << 21  # entries of a (rows x columns) bound computed at once
_FLOAT_FIELDS = ("center", "hot_lo", "hot_hi", "cold_lo", "cold_hi", "sum_lo", "sum_hi")


def state_key(state: Hashable) -> Hashable:
    """A state's identity: ``frontend.value_key`` of a value, the marker itself otherwise."""
    return state if isinstance(state, _State) else frontend.value_key(state)


def _state_keys(states: Sequence[Hashable]) -> tuple[Hashable, ...]:
    """``state_key`` of every state."""
    return tuple([state if isinstance(state, _State) else key
                  for state, key in zip(states, frontend.value_keys(states))])


class StatesKey:
    """The identity of a sequence of states, as a memo key: equal when the states are, one by one by ``state_key``
    (so ``True``, ``1`` and ``1.0`` differ). Hashed once; the keys are compared (and worked out) only when two
    hashes meet, which equal states' always do (equal values hash alike)."""

    __slots__ = ("states", "_hash", "_keys")

    def __init__(self, states: tuple[Hashable, ...]) -> None:
        self.states = states
        self._hash = hash(states)
        self._keys: tuple[Hashable, ...] | None = None

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StatesKey):
            return NotImplemented
        return self._hash == other._hash and self.keys() == other.keys()

    def keys(self) -> tuple[Hashable, ...]:
        """``state_key`` of every state (worked out once)."""
        if self._keys is None:
            self._keys = _state_keys(self.states)
        return self._keys


def shown(state: Hashable) -> str:
    """A state in words."""
    if state is NO_VALUE:
        return "None"
    if state is AT_BOS:
        return "BOS"
    return repr(state)


@dataclasses.dataclass(frozen=True, eq=False)
class Table:
    """Bounds on a label's directions per state (module doc); the last row is the BOS position's."""

    label: residual_lib.Label
    states: tuple[Hashable, ...]
    hot: np.ndarray  # int, -1 where no direction is hot
    center: np.ndarray
    hot_lo: np.ndarray
    hot_hi: np.ndarray
    cold_lo: np.ndarray
    cold_hi: np.ndarray
    sum_lo: np.ndarray
    sum_hi: np.ndarray

    def __post_init__(self) -> None:
        try:  # every float field at once, one row each (a copy: the table owns its arrays)
            floats = np.array((self.center, self.hot_lo, self.hot_hi, self.cold_lo, self.cold_hi, self.sum_lo,
                               self.sum_hi), dtype=np.float64)  # _FLOAT_FIELDS, in order
        except ValueError:  # fields of different lengths
            floats = None
        self._settle(np.asarray(self.hot, dtype=np.int64), floats)

    @classmethod
    def of(cls, label: residual_lib.Label, states: tuple[Hashable, ...], hot: np.ndarray,
           floats: np.ndarray) -> Table:
        """The table of per-state ``hot`` directions (int64) and ``floats``, the float fields in order
        (``center``, ``hot_lo``, ... ``sum_hi``: a new float64 array of one row each, which the table takes)."""
        table = object.__new__(cls)
        fields = table.__dict__  # a frozen dataclass: its fields written as __post_init__ writes them
        fields["label"], fields["states"] = label, states
        table._settle(hot, floats if floats.dtype == np.float64 else None)
        return table

    def _settle(self, hot: np.ndarray, floats: np.ndarray | None) -> None:
        """Checks the arrays (one entry per state; the BOS position's state last) and keeps them read-only, each
        float field a row of ``floats``; a NaN bound (an inf - inf on the way) becomes what it leaves unknown."""
        rows = len(self.states)
        if rows == 0 or self.states[-1] is not AT_BOS:
            raise OptracrBug(f"table of {self.label.name!r}: the last state is the BOS position's")
        if hot.shape != (rows,):
            raise OptracrBug(f"table of {self.label.name!r}: hot needs one entry per state")
        if floats is None or floats.shape != (len(_FLOAT_FIELDS), rows):
            given = self.__dict__  # the fields one by one (a table built as a dataclass), to name the one at fault
            for field in _FLOAT_FIELDS:
                if field in given and np.shape(given[field]) != (rows,):
                    raise OptracrBug(f"table of {self.label.name!r}: {field} needs one entry per state")
            raise OptracrBug(f"table of {self.label.name!r}: its float fields need one float64 entry per state each")
        lost = np.isnan(floats)
        if arrays.some(lost):  # a bound lost to inf - inf: nothing is known there
            floats[0] = arrays.where(lost[0], 0.0, floats[0])
            for index, field in enumerate(_FLOAT_FIELDS[1:], start=1):
                floats[index] = arrays.where(lost[index], -np.inf if field.endswith("_lo") else np.inf, floats[index])
        hot.setflags(write=False)
        floats.setflags(write=False)
        fields = self.__dict__  # what object.__setattr__ writes to, at once
        fields["hot"], fields["_floats"] = hot, floats
        fields.update(zip(_FLOAT_FIELDS, floats))  # each field a row of ``floats``

    @property
    def exact(self) -> bool:
        """Whether every row is exact: the hot direction at its center, nothing elsewhere (the embedding's)."""
        cached = self.__dict__.get("_exact")
        if cached is None:
            floats = self.__dict__["_floats"]  # center, hot_lo, hot_hi, then the cold and sum boxes
            cached = not arrays.some(floats[3:]) and arrays.every(floats[1] == floats[2]) and arrays.every(
                arrays.where(self.hot >= 0, floats[1], floats[0]) == floats[0])
            object.__setattr__(self, "_exact", cached)
        return cached

    @property
    def hot_values(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """Per row, whether a direction is hot and the low end of its box there (else 0), and whether every row's
        is exactly 1 (remembered, read-only)."""
        found = self.__dict__.get("_hot_values")
        if found is None:
            has_hot = self.hot >= 0
            value = arrays.where(has_hot, self.hot_lo, 0.0)
            found = (self._remember("_has_hot", has_hot), self._remember("_hot_value", value),
                     arrays.every(has_hot) and arrays.every(value == 1.0))
            object.__setattr__(self, "_hot_values", found)
        return found

    @property
    def hot_places(self) -> np.ndarray:
        """Per row, its hot direction, 0 where none is: an index always valid (remembered, read-only)."""
        found = self.__dict__.get("_hot_places")
        return found if found is not None else self._remember("_hot_places", np.maximum(self.hot, 0))

    @property
    def hot_centers(self) -> np.ndarray:
        """Per row, the center where a direction is hot, else 0 (remembered, read-only)."""
        found = self.__dict__.get("_hot_centers")
        return found if found is not None else self._remember("_hot_centers",
                                                              arrays.where(self.hot >= 0, self.center, 0.0))

    @property
    def value_row_numbers(self) -> np.ndarray:
        """The rows after BOS's, as an array (remembered, read-only)."""
        found = self.__dict__.get("_value_row_numbers")
        return found if found is not None else self._remember("_value_row_numbers", np.arange(self.num_rows - 1))

    @property
    def row_numbers(self) -> np.ndarray:
        """Every row, BOS's last, as an array (remembered, read-only)."""
        found = self.__dict__.get("_row_numbers")
        return found if found is not None else self._remember("_row_numbers", np.arange(self.num_rows))

    def _remember(self, name: str, array: np.ndarray) -> np.ndarray:
        """Keeps an array worked out from the table (which never changes), read-only."""
        array.setflags(write=False)
        object.__setattr__(self, name, array)
        return array

    @property
    def deviation_sizes(self) -> np.ndarray:
        """Per row, a bound on the L1 size of (x - its center) (``_deviation_size``; remembered, read-only)."""
        found = self.__dict__.get("_deviation_sizes")
        return found if found is not None else self._remember("_deviation_sizes", _deviation_size(self))

    @property
    def num_rows(self) -> int:
        """States, the BOS position's included."""
        return len(self.states)

    @property
    def value_rows(self) -> range:
        """The rows of positions after BOS."""
        return range(len(self.states) - 1)

    @property
    def cold_count(self) -> np.ndarray:
        """Per row, how many directions are cold (remembered, read-only)."""
        found = self.__dict__.get("_cold_count")
        return found if found is not None else self._remember("_cold_count", self.label.size - (self.hot >= 0))

    def states_key(self, rows: np.ndarray) -> StatesKey:
        """The identity of the states of ``rows`` (a memo key for what depends on them; the value rows' is
        remembered per table)."""
        rows = rows.tolist() if isinstance(rows, np.ndarray) else list(rows)
        if len(rows) == len(self.states) - 1 and (len(rows) == 0 or (rows[0] == 0 and rows[-1] == len(rows) - 1)):
            found = self.__dict__.get("_value_states_key")
            if found is None:
                found = StatesKey(self.states[:-1])
                object.__setattr__(self, "_value_states_key", found)
            return found
        return StatesKey(tuple([self.states[row] for row in rows]))

    def row_of(self, state: Hashable) -> int:
        """The row of ``state`` (KeyError when the label never holds it)."""
        index = self.__dict__.get("_rows")
        if index is None:
            index = {state_key(s): row for row, s in enumerate(self.states)}
            object.__setattr__(self, "_rows", index)
        return index[state_key(state)]

    def error(self) -> np.ndarray:
        """Per row, the largest distance of any direction from the intended encoding (1 hot, 0 cold; a numerical
        label's value, 0 at BOS)."""
        floats = self.__dict__["_floats"]  # center, hot_lo, hot_hi, cold_lo, cold_hi, ...
        target = self.numbers()[0] if self.label.numerical else 1.0  # only read where a direction is hot
        hot = arrays.where(self.hot >= 0, np.maximum.reduce(np.abs(floats[1:3] - target), axis=0), 0.0)
        cold = arrays.where(self.cold_count > 0, np.maximum.reduce(np.abs(floats[3:5]), axis=0), 0.0)
        return np.maximum(hot, cold)

    def intended_hot(self) -> np.ndarray:
        """Per row, what the hot direction should hold: 1, or a numerical label's value (0 at BOS)."""
        if not self.label.numerical:
            return np.ones(self.num_rows)
        return self.numbers()[0]

    def numbers(self) -> tuple[np.ndarray, np.ndarray]:
        """A numerical label's states as numbers (0 for no value and at BOS), and which states are values
        (remembered per table)."""
        found = self.__dict__.get("_numbers")
        if found is None:
            try:  # every state but BOS's a value: numpy converts them as float() does
                numbers = np.array((*self.states[:-1], 0.0), dtype=np.float64)
                if numbers.shape != (self.num_rows,):
                    raise ValueError("a state is not one number")
                is_value = np.arange(self.num_rows) < self.num_rows - 1
            except (TypeError, ValueError, OverflowError):  # NO_VALUE among them (or no numbers at all)
                is_value = np.array([not isinstance(s, _State) for s in self.states], dtype=bool)
                numbers = np.array([float(s) if value else 0.0 for s, value in zip(self.states, is_value.tolist())])
            found = (numbers, is_value)
            for array in found:
                array.setflags(write=False)
            object.__setattr__(self, "_numbers", found)
        return found

    def magnitude(self) -> np.ndarray:
        """Per row, a bound on the sum of |direction| over the label (its L1 norm)."""
        hot = arrays.where(self.hot >= 0, np.maximum(np.abs(self.hot_lo), np.abs(self.hot_hi)), 0.0)
        cold = np.maximum(np.abs(self.sum_lo), np.abs(self.sum_hi)) + 2.0 * self.cold_count * np.maximum(
            0.0, -self.cold_lo
        )
        return hot + arrays.where(self.cold_count > 0, cold, 0.0)

    def replaced(self, **fields: np.ndarray) -> Table:
        """The table with some arrays replaced."""
        return dataclasses.replace(self, **fields)


def build(
    label: residual_lib.Label,
    states: Sequence[Hashable],
    hot: Sequence[int],
    hot_box: tuple[Sequence[float], Sequence[float]],
    cold_box: tuple[Sequence[float], Sequence[float]],
    sum_box: tuple[Sequence[float], Sequence[float]],
    center: Sequence[float] | None = None,
) -> Table:
    """A table from its arrays; the center defaults to 1 (categorical) or the middle of the hot box (numerical)."""
    hot = np.asarray(hot, dtype=np.int64)
    hot_lo, hot_hi = np.asarray(hot_box[0], dtype=np.float64), np.asarray(hot_box[1], dtype=np.float64)
    if center is None:
        center = (hot_lo + hot_hi) / 2.0 if label.numerical else 1.0
    center = arrays.where(hot >= 0, np.asarray(center, dtype=np.float64), 0.0)
    try:
        floats = np.array((center, hot_lo, hot_hi, *cold_box, *sum_box), dtype=np.float64)  # _FLOAT_FIELDS' order
    except ValueError:  # fields of different lengths: the table's check names the field
        return Table(label, tuple(states), hot, center, hot_lo, hot_hi, *cold_box, *sum_box)
    return Table.of(label, tuple(states), hot, floats)


def ideal(label: residual_lib.Label, states: Sequence[Hashable]) -> Table:
    """The exact encoding of each state: a one-hot (zero for None and at BOS), or the number (0 at BOS)."""
    states = tuple(states)
    if label.numerical:
        values = np.array([0.0 if isinstance(s, _State) else float(s) for s in states])
        zeros = np.zeros(len(states))
        return build(label, states, np.zeros(len(states), dtype=np.int64), (values, values), (zeros, zeros),
                     (zeros, zeros))
    return ideal_rows(label, states, [-1 if isinstance(s, _State) else label.direction_index(s) for s in states])


def ideal_rows(label: residual_lib.Label, states: Sequence[Hashable], hot: Sequence[int]) -> Table:
    """Exact one-hots: per state, 1 in its ``hot`` direction (none where it is -1) and 0 elsewhere."""
    hot = np.asarray(hot, dtype=np.int64)
    floats = np.zeros((len(_FLOAT_FIELDS), len(hot)))  # the cold and sum boxes 0
    floats[:3] = hot >= 0  # the center and the hot box: 1 where a direction is hot (``build``'s center), else 0
    table = Table.of(label, tuple(states), hot, floats)
    object.__setattr__(table, "_exact", True)  # every row its one-hot (or nothing), by construction
    return table


# ------------------------------------------------------------------------------------------ reading rows
@dataclasses.dataclass(frozen=True)
class Bound:
    """``x . w_j`` lies in ``center + [lo, hi]``, per (row, column j); ``main`` bounds the hot direction's term
    |w_h x_h| and ``rest`` the other terms' |w_i x_i| together (for rounding, ``arithmetic.dot_error``)."""

    center: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    main: np.ndarray
    rest: np.ndarray

    @property
    def low(self) -> np.ndarray:
        """The smallest value."""
        return self.center + self.lo

    @property
    def high(self) -> np.ndarray:
        """The largest value."""
        return self.center + self.hi


@dataclasses.dataclass(frozen=True)
class _ColumnStats:
    """Per column of a weight matrix: signed and positive/negative sums and the two largest of each sign."""

    total: np.ndarray
    absolute: np.ndarray
    positive: np.ndarray
    negative: np.ndarray
    top_positive: np.ndarray
    second_positive: np.ndarray
    top_positive_row: np.ndarray
    top_negative: np.ndarray
    second_negative: np.ndarray
    top_negative_row: np.ndarray


def _column_stats(weights: np.ndarray) -> _ColumnStats:
    positive, negative = np.maximum(weights, 0.0), np.maximum(-weights, 0.0)
    tops = []
    columns = np.arange(weights.shape[1])
    for part in (positive, negative):
        if part.shape[0] >= 2:
            top_row = part.argmax(axis=0)
            others = part.copy()
            others[top_row, columns] = -np.inf  # the largest taken out: the second largest is the others' largest
            tops.append((part[top_row, columns], np.maximum.reduce(others, axis=0), top_row))
        else:
            tops.append((part[0], np.zeros(part.shape[1]), np.zeros(part.shape[1], dtype=np.int64)))
    return _ColumnStats(np.add.reduce(weights, axis=0), np.maximum(
        np.maximum.reduce(positive, axis=0, initial=0.0), np.maximum.reduce(negative, axis=0, initial=0.0)),
        np.add.reduce(positive, axis=0), np.add.reduce(negative, axis=0), *tops[0], *tops[1])


def linear_bound(table: Table, weights: np.ndarray, rows: np.ndarray | None = None) -> Bound:
    """Bounds on ``x . weights[:, j]`` for every row's ``x`` (``weights``: label directions x columns).

    The hot direction contributes its weight times its box; the cold ones ``cold_lo`` times their weights' sum
    plus, for the part above ``cold_lo``, at most the largest weight of each sign times what the sum bound
    leaves, and at most every weight times the box's width.
    """
    weights = np.asarray(weights, dtype=np.float64)
    columns = weights.shape[1]
    step = max(1, ROW_CHUNK // max(1, columns))
    if rows is None and table.num_rows <= step:  # every row, in one chunk: the table's arrays as they are
        rows = slice(None)
    else:
        rows = np.arange(table.num_rows) if rows is None else np.asarray(rows)
    if table.exact and weights.shape[0]:
        return _exact_rows(table, weights, rows)
    if weights.shape[0] == columns > 1 and arrays.count_nonzero(weights) == columns and arrays.every(
            weights.diagonal() == 1.0):
        return _identity_rows(table, rows)
    if weights.shape[0] == 1 and not (arrays.some(table.hot) or arrays.some(table.__dict__["_floats"][3:])) and (
            arrays.every(np.isfinite(weights))):
        return _single_rows(table, weights, rows)
    stats = _column_stats(weights) if weights.shape[0] else None
    if isinstance(rows, slice):
        return _linear_rows(table, weights, stats, rows)
    parts = [_linear_rows(table, weights, stats, rows[start : start + step]) for start in range(0, len(rows), step)]
    if not parts:
        empty = np.zeros((0, columns))
        return Bound(empty, empty, empty, empty, empty)
    if len(parts) == 1:  # one chunk of rows: its bound as it is
        return parts[0]
    return Bound(*(arrays.concatenate([getattr(part, name) for part in parts])
                   for name in ("center", "lo", "hi", "main", "rest")))


def _exact_rows(table: Table, weights: np.ndarray, rows: np.ndarray | slice) -> Bound:
    """``linear_bound`` of a table whose rows are exact one-hots or numbers (nothing off them): the hot weight
    times the value."""
    if isinstance(rows, slice):  # every row (``rows`` is ``slice(None)``): what they hold, worked out once per table
        has_hot, value, ones = table.hot_values
    else:
        has_hot = table.hot[rows] >= 0
        value = arrays.where(has_hot, table.hot_lo[rows], 0.0)
        ones = arrays.every(has_hot) and arrays.every(value == 1.0)
    read = weights[table.hot_places[rows]]
    if ones:  # every row a one-hot's 1 (or the number 1)
        center = read  # the rows read as they are (w * 1.0 is w, bit for bit)
    else:
        center = arrays.where(has_hot[:, None], read, 0.0) * value[:, None]
    zeros = np.zeros(center.shape)
    return Bound(center, zeros, zeros, np.abs(center), zeros)


def _single_rows(table: Table, weights: np.ndarray, rows: np.ndarray) -> Bound:
    """``linear_bound`` of a one-direction label hot in every row with nothing cold (a numerical s-op), through
    finite weights: the weight times the box (what the general rule gives when there is no cold direction)."""
    floats = table.__dict__["_floats"][:, rows]  # center, hot_lo, hot_hi, cold_lo, ... of the rows
    weight = weights[0][None, :]
    center = weight * floats[0][:, None]
    ends = weight[None] * (floats[1:3] - floats[0])[:, :, None]  # (low end, high end) x rows x columns
    base = floats[3][:, None] * 0.0  # the cold part, of no size
    main = np.abs(weight) * np.maximum.reduce(np.abs(floats[1:3]), axis=0)[:, None]
    return Bound(center, *widened(np.minimum.reduce(ends, axis=0) + base - 0.0,
                                  np.maximum.reduce(ends, axis=0) + base + 0.0), main, np.zeros(center.shape))


def _identity_rows(table: Table, rows: np.ndarray) -> Bound:
    """``linear_bound`` through the identity (a categorical output read as it is): every direction its own range."""
    size = table.label.size
    hot = table.hot[rows]
    is_hot = np.arange(size)[None, :] == hot[:, None]
    center = arrays.where(is_hot, table.center[rows, None], 0.0)
    low = arrays.where(is_hot, table.hot_lo[rows, None], table.cold_lo[rows, None])
    high = arrays.where(is_hot, table.hot_hi[rows, None], table.cold_hi[rows, None])
    size_of = np.maximum(np.abs(low), np.abs(high))
    return Bound(center, low - center, high - center, arrays.where(is_hot, size_of, 0.0),
                 arrays.where(is_hot, 0.0, size_of))


def _linear_rows(table: Table, weights: np.ndarray, stats: _ColumnStats | None, rows: np.ndarray | slice) -> Bound:
    columns = weights.shape[1]
    if stats is None:
        zeros = np.zeros((table.num_rows if isinstance(rows, slice) else len(rows), columns))
        return Bound(zeros, zeros, zeros, zeros, zeros)
    floats = table.__dict__["_floats"][:, rows]  # center, hot_lo, hot_hi, cold_lo, cold_hi, sum_lo, sum_hi
    has_hot = (table.hot[rows] >= 0)[:, None]
    safe = table.hot_places[rows]
    hot_weight = arrays.where(has_hot, weights[safe], 0.0)
    center = hot_weight * floats[0][:, None]
    ends = hot_weight[None] * (floats[1:3] - floats[0])[:, :, None]  # (low end, high end) x rows x columns
    hot_lo, hot_hi = np.minimum.reduce(ends, axis=0), np.maximum.reduce(ends, axis=0)
    positive_hot, negative_hot = np.maximum(hot_weight, 0.0), np.maximum(-hot_weight, 0.0)
    total = stats.total - hot_weight
    positive = np.maximum(stats.positive - positive_hot, 0.0)
    negative = np.maximum(stats.negative - negative_hot, 0.0)
    at_top = has_hot & (stats.top_positive_row[None, :] == safe[:, None])
    largest_positive = arrays.where(at_top, stats.second_positive, stats.top_positive)
    at_top = has_hot & (stats.top_negative_row[None, :] == safe[:, None])
    largest_negative = arrays.where(at_top, stats.second_negative, stats.top_negative)
    cold_counts = table.cold_count[rows]
    cold_count = cold_counts[:, None].astype(np.float64)
    cold_lo, cold_hi = floats[3][:, None], floats[4][:, None]
    width = np.maximum(cold_hi - cold_lo, 0.0)
    room = np.maximum(np.minimum(floats[6][:, None] - cold_count * cold_lo, cold_count * width), 0.0)  # (clip at 0)
    up = np.minimum(positive * width, largest_positive * room)
    down = np.minimum(negative * width, largest_negative * room)
    base = cold_lo * total
    main = np.abs(hot_weight) * np.maximum.reduce(np.abs(floats[1:3]), axis=0)[:, None]
    cold_size = np.maximum.reduce(np.abs(floats[5:7]), axis=0) + 2.0 * cold_counts * np.maximum(0.0, -floats[3])
    rest = arrays.where(cold_count > 0, stats.absolute[None, :] * cold_size[:, None], 0.0)
    return Bound(center, *widened(hot_lo + base - down, hot_hi + base + up), main, np.fmin(rest, np.inf))


def rows_to_combine(table: Table, bound: Bound | None, needed: bool) -> np.ndarray:
    """The rows of ``table`` (BOS left out) a block must combine: every one where the program needs the value or
    nothing reads the label, else one when the weights read every row alike (``bound``: their reading)."""
    rows = table.value_row_numbers
    if needed or bound is None or len(rows) <= 1:
        return rows
    same = all(arrays.every(part[:-1] == part[:1]) for part in (bound.center, bound.lo, bound.hi))
    return rows[:1] if same else rows


_outer = np.multiply.outer  # np.outer's products (each entry x_i y_j), as one ufunc call


def bilinear_bound(left: Table, right: Table, weights: np.ndarray, left_rows: np.ndarray,
                   right_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x W y`` for ``x`` in each ``left_rows`` row and ``y`` in each ``right_rows`` row (each ascending, every row
    once), as (center, reach):
    the value lies within ``reach`` of ``center``, and ``reach`` also bounds the sum of |x_i W_ij y_j| over every
    term but the hot pair's.

    With x = c e_h + dx and y = c' e_h' + dy (c = 0 where no direction is hot):
    x W y = c c' W[h, h'] + dx.W e_h' c' + c e_h W.dy + dx W dy, and each deviation term is at most the largest
    |weight| it meets times the deviation's L1 size (``|dx . w| <= |dx|_1 max |w|``); the cross term is counted
    twice so that the hot entries' own deviations are covered.
    """
    # rows ascend, each once: as many as the table has are all of them, read as they are
    left_rows = slice(None) if len(left_rows) == left.num_rows else np.asarray(left_rows)
    right_rows = slice(None) if len(right_rows) == right.num_rows else np.asarray(right_rows)
    left_center, right_center = left.hot_centers[left_rows], right.hot_centers[right_rows]
    left_place, right_place = left.hot_places[left_rows], right.hot_places[right_rows]
    hot_weights = weights[left_place[:, None], right_place[None, :]]
    center = _outer(left_center, right_center) * hot_weights  # np.outer's product, then the weights
    if left.exact and right.exact:  # nothing off the hot entries
        return center, np.zeros(center.shape)
    left_hot, right_hot = left.hot[left_rows], right.hot[right_rows]
    absolute = np.abs(weights)
    column_max = np.maximum.reduce(absolute, axis=0) if weights.size else np.zeros(weights.shape[1])
    row_max = np.maximum.reduce(absolute, axis=1) if weights.size else np.zeros(weights.shape[0])
    largest = float(np.maximum.reduce(column_max, axis=None)) if weights.size else 0.0
    left_dev, right_dev = left.deviation_sizes[left_rows], right.deviation_sizes[right_rows]
    right_reach = np.abs(right_center) * arrays.where(right_hot >= 0, column_max[right_place], 0.0)
    left_reach = np.abs(left_center) * arrays.where(left_hot >= 0, row_max[left_place], 0.0)
    reach = _outer(left_dev, right_reach) + _outer(left_reach, right_dev) + 2.0 * largest * _outer(left_dev, right_dev)
    return center, np.fmin(reach, np.inf)  # NaN (a 0 x inf) is inf


def widened(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds with every NaN (an inf - inf or 0 x inf on the way) replaced by what it leaves unknown: -inf, inf."""
    return np.fmax(low, -np.inf), np.fmin(high, np.inf)  # each number as it is, NaN the other operand


def _deviation_size(table: Table) -> np.ndarray:
    """Per row, a bound on the L1 size of (x - its center)."""
    floats = table.__dict__["_floats"]  # center, hot_lo, hot_hi, cold_lo, cold_hi, sum_lo, sum_hi
    hot = arrays.where(table.hot >= 0, np.maximum.reduce(np.abs(floats[1:3] - floats[0]), axis=0), 0.0)
    cold_count = table.cold_count
    cold = np.maximum.reduce(np.abs(floats[5:7]), axis=0) + 2.0 * cold_count * np.maximum(0.0, -floats[3])
    return hot + arrays.where(cold_count > 0, cold, 0.0)
