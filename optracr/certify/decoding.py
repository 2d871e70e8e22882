"""The unembedding and the decoding rule: every value the output can hold decodes to the evaluator's answer.

A categorical output decodes to the class whose column is largest if it exceeds 1/2 (``DECODE_THRESHOLD``), else
None: the right class's column must stay above 1/2 and every other below it (for None, every column at most
1/2). A numerical output must be within ``tolerance`` of the value (relative to it when it exceeds 1 in size), the
rule ``verify`` compares with. The margin is how far the worst case stays inside.
"""

from __future__ import annotations

import math
import dataclasses
from collections.abc import Hashable

import numpy as np

from optracr import frontend
from optracr.certify import arrays
from optracr.certify import arithmetic as arithmetic_lib
from optracr.certify import context as context_lib
from optracr.certify import findings
from optracr.certify import meaning as meaning_lib
from optracr.certify import tables as tables_lib

THRESHOLD = 0.5
CHUNK_ENTRIES = 1 << 20
SMALL_CHUNK = 256  # up to this many combinations the smallest margins are kept one by one (cheaper than sorting)


@dataclasses.dataclass(frozen=True)
class Decoding:
    """What the output check found: the smallest margin, and per output value its margin."""

    margin: float
    values: tuple[Hashable, ...]  # every output value some combination should decode to (None for no value)
    value_margins: np.ndarray  # per value, the smallest margin
    checked: int  # combinations checked
    worst_error: float  # the output's largest distance from its exact encoding

    @property
    def margins(self) -> dict[str, float]:
        """Per output value (shown), the smallest margin."""
        found: dict[str, float] = {}
        for value, margin in zip(self.values, self.value_margins.tolist()):
            shown = tables_lib.shown(tables_lib.NO_VALUE if value is None else value)
            found[shown] = min(margin, found.get(shown, margin))
        return found


