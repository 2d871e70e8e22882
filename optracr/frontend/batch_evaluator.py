"""The RASP evaluator over many inputs at once: the same answers as ``evaluate``, in numpy, for ``verify``.

``evaluate`` (evaluator.py) is the meaning of a program, written for one input; checking a model on every input
calls it hundreds of times, and each call runs every user function at every position. Here the inputs of one
length are evaluated together. Each s-op is a ``_Column``: a table of its distinct values (keyed by
``typed_values.value_key``, so ``True``, ``1`` and ``1.0`` stay apart) and, per input and position, a code into
that table. A function runs once per distinct value (or pair of values that occur together); selectors are
boolean arrays (input x query x key); aggregates are numpy reductions that keep ``evaluate``'s arithmetic exactly
(the sum in key order, from zero, then one division).

An input where ``evaluate`` raises ``EvaluationError`` is undefined: its result is None. Wherever this module
cannot promise ``evaluate``'s exact answer (unhashable values, a numerical aggregate over values other than
plain ints, floats and bools or over ints too large for a float, constants whose length ignores the input,
expression types it does not know), it evaluates those inputs one by one with ``evaluate`` instead.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from optracr import errors
from optracr.frontend import evaluator
from optracr.frontend import language
from optracr.frontend import typed_values
from optracr.frontend.errors import EvaluationError

Value = Any
_EXACT_INT_LIMIT = 2**53  # every int up to this is a float64 exactly
_PRODUCT_CALLS = 64  # a function is run on every pair of two tables up to this many pairs


def evaluate_batch(
    expr: language.SOp, inputs: Sequence[Sequence[Value]], causal: bool = False
) -> list[list[Value] | None]:
    """``evaluate(expr, xs, causal)`` for every ``xs`` in ``inputs``, in order; None where it would raise
    ``EvaluationError``. Any other error ``evaluate`` would raise propagates."""
    if not isinstance(expr, language.SOp):
        raise errors.OptracrTypeError(getattr(expr, "label", None), f"evaluate_batch evaluates s-ops, got a "
                                      f"{type(expr).__name__}; evaluate a selector with rasp.evaluate")
    inputs = [list(xs) for xs in inputs]
    results: list[list[Value] | None] = [None] * len(inputs)
    numbers = [number for number, xs in enumerate(inputs) if xs]  # the empty input: evaluate's own business
    for number in range(len(inputs)):
        if not inputs[number]:
            results[number] = _one_by_one(expr, inputs[number], causal)
    try:
        groups = [numbers] if numbers else []
        evaluated = [_evaluate_padded(expr, [inputs[number] for number in numbers], causal)] if numbers else []
    except _MixedLengths:  # constants are evaluated one length at a time
        by_length: dict[int, list[int]] = {}
        for number in numbers:
            by_length.setdefault(len(inputs[number]), []).append(number)
        groups = list(by_length.values())
        evaluated = [_evaluate_padded(expr, [inputs[number] for number in group], causal) for group in groups]
    for group, group_results in zip(groups, evaluated):
        for number, result in zip(group, group_results):
            results[number] = result
    return results


class _Unbatchable(Exception):
    """This batch needs ``evaluate``, input by input, for an exact answer."""


class _MixedLengths(Exception):
    """This batch holds inputs of several lengths, and a constant must see one at a time."""


@dataclasses.dataclass(frozen=True)
class _Column:
    """An s-op over a batch: ``table[codes[b, i]]`` is its value at position i of input b (i < its length)."""

    table: tuple[Value, ...]
    codes: np.ndarray  # (inputs, positions) int


@dataclasses.dataclass(frozen=True)
class _Selection:
    """A selector over a batch: what it picks and where that is decided, both (inputs, queries, keys) bool;
    nothing is decided at a query or key position past the input's end."""

    picked: np.ndarray
    defined: np.ndarray


