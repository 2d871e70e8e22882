"""Tracing a RASP program into a ``ProgramGraph``: one node per expression, edges from what it reads."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable

import networkx as nx

from optracr.frontend import language
from optracr.frontend.errors import CompileError

Label = str

# Node attribute keys.
EXPR = "expr"
LABEL = "label"
ENCODING = "encoding"
VALUE_SET = "value_set"
DROPPED_INPUTS = "dropped_inputs"
MAY_BE_NONE = "may_be_none"
# Graph attribute: expression unique id -> node label.
LABEL_OF = "label_of"

TOKENS = "tokens"
INDICES = "indices"


@dataclasses.dataclass(frozen=True)
class ProgramGraph:
    """A traced RASP program with value sets: the frontend's artefact for craft.

    Attributes:
      graph: one node per expression (s-ops and selectors) keyed by its unique label, an edge from every
        expression to each one that reads it. Node attributes: ``expr``, ``label``, ``encoding`` (None for
        selectors), ``value_set`` (frozenset; empty for selectors), ``dropped_inputs`` (inputs on which the
        node's function raised; no output is produced there), ``may_be_none`` (bool: whether the s-op has no
        value, None, at some position of some input; always False for selectors).
      sink: label of the program's output s-op.
      vocab: the input vocabulary (without BOS and PAD); None until value sets are inferred.
      max_seq_len: the longest input, BOS excluded; None until value sets are inferred.
    """

    graph: nx.DiGraph
    sink: Label
    vocab: frozenset[Hashable] | None = None
    max_seq_len: int | None = None
    validated: bool = False  # set by ``analyse`` once ``validate`` found nothing

    def __post_init__(self) -> None:
        if self.sink not in self.graph:
            raise CompileError(self.sink, "the program's output is not a node of its graph")
        if not nx.is_directed_acyclic_graph(self.graph):
            raise CompileError(self.sink, "the traced program has a cycle")

    @property
    def sources(self) -> tuple[Label, ...]:
        """The input s-ops the program reads (``tokens``, ``indices``)."""
        return tuple(label for label in (TOKENS, INDICES) if label in self.graph)

    def expr(self, label: Label) -> language.RASPExpr:
        """The expression at node ``label``."""
        return self.graph.nodes[label][EXPR]

    def value_set(self, label: Label) -> frozenset:
        """The values node ``label`` can take (a superset)."""
        return self.graph.nodes[label][VALUE_SET]

    def may_be_none(self, label: Label) -> bool:
        """Whether node ``label`` may have no value (None) somewhere: a superset, like value sets."""
        return self.graph.nodes[label][MAY_BE_NONE]

    def encoding(self, label: Label) -> language.Encoding | None:
        """The node's encoding; None for selectors."""
        return self.graph.nodes[label][ENCODING]

    def label_of(self, expr: language.RASPExpr) -> Label:
        """The node label of ``expr`` in this graph."""
        return self.graph.graph[LABEL_OF][expr.unique_id]

    def topological_labels(self) -> list[Label]:
        """Node labels, each after everything it reads (deterministic)."""
        return list(nx.lexicographical_topological_sort(self.graph, key=lambda label: self.expr(label).unique_id))

    @property
    def has_value_sets(self) -> bool:
        """Whether value sets have been inferred."""
        return self.max_seq_len is not None


def trace(program: language.SOp) -> ProgramGraph:
    """The graph of ``program``: a node per expression keyed by a unique label, edges child -> parent.

    Every ``tokens`` expression becomes the node ``tokens``, every ``indices`` the node ``indices``. When two
    different expressions carry the same user-chosen label, the later one found gets ``label#2`` (then ``#3``...),
    so graph labels are always unique.
    """
    if not isinstance(program, language.SOp):
        raise CompileError(getattr(program, "label", None), f"a program must be an s-op (SOp), got {program!r}")
    graph = nx.DiGraph()
    label_of: dict[int, Label] = {}
    taken: set[Label] = set()

    def node_label(expr: language.RASPExpr) -> Label:
        if expr.unique_id in label_of:
            return label_of[expr.unique_id]
        if isinstance(expr, language.TokensType):
            label = TOKENS
        elif isinstance(expr, language.IndicesType):
            label = INDICES
        else:
            label = _fresh(expr.label, taken)
        taken.add(label)
        label_of[expr.unique_id] = label
        return label

    graph.graph[LABEL_OF] = label_of
    stack = [program]
    while stack:
        expr = stack.pop()
        label = node_label(expr)
        if label in graph and graph.nodes[label].get(EXPR) is not None:
            continue
        encoding = language.get_encoding(expr) if isinstance(expr, language.SOp) else None
        graph.add_node(label, **{EXPR: expr, LABEL: label, ENCODING: encoding})
        for child in expr.children:
            graph.add_edge(node_label(child), label)
            stack.append(child)
    return ProgramGraph(graph=graph, sink=label_of[program.unique_id])


def _fresh(label: Label, taken: set[Label]) -> Label:
    if label not in taken and label not in (TOKENS, INDICES):
        return label
    suffix = 2
    while f"{label}#{suffix}" in taken:
        suffix += 1
    return f"{label}#{suffix}"
