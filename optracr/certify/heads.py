"""Attention heads: the worst case over every multiset of keys an input of length at most N can hold.

For a head writing s-op T, every combination of states of the labels its query reads (and of the stored s-ops
its Selects' queries are functions of) is a *query state*; likewise every combination of what its keys and
values read is a *key state*. Between them the weights give a score range (``tables.bilinear_bound``, widened by
rounding), the program says whether the selector picks the key (``frontend.selects`` on the values), and the
value side gives a range per output direction. An input of length n <= N puts BOS and n keys (the query's own
position among them; in causal mode only those at or before it) under each query, each in some key state,
and the softmax weighs them. For each query state the extremes that matter are: the lowest score of a selected
key, the highest of an unselected one, BOS's range, and (for means) the spread of selected scores. From them:

- *Aggregate* with something selected: the mass off the selected keys is largest with one selected key and n - 1
  unselected ones at their highest scores, ``M = (e^b + (N-1) e^u) / (e^b + (N-1) e^u + e^s)``; the output is the
  selected values' mix (their common value for a categorical Aggregate, their mean for a numerical one, whose
  weights differ by at most a factor e^spread) moved towards the stray keys' values by at most M. With nothing
  selected, the mass off BOS is at most ``N e^u / (e^b + N e^u)``.
- *SelectorWidth*'s head: for every width w and length n >= w, BOS's weight lies between
  ``1 / (1 + w e^(s_hi - b_lo) + (n - w) e^(u_hi - b_lo))`` and the same with the other ends; what the head
  writes is that weight times BOS's value plus the rest times the other keys' values, per width over all n.

Each result, per value of T (or width), is T's table; softmax and output rounding widen it.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Hashable

import numpy as np

from optracr import frontend
from optracr.certify import arrays
from optracr.certify import context as context_lib
from optracr.certify import findings
from optracr.certify import meaning as meaning_lib
from optracr.certify import residual as residual_lib
from optracr.certify import tables as tables_lib
from optracr.certify import weights as weights_lib

rasp = frontend.rasp
CHUNK_ENTRIES = 1 << 21  # query states x key states scored at once
SMALL_COMPARISONS = 1024  # (query value, key value) pairs compared in Python rather than by numpy


def analyse_head(context: context_lib.Context, head: weights_lib.HeadWeights) -> None:
    """One head: the table of what it writes, or failures."""
    if head.writes:
        _Head(context, head).analyse()


class _Side:
    """The labels one side of a head reads, the rows of each to combine, and every combination of them."""

    def __init__(self, names: list[str], rows: dict[str, np.ndarray], tables: dict[str, tables_lib.Table],
                 frontier: list[str]) -> None:
        self.names, self.frontier, self.tables = names, frontier, tables
        self._values: dict[str, tuple[np.ndarray, list]] = {}
        # Per label the rows combined, then its BOS row last: combinations index into these.
        self.rows = {name: tables[name].row_numbers if rows[name] is tables[name].value_row_numbers else
                     arrays.concatenate([rows[name], [tables[name].num_rows - 1]]) for name in names}
        shape = tuple([len(rows[name]) for name in names])
        self.count = math.prod(shape)
        # Per label, its row (in ``self.rows``) in every combination, then in the BOS combination (its BOS row).
        self.in_order = len(names) == 1  # one label: the combinations are its rows in order, then BOS's
        if sum(size != 1 for size in shape) <= 1:  # one label varies at most: its rows in order, the others' one
            ordered, once = np.arange(self.count + 1, dtype=np.int64), np.zeros(self.count + 1, dtype=np.int64)
            once[-1] = 1  # the BOS combination: the BOS row
            self.picks = {name: once if size == 1 else ordered for name, size in zip(names, shape)}
        else:
            self.picks = {name: arrays.concatenate([part, [len(rows[name])]]).astype(np.int64, copy=False)
                          for name, part in zip(names, context_lib.combination_indices(shape))}
        inner = [name for name in names if name not in frontier]
        self.inner = math.prod([len(rows[name]) for name in inner])

    def values_of(self, context: context_lib.Context, owner: Hashable, label: str,
                  also: tuple[str, ...] = ()) -> tuple[np.ndarray, list]:
        """``label``'s value at every combination, as (codes, distinct values); the labels ``also`` are worked out
        in the same pass (for later calls)."""
        if label not in self._values:
            wanted = list(dict.fromkeys([label, *(name for name in also if name not in self._values)]))
            found = context.intended(owner, wanted, self.frontier, self.tables,
                                     {n: self.rows[n][:-1] for n in self.frontier})
            for name in wanted:
                codes, distinct = found[name]
                self._values[name] = (codes if self.inner == 1 else np.repeat(codes, self.inner), distinct)
        return self._values[label]


class _Head:
    """One head (see the module doc)."""

    def __init__(self, context: context_lib.Context, head: weights_lib.HeadWeights) -> None:
        self.context, self.weights, self.block = context, head, head.block
        self.sublayer = head.block.sublayer
        self.n = context.max_length
        self.arithmetic = context.arithmetic
        self.value_weights = head.values
        self.blocks = head.blocks

    # ----------------------------------------------------------------------------------- setting up
    def analyse(self) -> None:
        """Checks the head and stores the table of what it writes."""
        context, written = self.context, self.weights.writes
        if len(written) > 1:
            context.fail(self.block, f"writes into several labels ({', '.join(map(repr, written))}); a head writes "
                         "one s-op")
            return
        (self.target,) = written
        target = context.residual.labels[self.target]
        expr = context.meaning.expr(target.sop) if target.sop in context.meaning.program_graph.graph else None
        if target.role is residual_lib.Role.SOP and isinstance(expr, rasp.Aggregate):
            self.kind = "numerical" if target.numerical else "categorical"
        elif target.role is residual_lib.Role.SCRATCH and isinstance(expr, rasp.SelectorWidth):
            self.kind = "width"
        else:
            context.fail(self.block, f"writes {self.target!r}, which is neither an Aggregate nor a selector width's "
                         "scratch direction")
            return
        self.expr = expr
        self.selects = frontend.conjuncts(expr.selector)
        try:
            self._prepare()
        except _Stop:
            return
        self._score_stats()
        {"categorical": self._categorical, "numerical": self._numerical, "width": self._width}[self.kind]()

    def _prepare(self) -> None:
        context = self.context
        label_of = context.meaning.program_graph.label_of
        query_weights, key_weights = self.weights.query, self.weights.key
        try:
            query_frontier = _union(context.meaning.frontier(label_of(s.queries)) for s in self.selects)
            key_exprs = [s.keys for s in self.selects] + ([self.expr.sop] if self.kind != "width" else [])
            key_frontier = _union(context.meaning.frontier(label_of(e)) for e in key_exprs)
        except Exception as error:  # CertifyError naming the s-op
            context.fail(self.block, str(error))
            raise _Stop from None
        query_names = _union([query_frontier, query_weights])
        key_names = _union([key_frontier, key_weights, self.value_weights])
        tables = {}
        weighted = _union([query_weights, key_weights, self.value_weights])
        for name in _union([query_names, key_names]):
            table = context.table(name, self.block, self.sublayer, read=name in weighted)
            if table is None:
                raise _Stop
            tables[name] = table
        self.tables = tables
        query_rows = {name: self._rows(name, query_frontier, [query_weights.get(name)]) for name in query_names}
        key_rows = {name: self._rows(name, key_frontier, [key_weights.get(name), self.value_weights.get(name)])
                    for name in key_names}
        self.query = _Side(_order(query_names, query_frontier), query_rows, tables, query_frontier)
        self.key = _Side(_order(key_names, key_frontier), key_rows, tables, key_frontier)
        if self.query.count * self.key.count > 50 * context_lib.MAX_COMBINATIONS:
            context.fail(self.block, f"compares {self.query.count:,} query states with {self.key.count:,} key "
                         "states, more than the certificate checks")
            raise _Stop

    def _rows(self, name: str, frontier: list[str], weights: list[np.ndarray | None]) -> np.ndarray:
        """The rows of ``name`` to combine (``tables.rows_to_combine``, reading it through every weight given)."""
        present = [w for w in weights if w is not None]
        needed = name in frontier or not present or self.tables[name].num_rows <= 2  # one value: one row either way
        bound = None if needed else tables_lib.linear_bound(self.tables[name], arrays.concatenate(present, axis=1))
        return tables_lib.rows_to_combine(self.tables[name], bound, needed)

    # ----------------------------------------------------------------------------------- scoring
    def _score_stats(self) -> None:
        """Per query state: BOS's score range, and the extreme scores of selected and unselected key states."""
        query, key = self.query, self.key
        block_bounds = []
        for query_name, key_name, block in self.blocks:
            center, reach = tables_lib.bilinear_bound(self.tables[query_name], self.tables[key_name], block,
                                                      query.rows[query_name], key.rows[key_name])
            block_bounds.append((query_name, key_name, center, reach))
        rounding = (len(self.blocks), self.weights.score_terms)
        selected = self._selection()
        shared = [name for name in query.names if name in key.names and query.rows[name].shape == key.rows[name].shape
                  and arrays.every(query.rows[name] == key.rows[name])]
        step = max(1, CHUNK_ENTRIES // max(1, key.count))
        key_index, query_all = key.picks, query.picks  # BOS last
        query_valid = arrays.concatenate([self.query_defined, [True]])  # the BOS query last
        parts = []
        for start in range(0, query.count + 1, step):
            picks = np.arange(start, min(query.count + 1, start + step))
            parts.append(self._chunk_stats(picks, query_all, key_index, query_valid[start : start + len(picks)],
                                           block_bounds, rounding, selected, shared))
        if len(parts) == 1:
            stats, flags, chosen_any = parts[0]
        else:
            stats = {name: arrays.concatenate([part[0][name] for part in parts]) for name in parts[0][0]}
            flags = {name: arrays.concatenate([part[1][name] for part in parts]) for name in parts[0][1]}
            chosen_any = np.logical_or.reduce([part[2] for part in parts])
        self.selected_by_some = chosen_any
        self.stats, self.flags = stats, flags
        # The BOS query picks nothing: every key is stray there.
        self.flags["any_sel"][-1] = self.flags["self_sel"][-1] = False
        self.flags["any_unsel"][-1] = self.flags["self_unsel"][-1] = True
        self.stats["u_hi"][-1] = max(self.stats["u_hi"][-1], self.stats["s_hi"][-1])
        self.stats["u_lo"][-1] = min(self.stats["u_lo"][-1], self.stats["s_lo"][-1])
        scores = arrays.concatenate([stats["b_lo"], stats["b_hi"], stats["s_hi"], stats["u_hi"]])
        span = max(1.0, float(np.maximum.reduce(np.abs(scores), axis=None, initial=0.0, where=np.isfinite(scores))))
        unit = self.arithmetic.unit
        # exp of a rounded difference, its own error, the sum of up to N + 1 weights, one division.
        self.eta = (1 + self.arithmetic.exp_error) * math.exp(min(4 * unit * span, 700.0)) * (
            1 + self.arithmetic.gamma(self.n + 1)) * (1 + unit) / (1 - self.arithmetic.gamma(self.n + 1)) - 1
        if self.kind == "categorical" and arrays.some(flags["mixed"][:-1]):
            self.context.undefined.setdefault(self.target, findings.Undefined(
                self.target, "inputs where a query picks several positions holding different values, if there are "
                "any: the evaluator has no answer there (a categorical Aggregate is defined where its picks agree)"))

    def _chunk_stats(self, picks: np.ndarray, query_all: dict, key_index: dict, valid: np.ndarray, block_bounds,
                     rounding, selected, shared: list[str]) -> tuple[dict, dict, np.ndarray]:
        """``_score_stats`` for the query picks ``picks`` (BOS's pick is ``query.count``): per pick the stats and
        flags, and which key states some real query among them selects."""
        query_index = query_all if len(picks) == self.query.count + 1 else {  # every pick: the picks as they are
            name: query_all[name][picks] for name in self.query.names}
        in_order = query_index is query_all and self.query.in_order and self.key.in_order
        low, high = self._scores(block_bounds, query_index, key_index, rounding, in_order)
        b_low, b_high = low[:, -1], high[:, -1]
        low, high = low[:, :-1], high[:, :-1]
        defined = self.key_defined[None, :]
        chosen = selected(picks) & defined
        unchosen = ~chosen & defined
        stats = {"b_lo": b_low, "b_hi": b_high,
                 "s_lo": np.minimum.reduce(low, axis=1, where=chosen, initial=np.inf),
                 "s_hi": np.maximum.reduce(high, axis=1, where=chosen, initial=-np.inf),
                 "u_lo": np.minimum.reduce(low, axis=1, where=unchosen, initial=np.inf),
                 "u_hi": np.maximum.reduce(high, axis=1, where=unchosen, initial=-np.inf)}
        itself = None  # key states the query's own position can be in (it is a key too)
        for name in shared:
            same = query_index[name][:, None] == key_index[name][None, :-1]
            itself = same if itself is None else itself & same
        own_chosen = chosen if itself is None else chosen & itself
        own_unchosen = unchosen if itself is None else unchosen & itself
        some = np.logical_or.reduce
        flags = {"any_sel": some(chosen, axis=1) & valid, "any_unsel": some(unchosen, axis=1) & valid,
                 "self_sel": some(own_chosen, axis=1) & valid, "self_unsel": some(own_unchosen, axis=1) & valid}
        chosen &= valid[:, None]
        flags["mixed"] = self._mixed(chosen) if self.kind == "categorical" else np.zeros(len(picks), dtype=bool)
        return stats, flags, some(chosen[picks < self.query.count], axis=0)

    def _scores(self, block_bounds, query_index, key_index, rounding, in_order: bool) -> tuple[np.ndarray, np.ndarray]:
        """Score ranges (query picks x key picks): the blocks' centers, their reaches, and the rounding of a dot
        product of dot products (twice ``arithmetic.dot_error``, one main term per block); ``in_order``: the picks
        are every row of each block's bounds in order (read as they are)."""
        center = size = reach = None  # sums over the blocks, from 0.0 (0.0 + the first: -0.0 becomes 0.0)
        for query_name, key_name, block_center, block_reach in block_bounds:
            if in_order:
                part, part_reach = block_center, block_reach
            else:
                q, k = query_index[query_name][:, None], key_index[key_name][None, :]
                part, part_reach = block_center[q, k], block_reach[q, k]
            if center is None:  # |part| is never -0.0: 0.0 + it is itself
                center, size, reach = part + 0.0, np.abs(part), part_reach + 0.0
            else:
                center, size, reach = center + part, size + np.abs(part), reach + part_reach
        if center is None:  # no block: every score 0
            rows = len(next(iter(query_index.values()))) if query_index else 1
            columns = len(next(iter(key_index.values()))) if key_index else 2
            center = size = reach = np.zeros((rows, columns))
        main_terms, terms = rounding
        spread = reach + 2.0 * self.arithmetic.dot_error(main_terms, size + reach, reach, terms)
        return tables_lib.widened(center - spread, center + spread)

    def _selection(self):
        """A function from query picks to the (picks x key states) matrix of what the selector picks."""
        meaning, query, key = self.context.meaning, self.query, self.key
        label_of = meaning.program_graph.label_of
        query_labels = tuple(label_of(select.queries) for select in self.selects)
        key_labels = tuple(label_of(select.keys) for select in self.selects)
        key_labels += (label_of(self.expr.sop),) if self.kind != "width" else ()
        parts = []
        for select in self.selects:
            query_codes, query_distinct = query.values_of(self.context, self.block, label_of(select.queries),
                                                          query_labels)
            key_codes, key_distinct = key.values_of(self.context, self.block, label_of(select.keys), key_labels)
            memo_key = (self.block, "predicate", label_of(select), tables_lib.StatesKey(tuple(query_distinct)),
                        tables_lib.StatesKey(tuple(key_distinct)))
            memo = self.context.weights.memo
            if memo_key not in memo:
                memo[memo_key] = _predicate_matrix(select, query_distinct, key_distinct)
            parts.append((query_codes, key_codes, memo[memo_key]))
        count = query.count
        self.query_defined = np.ones(query.count, dtype=bool)
        self.key_defined = np.ones(key.count, dtype=bool)
        for side, defined, labels in ((query, self.query_defined, query_labels), (key, self.key_defined, key_labels)):
            for label in labels:
                codes, distinct = side.values_of(self.context, self.block, label)
                if meaning_lib.holds_undefined(distinct):
                    defined &= _defined(codes, distinct)

        def selected(picks: np.ndarray) -> np.ndarray:
            if not count or not parts:  # no query state, or (never) no Select: only what no query rules out
                return np.broadcast_to((picks < count)[:, None], (len(picks), key.count)).copy()
            result = None
            for query_codes, key_codes, matrix in parts:
                rows = matrix[query_codes[np.minimum(picks, count - 1)][:, None], key_codes[None, :]]  # a new array
                result = rows if result is None else np.logical_and(result, rows, out=result)
            result[picks >= count] = False  # the BOS query
            return result

        return selected

    def _mixed(self, chosen: np.ndarray) -> np.ndarray:
        """Per query pick, whether it selects key states holding different values."""
        codes = self._value_codes()
        top = np.iinfo(np.int64).max
        high = np.maximum.reduce(arrays.where(chosen, codes[None, :], -1), axis=1, initial=-1)
        low = np.minimum.reduce(arrays.where(chosen, codes[None, :], top), axis=1, initial=top)
        return np.logical_or.reduce(chosen, axis=1) & (high != low)

    def _value_codes(self) -> np.ndarray:
        """Per key state, the code of the aggregated s-op's value (``self._distinct`` holds the values)."""
        if not hasattr(self, "_codes"):
            codes, self._distinct = self.key.values_of(self.context, self.block,
                                                       self.context.meaning.program_graph.label_of(self.expr.sop))
            self._codes = np.asarray(codes, dtype=np.int64)
        return self._codes

    # ----------------------------------------------------------------------------------- values
    def _values(self) -> tuple[np.ndarray, np.ndarray]:
        """Per key state (BOS key last), the range of what the head's value side gives each target direction."""
        key = self.key
        size = self.context.residual.labels[self.target].size
        low = high = total = rest = largest = 0.0  # sums over the value labels (0.0 + the first, as from zeros)
        for name, weights in self.value_weights.items():
            rows = key.rows[name]  # ascending, each once: every row when there are as many as the table's
            bound = tables_lib.linear_bound(self.tables[name], weights,
                                            None if len(rows) == self.tables[name].num_rows else rows)
            index = slice(None) if key.in_order else key.picks[name]  # in order: every row as it is
            bound_low, bound_high = bound.low, bound.high
            low = low + bound_low[index]
            high = high + bound_high[index]
            total = total + np.maximum.reduce(bound.main + bound.rest, axis=1)[index]
            rest = rest + np.maximum.reduce(bound.rest, axis=1)[index]
            largest = largest + np.maximum.reduce(np.maximum(np.abs(bound_low), np.abs(bound_high)), axis=1)[index]
        if not self.value_weights:  # nothing read: every value is 0
            low, high = np.zeros((key.count + 1, size)), np.zeros((key.count + 1, size))
            total, rest, largest = (np.zeros(key.count + 1) for _ in range(3))
        values = 2.0 * self.arithmetic.dot_error(len(self.value_weights), total, rest, self.weights.value_terms)
        mixing = self.arithmetic.gamma(self.n + 2) * largest
        self.output_rounding = float(np.maximum.reduce(values + mixing, axis=None, initial=0.0))
        return low, high

    def _present(self, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The value side's ranges of the key states some input reaches, and of the BOS key (last)."""
        if arrays.every(self.key_defined):  # every key state (C-ordered arrays as a gather would give them)
            return low, high
        present = arrays.concatenate([self.key_defined, [True]])
        return low[present], high[present]

    # ----------------------------------------------------------------------------------- per target
    def _masses(self) -> tuple[float, float, float]:
        """The largest stray mass with something selected, with nothing selected, and at the BOS query."""
        stats, flags, n = self.stats, self.flags, self.n
        some, none, u_hi = flags["any_sel"][:-1], flags["self_unsel"][:-1], stats["u_hi"]
        others = np.logaddexp(stats["b_hi"][:-1], np.log(max(n - 1, 0)) + u_hi[:-1] if n > 1 else -np.inf)
        # One sigmoid over both: per real query the stray mass beside what it selects, then per query (the BOS
        # query last) the mass with nothing selected.
        count = len(some)
        masses = _sigmoid(arrays.concatenate([others - stats["s_lo"][:-1], np.log(n) + u_hi - stats["b_lo"]]))
        stray = float(_largest(masses[:count][some])) if arrays.some(some) else 0.0
        empty = float(_largest(masses[count:-1][none])) if arrays.some(none) else 0.0
        at_bos = float(masses[-1]) if np.isfinite(u_hi[-1]) else 0.0
        extra = (n + 1) * self.arithmetic.tiny
        return min(1.0, stray + extra), min(1.0, empty + extra), min(1.0, at_bos + extra)

    def _categorical(self) -> None:
        target = self.context.residual.labels[self.target]
        low, high = self._values()
        codes = self._value_codes()
        distinct = self._distinct
        stray, empty, at_bos = self._masses()
        present_low, present_high = self._present(low, high)
        z_lo = float(np.minimum.reduce(present_low, axis=None, initial=0.0))
        z_hi = float(np.maximum.reduce(present_high, axis=None, initial=0.0))
        z_sum_lo = float(_least(np.add.reduce(present_low, axis=1)))
        z_sum_hi = float(_largest(np.add.reduce(present_high, axis=1)))
        slack = self.eta * max(abs(z_lo), abs(z_hi), 1e-300) + self.output_rounding
        slack_sum = self.eta * max(abs(z_sum_lo), abs(z_sum_hi)) + self.output_rounding * target.size
        rows = []
        used = arrays.positions(self.selected_by_some)
        by_code = used[np.argsort(codes[used], kind="stable")]  # the used key states by value, each in order
        sorted_codes = codes[by_code]
        starts = arrays.concatenate([[0], (sorted_codes[1:] != sorted_codes[:-1]).nonzero()[0] + 1]) if len(
            by_code) else np.zeros(0, dtype=np.int64)  # where each value's run begins
        found = sorted_codes[starts]
        ends = [*starts[1:].tolist(), len(by_code)]
        hot_of = []  # per value met: its hot direction (-1 for None)
        for code in found.tolist():
            value = distinct[code]
            hot_of.append(-1 if value is None else target.direction_index(value))
            if value is not None and hot_of[-1] < 0:
                self.context.fail(self.block, f"the program gives {self.target!r} the value {value!r}, which has no "
                                  "direction in the residual (value-set inference missed it)")
        hot_groups = [group for group, hot in enumerate(hot_of) if hot >= 0]
        summaries = dict(zip(hot_groups, _hot_summaries(
            low, high, [by_code[starts[group]:ends[group]] for group in hot_groups], [hot_of[g] for g in hot_groups])))
        for group, (code, hot) in enumerate(zip(found.tolist(), hot_of)):
            value = distinct[code]
            if value is not None and hot < 0:
                continue
            state = tables_lib.NO_VALUE if value is None else value
            members = by_code[starts[group]:ends[group]]
            mine = summaries[group] if hot >= 0 else _summary(hot, low[members], high[members])
            rows.append((state, hot, _mix(mine, hot, stray, z_lo, z_hi, z_sum_lo, z_sum_hi, slack, slack_sum)))
        bos_value = _summary(-1, low[-1:], high[-1:])
        if arrays.some(self.flags["self_unsel"][:-1]):
            box = _mix(bos_value, -1, empty, z_lo, z_hi, z_sum_lo, z_sum_hi, slack, slack_sum)
            rows = _merge_state(rows, tables_lib.NO_VALUE, -1, box)
        rows.append((tables_lib.AT_BOS, -1, _mix(bos_value, -1, at_bos, z_lo, z_hi, z_sum_lo, z_sum_hi, slack,
                                                   slack_sum)))
        self._store(target, rows)
        self.context.details[self.target] = {"block": self.block, "kind": "categorical", "stray": stray,
                                             "empty": empty, "stats": self.stats}

    def _numerical(self) -> None:
        target = self.context.residual.labels[self.target]
        low, high = self._values()
        low, high = low[:, 0], high[:, 0]
        stray, empty, at_bos = self._masses()
        codes = self._value_codes()
        used = self.selected_by_some
        numbers = np.array([float(v) if v is not None and v is not meaning_lib.UNDEFINED else np.nan
                            for v in self._distinct])[codes] if len(self._distinct) else np.zeros(len(codes))
        present_low, present_high = self._present(low, high)
        z_lo, z_hi = float(_least(present_low)), float(_largest(present_high))
        slack = self.eta * max(abs(z_lo), abs(z_hi)) + self.output_rounding
        errors = []
        if arrays.some(used):
            picked = used & np.isfinite(numbers)
            e_lo = float(_least(low[:-1][picked] - numbers[picked]))
            e_hi = float(_largest(high[:-1][picked] - numbers[picked]))
            v_lo, v_hi = float(_least(numbers[picked])), float(_largest(numbers[picked]))
            some = self.flags["any_sel"][:-1]
            spread = float(_largest((self.stats["s_hi"][:-1] - self.stats["s_lo"][:-1])[some]))
            uneven = math.expm1(min(spread, 700.0)) * (v_hi - v_lo) / 2.0
            eps = (e_lo - uneven, e_hi + uneven)
            corner = ((1 - stray) * eps[0] + stray * (z_lo - v_hi), (1 - stray) * eps[1] + stray * (z_hi - v_lo))
            errors.append((min(eps[0], corner[0]) - slack, max(eps[1], corner[1]) + slack))
        default = float(self.expr.default) if self.expr.default is not None else 0.0
        empty_box = None
        if arrays.some(self.flags["self_unsel"][:-1]):
            b_lo, b_hi = float(low[-1]), float(high[-1])
            empty_box = (min(b_lo, (1 - empty) * b_lo + empty * z_lo) - slack - default,
                         max(b_hi, (1 - empty) * b_hi + empty * z_hi) + slack - default)
        states = sorted(self.context.meaning.program_graph.value_set(target.sop), key=lambda v: float(v))
        rows = []
        for value in states:
            boxes = list(errors)
            if empty_box is not None and float(value) == default:
                boxes.append(empty_box)
            if not boxes:
                continue
            lo, hi = min(b[0] for b in boxes), max(b[1] for b in boxes)
            rows.append((value, 0, (float(value) + lo, float(value) + hi, 0.0, 0.0, 0.0, 0.0)))
        b_lo, b_hi = float(low[-1]), float(high[-1])
        rows.append((tables_lib.AT_BOS, 0, (min(b_lo, (1 - at_bos) * b_lo + at_bos * z_lo) - slack,
                                            max(b_hi, (1 - at_bos) * b_hi + at_bos * z_hi) + slack,
                                            0.0, 0.0, 0.0, 0.0)))
        self._store(target, rows)
        self.context.details[self.target] = {"block": self.block, "kind": "numerical", "stray": stray,
                                             "empty": empty, "errors": errors, "stats": self.stats}

    def _width(self) -> None:
        target = self.context.residual.labels[self.target]
        low, high = self._values()
        low, high = low[:, 0], high[:, 0]
        stats, flags, n = self.stats, self.flags, self.n
        inside = slice(0, -1)
        defined = self.key_defined
        other_lo, other_hi = (float(_least(low[:-1][defined])), float(_largest(high[:-1][defined]))) if arrays.some(
            defined) else (0.0, 0.0)
        bos_lo, bos_hi = float(low[-1]), float(high[-1])
        any_sel, any_unsel = flags["any_sel"][inside], flags["any_unsel"][inside]
        self_sel, self_unsel = flags["self_sel"][inside], flags["self_unsel"][inside]
        masks = self._masks()
        # Query groups by what their own position (a key too) can be, each with the (width, length) it allows.
        groups = [(self_sel & any_unsel & any_sel, masks[0]), (self_sel & ~any_unsel & any_sel, masks[1]),
                  (self_unsel & ~self_sel & any_sel, masks[2]), (self_unsel, masks[3])]
        low_weight, high_weight, weight_lo, weight_hi = self._bos_weights(stats, groups)
        reachable = np.isfinite(low_weight)
        low, high = _blend(arrays.where(reachable, low_weight, 0.0), arrays.where(reachable, high_weight, 0.0),
                           bos_lo, bos_hi, other_lo, other_hi)
        widths = arrays.positions(reachable)
        at_bos_low, at_bos_high = _blend(weight_lo, weight_hi, bos_lo, bos_hi, other_lo, other_hi)
        # per reachable width, then at BOS: the box, widened by the output's rounding
        box_low = arrays.concatenate([low[widths], at_bos_low[:1]]) - self.output_rounding
        box_high = arrays.concatenate([high[widths], at_bos_high[:1]]) + self.output_rounding
        boxes = dict(zip(widths.tolist(), zip(box_low[:-1].tolist(), box_high[:-1].tolist())))
        zeros, hot = np.zeros(len(box_low)), np.zeros(len(box_low), dtype=np.int64)  # the one direction, hot
        self.context.store(self.target, tables_lib.build(target, (*widths.tolist(), tables_lib.AT_BOS), hot,
                                                         (box_low, box_high), (zeros, zeros), (zeros, zeros)))
        self.context.details[self.target] = {"block": self.block, "kind": "width", "boxes": boxes,
                                             "stats": self.stats}

    def _masks(self) -> tuple[np.ndarray, ...]:
        """``_width_masks`` of the length bound, worked out once per model and length (kept with the weights)."""
        memo, key = self.context.weights.memo, ("width masks", self.n)
        if key not in memo:
            memo[key] = _width_masks(self.n)
        return memo[key]

    def _bos_weights(self, stats: dict, groups: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, ...]:
        """BOS's weight range: per width over the groups of (picked real queries, width x length mask of what they
        allow), (inf, -inf) for widths no group allows; and at the BOS query (last in ``stats``), whose every key
        is unselected (width 0, any length up to N), as one-entry arrays. One pass: the BOS query is one group more,
        its selected scores none."""
        groups = [(pick, allowed) for pick, allowed in groups if arrays.some(pick) and arrays.some(allowed)]
        count = len(groups)
        inside = slice(0, -1)
        b_lo, b_hi = stats["b_lo"], stats["b_hi"]
        ends = np.empty((2, count + 1, 2))  # (top, bottom) x groups (the BOS query's last) x (selected, unselected)
        if count:
            picks = np.array([pick for pick, _ in groups], dtype=bool)[:, None, :]  # groups x 1 x queries
            lows, highs = b_lo[inside], b_hi[inside]
            # Per group, the highest (selected, unselected) score over BOS's lowest, the lowest over BOS's highest.
            tops = np.array([stats["s_hi"], stats["u_hi"]])[:, inside] - lows
            bottoms = np.array([stats["s_lo"], stats["u_lo"]])[:, inside] - highs
            ends[0, :count] = np.maximum.reduce(arrays.where(picks, tops, -np.inf), axis=2, initial=-np.inf)
            ends[1, :count] = np.minimum.reduce(arrays.where(picks, bottoms, np.inf), axis=2, initial=np.inf)
        ends[:, count, 0] = -np.inf  # the BOS query selects nothing
        ends[0, count, 1], ends[1, count, 1] = stats["u_hi"][-1] - b_lo[-1], stats["u_lo"][-1] - b_hi[-1]
        allowed = np.array([mask for _, mask in groups] + [self._masks()[4]])
        # Only the (group, width, length) cells a group allows are worked out (each element's result is the same
        # alone as among others), each cell's log counts against its group's ends.
        group, width, length = allowed.nonzero()
        logs = _logs(self.n + 1)
        counts = np.empty((len(width), 2))  # per cell, log of how many keys are selected (the width) and not
        counts[:, 0], counts[:, 1] = logs[width], logs[length - width]  # a group allows no length below the width
        # log(count) + score: -inf where there is no key (count 0) whatever the score, inf where the score is
        # unknown (NaN)
        terms = np.fmin(arrays.where(counts == -np.inf, -np.inf, counts + ends[:, group]), np.inf)
        mass = np.logaddexp(terms[:, :, 0], terms[:, :, 1])  # (top, bottom) x cells
        weight = np.fmin(np.exp(-np.logaddexp(0.0, mass)), 1.0)  # _sigmoid(-mass)
        shrink, grow, floor = 1 - self.eta, 1 + self.eta, (self.n + 1) * self.arithmetic.tiny
        # Per width, the extremes over the groups' cells: each cell's weights put back in the (group, width, length)
        # grid, which is read only where a group allows.
        grid = np.empty((2, *allowed.shape))
        grid[:, group, width, length] = weight
        mine = allowed[:count]
        weight_lo = np.minimum.reduce(grid[0, :count], axis=(0, 2), where=mine, initial=np.inf)
        weight_hi = np.maximum.reduce(grid[1, :count], axis=(0, 2), where=mine, initial=-np.inf)
        reachable = np.logical_or.reduce(mine, axis=(0, 2))
        weight_lo = np.maximum(0.0, weight_lo * shrink - floor)
        weight_hi = np.minimum(1.0, weight_hi * grow)
        at_bos = weight[:, len(group) - arrays.count_nonzero(allowed[count]):]  # (top, bottom) x the BOS query's cells
        return (arrays.where(reachable, weight_lo, np.inf), arrays.where(reachable, weight_hi, -np.inf),
                np.maximum(0.0, np.minimum.reduce(at_bos[0], axis=None, keepdims=True) * shrink - floor),
                np.minimum(1.0, np.maximum.reduce(at_bos[1], axis=None, keepdims=True) * grow))

    def _store(self, target: residual_lib.Label, rows: list) -> None:
        states = [row[0] for row in rows]
        hot = [row[1] for row in rows]
        boxes = np.array([row[2] for row in rows], dtype=np.float64).reshape(len(rows), 6)
        table = tables_lib.build(target, states, hot, (boxes[:, 0], boxes[:, 1]), (boxes[:, 2], boxes[:, 3]),
                                 (boxes[:, 4], boxes[:, 5]))
        self.context.store(self.target, table)


class _Stop(Exception):
    """The head cannot be analysed further (a failure has been recorded)."""


def _value(state: Hashable) -> Hashable:
    return None if state is tables_lib.NO_VALUE else state


def _defined(codes: np.ndarray, distinct: list[Hashable]) -> np.ndarray:
    """Where a value is not ``UNDEFINED`` (a state no defined input reaches)."""
    if not len(distinct):
        return np.ones(len(codes), dtype=bool)
    return np.array([value is not meaning_lib.UNDEFINED for value in distinct], dtype=bool)[codes]


def _union(groups) -> list[str]:
    """Every name of the groups once, in order of first appearance."""
    return list(dict.fromkeys(itertools.chain.from_iterable(groups)))


def _order(names: list[str], frontier: list[str]) -> list[str]:
    """Frontier labels first (their values vary slowest), then the others."""
    return [name for name in frontier if name in names] + [name for name in names if name not in frontier]


_VECTORISED = {
    rasp.Comparison.EQ: np.equal, rasp.Comparison.LT: np.less, rasp.Comparison.LEQ: np.less_equal,
    rasp.Comparison.GT: np.greater, rasp.Comparison.GEQ: np.greater_equal, rasp.Comparison.NEQ: np.not_equal,
}


_COMPARED = {
    rasp.Comparison.EQ: operator.eq, rasp.Comparison.LT: operator.lt, rasp.Comparison.LEQ: operator.le,
    rasp.Comparison.GT: operator.gt, rasp.Comparison.GEQ: operator.ge, rasp.Comparison.NEQ: operator.ne,
}
def _predicate_matrix(select: rasp.Select, queries: list[Hashable], keys: list[Hashable]) -> np.ndarray:
    """Whether ``select`` picks each key value for each query value (the evaluator's rule)."""
    fast = _comparison_matrix(select, queries, keys)
    if fast is not None:
        return fast
    matrix = np.zeros((len(queries), len(keys)), dtype=bool)
    for row, query in enumerate(queries):
        if query is None or query is meaning_lib.UNDEFINED:
            continue
        for column, key in enumerate(keys):
            if key is None or key is meaning_lib.UNDEFINED:
                continue
            try:
                matrix[row, column] = frontend.selects(select, key, query)
            except frontend.EvaluationError:
                matrix[row, column] = False
    return matrix


def _width_masks(n: int) -> tuple[np.ndarray, ...]:
    """Which (width, length) pairs, width and length up to ``n``, each group of queries allows (``_width``): the
    query's own position selected among unselected keys, selected with nothing unselected, unselected with
    something selected, nothing selected; and the BOS query's (width 0, any length)."""
    counts = np.arange(n + 1)
    widths, lengths = counts[:, None], counts[None, :]
    at_least, longer = lengths >= widths, lengths > widths
    some, none = widths >= 1, widths == 0
    masks = (some & at_least, some & (lengths == widths), some & longer, none & longer, none & at_least)
    for mask in masks:
        mask.setflags(write=False)
    return masks


def _logs(size: int) -> np.ndarray:
    """log(k) for k = 0..size (-inf for 0): the log of k keys' total weight at score 0."""
    return arrays.concatenate([[-np.inf], np.log(np.arange(1, size + 1, dtype=np.float64))])


def _comparison_matrix(select: rasp.Select, queries: list[Hashable], keys: list[Hashable]) -> np.ndarray | None:
    """The predicate matrix of a ``rasp.Comparison`` computed at once on the values (the same Python comparison,
    ``key < query`` ..., in a Python loop for up to ``SMALL_COMPARISONS`` pairs, else by numpy), or None when it
    cannot be (another predicate; a comparison that raises; a value unequal to itself, for which numpy's identity
    shortcut would differ)."""
    predicate = select.predicate
    if not isinstance(predicate, rasp.Comparison):
        return None
    undefined = meaning_lib.UNDEFINED
    present_queries = [q for q in queries if q is not None and q is not undefined]
    present_keys = [k for k in keys if k is not None and k is not undefined]
    if predicate in (rasp.Comparison.TRUE, rasp.Comparison.FALSE):
        inner = np.full((len(present_queries), len(present_keys)), predicate is rasp.Comparison.TRUE)
    else:
        try:
            if any(value != value for value in (*present_queries, *present_keys)):
                return None
            if len(present_queries) * len(present_keys) <= SMALL_COMPARISONS:  # in Python: no numpy round trips
                # every (key, query) pair, key by key, each result's truth taken as bool() would: the transpose
                pairs = itertools.product(present_keys, present_queries)
                inner = np.fromiter(itertools.starmap(_COMPARED[predicate], pairs), dtype=bool,
                                    count=len(present_keys) * len(present_queries)).reshape(
                    len(present_keys), len(present_queries)).T
            else:
                query_array = np.empty(len(present_queries), dtype=object)
                query_array[:] = present_queries
                key_array = np.empty(len(present_keys), dtype=object)
                key_array[:] = present_keys
                inner = np.asarray(_VECTORISED[predicate](key_array[None, :], query_array[:, None]), dtype=bool)
        except Exception:  # a comparison that raises: the pair by pair path reports it as the evaluator would
            return None
    if len(present_queries) == len(queries) and len(present_keys) == len(keys):
        return inner
    query_ok = np.array([q is not None and q is not undefined for q in queries], dtype=bool)
    key_ok = np.array([k is not None and k is not undefined for k in keys], dtype=bool)
    matrix = np.zeros((len(queries), len(keys)), dtype=bool)
    matrix[np.ix_(arrays.positions(query_ok), arrays.positions(key_ok))] = inner
    return matrix


def _largest(values: np.ndarray) -> float:
    """The largest entry (``np.max`` without its Python wrapper)."""
    return np.maximum.reduce(values, axis=None)


def _least(values: np.ndarray) -> float:
    """The least entry (``np.min`` without its Python wrapper)."""
    return np.minimum.reduce(values, axis=None)


def _sigmoid(values: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x), without overflow; NaN (nothing known) counts as 1, the worst case of every mass."""
    found = np.exp(-np.logaddexp(0.0, -np.asarray(values, dtype=np.float64)))
    return np.fmin(found, 1.0)  # never above 1, NaN the other operand


def _summary(hot: int, low: np.ndarray, high: np.ndarray) -> tuple[float, ...]:
    """The hull of value-side ranges (rows x directions) as (hot lo, hot hi, cold lo, cold hi, sum lo, sum hi)."""
    hot_lo = hot_hi = 0.0
    if hot >= 0:
        hot_lo, hot_hi = float(_least(low[:, hot])), float(_largest(high[:, hot]))
    if low.shape[1] <= (hot >= 0):  # no cold direction
        return hot_lo, hot_hi, 0.0, 0.0, 0.0, 0.0
    if hot >= 0:
        cold = np.ones(low.shape[1], dtype=bool)
        cold[hot] = False
        low, high = low[:, cold], high[:, cold]  # (a copy laid out as the sums below expect: keep it so)
    else:  # every direction cold: the rows as they are, laid out alike (C order)
        low, high = np.ascontiguousarray(low), np.ascontiguousarray(high)
    return (hot_lo, hot_hi, float(_least(low)), float(_largest(high)), float(_least(np.add.reduce(low, axis=1))),
            float(_largest(np.add.reduce(high, axis=1))))


def _hot_summaries(low: np.ndarray, high: np.ndarray, members: list[np.ndarray],
                   hots: list[int]) -> list[tuple[float, ...]]:
    """``_summary`` of each group of rows (``members``) with its hot direction (``hots``, each >= 0), at once: per
    row its cold directions in order (the same sums, element by element), then each group's extremes."""
    if not members:
        return []
    rows = arrays.concatenate(members)
    sizes = [len(group) for group in members]
    hot = np.array(hots, dtype=np.int64).repeat(sizes)
    starts = np.array([0, *itertools.accumulate(sizes[:-1])], dtype=np.int64)  # where each group's rows begin
    hot_lo = np.minimum.reduceat(low[rows, hot], starts)
    hot_hi = np.maximum.reduceat(high[rows, hot], starts)
    size = low.shape[1]
    if size <= 1:  # no cold direction
        return [(lo, hi, 0.0, 0.0, 0.0, 0.0) for lo, hi in zip(hot_lo.tolist(), hot_hi.tolist())]
    places = np.arange(size - 1)[None, :]
    cold = places + (places >= hot[:, None])  # each row's columns but its hot one
    cold_low, cold_high = low[rows[:, None], cold], high[rows[:, None], cold]
    found = (hot_lo, hot_hi, np.minimum.reduceat(np.minimum.reduce(cold_low, axis=1), starts),
             np.maximum.reduceat(np.maximum.reduce(cold_high, axis=1), starts),
             np.minimum.reduceat(np.add.reduce(cold_low, axis=1), starts),
             np.maximum.reduceat(np.add.reduce(cold_high, axis=1), starts))
    return list(zip(*(part.tolist() for part in found)))


def _mix(mine: tuple[float, ...], hot: int, mass: float, z_lo: float, z_hi: float, z_sum_lo: float,
         z_sum_hi: float, slack: float, slack_sum: float) -> tuple[float, ...]:
    """``(1 - m) mine + m z`` for m in [0, mass], z any stray key's (or BOS's) value, plus rounding slack."""
    hot_lo, hot_hi, cold_lo, cold_hi, sum_lo, sum_hi = mine

    def blend(low: float, high: float, other_lo: float, other_hi: float) -> tuple[float, float]:
        return (min(low, (1 - mass) * low + mass * other_lo), max(high, (1 - mass) * high + mass * other_hi))

    if hot >= 0:
        hot_lo, hot_hi = blend(hot_lo, hot_hi, z_lo, z_hi)
        other_sum = (z_sum_lo - z_hi, z_sum_hi - z_lo)
    else:
        other_sum = (z_sum_lo, z_sum_hi)
    cold_lo, cold_hi = blend(cold_lo, cold_hi, z_lo, z_hi)
    sum_lo, sum_hi = blend(sum_lo, sum_hi, *other_sum)
    return (hot_lo - slack, hot_hi + slack, cold_lo - slack, cold_hi + slack, sum_lo - slack_sum,
            sum_hi + slack_sum)


def _merge_state(rows: list, state: Hashable, hot: int, box: tuple[float, ...]) -> list:
    """``rows`` with ``box`` joined into ``state``'s row (added when absent)."""
    for index, (existing, existing_hot, existing_box) in enumerate(rows):
        if existing is state:
            merged = tuple(min(a, b) if i % 2 == 0 else max(a, b) for i, (a, b) in enumerate(zip(existing_box, box)))
            rows[index] = (existing, existing_hot, merged)
            return rows
    return [*rows, (state, hot, box)]


def _blend(weight_lo, weight_hi, bos_lo: float, bos_hi: float, other_lo: float, other_hi: float):
    """The range of ``a b + (1 - a) o`` for a, b, o in their ranges (arrays of a, within [0, 1]): for each a it
    grows with b and o, so the extremes are at a's ends with b and o both low, or both high."""
    ends = np.array([weight_lo, weight_hi], dtype=np.float64)  # both ends at once: the same operations on each
    rest = 1 - ends
    lows, highs = ends * bos_lo + rest * other_lo, ends * bos_hi + rest * other_hi
    return np.minimum(lows[0], lows[1]), np.maximum(highs[0], highs[1])
