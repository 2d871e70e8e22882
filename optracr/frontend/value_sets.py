"""Value-set inference: for every s-op, a superset of the values it can take on any input.

Given the vocabulary and the longest input length N:
- ``tokens``: the vocabulary; ``indices``: 0..N-1; ``length``: 1..N; ``SelectorWidth``: 0..N.
- Map / SequenceMap: the function over every input value (pair); where it raises, the input is dropped
  and recorded in the node's ``dropped_inputs`` (the model produces no output there either). ``None`` is
  never a member: it is the absence of a value (the all-zero vector).
- categorical Aggregate: the aggregated s-op's values.
- numerical Aggregate: every achievable mean ``(v_1 + ... + v_n) / n`` of 1 <= n <= N values drawn, with
  repetition, from the aggregated s-op's values, plus the default. (For 0/1 inputs that is every k/n with
  0 <= k <= n <= N, not just v/n.)
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable, Hashable, Iterable
from typing import Any

import networkx as nx

from optracr.frontend import graph as graph_lib
from optracr.frontend import rasp
from optracr.frontend.errors import CompileError

# A numerical mean whose value set would exceed this many values is reported, not enumerated.
MAX_MEAN_VALUES = 200_000


def infer(program_graph: graph_lib.ProgramGraph, vocab: Iterable[Hashable], max_seq_len: int) -> graph_lib.ProgramGraph:
    """A copy of ``program_graph`` whose nodes carry ``value_set`` and ``dropped_inputs``."""
    graph = program_graph.graph.copy()
    graph.graph[graph_lib.LABEL_OF] = dict(program_graph.graph.graph[graph_lib.LABEL_OF])
    vocab = frozenset(vocab)
    order = nx.lexicographical_topological_sort(graph, key=lambda label: graph.nodes[label][graph_lib.EXPR].unique_id)
    for label in order:
        node = graph.nodes[label]
        expr = node[graph_lib.EXPR]
        values, dropped = _infer_node(expr, graph, label, vocab, max_seq_len)
        node[graph_lib.VALUE_SET] = frozenset(values)
        node[graph_lib.DROPPED_INPUTS] = frozenset(dropped)
    return graph_lib.ProgramGraph(graph=graph, sink=program_graph.sink, vocab=vocab, max_seq_len=max_seq_len)


def _infer_node(
    expr: rasp.RASPExpr, graph: nx.DiGraph, label: str, vocab: frozenset, max_seq_len: int
) -> tuple[set, set]:
    label_of = graph.graph[graph_lib.LABEL_OF]

    def values_of(child: rasp.RASPExpr) -> frozenset:
        return graph.nodes[label_of[child.unique_id]][graph_lib.VALUE_SET]

    if isinstance(expr, rasp.TokensType):
        return set(vocab), set()
    if isinstance(expr, rasp.IndicesType):
        return set(range(max_seq_len)), set()
    if isinstance(expr, rasp.LengthType):
        return set(range(1, max_seq_len + 1)), set()
    if isinstance(expr, rasp.Map):
        return _apply_all(expr.f, ((x,) for x in values_of(expr.inner)), unpack_single=True)
    if isinstance(expr, rasp.SequenceMap):
        if expr.fst is expr.snd:
            pairs: Iterable = ((x, x) for x in values_of(expr.fst))
        else:
            pairs = itertools.product(values_of(expr.fst), values_of(expr.snd))
        return _apply_all(expr.f, pairs, unpack_single=False)
    if isinstance(expr, rasp.Full):
        return {expr.fill} - {None}, set()
    if isinstance(expr, rasp.ConstantSOp):
        return set(expr.value) - {None}, set()
    if isinstance(expr, rasp.SelectorWidth):
        return set(range(max_seq_len + 1)), set()
    if isinstance(expr, rasp.Aggregate):
        inner = values_of(expr.sop)
        if rasp.is_numerical(expr):
            return mean_values(inner, max_seq_len, expr.default, expr.label), set()
        return set(inner) | ({expr.default} - {None}), set()
    if isinstance(expr, rasp.Selector):
        return set(), set()
    raise CompileError(expr.label, f"no value-set rule for {type(expr).__name__}")


def _apply_all(f: Callable[..., Any], inputs: Iterable[tuple], *, unpack_single: bool) -> tuple[set, set]:
    values, dropped = set(), set()
    for args in inputs:
        try:
            value = f(*args)
        except Exception:  # the user's function does not apply here: no output for this input
            dropped.add(args[0] if unpack_single else args)
            continue
        if value is not None:
            values.add(value)
    return values, dropped


def mean_values(values: Iterable[Any], max_seq_len: int, default: Any, label: str) -> set:
    """Every mean of 1..max_seq_len values drawn with repetition from ``values``, plus ``default``."""
    addends = sorted({v for v in values if isinstance(v, numbers.Real)})  # others are reported by validate
    means: set = set() if default is None else {default}
    sums: set = {0}
    for count in range(1, max_seq_len + 1):
        sums = {total + v for total in sums for v in addends}
        if len(sums) * (max_seq_len - count + 1) > MAX_MEAN_VALUES:
            raise CompileError(
                label,
                f"a numerical mean over {len(addends)} input values and up to {max_seq_len} positions takes "
                f"more than {MAX_MEAN_VALUES} values; aggregate an s-op with fewer values (e.g. 0/1) or "
                "lower max_seq_len",
            )
        means.update(total / count for total in sums)
    return means