class _Batch:
    """Inputs padded to the longest: the memo of evaluated nodes and which inputs are undefined so far.

    Positions past an input's end (``valid`` False) hold arbitrary values: no selector reads or writes there, no
    function runs on a pair formed there, and no error there counts.
    """

    def __init__(self, inputs: list[list[Value]], causal: bool) -> None:
        self.inputs = inputs
        self.lengths = np.array([len(xs) for xs in inputs])
        self.size, self.length = len(inputs), int(self.lengths.max())
        self.valid = np.arange(self.length)[None, :] < self.lengths[:, None]
        self.causal = causal
        self.undefined = np.zeros(self.size, dtype=bool)
        self.memo: dict[int, Any] = {}
        keys = np.arange(self.length)
        self.visible = keys[None, :] <= keys[:, None] if causal else np.ones((self.length,) * 2, dtype=bool)

    def visit(self, expr: language.RASPExpr) -> Any:
        """``expr``'s column or selection, evaluated once per batch."""
        if expr.unique_id not in self.memo:
            self.memo[expr.unique_id] = _rule_for(expr)(expr, self)
        return self.memo[expr.unique_id]

    def mark_undefined(self, where: np.ndarray) -> None:
        """Inputs (a bool per input) where ``evaluate`` raises ``EvaluationError``."""
        self.undefined |= where

    def mark_undefined_at(self, positions: np.ndarray) -> None:
        """Inputs with an error at one of their own positions (``positions``: inputs x positions bool)."""
        self.undefined |= (positions & self.valid).any(axis=1)

    def one_length(self) -> int:
        """The inputs' one length; raises ``_MixedLengths`` when they have several."""
        if int(self.lengths.min()) != self.length:
            raise _MixedLengths()
        return self.length


def _evaluate_padded(expr: language.SOp, inputs: list[list[Value]], causal: bool) -> list[list[Value] | None]:
    batch = _Batch(inputs, causal)
    try:
        column = batch.visit(expr)
    except _Unbatchable:
        return [_one_by_one(expr, xs, causal) for xs in inputs]
    table = np.empty(len(column.table), dtype=object)
    for code, value in enumerate(column.table):  # one by one: numpy would unpack tuple values into an axis
        table[code] = value
    rows = table[column.codes].tolist()
    return [
        None if undefined else row[:length]
        for row, undefined, length in zip(rows, batch.undefined.tolist(), batch.lengths.tolist())
    ]


def _one_by_one(expr: language.SOp, xs: list[Value], causal: bool) -> list[Value] | None:
    try:
        return evaluator.evaluate(expr, xs, causal=causal)
    except EvaluationError:
        return None


def _rule_for(expr: language.RASPExpr) -> Callable[[Any, _Batch], Any]:
    for kind in type(expr).__mro__:
        if kind in _RULES:
            return _RULES[kind]
    raise _Unbatchable(expr.label)  # evaluate reports the unknown type


# ------------------------------------------------------------------------------------------- tables
class _Table:
    """Distinct values in order of first appearance, keyed by ``value_key``."""

    def __init__(self) -> None:
        self.values: list[Value] = []
        self._codes: dict[Hashable, int] = {}

    def code(self, value: Value) -> int:
        """The code of ``value``, added if new; unhashable values cannot be batched."""
        try:
            key = typed_values.value_key(value)
            found = self._codes.get(key)
        except TypeError as error:
            raise _Unbatchable("unhashable value") from error
        if found is None:
            found = self._codes[key] = len(self.values)
            self.values.append(value)
        return found


def _column(values_per_input: np.ndarray | list, table: _Table) -> _Column:
    return _Column(tuple(table.values), np.asarray(values_per_input, dtype=np.int64))


def _from_values(rows: list[list[Value]]) -> _Column:
    table = _Table()
    return _column([[table.code(value) for value in row] for row in rows], table)


