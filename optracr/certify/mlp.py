"""MLPs: for every combination of the values a group of hidden units reads, what it writes, by interval arithmetic.

A layer's hidden units split into groups that write disjoint labels (a block, or a fused region). For a group,
every combination of states of the labels it reads (and of the stored s-ops its outputs are functions of) gives
each unit's pre-activation as a center plus a deviation range (``tables.linear_bound``), widened by float
rounding. A unit whose range stays >= 0 is *active* (linear), one whose range stays <= 0 is silent, any other
passes anything from 0 to its highest value. What the active units read from a numerical input is combined
before it is bounded, so a step built from two units whose slopes cancel adds no error where the input sits on
a flat part. Each combination's output, grouped by the value the program gives the s-op it writes
(``meaning.value_of``), becomes that s-op's table.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable

import numpy as np
import scipy.sparse

from optracr import craft
from optracr.certify import arrays
from optracr.certify import context as context_lib
from optracr.certify import meaning as meaning_lib
from optracr.certify import residual as residual_lib
from optracr.certify import tables as tables_lib
from optracr.certify import weights as weights_lib

CHUNK_ENTRIES = 1 << 20  # combinations x units (or outputs) handled at once
MAX_COMBINED_DIRECTIONS = 64  # categorical directions a group's reads may have for the combined bound


def analyse_group(context: context_lib.Context, group: weights_lib.GroupWeights) -> None:
    """One group of a layer's hidden units: the tables of what it writes, or failures."""
    _Group(context, group).analyse()


