"""The unembedding and the decoding rule: every value the output can hold decodes to the evaluator's answer.

A categorical output decodes to the class whose column is largest if it exceeds 1/2 (``DECODE_THRESHOLD``), else
None: the right class's column must stay above 1/2 and every other below it (for None, every column at most
1/2). A numerical output must be within ``tolerance`` of the value (relative to it when it exceeds 1 in size), the
rule ``verify`` compares with. The margin is how far the worst case stays inside.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Hashable

import numpy as np

from optracr import frontend
from optracr.certify import arithmetic as arithmetic_lib
from optracr.certify import context as context_lib
from optracr.certify import findings
from optracr.certify import meaning as meaning_lib
from optracr.certify import residual as residual_lib
from optracr.certify import tables as tables_lib

THRESHOLD = 0.5


@dataclasses.dataclass(frozen=True)
class Decoding:
    """What the output check found: the smallest margin, and per output value its margin."""

    margin: float
    margins: dict[str, float]  # per output value (shown), the smallest margin
    checked: int  # combinations checked
    worst_error: float  # the output's largest distance from its exact encoding


def check_output(context: context_lib.Context, tolerance: float) -> Decoding:
    """Checks every combination of what the unembedding reads; records a failure per value that can decode wrong."""
    layered = context.layered
    unembedding = layered.unembedding
    block = findings.Block("unembedding", writes=(layered.output_label,))
    space = layered.residual_space
    reads = residual_lib.split_rows(context.residual, unembedding.input_space, unembedding.matrix, space)
    sublayer = block.sublayer
    try:
        frontier = list(context.meaning.frontier(layered.output_label))
    except Exception as error:  # CertifyError naming the s-op
        context.fail(block, str(error))
        return Decoding(float("-inf"), {}, 0, float("inf"))
    names = list(dict.fromkeys([*frontier, *reads]))
    tables = {name: context.table(name, block, sublayer, read=name in reads) for name in names}
    if any(table is None for table in tables.values()):
        return Decoding(float("-inf"), {}, 0, float("inf"))
    bounds = {name: tables_lib.linear_bound(tables[name], weights) for name, weights in reads.items()}
    rows = {}
    for name in names:
        all_rows = np.arange(tables[name].num_rows - 1)
        bound = bounds.get(name)
        same = bound is not None and name not in frontier and all(
            np.array_equal(part[all_rows], np.broadcast_to(part[:1], part[all_rows].shape))
            for part in (bound.center, bound.lo, bound.hi))
        rows[name] = all_rows[:1] if same else all_rows
    numerical = layered.output_encoding == frontend.rasp.Encoding.NUMERICAL
    classes = list(layered.output_classes)
    class_index = {frontend.value_key(value): column for column, value in enumerate(classes)}
    gamma = context.arithmetic.gamma(sum(np.count_nonzero(np.any(w != 0, axis=1)) for w in reads.values()) + 1)
    worst: dict[str, tuple[float, dict]] = {}
    worst_error, checked = 0.0, 0
    for choice in itertools.product(*(rows[name] for name in names)):
        chosen = dict(zip(names, choice))
        assignment = {name: _value(tables[name].states[row]) for name, row in chosen.items() if name in frontier}
        intended = context.meaning.value_of(layered.output_label, assignment)
        if intended is meaning_lib.UNDEFINED:
            continue
        low = sum((bounds[name].low[chosen[name]] for name in reads), np.zeros(unembedding.output_space.num_dims))
        high = sum((bounds[name].high[chosen[name]] for name in reads), np.zeros(unembedding.output_space.num_dims))
        size = sum((np.max(np.abs(reads[name])) * tables[name].magnitude()[chosen[name]] for name in reads), 0.0)
        low, high = low - gamma * size, high + gamma * size
        checked += 1
        if numerical:
            margin, error = _numerical_margin(intended, float(low[0]), float(high[0]), tolerance)
        else:
            margin, error = _categorical_margin(intended, low, high, class_index)
        worst_error = max(worst_error, error)
        key = tables_lib.shown(tables_lib.NO_VALUE if intended is None else intended)
        if key not in worst or margin < worst[key][0]:
            worst[key] = (margin, {name: tables[name].states[row] for name, row in chosen.items()})
    margins = {key: value[0] for key, value in worst.items()}
    for key, (margin, states) in worst.items():
        if margin < arithmetic_lib.SAFETY:
            rule = ("must stay within the tolerance of the value" if numerical else
                    "the right class must stay above 1/2 and every other below it")
            context.fail(block, f"the output for value {key} is off by more than decoding allows ({rule}; margin "
                         f"{margin:.3g})", findings.values_shown(states), margin)
    return Decoding(min(margins.values(), default=float("inf")), margins, checked, worst_error)


def _value(state: Hashable) -> Hashable:
    return None if state is tables_lib.NO_VALUE else state


def _categorical_margin(intended: Hashable, low: np.ndarray, high: np.ndarray,
                        class_index: dict) -> tuple[float, float]:
    """(margin, error) of a categorical output column range for ``intended``."""
    if intended is None:
        return THRESHOLD - float(high.max(initial=-np.inf)), float(np.max(np.abs(np.concatenate([low, high]))))
    column = class_index.get(frontend.value_key(intended))
    if column is None:
        return float("-inf"), float("inf")
    others = np.delete(high, column)
    other_low = np.delete(low, column)
    margin = min(float(low[column]) - THRESHOLD, THRESHOLD - float(others.max(initial=-np.inf)))
    error = max(abs(1.0 - low[column]), abs(high[column] - 1.0),
                float(np.max(np.abs(np.concatenate([others, other_low])), initial=0.0)))
    return margin, float(error)


def _numerical_margin(intended: Hashable, low: float, high: float, tolerance: float) -> tuple[float, float]:
    """(margin, error) of a numerical output range for ``intended`` under ``verify``'s tolerance."""
    value = float(intended)
    error = max(abs(low - value), abs(high - value))
    return tolerance * max(1.0, abs(value)) - error, error