def check_output(context: context_lib.Context, tolerance: float) -> Decoding:
    """Checks every combination of what the unembedding reads; records a failure per value that can decode wrong."""
    layered = context.layered
    block = findings.Block("unembedding", writes=(layered.output_label,))
    reads = context.weights.unembedding
    try:
        frontier = list(context.meaning.frontier(layered.output_label))
    except Exception as error:  # CertifyError naming the s-op
        context.fail(block, str(error))
        return _nothing()
    names = list(dict.fromkeys([*frontier, *reads]))
    tables = {name: context.table(name, block, block.sublayer, read=name in reads) for name in names}
    if any(table is None for table in tables.values()):
        return _nothing()
    bounds = {name: tables_lib.linear_bound(tables[name], weights) for name, weights in reads.items()}
    rows = {name: tables_lib.rows_to_combine(tables[name], bounds.get(name), name in frontier) for name in names}
    combinations = context_lib.product_rows(names, [rows[name] for name in names])
    inner = math.prod(len(rows[name]) for name in names[len(frontier):])
    codes, distinct = context.intended(block, [layered.output_label], frontier, tables, rows)[layered.output_label]
    numerical = layered.output_encoding == frontend.rasp.Encoding.NUMERICAL
    absent = [value is None or value is meaning_lib.UNDEFINED for value in distinct]
    if any(absent):
        undefined = np.array([value is meaning_lib.UNDEFINED for value in distinct], dtype=bool)
        codes = arrays.where(undefined[codes], -1, codes)
    if numerical:
        targets = _numbers(distinct) if not any(absent) else np.array([_number(value) for value in distinct],
                                                                       dtype=np.float64)
    else:
        columns = _columns(distinct, layered.output_classes)
    terms = context.weights.unembedding_terms
    outputs = layered.unembedding.output_space.num_dims
    margin_of = arrays.filled(len(distinct), np.inf)
    worst_at = arrays.filled(len(distinct), -1, dtype=np.int64)
    worst_error = 0.0
    size = max(1, CHUNK_ENTRIES // max(outputs, 1))
    stacked = {name: np.array([bound.low, bound.high, bound.main + bound.rest, bound.rest], dtype=np.float64)
               for name, bound in bounds.items()}
    for start, chosen in combinations.chunks(size):
        count = len(next(iter(chosen.values()))) if chosen else 1
        code = codes if inner == 1 and start == 0 and count == len(codes) else codes[
            (start + np.arange(count)) // inner]
        if reads:  # per read label (low, high, main + rest, rest) summed over the labels, as from zeros
            low, high, total, rest = sum((stacked[name].take(chosen[name], axis=1) for name in reads), 0.0)
        else:  # nothing read: every output is 0
            low, high = np.zeros((len(code), outputs)), np.zeros((len(code), outputs))
            total = rest = 0.0
        rounding = context.arithmetic.dot_error(len(reads), total, rest, terms)
        low, high = low - rounding, high + rounding
        if numerical:
            margin, error = _numerical(targets[np.maximum(code, 0)], low[:, 0], high[:, 0], tolerance)
        else:
            margin, error = _categorical(columns[np.maximum(code, 0)], low, high)
        worst_error = max(worst_error, float(np.maximum.reduce(error[code >= 0], axis=None, initial=0.0)))
        _keep_smallest(margin_of, worst_at, code, arrays.where(np.isnan(margin), -np.inf, margin), start)
    seen = arrays.positions(worst_at >= 0)
    for index in seen[~(margin_of[seen] >= arithmetic_lib.SAFETY)].tolist():
        shown = tables_lib.shown(tables_lib.NO_VALUE if distinct[index] is None else distinct[index])
        rule = ("must stay within the tolerance of the value" if numerical else
                "the right class must stay above 1/2 and every other below it")
        states = combinations.states(tables, int(worst_at[index]))
        context.fail(block, f"the output for value {shown} is off by more than decoding allows ({rule}; margin "
                     f"{margin_of[index]:.3g})", findings.values_shown(states), float(margin_of[index]))
    checked = int(arrays.count_nonzero(codes >= 0)) * inner
    least = float(np.minimum.reduce(margin_of[seen], axis=None, initial=np.inf))
    return Decoding(least, tuple([distinct[index] for index in seen.tolist()]), margin_of[seen], checked, worst_error)


def _nothing() -> Decoding:
    """The outcome when the output cannot be checked at all (a failure says why)."""
    return Decoding(float("-inf"), (), np.zeros(0), 0, float("inf"))


def _keep_smallest(margin_of: np.ndarray, worst_at: np.ndarray, code: np.ndarray, margin: np.ndarray,
                   start: int) -> None:
    """Per value code, keeps the smallest margin met so far and where (the first combination with it); code -1
    (no answer there) is skipped."""
    if not len(code):
        return
    if len(code) <= SMALL_CHUNK:  # a few combinations: one by one, the rule as it reads
        kept, changed = margin_of.tolist(), {}
        for index, (value, number) in enumerate(zip(code.tolist(), margin.tolist())):
            if value >= 0 and number < kept[value]:
                kept[value] = number
                changed[value] = index
        for value, index in changed.items():
            margin_of[value], worst_at[value] = kept[value], start + index
        return
    order = np.lexsort((margin, code))  # by code, then margin; stable, so the first of equals
    by_code = code[order]
    first = np.empty(len(by_code), dtype=bool)
    first[0] = True
    np.not_equal(by_code[1:], by_code[:-1], out=first[1:])
    smallest, where = by_code[first], order[first]
    answered = smallest >= 0
    smallest, where = smallest[answered], where[answered]
    better = margin[where] < margin_of[smallest]
    margin_of[smallest[better]] = margin[where[better]]
    worst_at[smallest[better]] = start + where[better]


def _columns(values: list[Hashable], classes: tuple[Hashable, ...]) -> np.ndarray:
    """The class column of each value: -1 for None (and ``UNDEFINED``), -2 when the output has no class for it."""
    column_of = dict(zip(frontend.value_keys(classes), range(len(classes))))
    return np.array([-1 if value is None or value is meaning_lib.UNDEFINED else column_of.get(key, -2)
                     for value, key in zip(values, frontend.value_keys(values))], dtype=np.int64)


def _numbers(values: list[Hashable]) -> np.ndarray:
    """``_number`` of each value, none of them None or ``UNDEFINED`` (numpy converts a list as ``float`` does)."""
    try:
        found = np.array(values, dtype=np.float64)
        if found.shape == (len(values),):
            return found
    except (TypeError, ValueError, OverflowError):
        pass
    return np.array([_number(value) for value in values], dtype=np.float64)


def _number(value: Hashable) -> float:
    return np.nan if value is None or value is meaning_lib.UNDEFINED else float(value)


def _categorical(columns: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per combination (margin, error) for the class column it should decode to (-1: None, -2: missing)."""
    rows = np.arange(len(columns))
    has = columns >= 0
    every = arrays.every(has)  # every combination has a class (the usual case): no column to stand in for none
    safe = columns if every else np.maximum(columns, 0)
    others = arrays.where(columns[:, None] != np.arange(high.shape[1]), high, -np.inf)  # the right column left out
    other_high = np.maximum.reduce(others, axis=1, initial=-np.inf)
    own_low, own_high = low[rows, safe], high[rows, safe]
    margin = np.minimum(own_low - THRESHOLD, THRESHOLD - other_high)
    if not every:
        margin = arrays.where(has, margin, THRESHOLD - other_high)
        margin[columns == -2] = -np.inf
    # every other column (one whose high is finite) is off 0 by at most the larger of |low| and |high| there
    off = np.maximum.reduce(np.maximum(np.abs(low), np.abs(high)), axis=1, initial=0.0, where=np.isfinite(others))
    own_off = np.maximum(np.abs(1.0 - own_low), np.abs(own_high - 1.0))
    return margin, np.maximum(own_off if every else arrays.where(has, own_off, 0.0), off)


def _numerical(targets: np.ndarray, low: np.ndarray, high: np.ndarray, tolerance: float):
    """Per combination (margin, error) of a numerical output under ``verify``'s tolerance."""
    error = np.maximum(np.abs(low - targets), np.abs(high - targets))
    margin = tolerance * np.maximum(1.0, np.abs(targets)) - error
    return arrays.where(np.isnan(targets), -np.inf, margin), arrays.where(np.isnan(targets), np.inf, error)
