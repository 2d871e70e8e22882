"""What the block analyses share: the model, its residual labels, the program's meaning, the arithmetic, the
length bound, and the tables built so far (each label's, as its writer left it)."""

from __future__ import annotations

import math
import dataclasses
from collections.abc import Hashable, Iterator, Sequence

import numpy as np

from optracr import frontend
from optracr.certify import arrays
from optracr.certify import arithmetic as arithmetic_lib
from optracr.certify import embedding as embedding_lib
from optracr.certify import findings
from optracr.certify import meaning as meaning_lib
from optracr.certify import residual as residual_lib
from optracr.certify import tables as tables_lib

MAX_COMBINATIONS = 20_000_000  # combinations of values one block may be checked on


@dataclasses.dataclass
class Context:
    """One analysis in progress (see the module doc); ``failures`` and ``undefined`` collect what it finds."""

    layered: object
    residual: residual_lib.Residual
    meaning: meaning_lib.Meaning
    arithmetic: arithmetic_lib.Arithmetic
    max_length: int
    embedding: embedding_lib.Embedding
    tables: dict[str, tables_lib.Table]
    weights: object  # weights.ModelWeights: what every head and hidden unit reads and writes
    failures: list[findings.Failure] = dataclasses.field(default_factory=list)
    undefined: dict[str, findings.Undefined] = dataclasses.field(default_factory=dict)
    details: dict[str, dict] = dataclasses.field(default_factory=dict)  # per written label, what its block found
    overrides: dict[str, tables_lib.Table] = dataclasses.field(default_factory=dict)

    @property
    def causal(self) -> bool:
        """Whether positions see only themselves and earlier ones."""
        return bool(self.layered.causal)

    def fail(self, block: findings.Block, what: str, values: tuple = (), margin: float = float("-inf"),
             length: int | None = None) -> None:
        """Records a bound that does not hold."""
        self.failures.append(findings.Failure(block, what, tuple(values), float(margin), length))

    def table(self, name: str, block: findings.Block, sublayer: int, *, read: bool = True) -> tables_lib.Table | None:
        """The table of ``name`` as a block at ``sublayer`` reads it (None, with a failure, if it reads it first).

        A block that only needs the label's values (its weights do not read it: ``read=False``) gets, when the
        label is written later, every value the label can take, with no bounds on its directions.
        """
        written = self.weights.written_at.get(name)
        if written is not None and written >= sublayer:
            if not read:
                return self.unwritten(name)
            self.fail(block, f"reads {name!r}, which is written only at sublayer {written}, not before")
            return None
        if name not in self.tables:
            self.tables[name] = self.overrides.get(name) or self.unwritten(name)
        return self.tables[name]

    def unwritten(self, name: str) -> tables_lib.Table:
        """The table of a label no block writes: whatever the embedding starts it at, for every value."""
        label = self.residual.labels[name]
        states = self.states_of(name)
        return embedding_lib.with_offset(tables_lib.ideal(label, states).replaced(
            hot_lo=np.zeros(len(states)), hot_hi=np.zeros(len(states))), self.embedding.offsets.get(name))

    def states_of(self, name: str) -> tuple[Hashable, ...]:
        """Every state a label can be in according to value-set inference (values, None, BOS); for a numerical
        Aggregate only the means between the least and the largest value its s-op can take where the tables
        built so far hold every label that s-op is a function of."""
        label = self.residual.labels[name]
        graph = self.meaning.program_graph
        if label.role is residual_lib.Role.SCRATCH:
            return (*range(self.max_length + 1), tables_lib.AT_BOS)
        values = sorted(graph.value_set(label.sop), key=_sort_key)
        expr = self.meaning.expr(label.sop)
        if isinstance(expr, frontend.rasp.Aggregate) and frontend.rasp.is_numerical(expr):
            averaged = self._possible(graph.label_of(expr.sop))
            if averaged:
                default = 0.0 if expr.default is None else float(expr.default)
                low, high = min(averaged), max(averaged)
                values = [value for value in values if low <= float(value) <= high or float(value) == default]
        none = (tables_lib.NO_VALUE,) if graph.may_be_none(label.sop) else ()
        return (*values, *none, tables_lib.AT_BOS)

    def _possible(self, sop: str) -> list[float] | None:
        """The numbers ``sop`` can hold at a position, from the tables built so far (None if not all are built)."""
        try:
            frontier = list(self.meaning.frontier(sop))
        except Exception:  # not position-wise from stored labels
            return None
        if any(name not in self.tables for name in frontier):
            return None
        tables = {name: self.tables[name] for name in frontier}
        rows = {name: np.arange(tables[name].num_rows - 1) for name in frontier}
        _, distinct = self.intended(("possible", sop), [sop], frontier, tables, rows)[sop]
        numbers = [float(value) for value in distinct if value is not None and value is not meaning_lib.UNDEFINED]
        return numbers or None

    def intended(self, owner: Hashable, labels: Sequence[str], frontier: Sequence[str], tables: dict,
                 rows: dict, *, own: bool = False) -> dict[str, tuple[np.ndarray, list[Hashable]]]:
        """Per label of ``labels``, the program's value at every combination of the ``frontier`` labels' ``rows``
        (in combination order, the last label fastest), as (codes, distinct values: None for no value,
        ``UNDEFINED`` where a function raises); ``own``: the labels are what one block computes from those inputs.
        Remembered across passes (it depends on the states only, not on any bound)."""
        read = [self.meaning.read_as_is(label, frontier, own) for label in labels]
        if None not in read:  # every label's values are a frontier label's: its states, read as they are
            picks = dict(zip(frontier, combination_indices(tuple([len(rows[name]) for name in frontier]))))
            return {label: (picks[name].astype(np.int64, copy=False), _values(tables[name].states, rows[name]))
                    for label, name in zip(labels, read)}
        key = (owner, tuple(labels), own, tuple([(name, tables[name].states_key(rows[name])) for name in frontier]))
        memo = self.weights.memo
        found = memo.get(key)
        if found is None:
            picks = combination_indices(tuple([len(rows[name]) for name in frontier]))
            columns = {name: (pick.astype(np.int64, copy=False), _values(tables[name].states, rows[name]))
                       for name, pick in zip(frontier, picks)}
            found = memo[key] = self.meaning.values_over(labels, columns, own=own)
        return found

    def store(self, name: str, table: tables_lib.Table) -> None:
        """Records what a block wrote into ``name`` (an override replaces it: blame's counterfactuals)."""
        table = self.overrides.get(name) or embedding_lib.with_offset(table, self.embedding.offsets.get(name),
                                                                       2.0 * self.arithmetic.unit)
        self.tables[name] = table