def _constant(value: Value, batch: _Batch) -> _Column:
    table = _Table()
    table.code(value)
    return _column(np.zeros((batch.size, batch.length), dtype=np.int64), table)


def _is_none(column: _Column) -> np.ndarray:
    """(inputs, positions) bool: where the column holds None."""
    return np.array([value is None for value in column.table], dtype=bool)[column.codes]


# ------------------------------------------------------------------------------------ user functions
def _call(f: Callable[..., Value], args: tuple[Value, ...]) -> tuple[Value, bool]:
    """``f(*args)`` and False, or None and True when it raises (which ``evaluate`` reports as undefined)."""
    try:
        return f(*args), False
    except Exception:  # noqa: BLE001 - evaluate turns any error of a user function into EvaluationError
        return None, True


def _apply_to_pairs(
    f: Callable[[Value, Value], Value], first: _Column, second: _Column,
    first_codes: np.ndarray, second_codes: np.ndarray, where: np.ndarray,
) -> tuple[list[Value], np.ndarray, np.ndarray]:
    """``f`` on pairs of table values: (results, each element's pair index, errors per pair).

    Every pair of the two tables when that is no more calls than sorting out the pairs occurring ``where``
    would cost; otherwise only those. An error only matters where its pair occurs (the caller masks by
    ``where``), as ``evaluate`` calls ``f`` on occurring pairs only. The index is -1 outside ``where``.
    """
    pair_codes = first_codes * len(second.table) + second_codes
    num_pairs = len(first.table) * len(second.table)
    if num_pairs <= max(_PRODUCT_CALLS, where.size // 8):
        pairs, inverse = range(num_pairs), pair_codes[where]
    else:
        pairs, inverse = np.unique(pair_codes[where], return_inverse=True)
        pairs = pairs.tolist()
    results, errors = [], np.zeros(len(pairs), dtype=bool)
    for number, pair in enumerate(pairs):
        a, b = divmod(pair, len(second.table))
        result, errors[number] = _call(f, (first.table[a], second.table[b]))
        results.append(result)
    index = np.full(pair_codes.shape, -1, dtype=np.int64)
    index[where] = inverse.reshape(-1)
    return results, index, errors


# -------------------------------------------------------------------------------------------- s-ops
def _tokens(expr: language.TokensType, batch: _Batch) -> _Column:
    # inputs repeat a few token objects: key each distinct object once, find the rest by identity
    flat = [token for xs in batch.inputs for token in xs + xs[:1] * (batch.length - len(xs))]  # pad: a token of its own
    identities = np.fromiter(map(id, flat), dtype=np.int64, count=len(flat))
    _, first, inverse = np.unique(identities, return_index=True, return_inverse=True)
    table = _Table()
    mapping = np.asarray([table.code(flat[index]) for index in first.tolist()], dtype=np.int64)
    return _column(mapping[inverse.reshape(-1)].reshape(batch.size, batch.length), table)


def _indices(expr: language.IndicesType, batch: _Batch) -> _Column:
    table = _Table()
    for index in range(batch.length):
        table.code(index)
    return _column(np.broadcast_to(np.arange(batch.length), (batch.size, batch.length)), table)


def _length(expr: language.LengthType, batch: _Batch) -> _Column:
    table = _Table()
    codes = np.asarray([table.code(length) for length in batch.lengths.tolist()], dtype=np.int64)
    return _column(np.broadcast_to(codes[:, None], (batch.size, batch.length)), table)


def _full(expr: language.Full, batch: _Batch) -> _Column:
    return _constant(expr.fill, batch)


def _constant_sop(expr: language.ConstantSOp, batch: _Batch) -> _Column:
    if len(expr.value) != batch.one_length():
        if expr.check_length:
            batch.mark_undefined(np.ones(batch.size, dtype=bool))
            return _constant(None, batch)
        raise _Unbatchable(expr.label)  # evaluate gives a sequence of another length
    return _from_values([expr.value] * batch.size)


def _map(expr: language.Map, batch: _Batch) -> _Column:
    inner = batch.visit(expr.inner)
    table, errors, mapping = _Table(), np.zeros(len(inner.table), dtype=bool), []
    for number, value in enumerate(inner.table):
        result, errors[number] = (None, False) if value is None else _call(expr.f, (value,))
        mapping.append(table.code(result))
    batch.mark_undefined_at(errors[inner.codes])
    return _column(np.asarray(mapping, dtype=np.int64)[inner.codes], table)


def _sequence_map(expr: language.SequenceMap, batch: _Batch) -> _Column:
    first, second = batch.visit(expr.fst), batch.visit(expr.snd)
    called = ~(_is_none(first) | _is_none(second)) & batch.valid
    results, index, errors = _apply_to_pairs(expr.f, first, second, first.codes, second.codes, called)
    table = _Table()
    none_code = table.code(None)
    mapping = np.asarray([table.code(result) for result in results] + [none_code], dtype=np.int64)
    batch.mark_undefined((called & np.append(errors, False)[index]).any(axis=1))
    return _column(mapping[index], table)  # index -1 (not called) picks the trailing None


def _selector_width(expr: language.SelectorWidth, batch: _Batch) -> _Column:
    widths = batch.visit(expr.selector).picked.sum(axis=2)
    table = _Table()
    for width in range(batch.length + 1):
        table.code(width)
    return _column(widths, table)


def _aggregate(expr: language.Aggregate, batch: _Batch) -> _Column:
    selection, values = batch.visit(expr.selector), batch.visit(expr.sop)
    # picked[b, q, k] with values.codes[b, k]: the value at each picked key, per query
    key_codes = np.broadcast_to(values.codes[:, None, :], selection.picked.shape)
    counts = selection.picked.sum(axis=2)
    if language.is_numerical(expr):
        return _numerical_aggregate(expr, batch, selection.picked, key_codes, counts, values)
    return _categorical_aggregate(expr, batch, selection.picked, key_codes, counts, values)


def _numerical_aggregate(
    expr: language.Aggregate, batch: _Batch, picked: np.ndarray, key_codes: np.ndarray, counts: np.ndarray,
    values: _Column,
) -> _Column:
    is_none = np.array([value is None for value in values.table], dtype=bool)
    picks_none = (picked & is_none[key_codes]).any(axis=2)
    numbers_table = np.zeros(len(values.table))
    for number, value in enumerate(values.table):
        if value is None:
            continue
        too_large = type(value) is int and abs(value) * batch.length > _EXACT_INT_LIMIT  # a sum could round
        if type(value) not in (int, float, bool) or too_large:
            if picked.any():  # evaluate's sum would use Python's arithmetic (or raise): leave it to evaluate
                raise _Unbatchable(expr.label)
        else:
            numbers_table[number] = float(value)
    # evaluate: sum(picked) from 0, in key order, then / len(picked); adding 0.0 for unpicked keys changes nothing
    total = np.zeros(counts.shape)
    for key in range(batch.length):
        total = total + np.where(picked[:, :, key], numbers_table[key_codes[:, :, key]], 0.0)
    means = total / np.maximum(counts, 1)
    default = float(expr.default) if isinstance(expr.default, numbers.Real) else expr.default
    table = _Table()
    default_code, none_code = table.code(default), table.code(None)
    codes = np.full(counts.shape, default_code, dtype=np.int64)
    chosen = (counts > 0) & ~picks_none
    distinct, inverse = np.unique(means[chosen].view(np.int64), return_inverse=True)  # by bits: -0.0 is not 0.0
    mapping = np.asarray([table.code(mean) for mean in distinct.view(np.float64).tolist()], dtype=np.int64)
    codes[chosen] = mapping[inverse.reshape(-1)]
    codes[(counts > 0) & picks_none] = none_code
    return _column(codes, table)


def _categorical_aggregate(
    expr: language.Aggregate, batch: _Batch, picked: np.ndarray, key_codes: np.ndarray, counts: np.ndarray,
    values: _Column,
) -> _Column:
    first_key = picked.argmax(axis=2)
    first_codes = np.take_along_axis(key_codes, first_key[:, :, None], axis=2)
    disagrees = (picked & (key_codes != first_codes)).any(axis=2)  # one code per value_key: same_value
    batch.mark_undefined(disagrees.any(axis=1))
    table = _Table()
    mapping = np.asarray([table.code(value) for value in values.table], dtype=np.int64)
    default_code = table.code(expr.default)
    codes = np.where(counts > 0, mapping[first_codes[:, :, 0]], default_code)
    return _column(codes, table)


# ---------------------------------------------------------------------------------------- selectors
def _select(expr: language.Select, batch: _Batch) -> _Selection:
    keys, queries = batch.visit(expr.keys), batch.visit(expr.queries)
    key_codes = np.broadcast_to(keys.codes[:, None, :], (batch.size, batch.length, batch.length))
    query_codes = np.broadcast_to(queries.codes[:, :, None], key_codes.shape)
    keys_there, queries_there = ~_is_none(keys) & batch.valid, ~_is_none(queries) & batch.valid
    defined = keys_there[:, None, :] & queries_there[:, :, None] & batch.visible[None]
    results, index, errors = _apply_to_pairs(expr.predicate, keys, queries, key_codes, query_codes, defined)
    truths = np.zeros(len(results) + 1, dtype=bool)
    for number, (result, failed) in enumerate(zip(results, errors.tolist())):
        if not failed:
            try:
                truths[number] = bool(result)
            except Exception:  # noqa: BLE001 - evaluate's bool() of the predicate's result raised
                errors[number] = True
    batch.mark_undefined((defined & np.append(errors, False)[index]).any(axis=(1, 2)))
    return _Selection(defined & truths[index], defined)


def _constant_selector(expr: language.ConstantSelector, batch: _Batch) -> _Selection:
    length = batch.one_length()
    shape_fits = len(expr.value) == length and all(len(row) == length for row in expr.value)
    if not shape_fits:
        if expr.check_length:
            batch.mark_undefined(np.ones(batch.size, dtype=bool))
            nothing = np.zeros((batch.size, batch.length, batch.length), dtype=bool)
            return _Selection(nothing, nothing)
        raise _Unbatchable(expr.label)  # evaluate keeps the constant's own shape
    matrix = np.array([[bool(value) for value in row] for row in expr.value], dtype=bool)
    defined = np.broadcast_to(batch.visible, (batch.size, batch.length, batch.length))
    return _Selection(defined & matrix[None], defined)


def _selector_not(expr: language.SelectorNot, batch: _Batch) -> _Selection:
    inner = batch.visit(expr.inner)
    return _Selection(inner.defined & ~inner.picked, inner.defined)


def _combined(expr: language.SelectorAnd | language.SelectorOr, batch: _Batch,
              op: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> _Selection:
    first, second = batch.visit(expr.fst), batch.visit(expr.snd)
    defined = first.defined & second.defined
    return _Selection(defined & op(first.picked, second.picked), defined)


_RULES: dict[type, Callable[[Any, _Batch], Any]] = {
    language.TokensType: _tokens,
    language.IndicesType: _indices,
    language.LengthType: _length,
    language.Map: _map,
    language.SequenceMap: _sequence_map,
    language.Full: _full,
    language.ConstantSOp: _constant_sop,
    language.Select: _select,
    language.ConstantSelector: _constant_selector,
    language.SelectorNot: _selector_not,
    language.SelectorAnd: lambda expr, batch: _combined(expr, batch, np.logical_and),
    language.SelectorOr: lambda expr, batch: _combined(expr, batch, np.logical_or),
    language.SelectorWidth: _selector_width,
    language.Aggregate: _aggregate,
}
