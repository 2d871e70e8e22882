"""Value-set inference: for every s-op, a superset of the values it can take on any input.

Given the vocabulary and the longest input length N:
- ``tokens``: the vocabulary; ``indices``: 0..N-1; ``length``: 1..N; ``SelectorWidth``: 0..N.
- Map / SequenceMap: the function over every input value (pair); where it raises, the input is dropped
  and recorded in the node's ``dropped_inputs`` (``validate`` refuses such a partial function unless it is
  allowed; the model produces no output there). ``None`` is never a member: it is the absence of a value (the
  all-zero vector). Values must be hashable. A SequenceMap of two numerical means over the same selection
  gets its function on the pairs they take together only (``joint_means``, recorded as ``input_pairs``); its
  dropped inputs stay those of every pair, so what validate refuses does not change.
- categorical Aggregate: the aggregated s-op's values.
- numerical Aggregate: every achievable mean ``(v_1 + ... + v_n) / n`` of 1 <= n <= N values drawn, with
  repetition, from the aggregated s-op's values, plus the default as a float (the evaluator gives
  ``float(default)`` where nothing is selected, so an int default 0 never stands in for a mean 0.0). (For 0/1
  inputs that is every k/n with 0 <= k <= n <= N, not just v/n.)

Value sets are ``typed_values.ValueSet``s: equal values of different types (``True``, ``1``, ``1.0``) are
different members, as they are different directions of a categorical s-op.

``may_be_none`` marks the s-ops that may have no value somewhere: a Map or SequenceMap whose input may be
None or whose function returns None, an Aggregate whose default is None (nothing selected) or whose
aggregated s-op may be None, a Full or ConstantSOp holding None. Inputs and SelectorWidth never are.
"""

from __future__ import annotations

import dataclasses
import itertools
import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from optracr import options
from optracr.frontend import graph as graph_lib
from optracr.frontend import input_spec as input_spec_lib
from optracr.frontend import joint_means as joint_means_lib
from optracr.frontend import language
from optracr.frontend import typed_values
from optracr.frontend.errors import CompileError

# A numerical mean whose value set would exceed this many values is reported, not enumerated.
MAX_MEAN_VALUES = 200_000


def infer(traced: graph_lib.TracedProgram, input_spec: input_spec_lib.InputSpec) -> graph_lib.ProgramGraph:
    """The ``ProgramGraph`` of ``traced``: every node's value set, dropped inputs and ``may_be_none``."""
    values: dict[str, graph_lib.NodeValues] = {}

    def values_of(child: language.RASPExpr) -> graph_lib.NodeValues:
        return values[traced.label_of(child)]

    for label in traced.topological_labels():
        values[label] = _infer_node(traced.expr(label), values_of, label, input_spec.vocab, input_spec.max_seq_len)
    return graph_lib.ProgramGraph(traced=traced, values=values, input_spec=input_spec)


def _infer_node(
    expr: language.RASPExpr,
    values_of: Callable[[language.RASPExpr], graph_lib.NodeValues],
    label: str,
    vocab: frozenset,
    max_seq_len: int,
) -> graph_lib.NodeValues:
    def value_set(child: language.RASPExpr) -> typed_values.ValueSet:
        return values_of(child).value_set

    def none_in(*children: language.RASPExpr) -> bool:
        return any(values_of(child).may_be_none for child in children)

    if isinstance(expr, language.TokensType):
        return graph_lib.NodeValues(set(vocab))
    if isinstance(expr, language.IndicesType):
        return graph_lib.NodeValues(set(range(max_seq_len)))
    if isinstance(expr, language.LengthType):
        return graph_lib.NodeValues(set(range(1, max_seq_len + 1)))
    if isinstance(expr, language.Map):
        inferred = _apply_all(expr.f, ((x,) for x in value_set(expr.inner)), label, unpack_single=True)
        return dataclasses.replace(inferred, may_be_none=inferred.may_be_none or none_in(expr.inner))
    if isinstance(expr, language.SequenceMap):
        if expr.fst is expr.snd:
            pairs: Iterable = ((x, x) for x in value_set(expr.fst))
        else:
            pairs = itertools.product(value_set(expr.fst), value_set(expr.snd))
        inferred = _apply_all(expr.f, pairs, label, unpack_single=False)
        achievable = joint_means_lib.joint_means(expr, values_of, max_seq_len)
        if achievable is not None:  # the same positions' means: only these pairs occur
            joint = _apply_all(expr.f, achievable, label, unpack_single=False)
            inferred = dataclasses.replace(inferred, value_set=joint.value_set, input_pairs=achievable)
        return dataclasses.replace(inferred, may_be_none=inferred.may_be_none or none_in(expr.fst, expr.snd))
    if isinstance(expr, language.Full):
        return _constants(label, [expr.fill], "its fill")
    if isinstance(expr, language.ConstantSOp):
        return _constants(label, expr.value, "its value")
    if isinstance(expr, language.SelectorWidth):
        return graph_lib.NodeValues(set(range(max_seq_len + 1)))
    if isinstance(expr, language.Aggregate):
        _require_hashable(expr.default, label, "its default")
        may_be_none = expr.default is None or none_in(expr.sop)  # the default where nothing is selected
        inner = value_set(expr.sop)
        if language.is_numerical(expr):
            return graph_lib.NodeValues(mean_values(inner, max_seq_len, expr.default, label), may_be_none=may_be_none)
        default = () if expr.default is None else (expr.default,)
        return graph_lib.NodeValues(typed_values.ValueSet([*inner, *default]), may_be_none=may_be_none)
    if isinstance(expr, language.Selector):
        return graph_lib.NodeValues(set())
    raise CompileError(expr.label, f"no value-set rule for {type(expr).__name__}")


