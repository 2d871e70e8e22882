"""What the embedding puts in the residual, read off the token and position embedding matrices.

A position p >= 1 holding token t starts as ``token_embedding[t] + position_embedding[p]``; BOS as the BOS rows.
``one``, ``tokens`` and ``indices`` get tables with one row per token (per index; one row for ``one``) and the
BOS row; every other direction gets an *offset*, the range it starts in (zero in a compiled model), which the
block writing it adds to what it writes.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from optracr.certify import arrays
from optracr.certify import residual as residual_lib
from optracr.certify import tables


@dataclasses.dataclass(frozen=True)
class Offset:
    """Where a label's directions start: per direction a range after BOS, and the value at BOS."""

    lo: np.ndarray
    hi: np.ndarray
    at_bos: np.ndarray

    @property
    def zero(self) -> bool:
        """Whether every direction starts at exactly 0 everywhere."""
        return not (arrays.some(self.lo) or arrays.some(self.hi) or arrays.some(self.at_bos))


@dataclasses.dataclass(frozen=True)
class Embedding:
    """The tables of ``one``, ``tokens`` and ``indices``, and every other label's offset."""

    tables: dict[str, tables.Table]
    offsets: dict[str, Offset]


def embedding_of(layered, residual: residual_lib.Residual, max_length: int) -> Embedding:
    """The embedding's tables for inputs of length at most ``max_length`` over the model's vocabulary."""
    tokens = list(layered.input_tokens)
    vocab_rows = [row for row, token in enumerate(tokens) if token not in (layered.bos, layered.pad)]
    token_embedding = np.asarray(layered.token_embedding)
    position_embedding = np.asarray(layered.position_embedding)
    token_rows = token_embedding[vocab_rows]  # V x D
    position_rows = position_embedding[1 : max_length + 1]  # L x D
    at_bos = token_embedding[tokens.index(layered.bos)] + position_embedding[0]
    found, offsets = {}, {}
    low_all = np.minimum.reduce(token_rows, axis=0) + np.minimum.reduce(position_rows, axis=0)
    high_all = np.maximum.reduce(token_rows, axis=0) + np.maximum.reduce(position_rows, axis=0)
    started = (low_all != 0.0) | (high_all != 0.0) | (at_bos != 0.0)  # directions the embedding writes
    started_labels = {residual.label_at[position] for position in arrays.positions(started).tolist()}
    for name, label in residual.labels.items():
        if label.role is residual_lib.Role.TOKENS:
            states = [tokens[row] for row in vocab_rows]
            hot = np.array(label.direction_indices([*states, layered.bos]), dtype=np.int64)
            found[name] = _varying(label, states, hot, token_rows, position_rows, at_bos)
        elif label.role is residual_lib.Role.INDICES:
            states = list(range(len(position_rows)))
            hot = np.array([*label.direction_indices(states), -1], dtype=np.int64)
            found[name] = _varying(label, states, hot, position_rows, token_rows, at_bos)
        elif label.role is residual_lib.Role.ONE:
            columns = _columns(label)  # read only through minima and maxima: a view will do
            # the least (largest) of token + position per direction: the least (largest) sum, as rounding is monotone
            low = float(np.minimum.reduce(low_all[columns], axis=None))
            high = float(np.maximum.reduce(high_all[columns], axis=None))
            value = at_bos[columns][0]
            # after BOS, then at BOS: center 1, the hot box, nothing cold (the float fields in their order)
            floats = np.array([[1.0, 1.0], [low, value], [high, value], *([[0.0, 0.0]] * 4)], dtype=np.float64)
            found[name] = tables.Table.of(label, (1.0, tables.AT_BOS), np.zeros(2, dtype=np.int64), floats)
        elif name in started_labels:
            columns = label.positions
            offsets[name] = Offset(low_all[columns], high_all[columns], at_bos[columns])
    return Embedding(found, offsets)


def _columns(label: residual_lib.Label) -> slice | np.ndarray:
    """Where the label's directions sit in the residual: a slice when they are consecutive, else their positions."""
    positions = label.positions
    first = int(positions[0])
    return slice(first, first + label.size) if int(positions[-1]) - first == label.size - 1 else positions