class _Group:
    """One group of hidden units (``weights.GroupWeights``)."""

    def __init__(self, context: context_lib.Context, group: weights_lib.GroupWeights) -> None:
        self.context, self.group, self.block = context, group, group.block
        self.sublayer = group.block.sublayer
        self.reads, self.writes = group.reads, group.writes
        self.arithmetic = context.arithmetic

    # --------------------------------------------------------------------------------- setting up
    def analyse(self) -> None:
        """Checks the group and stores the tables of the labels it writes."""
        context = self.context
        for name in self.writes:
            if context.residual.labels[name].role is not residual_lib.Role.SOP:
                context.fail(self.block, f"writes into {name!r}, which no MLP may write (it belongs to "
                             f"{context.residual.labels[name].role.value})")
                return
        try:
            self.computed = frozenset(self.writes)
            frontier = list(dict.fromkeys(label for name in self.writes for label in context.meaning.frontier(
                name, own=True, computed=self.computed)))
        except Exception as error:  # a CertifyError naming the s-op
            context.fail(self.block, str(error))
            return
        names = list(dict.fromkeys([*frontier, *self.reads]))
        tables = {name: context.table(name, self.block, self.sublayer, read=name in self.reads) for name in names}
        if any(table is None for table in tables.values()):
            return
        bounds = {name: tables_lib.linear_bound(tables[name], weights) for name, weights in self.reads.items()}
        rows = {name: tables_lib.rows_to_combine(tables[name], bounds.get(name), name in frontier) for name in names}
        combinations = context_lib.product_rows(names, [rows[name] for name in names])
        if combinations.count > context_lib.MAX_COMBINATIONS:
            context.fail(self.block, f"reads {combinations.count:,} combinations of values of "
                         f"{', '.join(map(repr, names))}, more than the certificate checks "
                         f"({context_lib.MAX_COMBINATIONS:,})")
            return
        intended = self._intended(frontier, tables, rows, combinations)
        # A combination where any s-op the group computes has no value (a function raises) is no position of an
        # input with an answer: the evaluator raises on the whole input.
        possible = np.ones(combinations.count, dtype=bool)
        for codes, distinct in intended.values():
            if meaning_lib.holds_undefined(distinct):
                possible &= ~np.array([value is meaning_lib.UNDEFINED for value in distinct], dtype=bool)[codes]
        outputs = self._outputs(tables, bounds, combinations, possible)  # the BOS position's last
        for name in self.writes:
            self._store(name, intended[name], possible, outputs, tables, combinations)

    def _intended(self, frontier: list[str], tables: dict, rows: dict,
                  combinations: context_lib.Combinations) -> dict[str, tuple[np.ndarray, list[Hashable]]]:
        """Per written label, the program's value at every combination, as (codes, distinct values)."""
        inner = math.prod(len(rows[name]) for name in combinations.names[len(frontier):])
        found = self.context.intended(self.block, list(self.writes), frontier, tables, rows, own=True)
        return {name: (codes if inner == 1 else np.repeat(codes, inner), distinct)
                for name, (codes, distinct) in found.items()}

    # --------------------------------------------------------------------------------- computing
    def _outputs(self, tables: dict, bounds: dict, combinations: context_lib.Combinations,
                 possible: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per combination, bounds (low, high) on every written direction (columns: the writes in order); only
        the ``possible`` combinations are bounded when they are at most half (the others are left at 0: no input
        reaches them, and nothing reads them)."""
        only = arrays.positions(possible) if 2 * int(arrays.count_nonzero(possible)) <= len(possible) else None
        low, high = self._bounded(tables, bounds, combinations, only)
        if only is None:
            return low, high
        full_low, full_high = (np.zeros((len(possible) + 1, low.shape[1])) for _ in range(2))
        full_low[only], full_high[only] = low[:-1], high[:-1]
        full_low[-1], full_high[-1] = low[-1], high[-1]
        return full_low, full_high

    def _bounded(self, tables: dict, bounds: dict, combinations: context_lib.Combinations,
                 only: np.ndarray | None) -> tuple[np.ndarray, ...]:
        """``_outputs`` over the combinations ``only`` lists (every one when None), the BOS position's last."""
        snd = self.group.second_layer  # units x outputs
        units, outputs = snd.shape
        second_layer = self.arithmetic.gamma(self.group.second_layer_terms + 1)
        numerical = [name for name in self.reads if self.context.residual.labels[name].numerical
                     and name != craft.ONE]
        terms = self.group.first_layer_terms
        mats = self.group.second_layer_parts
        lows, highs = [], []
        size = max(1, CHUNK_ENTRIES // max(units, outputs, 1))
        bos = {name: np.array([tables[name].num_rows - 1]) for name in combinations.names}
        # per read label, what every combination sums over the labels, stacked: the center, main + rest and rest
        # (summed over every label), the deviation's low and high ends (over the categorical ones, then the
        # numerical ones); one gather per label, the sums added label by label as one each would be
        stacked = {name: np.array([bounds[name].center, bounds[name].main + bounds[name].rest, bounds[name].rest,
                                   bounds[name].lo, bounds[name].hi], dtype=np.float64) for name in self.reads}
        single = {name for name in self.reads if len(combinations.rows[combinations.names.index(name)]) == 1}
        for chosen, with_bos in _with_bos(combinations.chunks(size, only), bos):
            count = len(next(iter(chosen.values()))) if chosen else 1
            # a label of one row reads alike in every combination of a chunk without BOS: a row, broadcast
            fixed = set() if with_bos else single
            every, deviations = 0, {False: 0.0, True: 0.0}  # sums: over every label; categorical, numerical
            for name in self.reads:
                index = chosen[name][:1] if name in fixed else chosen[name]
                every = _added(every, stacked[name][:3].take(index, axis=1), (3, count, units))
                deviations[name in numerical] = _added(deviations[name in numerical],
                                                       stacked[name][3:].take(index, axis=1), (2, count, units))
            center, total, rest = _spread_to(every, (3, count, units))
            (cat_lo, cat_hi), (num_lo, num_hi) = (_ends(deviations[kind], (2, count, units)) for kind in (False, True))
            rounding = self.arithmetic.dot_error(len(self.reads), total, rest, terms)
            center_lo, center_hi = center + cat_lo, center + cat_hi
            low = center_lo + num_lo
            low -= rounding
            high = center_hi + num_hi
            high += rounding
            active = low >= 0.0
            h_lo = arrays.where(active, center_lo - rounding, 0.0)
            h_hi = arrays.where(active, center_hi + rounding, np.maximum(high, 0.0))
            out_lo = _times(h_lo, mats[0]) - _times(h_hi, mats[1])
            out_hi = _times(h_hi, mats[0]) - _times(h_lo, mats[1])
            # what the active units read from a numerical input, combined first
            numerical_ends = [self._combined_ends(tables[name], chosen[name], self.reads[name][0], active, None)
                              for name in numerical]
            for low_end, high_end in numerical_ends:
                out_lo += low_end
                out_hi += high_end
            if arrays.some(active):
                out_lo, out_hi = self._categorical_combined(tables, chosen, center, high, rounding, active,
                                                            numerical, numerical_ends, (out_lo, out_hi))
            spread = second_layer * _times(np.maximum(np.abs(h_lo), np.abs(h_hi)), mats[2])
            low_side, high_side = tables_lib.widened(out_lo - spread, out_hi + spread)
            lows.append(low_side)
            highs.append(high_side)
        if not lows:
            return np.zeros((0, outputs)), np.zeros((0, outputs))
        if len(lows) == 1:  # one chunk: its arrays as they are
            return lows[0], highs[0]
        return arrays.concatenate(lows), arrays.concatenate(highs)

    def _combined_ends(self, table: tables_lib.Table, row: np.ndarray, weights: np.ndarray, active: np.ndarray,
                       direction: int | None) -> tuple[np.ndarray, np.ndarray]:
        """The (low, high) ends of what the active units make, through the second layer, of one input direction's
        deviation from its center: the hot direction's box, or ``[cold_lo, cold_hi]`` where another direction is
        hot (``direction`` None: a numerical input, always hot)."""
        coefficient = _times(active * weights, self.group.sparse_second_layer)
        hot_deviation = (table.hot_lo[row] - table.center[row], table.hot_hi[row] - table.center[row])
        if direction is None:
            low, top = hot_deviation
        else:
            is_hot = table.hot[row] == direction
            low = arrays.where(is_hot, hot_deviation[0], table.cold_lo[row])
            top = arrays.where(is_hot, hot_deviation[1], table.cold_hi[row])
        ends = (coefficient * low[:, None], coefficient * top[:, None])
        return np.minimum(*ends), np.maximum(*ends)

    def _categorical_combined(self, tables: dict, chosen: dict, center: np.ndarray, high: np.ndarray,
                              rounding: np.ndarray, active: np.ndarray, numerical: list[str],
                              numerical_ends: list[tuple[np.ndarray, np.ndarray]],
                              bounds: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """``bounds`` narrowed by a second bound in which what the active units read from each categorical input
        is combined before it is bounded, direction by direction (as for a numerical input): units that read a
        one-hot alike, such as the two ramps of a step, then cancel its deviation instead of adding it. Both bounds
        hold, so their intersection does."""
        categorical = [name for name in self.reads if name not in numerical and not tables[name].exact]
        if not categorical or sum(self.reads[name].shape[0] for name in categorical) > MAX_COMBINED_DIRECTIONS:
            return bounds
        mats = self.group.second_layer_parts
        h_lo = arrays.where(active, center - rounding, 0.0)
        h_hi = arrays.where(active, center + rounding, np.maximum(high, 0.0))
        out_lo = _times(h_lo, mats[0]) - _times(h_hi, mats[1])
        out_hi = _times(h_hi, mats[0]) - _times(h_lo, mats[1])
        categorical_ends = (self._combined_ends(tables[name], chosen[name], weights, active, direction)
                            for name in categorical for direction, weights in enumerate(self.reads[name])
                            if arrays.some(weights))
        for low_end, high_end in (*numerical_ends, *categorical_ends):
            if not (arrays.every(np.isfinite(low_end)) and arrays.every(np.isfinite(high_end))):
                return bounds  # an input with no finite bound: the unit-by-unit bound is all there is
            out_lo = out_lo + low_end
            out_hi = out_hi + high_end
        return np.maximum(bounds[0], out_lo), np.minimum(bounds[1], out_hi)

    # --------------------------------------------------------------------------------- storing
    def _store(self, name: str, intended: tuple[np.ndarray, list[Hashable]], possible: np.ndarray,
               outputs: tuple[np.ndarray, np.ndarray], tables: dict, combinations: context_lib.Combinations) -> None:
        """Stores the table of ``name`` from ``outputs`` (low, high: per combination, then BOS, every written
        direction)."""
        label = self.context.residual.labels[name]
        start = 0
        for other in self.writes:
            if other == name:
                break
            start += self.context.residual.labels[other].size
        whole = start == 0 and label.size == outputs[0].shape[1]  # the group writes this label alone
        low_all, high_all = outputs if whole else (side[:, start : start + label.size] for side in outputs)
        low, high = low_all[:-1], high_all[:-1]
        value_codes, distinct = intended
        undefined = [value is meaning_lib.UNDEFINED for value in distinct]
        # the combinations with a value (where no function raises and the others leave possible): at every one,
        # the codes and outputs as they are
        everywhere = not any(undefined) and arrays.every(possible)
        defined = possible if not any(undefined) else ~np.array(undefined, dtype=bool)[value_codes] & possible
        defined_codes = value_codes if everywhere else value_codes[defined]
        met = np.zeros(len(distinct), dtype=bool)
        met[defined_codes] = True
        if arrays.every(met):  # every value met (so none undefined): the codes as they are
            states, codes = [tables_lib.NO_VALUE if value is None else value for value in distinct], defined_codes
        else:
            kept = arrays.positions(met).tolist()
            states = [tables_lib.NO_VALUE if distinct[index] is None else distinct[index] for index in kept]
            renumber = arrays.filled(len(distinct), -1, dtype=np.int64)
            renumber[kept] = np.arange(len(kept))
            codes = renumber[defined_codes]
        hot_list = [0] * len(states) if label.numerical else label.direction_indices(states)
        hot = np.array([*hot_list, 0 if label.numerical else -1], dtype=np.int64)  # per state, then BOS
        missing = [state for state, index in zip(states, hot_list) if index < 0 and state is not tables_lib.NO_VALUE]
        if missing:
            self.context.fail(self.block, f"the program gives {name!r} the value {missing[0]!r}, which has no "
                              "direction in the residual (value-set inference missed it)")
        # every combination's summary and, last, the BOS position's (each row's on its own, so at once); at every
        # combination, the outputs as they are (C order, as a concatenation would lay them out)
        if everywhere and low_all.flags.c_contiguous and high_all.flags.c_contiguous:
            low_rows, high_rows = low_all, high_all
        else:
            low_rows = arrays.concatenate([low if everywhere else low[defined], low_all[-1:]])
            high_rows = arrays.concatenate([high if everywhere else high[defined], high_all[-1:]])
        summaries = _summaries(label, arrays.concatenate([hot[codes], hot[-1:]]), low_rows, high_rows)
        rows = tuple(part[:-1] for part in summaries)
        hulls = _hull(rows[1:], codes, len(states), [part[-1] for part in summaries[1:]])
        table = tables_lib.build(label, (*states, tables_lib.AT_BOS), hot,
                                 (hulls[0], hulls[1]), (hulls[2], hulls[3]), (hulls[4], hulls[5]))
        self.context.store(name, table)
        # what blame names if the proof fails: found then, from what this block saw
        self.context.details[name] = {"block": self.block, "kind": "mlp", "worst": functools.partial(
            _worst, label, states, codes, rows, defined, tables, combinations)}


def _worst(label, states, codes, rows, defined, tables, combinations) -> dict | None:
    """The combination furthest from its exact encoding (its values, intended value, error and range)."""
    positions = np.flatnonzero(defined)
    _, hot_lo, hot_hi, cold_lo, cold_hi = rows[:5]
    if label.numerical:
        wanted = np.array([0.0 if isinstance(state, type(tables_lib.NO_VALUE)) else float(state)
                           for state in states])[codes]
        errors = np.maximum(np.abs(hot_lo - wanted), np.abs(hot_hi - wanted))
    else:
        hot_error = arrays.where(rows[0] >= 0, np.maximum(np.abs(hot_lo - 1.0), np.abs(hot_hi - 1.0)), 0.0)
        errors = np.maximum(hot_error, np.maximum(np.abs(cold_lo), np.abs(cold_hi)))
    worst = None
    if len(errors):
        index = int(np.argmax(errors))
        state = states[codes[index]]
        worst = {"values": combinations.states(tables, int(positions[index])),
                 "intended": None if state is tables_lib.NO_VALUE else state, "error": float(errors[index]),
                 "range": (float(hot_lo[index]), float(hot_hi[index]))}
    return worst


def _added(found, part: np.ndarray, shape: tuple[int, ...]):
    """``found + part`` (``found`` a number to start, or a sum so far), in place once ``found`` has ``shape``."""
    if isinstance(found, np.ndarray) and found.shape == shape:  # ``part`` is a row or ``shape``
        np.add(found, part, out=found)
        return found
    return found + part


def _spread_to(found, shape: tuple[int, ...]) -> np.ndarray:
    """``found`` (a sum so far, or the number it started at) as an array of ``shape`` (broadcast only when it is
    not one already)."""
    if isinstance(found, np.ndarray) and found.shape == shape:
        return found
    return np.broadcast_to(found, shape)


def _ends(found, shape: tuple[int, ...]) -> tuple:
    """``found`` (a sum so far of (low end, high end) pairs, or the 0.0 it started at) as its two ends: 0.0 each
    while nothing was added (adding it adds what an array of zeros would), else arrays of ``shape[1:]``."""
    if isinstance(found, float):
        return found, found
    return tuple(_spread_to(found, shape))


def _with_bos(chunks, bos: dict[str, np.ndarray]):
    """The chunks' rows, with the BOS position's combination after the last; each with whether it holds BOS."""
    last = None
    for _, chosen in chunks:
        if last is not None:
            yield last, False
        last = chosen
    if last is None:
        yield bos, True
    else:
        yield {name: arrays.concatenate([rows, bos[name]]) for name, rows in last.items()}, True


def _times(dense: np.ndarray, matrix) -> np.ndarray:
    """``dense @ matrix`` for a dense or sparse ``matrix``, as a dense array."""
    if not isinstance(matrix, np.ndarray) and scipy.sparse.issparse(matrix):
        return np.asarray((matrix.T @ dense.T).T)
    return dense @ matrix


def _summaries(label: residual_lib.Label, hot: np.ndarray, low: np.ndarray,
               high: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per combination: (hot, hot low, hot high, cold low, cold high, cold sum low, cold sum high)."""
    count = len(hot)
    rows = np.arange(count)
    has_hot = hot >= 0
    safe = np.maximum(hot, 0)
    hot_lo = arrays.where(has_hot, low[rows, safe], 0.0) if label.size else np.zeros(count)
    hot_hi = arrays.where(has_hot, high[rows, safe], 0.0) if label.size else np.zeros(count)
    if label.size <= 1 and label.numerical:
        zeros = np.zeros(count)
        return hot, hot_lo, hot_hi, zeros, zeros, zeros, zeros
    mask = hot[:, None] != np.arange(label.size)  # the cold entries (every one where no direction is hot)
    cold_lo = np.minimum.reduce(low, axis=1, where=mask, initial=np.inf)
    cold_hi = np.maximum.reduce(high, axis=1, where=mask, initial=-np.inf)
    sum_lo = np.add.reduce(arrays.where(mask, low, 0.0), axis=1)  # ``sum(axis=1)`` without its Python wrapper
    sum_hi = np.add.reduce(arrays.where(mask, high, 0.0), axis=1)
    # A row with no cold direction (a one-direction label, hot) has the empty cold box 0; an unbounded cold entry
    # elsewhere keeps its infinite end (nothing is known there).
    no_cold = ~np.logical_or.reduce(mask, axis=1)
    cold_lo = arrays.where(no_cold, 0.0, cold_lo)
    cold_hi = arrays.where(no_cold, 0.0, cold_hi)
    return hot, hot_lo, hot_hi, cold_lo, cold_hi, sum_lo, sum_hi


def _hull(rows: tuple[np.ndarray, ...], codes: np.ndarray, count: int, bos: list[float]) -> list[np.ndarray]:
    """Per state (each met by some combination), the hull of the summaries (hot low, hot high, cold low, cold high,
    sum low, sum high) of its combinations, and last the BOS position's summary ``bos``."""
    if len(codes) == count:  # every state met once (as every state is met): its one combination's summary
        found = np.empty((6, count + 1))
        found[:, codes] = rows
        found[:, count] = bos
        return list(found)
    lows = arrays.filled((count + 1, 3), np.inf)  # per state, the low sides (hot, cold, sum); BOS's last
    highs = arrays.filled((count + 1, 3), -np.inf)
    np.minimum.at(lows, codes, np.array(rows[0::2]).T)
    np.maximum.at(highs, codes, np.array(rows[1::2]).T)
    lows[count], highs[count] = bos[0::2], bos[1::2]
    return [side[:, index] for index in range(3) for side in (lows, highs)]
