"""The embedding's tables against the plain rules: ``one``'s range is the least and largest token + position sum
over every pair, a compiled model's token and index rows are exact one-hots, and hot directions are found by
value (keyed by type)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from optracr import craft
from optracr.certify import embedding, residual, tables


def _one_by_pairs(layered, res: residual.Residual, max_length: int) -> tables.Table:
    """``one``'s table from every (token, position) pair's sum, as the embedding adds them."""
    label = res.labels[craft.ONE]
    tokens = list(layered.input_tokens)
    vocab_rows = [row for row, token in enumerate(tokens) if token not in (layered.bos, layered.pad)]
    token_rows = np.asarray(layered.token_embedding)[vocab_rows][:, label.positions]
    position_rows = np.asarray(layered.position_embedding)[1: max_length + 1][:, label.positions]
    both = token_rows[:, None, :] + position_rows[None, :, :]
    value = (np.asarray(layered.token_embedding)[tokens.index(layered.bos)]
             + np.asarray(layered.position_embedding)[0])[label.positions][0]
    low, high = float(both.min()), float(both.max())
    return tables.build(label, (1.0, tables.AT_BOS), [0, 0], ([low, value], [high, value]), ([0.0, 0.0], [0.0, 0.0]),
                        ([0.0, 0.0], [0.0, 0.0]), center=[1.0, 1.0])


def _with_one_column(layered, res: residual.Residual, tokens: list[float], positions: list[float]):
    """``layered`` with ``one``'s embedding column replaced (tokens: one entry per input token; positions: per
    position, BOS's first)."""
    column = res.labels[craft.ONE].positions[0]
    token_embedding = np.array(layered.token_embedding)
    position_embedding = np.array(layered.position_embedding)
    token_embedding[:, column] = tokens
    position_embedding[:, column] = positions
    return dataclasses.replace(layered, token_embedding=token_embedding, position_embedding=position_embedding)


@pytest.mark.parametrize("tokens_and_positions", [
    "random", "inf token, -inf position", "-inf token, inf position", "every token inf", "nan token",
])
def test_ones_range_is_the_least_and_largest_pair_sum(library_model, tokens_and_positions: str) -> None:
    model = library_model("length", "reference")
    layered = model.layered
    res = residual.residual_of(layered, model.program_graph)
    rng = np.random.default_rng(7)
    tokens = list(1.0 + rng.normal(scale=1e-3, size=len(layered.input_tokens)))
    positions = list(rng.normal(scale=1e-3, size=layered.max_seq_len + 1))
    if tokens_and_positions == "inf token, -inf position":
        tokens[0], positions[2] = np.inf, -np.inf
    elif tokens_and_positions == "-inf token, inf position":
        tokens[1], positions[1] = -np.inf, np.inf
    elif tokens_and_positions == "every token inf":
        tokens, positions[3] = [np.inf] * len(tokens), -np.inf
    elif tokens_and_positions == "nan token":
        tokens[0] = np.nan
    changed = _with_one_column(layered, res, tokens, positions)
    for length in (1, layered.max_seq_len):
        with np.errstate(invalid="ignore"):  # inf - inf: nothing is known there
            found = embedding.embedding_of(changed, res, length).tables[craft.ONE]
            expected = _one_by_pairs(changed, res, length)
        for field in ("hot", "center", "hot_lo", "hot_hi", "cold_lo", "cold_hi", "sum_lo", "sum_hi"):
            assert getattr(found, field).tobytes() == getattr(expected, field).tobytes(), field


def _one_hot_by_comparison(own_rows: np.ndarray, at_bos: np.ndarray, hot: np.ndarray) -> bool:
    rows = np.concatenate([own_rows, at_bos[None, :]])
    expected = np.zeros(rows.shape)
    has_hot = np.flatnonzero(hot >= 0)
    expected[has_hot, hot[has_hot]] = 1.0
    return bool((rows == expected).all())


@pytest.mark.parametrize("seed", range(40))
def test_one_hot_check_agrees_with_comparing_every_entry(seed: int) -> None:
    rng = np.random.default_rng(seed)
    states, size = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    hot = rng.integers(-1, size, states + 1)
    rows = np.zeros((states + 1, size))
    has_hot = np.flatnonzero(hot >= 0)
    rows[has_hot, hot[has_hot]] = 1.0
    if seed % 2:  # one entry off its one-hot: a small change, NaN, or a 1 where a 0 belongs
        row, column = int(rng.integers(states + 1)), int(rng.integers(size))
        rows[row, column] = [1e-12, np.nan, 1.0, -0.0][seed // 2 % 4]
    found = embedding._one_hot(rows[:-1], rows[-1], hot)
    assert found == _one_hot_by_comparison(rows[:-1], rows[-1], hot)
    # exact one-hots unless the changed entry is not what belongs there
    assert found == (seed % 2 == 0 or bool(rows[row, column] == (1.0 if column == hot[row] else 0.0)))


def test_direction_indices_key_values_by_type() -> None:
    values = (True, 1, 1.0, 0.0, -0.0, "a", (1, 2))
    directions = tuple(craft.BasisDirection("x", value) for value in values)
    label = residual.Label("x", residual.Role.SOP, directions, list(range(len(values))), False, "x")
    asked = [1, True, -0.0, 0.0, 1.0, "a", (1, 2), 2, "b", False]
    assert label.direction_indices(asked) == [label.direction_index(value) for value in asked]
    assert label.direction_indices(asked) == [1, 0, 4, 3, 2, 5, 6, -1, -1, -1]


@pytest.mark.parametrize("positions", [[3], [2, 3, 4], [0, 1], [1, 3], [0, 2, 3]])
def test_label_columns_are_a_slice_exactly_where_the_positions_are_consecutive(positions: list[int]) -> None:
    directions = tuple(craft.BasisDirection("x", value) for value in range(len(positions)))
    label = residual.Label("x", residual.Role.SOP, directions, positions, False, "x")
    columns = embedding._columns(label)
    matrix = np.arange(30.0).reshape(5, 6)
    assert matrix[:, columns].tolist() == matrix[:, positions].tolist()
    assert isinstance(columns, slice) == (positions == list(range(positions[0], positions[0] + len(positions))))