def _constants(label: str, constants: Iterable[Any], source: str) -> graph_lib.NodeValues:
    values = []
    for value in constants:
        _require_hashable(value, label, source)
        values.append(value)
    present = typed_values.ValueSet(value for value in values if value is not None)
    return graph_lib.NodeValues(present, may_be_none=any(value is None for value in values))


def _apply_all(
    f: Callable[..., Any], inputs: Iterable[tuple], label: str, *, unpack_single: bool
) -> graph_lib.NodeValues:
    values, dropped, returned_none, unhashable = [], [], False, []
    for args in inputs:
        shown = args[0] if unpack_single else args
        try:
            value = f(*args)
        except Exception:  # the user's function does not apply here: no output for this input
            dropped.append(shown)
            continue
        if value is None:
            returned_none = True
        elif options.is_hashable(value):
            values.append(value)
        else:
            unhashable.append((shown, value))
    if unhashable:  # report the first input in a fixed order, whatever the hash seed
        shown, value = min(unhashable, key=lambda pair: repr(pair[0]))
        _require_hashable(value, label, f"on input {shown!r} its function returned")
    return graph_lib.NodeValues(values, dropped, returned_none)


def _require_hashable(value: Any, label: str, source: str) -> None:
    if not options.is_hashable(value):
        raise CompileError(
            label,
            f"{source} {value!r}, which is unhashable ({type(value).__name__}); values must be hashable to be "
            "embedded one direction per value: use a tuple instead of a list, a frozenset instead of a set",
        )


def mean_values(values: Iterable[Any], max_seq_len: int, default: Any, label: str) -> set:
    """Every mean of 1..max_seq_len values drawn with repetition from ``values`` (floats), plus the default as
    a float (as the evaluator gives it).

    Sums are enumerated in float64 blocks that stop as soon as the count passes ``MAX_MEAN_VALUES``, so a mean
    with too many values is refused in about the time the limit takes to fill, not the full product's.
    """
    addends = sorted({v for v in values if isinstance(v, numbers.Real)})  # others are reported by validate
    means: set = set() if not isinstance(default, numbers.Real) else {float(default)}
    exact_in_float = all(type(v) in (bool, int, float) and abs(v) <= 2**53 for v in addends)
    step = _float_sums if exact_in_float else _python_sums
    sums: Any = np.zeros(1) if exact_in_float else {0}
    for count in range(1, max_seq_len + 1):
        limit = MAX_MEAN_VALUES // (max_seq_len - count + 1)
        sums = step(sums, addends, limit)
        if sums is None:
            raise CompileError(
                label,
                f"a numerical mean over {len(addends)} input values and up to {max_seq_len} positions takes "
                f"more than {MAX_MEAN_VALUES} values; aggregate an s-op with fewer values (e.g. 0/1) or "
                "lower max_seq_len",
            )
        means.update((sums / count).tolist() if exact_in_float
                     else (total / count for total in sums))
    return means


_BLOCK = 1 << 20  # sums computed at once


def _float_sums(sums: np.ndarray, addends: list, limit: int) -> np.ndarray | None:
    """Every ``total + v`` (float64, as Python adds floats), or None once more than ``limit`` distinct."""
    addends_array = np.asarray(addends, dtype=np.float64)
    rows = max(1, _BLOCK // max(1, len(addends_array)))
    found = np.empty(0)
    for start in range(0, len(sums), rows):
        found = np.unique(np.concatenate([found, np.add.outer(sums[start : start + rows], addends_array).ravel()]))
        if len(found) > limit:
            return None
    return found


def _python_sums(sums: set, addends: list, limit: int) -> set | None:
    """Every ``total + v`` for numbers float64 cannot hold exactly (Fractions, huge ints), or None past ``limit``."""
    found: set = set()
    for total in sums:
        found.update(total + v for v in addends)
        if len(found) > limit:
            return None
    return found
