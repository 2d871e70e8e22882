"""Validation: every construct the compiler cannot turn into exact weights, reported at once.

Each problem is a ``CompileError`` naming the expression, what is wrong and what would work. A Map or
SequenceMap whose function raises on some of its input values is refused unless the ``InputSpec`` allows
partial functions; a Map of a numerical s-op is refused when its function tells apart values that are one
number to the input's one direction (``0`` and ``0.0``, ``1`` and ``True``). A categorical
Aggregate is checked statically: for each query value, the selector may pick keys of at most one *selection
class*, the key values equal under ``==`` (``2`` and ``2.0``, ``1`` and ``True``: a Select compares with
``==``, so no ``==``-predicate tells them apart); positions whose keys are in one class are assumed to hold
one value (the convention ``sort_unique`` relies on: keys that differ at every position), and the verifier
reports any input where the evaluator finds otherwise (there the head averages the positions it picks, and
the evaluator has no answer unless they hold one value). Value sets still keep ``2`` and ``2.0`` apart, as
two directions of the key s-op: a function of the key can tell them apart.
"""

from __future__ import annotations

import itertools
import math
import numbers

from optracr.frontend import graph as graph_lib
from optracr.frontend import input_spec as input_spec_lib
from optracr.frontend import language
from optracr.frontend import typed_values
from optracr.frontend.rewrite import conjuncts  # the package name `rewrite` is the function
from optracr.frontend.errors import CompileError


def validate(program_graph: graph_lib.ProgramGraph) -> list[CompileError]:
    """Every unsupported construct in a program graph, in topological order."""
    errors: list[CompileError] = []
    if graph_lib.TOKENS not in program_graph.sources:
        errors.append(
            CompileError(
                program_graph.sink, "the program never reads `tokens`; a compiled model must depend on its input"
            )
        )
    for label in program_graph.topological_labels():
        expr = program_graph.expr(label)
        for check in _CHECKS:
            errors.extend(check(expr, label, program_graph))
    return errors


def _values(program_graph: graph_lib.ProgramGraph, expr: language.RASPExpr) -> typed_values.ValueSet:
    return program_graph.value_set(program_graph.label_of(expr))


def _check_unsupported_type(expr, label, program_graph) -> list[CompileError]:
    if isinstance(expr, language.ConstantSOp):
        return [CompileError(label, "ConstantSOp is not compilable; compute it from indices with rasp.Map instead")]
    if isinstance(expr, language.ConstantSelector):
        return [CompileError(label, "ConstantSelector is not compilable; use rasp.Select on s-ops instead")]
    return []


def _check_input_encoding(expr, label, program_graph) -> list[CompileError]:
    # Tracing merges every tokens (indices) expression into one node, so each use is checked, not the node.
    readers_uses = [] if isinstance(expr, language.Select) else list(expr.children)
    uses = readers_uses + ([expr] if not program_graph.readers(label) else [])
    errors = []
    for sop in uses:
        if isinstance(sop, (language.TokensType, language.IndicesType)) and language.is_numerical(sop):
            name = program_graph.label_of(sop)
            errors.append(
                CompileError(
                    label,
                    f"{name!r} is annotated numerical here, but `{name}` is embedded one-hot, so it must be "
                    f"categorical; read a numerical copy with rasp.numerical(rasp.Map(lambda x: x, rasp.{name}))",
                )
            )
    return errors


def _check_select(expr, label, program_graph) -> list[CompileError]:
    if not isinstance(expr, language.Select):
        return []
    for key in _values(program_graph, expr.keys):
        for query in _values(program_graph, expr.queries):
            try:
                expr.predicate(key, query)
            except Exception as error:
                return [
                    CompileError(
                        label,
                        f"its predicate raised {type(error).__name__} on key {key!r}, query {query!r}; the "
                        "predicate must answer for every key and query value",
                    )
                ]
    return []


def _check_aggregate(expr, label, program_graph) -> list[CompileError]:
    if not isinstance(expr, language.Aggregate):
        return []
    sop_label = program_graph.label_of(expr.sop)
    if language.is_numerical(expr):
        errors = []
        if not language.is_numerical(expr.sop):
            errors.append(
                CompileError(
                    label,
                    f"a numerical Aggregate averages a numerical s-op, but {sop_label!r} is categorical; annotate "
                    f"it with rasp.numerical (its values must be numbers)",
                )
            )
        if expr.default != 0:
            errors.append(
                CompileError(
                    label,
                    f"a numerical Aggregate reads 0 where nothing is selected, but its default is {expr.default!r}; "
                    "use default=0",
                )
            )
        return errors
    if language.is_numerical(expr.sop):
        return [
            CompileError(
                label,
                f"a categorical Aggregate copies a categorical s-op, but {sop_label!r} is numerical; make the "
                "Aggregate numerical (rasp.numerical) or the s-op categorical",
            )
        ]
    if expr.default is not None:
        return [
            CompileError(
                label,
                f"a categorical Aggregate outputs nothing (None) where nothing is selected, but its default is "
                f"{expr.default!r}; use default=None",
            )
        ]
    return _check_unique_selection(expr, label, program_graph)


