"""What ``causal`` means for a program: ``length`` is refused; a selector that can pick a later position is
warned about (``causal=True``) or refused (``causal="strict"``).

A causal model masks every key after its query, so it computes the program's *causal meaning*: what
``evaluate(program, xs, causal=True)`` (``optracr.causal_eval``) gives, every selector masked to the query's
own and earlier positions. Where a selector can pick a later position that meaning may differ from the plain
one (github.com/google-deepmind/tracr/issues/19 asked for a warning there); ``causal="strict"`` refuses such
programs instead, so every model it builds means the same with and without the mask.
"""

from __future__ import annotations

import dataclasses
import sys
import warnings

import networkx as nx

from optracr import errors
from optracr.errors import CausalMeaningWarning
from optracr.frontend import evaluator
from optracr.frontend import graph as graph_lib
from optracr.frontend import language
from optracr.frontend.errors import CompileError, raise_all
from optracr.frontend.rewrite import conjuncts  # the package name `rewrite` is the function

KEEP_TO_EARLIER = "`selector & rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)`"


def validate_causal(traced: graph_lib.TracedProgram) -> list[CompileError]:
    """Constructs a causal model cannot compute: ``length`` (a position cannot see the tokens after it)."""
    return [
        CompileError(
            label,
            "`length` is the whole input's length, which a causal model cannot see from earlier positions; "
            "compile without causal, or count the positions so far with SelectorWidth(Select(indices, indices, "
            "Comparison.LEQ))",
        )
        for label in traced.topological_labels()
        if isinstance(traced.expr(label), language.LengthType)
    ]


@dataclasses.dataclass(frozen=True)
class LookAhead:
    """An Aggregate or SelectorWidth whose selector may pick a key after its query, and where the output reads it.

    Attributes:
      label: the Aggregate or SelectorWidth.
      selector: its selector's label.
      witness: where the selector may pick a later key, in words.
      path: the labels from ``label`` to the program's output.
    """

    label: str
    selector: str
    witness: str
    path: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.path or self.path[0] != self.label:
            raise errors.OptracrBug(f"a LookAhead's path starts at its expression {self.label!r}, got {self.path!r}")

    @property
    def reach(self) -> str:
        """How the output reads the expression, in words."""
        return "it is the output" if len(self.path) == 1 else "the output reads it along " + " -> ".join(self.path)

    @property
    def what(self) -> str:
        """What the selector may do and how the output reads it, in words."""
        return f"its selector {self.selector!r} can pick a later position ({self.witness}), and {self.reach}"

    def refusal(self) -> CompileError:
        """The ``CompileError`` of ``causal="strict"``."""
        return CompileError(
            self.label,
            f"under causal='strict' every selector must keep to its query's own and earlier positions, but "
            f"{self.what}; keep the selector to earlier positions with {KEEP_TO_EARLIER}, compile with causal=True to compile the "
            "program's causal meaning (what optracr.causal_eval computes), or compile without causal",
        )

    def warning(self) -> CausalMeaningWarning:
        """The ``CausalMeaningWarning`` of ``causal=True``."""
        return CausalMeaningWarning(
            self.label,
            f"under causal=True a position sees only itself and earlier ones, but {self.what}; the model computes the program's "
            "causal meaning, what optracr.causal_eval.evaluate (rasp.evaluate(..., causal=True)) gives, which can "
            "differ from rasp.evaluate without causal; compile with causal='strict' to refuse such programs, or "
            f"keep the selector to earlier positions with {KEEP_TO_EARLIER}",
        )


def looking_ahead(program_graph: graph_lib.ProgramGraph) -> list[LookAhead]:
    """Every Aggregate or SelectorWidth whose selector may pick a key after its query, in topological order.

    A selector is safe when one of the Selects it is the conjunction of never picks a later key: one whose keys
    and queries are functions of ``indices`` alone (or constant) is checked at every pair of positions; one over
    other s-ops may pick a later key wherever its predicate holds for some key value and query value, so it is
    safe only when it never holds.
    """
    found = []
    for label in program_graph.topological_labels():
        expr = program_graph.expr(label)
        if not isinstance(expr, (language.Aggregate, language.SelectorWidth)):
            continue
        try:
            parts = conjuncts(expr.selector)
        except TypeError:
            continue  # a ConstantSelector: reported by validate
        witnesses = [_later_key(part, program_graph) for part in parts]
        if any(where is None for where in witnesses):
            continue
        path = tuple(nx.shortest_path(program_graph.graph, label, program_graph.sink))
        found.append(LookAhead(label, program_graph.label_of(expr.selector), witnesses[0], path))
    return found


def validate_looking_ahead(program_graph: graph_lib.ProgramGraph) -> list[CompileError]:
    """The refusals ``causal="strict"`` raises: one per selector that may pick a later position."""
    return [found.refusal() for found in looking_ahead(program_graph)]


def check_looking_ahead(program_graph: graph_lib.ProgramGraph) -> None:
    """Under ``causal=True`` a ``CausalMeaningWarning`` per selector that may look ahead; under ``"strict"`` a
    ``CompileError`` listing them; nothing without ``causal``."""
    input_spec = program_graph.input_spec
    if not input_spec.masked:
        return
    found = looking_ahead(program_graph)
    if input_spec.strict_causal:
        raise_all([item.refusal() for item in found])
        return
    for item in found:
        warnings.warn(item.warning(), stacklevel=_first_outside_optracr())


def _first_outside_optracr() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside optracr (the user's compile call)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "optracr":
        frame, level = frame.f_back, level + 1
    return level


def _later_key(select: language.Select, program_graph: graph_lib.ProgramGraph) -> str | None:
    """Where ``select`` may pick a key after its query, in words; None when it never does."""
    max_seq_len = program_graph.input_spec.max_seq_len
    keys, queries = _by_position(select.keys, program_graph), _by_position(select.queries, program_graph)
    try:
        if keys is None or queries is None:
            for key in sorted(_values(program_graph, select.keys), key=repr):
                for query in sorted(_values(program_graph, select.queries), key=repr):
                    if select.predicate(key, query):
                        return f"key {key!r} for query {query!r}, wherever they stand"
            return None
        for query_at in range(max_seq_len):
            for key_at in range(query_at + 1, max_seq_len):
                key, query = keys[key_at], queries[query_at]
                if key is not None and query is not None and select.predicate(key, query):
                    return f"key position {key_at} for query position {query_at}"
    except Exception:
        return "its predicate raised"  # reported by validate
    return None


def _values(program_graph: graph_lib.ProgramGraph, sop: language.SOp):
    return program_graph.value_set(program_graph.label_of(sop))


def _by_position(sop: language.SOp, program_graph: graph_lib.ProgramGraph) -> list | None:
    """The s-op's value at every position 0..N-1 when it depends on positions only (not on tokens)."""
    if not _positional(sop, program_graph):
        return None
    token = sorted(program_graph.input_spec.vocab, key=repr)[0]
    try:
        return evaluator.evaluate(sop, [token] * program_graph.input_spec.max_seq_len)
    except Exception:
        return None


def _positional(sop: language.SOp, program_graph: graph_lib.ProgramGraph) -> bool:
    label = program_graph.label_of(sop)
    if len(program_graph.value_set(label)) == 1 and not program_graph.may_be_none(label):
        return True  # a constant
    if isinstance(sop, language.IndicesType):
        return True
    if isinstance(sop, (language.Map, language.SequenceMap)):
        return all(_positional(child, program_graph) for child in sop.children)
    return False