def _values(states: tuple[Hashable, ...], rows: np.ndarray) -> list[Hashable]:
    """The program's values in the given rows' states (None for no value)."""
    no_value = tables_lib.NO_VALUE
    return [None if state is no_value else state for state in map(states.__getitem__, rows.tolist())]


def _sort_key(value: Hashable) -> tuple:
    from optracr import craft

    return craft.value_sort_key(value)


@dataclasses.dataclass(frozen=True)
class Combinations:
    """Every combination of one row from each of several labels' tables (the last label varying fastest)."""

    names: tuple[str, ...]
    rows: tuple[np.ndarray, ...]

    @property
    def count(self) -> int:
        """How many combinations there are."""
        return math.prod(map(len, self.rows))

    def states(self, tables: dict[str, tables_lib.Table], index: int) -> dict[str, Hashable]:
        """The states of combination ``index``, per label."""
        shape = tuple(len(rows) for rows in self.rows)
        picks = arrays.unravel_index(index, shape) if shape else ()
        return {name: tables[name].states[int(rows[pick])] for name, rows, pick in zip(self.names, self.rows, picks)}

    def chunks(self, size: int, only: np.ndarray | None = None) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """(first combination, each label's rows) for consecutive chunks of at most ``size`` combinations (of the
        combinations ``only`` lists, in its order, when given)."""
        shape = tuple(map(len, self.rows))
        total = self.count if only is None else len(only)
        if only is None and len(shape) == 1 and total <= max(1, size):  # one label in one chunk: its rows as they are
            if total:
                yield 0, {self.names[0]: self.rows[0]}
            return
        for start in range(0, total, max(1, size)):
            stop = min(total, start + max(1, size))
            flat = np.arange(start, stop) if only is None else only[start:stop]
            indices = arrays.unravel_index(flat, shape) if shape else ()
            yield start, {name: rows[index] for name, rows, index in zip(self.names, self.rows, indices)}


def combination_indices(shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Per axis of ``shape``, its index in every combination (the last axis varying fastest)."""
    if len(shape) == 1:  # one axis: its indices in order
        return (np.arange(shape[0]),)
    return arrays.unravel_index(np.arange(math.prod(shape)), shape) if shape else ()


def product_rows(names: Sequence[str], rows: Sequence[np.ndarray]) -> Combinations:
    """The combinations of the given rows."""
    return Combinations(tuple(names), tuple(np.asarray(r, dtype=np.int64) for r in rows))