def _check_unique_selection(expr, label, program_graph) -> list[CompileError]:
    """Some key s-op of the (conjunction of) Selects picks at most one of its values for every query."""
    if len(_values(program_graph, expr.sop)) <= 1:
        return []
    try:
        parts = conjuncts(expr.selector)
    except TypeError:
        return []  # it combines a ConstantSelector: reported by _check_unsupported_type
    by_keys: dict[str, list[language.Select]] = {}
    for part in parts:
        by_keys.setdefault(program_graph.label_of(part.keys), []).append(part)
    example = None
    for key_label, key_parts in by_keys.items():
        found = _several_keys_picked(key_parts, program_graph)
        if found is None:
            return []
        example = example or found
    picked, query = example
    return [
        CompileError(
            label,
            f"a categorical Aggregate needs a selector that picks at most one position, but "
            f"{program_graph.label_of(expr.selector)!r} picks keys {sorted(picked, key=repr)[:6]} for query "
            f"{query!r}; make the output numerical or make the selector unique",
        )
    ]


def _several_keys_picked(parts: list[language.Select], program_graph) -> tuple[list, object] | None:
    """(key values, query) where the Selects over one key s-op together pick keys of several selection classes
    (values unequal under ``==``); else None."""
    keys = _values(program_graph, parts[0].keys)
    query_sops = list({program_graph.label_of(part.queries): part.queries for part in parts}.values())
    query_at = {program_graph.label_of(sop): i for i, sop in enumerate(query_sops)}
    for queries in itertools.product(*(sorted(_values(program_graph, sop), key=repr) for sop in query_sops)):
        try:
            picked = [
                key
                for key in keys
                if all(part.predicate(key, queries[query_at[program_graph.label_of(part.queries)]]) for part in parts)
            ]
        except Exception:
            return None  # reported by _check_select
        if len(set(picked)) > 1:  # a set merges values equal under ==: one selection class each
            return picked, queries[0] if len(queries) == 1 else queries
    return None


def _check_values(expr, label, program_graph) -> list[CompileError]:
    if not isinstance(expr, language.SOp) or isinstance(expr, language.Selector):
        return []
    values = program_graph.value_set(label)
    if not values:
        return [
            CompileError(
                label,
                "this s-op can take no value on any input (its function raised or returned None everywhere); "
                "check the function against its input values",
            )
        ]
    if language.is_numerical(expr):
        bad = [v for v in values if not isinstance(v, numbers.Real)]
        if bad:
            return [
                CompileError(
                    label,
                    f"it is numerical but can take non-numbers {sorted(bad, key=repr)[:4]}; make it categorical "
                    "or return numbers",
                )
            ]
        infinite = [v for v in values if not math.isfinite(v)]
        if infinite:
            return [
                CompileError(
                    label,
                    f"it is numerical but can take {sorted(infinite, key=repr)[:4]}; a residual direction holds "
                    "finite numbers only, so return finite numbers (or None, in a categorical s-op)",
                )
            ]
    return []


def _check_numerical_none(expr, label, program_graph) -> list[CompileError]:
    if not isinstance(expr, language.SOp) or not language.is_numerical(expr) or not program_graph.may_be_none(label):
        return []
    reason = _none_reason(expr, program_graph)
    if reason is None:
        return []
    where, remedy = reason
    return [
        CompileError(
            label,
            f"a numerical s-op cannot be None (its direction would read 0), but it is None {where}; make it "
            f"categorical, or {remedy}",
        )
    ]


def _none_reason(expr: language.SOp, program_graph: graph_lib.ProgramGraph) -> tuple[str, str] | None:
    """Where ``expr`` may be None and how to avoid it; None where another check reports the cause."""
    read = [expr.sop] if isinstance(expr, language.Aggregate) else list(expr.children)
    inputs = [program_graph.label_of(child) for child in read]
    none_inputs = [name for name in inputs if program_graph.may_be_none(name)]
    if none_inputs:
        return f"where its input {none_inputs[0]!r} has no value", "give the input a value everywhere"
    if isinstance(expr, language.Aggregate):
        return None  # its default is None: _check_aggregate asks for default=0
    if isinstance(expr, (language.Map, language.SequenceMap)):
        shown = _input_giving_none(expr, program_graph)
        return f"where its function returns None (on input {shown!r})", "have the function return a number there"
    return "where it holds None", "hold a number at every position"