def _varying(label, states, hot: np.ndarray, own_all, other_all, at_bos_all) -> tables.Table:
    """A table whose state (then BOS) picks a row of ``own_all`` (then ``at_bos_all``) in the label's columns, hot
    in the direction ``hot`` names (-1: none); ``other_all`` (the other embedding) ranges freely."""
    view = _columns(label)  # compared entry by entry only: a view will do
    if not arrays.count_nonzero(other_all[:, view]) and _one_hot(own_all[:, view], at_bos_all[view], hot):
        return tables.ideal_rows(label, (*states, tables.AT_BOS), hot)  # a compiled model's
    # the columns copied as indexing lays them out (sums over them round by their memory order)
    columns = label.positions
    own_rows, other_rows, at_bos = own_all[:, columns], other_all[:, columns], at_bos_all[columns]
    other_lo, other_hi = other_rows.min(axis=0), other_rows.max(axis=0)
    other_sums = other_rows.sum(axis=1)
    low = np.vstack([own_rows + other_lo, at_bos[None, :]])
    high = np.vstack([own_rows + other_hi, at_bos[None, :]])
    own_sums = arrays.concatenate([own_rows.sum(axis=1), [at_bos.sum()]])
    total_lo = own_sums + arrays.concatenate([np.full(len(states), other_sums.min()), [0.0]])
    total_hi = own_sums + arrays.concatenate([np.full(len(states), other_sums.max()), [0.0]])
    rows = np.arange(len(hot))
    has_hot = hot >= 0
    safe = np.maximum(hot, 0)
    hot_lo = arrays.where(has_hot, low[rows, safe], 0.0)
    hot_hi = arrays.where(has_hot, high[rows, safe], 0.0)
    cold = np.ones(low.shape, dtype=bool)
    cold[rows[has_hot], safe[has_hot]] = False
    any_cold = cold.any(axis=1)
    cold_lo = arrays.where(any_cold, np.minimum.reduce(arrays.where(cold, low, np.inf), axis=1, initial=np.inf), 0.0)
    cold_hi = arrays.where(any_cold, np.maximum.reduce(arrays.where(cold, high, -np.inf), axis=1, initial=-np.inf), 0.0)
    sum_lo = arrays.where(any_cold, np.maximum(arrays.where(cold, low, 0.0).sum(axis=1), total_lo - hot_hi), 0.0)
    sum_hi = arrays.where(any_cold, np.minimum(arrays.where(cold, high, 0.0).sum(axis=1), total_hi - hot_lo), 0.0)
    return tables.build(label, (*states, tables.AT_BOS), hot, (hot_lo, hot_hi), (cold_lo, cold_hi), (sum_lo, sum_hi))


def _one_hot(own_rows: np.ndarray, at_bos: np.ndarray, hot: np.ndarray) -> bool:
    """Whether each row of ``own_rows`` and then ``at_bos`` is exactly 1 at its ``hot`` column and 0 elsewhere (all 0
    where ``hot`` is -1)."""
    expected = hot[:, None] == np.arange(len(at_bos))  # True (1) at the hot column, False (0) elsewhere
    # NaN differs from everything
    return not (arrays.count_nonzero(own_rows != expected[:-1]) or arrays.count_nonzero(at_bos != expected[-1]))


def with_offset(table: tables.Table, offset: Offset | None, unit: float = 0.0) -> tables.Table:
    """``table`` after adding where its directions start (unchanged for a zero offset); adding a block's output
    to a nonzero start rounds, by at most ``unit`` times the sum's size."""
    if offset is None or offset.zero:
        return table
    rows = []
    for row in range(table.num_rows):
        at_bos = table.states[row] is tables.AT_BOS
        lo, hi = (offset.at_bos, offset.at_bos) if at_bos else (offset.lo, offset.hi)
        hot = int(table.hot[row])
        cold = np.ones(len(lo), dtype=bool)
        if hot >= 0:
            cold[hot] = False
        hot_add = (lo[hot], hi[hot]) if hot >= 0 else (0.0, 0.0)
        cold_add = (lo[cold].min(), hi[cold].max()) if cold.any() else (0.0, 0.0)
        sum_add = (lo[cold].sum(), hi[cold].sum()) if cold.any() else (0.0, 0.0)
        size = max(np.max(np.abs(lo)), np.max(np.abs(hi)), abs(table.hot_lo[row]), abs(table.hot_hi[row]),
                   abs(table.cold_lo[row]), abs(table.cold_hi[row]))
        rounding = 2.0 * unit * size
        count = max(1, int(cold.sum()))
        rows.append((table.hot_lo[row] + hot_add[0] - rounding, table.hot_hi[row] + hot_add[1] + rounding,
                     table.cold_lo[row] + cold_add[0] - rounding, table.cold_hi[row] + cold_add[1] + rounding,
                     table.sum_lo[row] + sum_add[0] - count * rounding, table.sum_hi[row] + sum_add[1] + count * rounding))
    columns = [np.array(column) for column in zip(*rows)]
    return table.replaced(hot_lo=columns[0], hot_hi=columns[1], cold_lo=columns[2], cold_hi=columns[3],
                          sum_lo=columns[4], sum_hi=columns[5])
