"""Validation: every construct the compiler cannot turn into exact weights, reported at once.

Each problem is a ``CompileError`` naming the expression, what is wrong and what would work. A categorical
Aggregate is checked statically: for each query value, the selector may pick keys of at most one value;
positions sharing that key value are assumed to hold one value (the convention ``sort_unique`` relies on),
and the verifier reports any input where the evaluator finds otherwise.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Hashable, Iterable

import networkx as nx

from optracr.frontend import graph as graph_lib
from optracr.frontend import language
from optracr.frontend.errors import CompileError


def validate_options(vocab: Iterable[Hashable], max_seq_len: object, bos: Hashable, pad: Hashable) -> list[CompileError]:
    """Problems with the compile options themselves."""
    errors = []
    try:
        vocab_set = set(vocab)
    except TypeError as error:
        return [CompileError(None, f"vocabulary tokens must be hashable (str, int, ...): {error}")]
    if not vocab_set:
        errors.append(CompileError(None, "the vocabulary is empty; pass the input tokens, e.g. vocab={'a', 'b'}"))
    if None in vocab_set:
        errors.append(CompileError(None, "the vocabulary contains None, which RASP uses for 'no value'; remove it"))
    for special, role in ((bos, "BOS"), (pad, "PAD")):
        if special in vocab_set:
            errors.append(
                CompileError(None, f"the {role} token {special!r} is also in the vocabulary; pick a {role} token outside it")
            )
    if bos == pad:
        errors.append(CompileError(None, f"BOS and PAD are both {bos!r}; they must differ"))
    if isinstance(max_seq_len, bool) or not isinstance(max_seq_len, int) or max_seq_len < 1:
        errors.append(CompileError(None, f"max_seq_len must be an integer >= 1, got {max_seq_len!r}"))
    return errors


def validate_causal(program_graph: graph_lib.ProgramGraph) -> list[CompileError]:
    """Constructs a causal model cannot compute: ``length`` (a position cannot see the tokens after it)."""
    return [
        CompileError(
            label,
            "`length` is the whole input's length, which a causal model cannot see from earlier positions; "
            "compile without causal, or count the positions so far with SelectorWidth(Select(tokens, tokens, "
            "Comparison.TRUE))",
        )
        for label, expr in program_graph.graph.nodes(data=graph_lib.EXPR)
        if isinstance(expr, language.LengthType)
    ]


def validate(program_graph: graph_lib.ProgramGraph) -> list[CompileError]:
    """Every unsupported construct in a traced graph with value sets, in topological order."""
    if not program_graph.has_value_sets:
        raise CompileError(program_graph.sink, "validate needs value sets: run frontend.infer_value_sets first")
    graph, sink = program_graph.graph, program_graph.sink
    errors: list[CompileError] = []
    if graph_lib.TOKENS not in graph:
        errors.append(
            CompileError(sink, "the program never reads `tokens`; a compiled model must depend on its input")
        )
    label_of = graph.graph[graph_lib.LABEL_OF]
    for label in nx.lexicographical_topological_sort(graph, key=lambda n: graph.nodes[n][graph_lib.EXPR].unique_id):
        expr = graph.nodes[label][graph_lib.EXPR]
        for check in _CHECKS:
            errors.extend(check(expr, label, graph, label_of))
    return errors


def _values(graph: nx.DiGraph, label_of: dict[int, str], expr: language.RASPExpr) -> frozenset:
    return graph.nodes[label_of[expr.unique_id]][graph_lib.VALUE_SET]


def _check_unsupported_type(expr, label, graph, label_of) -> list[CompileError]:
    if isinstance(expr, language.ConstantSOp):
        return [CompileError(label, "ConstantSOp is not compilable; compute it from indices with rasp.Map instead")]
    if isinstance(expr, language.ConstantSelector):
        return [CompileError(label, "ConstantSelector is not compilable; use rasp.Select on s-ops instead")]
    if isinstance(expr, (language.SelectorAnd, language.SelectorOr, language.SelectorNot)):
        inputs = sorted({label_of[s.unique_id] for s in _selector_inputs(expr)})
        return [
            CompileError(
                label,
                f"this selector combines selects over the s-ops {inputs}, more than the two (keys, queries) one "
                "attention head reads; combine only selects that share their keys and queries",
            )
        ]
    return []


def _check_input_encoding(expr, label, graph, label_of) -> list[CompileError]:
    # Tracing merges every tokens (indices) expression into one node, so each use is checked, not the node.
    # (A Select's numerical inputs are reported by _check_select.)
    readers_uses = [] if isinstance(expr, language.Select) else list(expr.children)
    uses = readers_uses + ([expr] if graph.out_degree(label) == 0 else [])
    errors = []
    for sop in uses:
        if isinstance(sop, (language.TokensType, language.IndicesType)) and language.is_numerical(sop):
            name = label_of[sop.unique_id]
            errors.append(
                CompileError(
                    label,
                    f"{name!r} is annotated numerical here, but `{name}` is embedded one-hot, so it must be "
                    f"categorical; read a numerical copy with rasp.numerical(rasp.Map(lambda x: x, rasp.{name}))",
                )
            )
    return errors


def _selector_inputs(expr: language.Selector) -> list[language.SOp]:
    if isinstance(expr, language.Select):
        return [expr.keys, expr.queries]
    return [sop for child in expr.children for sop in _selector_inputs(child)]


def _check_select(expr, label, graph, label_of) -> list[CompileError]:
    if not isinstance(expr, language.Select):
        return []
    errors = []
    for role, sop in (("keys", expr.keys), ("queries", expr.queries)):
        if language.is_numerical(sop):
            errors.append(
                CompileError(
                    label,
                    f"its {role} {label_of[sop.unique_id]!r} are numerical, but attention compares categorical "
                    f"s-ops only; annotate {label_of[sop.unique_id]!r} with rasp.categorical",
                )
            )
    if errors:
        return errors
    for key in _values(graph, label_of, expr.keys):
        for query in _values(graph, label_of, expr.queries):
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


def _check_aggregate(expr, label, graph, label_of) -> list[CompileError]:
    if not isinstance(expr, language.Aggregate):
        return []
    sop_label = label_of[expr.sop.unique_id]
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
    return _check_unique_selection(expr, label, graph, label_of)


def _check_unique_selection(expr, label, graph, label_of) -> list[CompileError]:
    selector = expr.selector
    if not isinstance(selector, language.Select) or len(_values(graph, label_of, expr.sop)) <= 1:
        return []
    keys = _values(graph, label_of, selector.keys)
    for query in _values(graph, label_of, selector.queries):
        try:
            picked = [key for key in keys if selector.predicate(key, query)]
        except Exception:
            return []  # reported by _check_select
        if len(picked) > 1:
            return [
                CompileError(
                    label,
                    f"a categorical Aggregate needs a selector that picks at most one position, but "
                    f"{label_of[selector.unique_id]!r} picks keys {sorted(picked, key=repr)[:6]} for query "
                    f"{query!r}; make the output numerical or make the selector unique",
                )
            ]
    return []


def _check_sequence_map(expr, label, graph, label_of) -> list[CompileError]:
    if not isinstance(expr, language.SequenceMap):
        return []
    numerical_inputs = [language.is_numerical(expr.fst), language.is_numerical(expr.snd)]
    if isinstance(expr, language.LinearSequenceMap) and all(numerical_inputs):
        if language.is_categorical(expr):
            return [
                CompileError(
                    label,
                    "a LinearSequenceMap of numerical inputs is numerical; annotate it with rasp.numerical "
                    "and, if a categorical value is needed, rasp.Map the result",
                )
            ]
        return []
    if any(numerical_inputs):
        what = "LinearSequenceMap mixes" if isinstance(expr, language.LinearSequenceMap) else "SequenceMap reads"
        return [
            CompileError(
                label,
                f"{what} numerical inputs; a SequenceMap is a lookup table over categorical inputs, and "
                "LinearSequenceMap takes two numerical inputs; make both inputs categorical or both numerical "
                "with LinearSequenceMap",
            )
        ]
    return []


def _check_values(expr, label, graph, label_of) -> list[CompileError]:
    if not isinstance(expr, language.SOp) or isinstance(expr, language.Selector):
        return []
    values = graph.nodes[label][graph_lib.VALUE_SET]
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


def _check_numerical_none(expr, label, graph, label_of) -> list[CompileError]:
    if not isinstance(expr, language.SOp) or not language.is_numerical(expr) or not graph.nodes[label][graph_lib.MAY_BE_NONE]:
        return []
    reason = _none_reason(expr, graph, label_of)
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


def _none_reason(expr: language.SOp, graph: nx.DiGraph, label_of: dict[int, str]) -> tuple[str, str] | None:
    """Where ``expr`` may be None and how to avoid it; None where another check reports the cause."""
    read = [expr.sop] if isinstance(expr, language.Aggregate) else list(expr.children)
    inputs = [label_of[child.unique_id] for child in read]
    none_inputs = [name for name in inputs if graph.nodes[name][graph_lib.MAY_BE_NONE]]
    if none_inputs:
        return f"where its input {none_inputs[0]!r} has no value", "give the input a value everywhere"
    if isinstance(expr, language.Aggregate):
        return None  # its default is None: _check_aggregate asks for default=0
    if isinstance(expr, (language.Map, language.SequenceMap)):
        shown = _input_giving_none(expr, graph, label_of)
        return f"where its function returns None (on input {shown!r})", "have the function return a number there"
    return "where it holds None", "hold a number at every position"


def _input_giving_none(expr: language.Map | language.SequenceMap, graph: nx.DiGraph, label_of: dict[int, str]) -> object:
    value_sets = [graph.nodes[label_of[child.unique_id]][graph_lib.VALUE_SET] for child in expr.children]
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


_CHECKS = (
    _check_unsupported_type,
    _check_input_encoding,
    _check_select,
    _check_aggregate,
    _check_sequence_map,
    _check_values,
    _check_numerical_none,
)