def _input_giving_none(expr: language.Map | language.SequenceMap, program_graph: graph_lib.ProgramGraph) -> object:
    value_sets = [_values(program_graph, child) for child in expr.children]
    inputs = itertools.product(*(sorted(values, key=repr) for values in value_sets))
    if isinstance(expr, language.SequenceMap) and expr.fst is expr.snd:
        inputs = ((x, x) for x in sorted(value_sets[0], key=repr))
    for args in inputs:
        try:
            if expr.f(*args) is None:
                return args[0] if isinstance(expr, language.Map) else args
        except Exception:
            continue
    return None


MAX_SHOWN_INPUTS = 4
_RAISED = object()  # stands for "the function raised" among a function's outcomes
_PLAIN_NUMBERS = frozenset({int, float, bool})


def _check_partial_function(expr, label, program_graph) -> list[CompileError]:
    if not isinstance(expr, (language.Map, language.SequenceMap)):
        return []
    dropped = program_graph.dropped_inputs(label)
    if not dropped or program_graph.input_spec.partial_functions == input_spec_lib.ALLOW_PARTIAL:
        return []
    shown = sorted(dropped, key=repr)[:MAX_SHOWN_INPUTS]
    more = f" and {len(dropped) - len(shown)} more" if len(dropped) > len(shown) else ""
    args = (shown[0],) if isinstance(expr, language.Map) else shown[0]
    inputs = ", ".join(repr(program_graph.label_of(child)) for child in expr.children)
    return [
        CompileError(
            label,
            f"{type(expr).__name__} of {inputs}: its function raises on input values {shown}{more} "
            f"({_raised(expr.f, args)}), where the model would have no value; restrict the vocabulary (or what "
            "its input can hold), handle the case in the function (return a value, or None for no value), or "
            f"compile with partial_functions={input_spec_lib.ALLOW_PARTIAL!r} to accept no value there (verify "
            "then counts those inputs as undefined)",
        )
    ]


def _raised(function, args: tuple) -> str:
    try:
        function(*args)
    except Exception as error:  # the user's function, called again to name its exception
        return f"{type(error).__name__}: {error}"
    return "it raised when value sets were inferred"


def _check_equal_numbers(expr, label, program_graph) -> list[CompileError]:
    """A Map of a numerical s-op sees one number where the evaluator may see ``0`` or ``0.0``: both must agree."""
    if not isinstance(expr, language.Map) or not language.is_numerical(expr.inner):
        return []
    inner = program_graph.label_of(expr.inner)
    by_number: dict[float, list] = {}
    for value in program_graph.value_set(inner):
        if type(value) in _PLAIN_NUMBERS or isinstance(value, numbers.Real):  # others: _check_values
            by_number.setdefault(float(value), []).append(value)
    numerical = language.is_numerical(expr)
    for same_number in (sorted(group, key=repr) for group in by_number.values() if len(group) > 1):
        outcomes = [_outcome(expr.f, value) for value in same_number]
        for value, outcome in zip(same_number[1:], outcomes[1:]):
            if not _agree(outcomes[0], outcome, numerical):
                first, second = same_number[0], value
                return [
                    CompileError(
                        label,
                        f"its input {inner!r} is numerical and can be {first!r} and {second!r}, one number to its "
                        f"one direction, but this Map's function tells them apart ({_shown(outcomes[0])} and "
                        f"{_shown(outcome)}); make the function treat equal numbers alike (e.g. convert with "
                        f"float(x) first), or make {inner!r} categorical",
                    )
                ]
    return []


def _outcome(function, value):
    try:
        return function(value)
    except Exception:  # the user's function: raising is one of its outcomes here
        return _RAISED


def _agree(first, second, numerical: bool) -> bool:
    if first is _RAISED or second is _RAISED or first is None or second is None:
        return first is second
    if numerical and isinstance(first, numbers.Real) and isinstance(second, numbers.Real):
        return float(first) == float(second)
    return typed_values.same_value(first, second)


def _shown(outcome) -> str:
    return "raises" if outcome is _RAISED else repr(outcome)


_CHECKS = (
    _check_unsupported_type,
    _check_input_encoding,
    _check_select,
    _check_aggregate,
    _check_values,
    _check_numerical_none,
    _check_partial_function,
    _check_equal_numbers,
)
