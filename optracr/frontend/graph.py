"""Tracing a RASP program, and the ``ProgramGraph``: the frontend's artefact for craft.

``trace`` gives a ``TracedProgram`` (one node per expression, edges from what it reads), which the frontend
alone uses; value-set inference turns it, with an ``InputSpec``, into a ``ProgramGraph``, complete and frozen
at construction. Craft and validation read a ``ProgramGraph`` through its typed accessors only.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Hashable, Mapping
from types import MappingProxyType

import networkx as nx

from optracr.frontend import input_spec as input_spec_lib
from optracr.frontend import language
from optracr.frontend import typed_values
from optracr import errors
from optracr.frontend.errors import CompileError

Label = str

TOKENS = "tokens"
INDICES = "indices"
ONE = "one"  # the residual's constant direction: a user s-op of that name is traced as ``one#2``
RESERVED_LABELS = frozenset({TOKENS, INDICES, ONE})
# craft's private directions are ``_L_hidden`` and ``_L_selector_width_attn`` (craft/conventions.py)
PRIVATE_SUFFIXES = ("_hidden", "_selector_width_attn")


@dataclasses.dataclass(frozen=True)
class TracedProgram:
    """A program's expressions before value-set inference; frontend-internal (craft takes a ProgramGraph).

    Attributes:
      graph: one node per expression (s-ops and selectors) keyed by its unique label, an edge from every
        expression to each one that reads it; frozen, no node attributes.
      sink: label of the program's output s-op.
      exprs: the expression at each node.
      labels_by_id: an expression's ``unique_id`` -> its node label (every ``tokens`` expression is ``tokens``).
    """

    graph: nx.DiGraph
    sink: Label
    exprs: Mapping[Label, language.RASPExpr]
    labels_by_id: Mapping[int, Label]

    def __post_init__(self) -> None:
        object.__setattr__(self, "graph", nx.freeze(nx.DiGraph(self.graph)))
        object.__setattr__(self, "exprs", MappingProxyType(dict(self.exprs)))
        object.__setattr__(self, "labels_by_id", MappingProxyType(dict(self.labels_by_id)))
        if self.sink not in self.graph:
            raise CompileError(self.sink, "the program's output is not a node of its graph")
        if set(self.exprs) != set(self.graph):
            raise CompileError(self.sink, "every node of the traced graph needs its expression, and only those")
        if not set(self.labels_by_id.values()) <= set(self.graph):
            raise CompileError(self.sink, "an expression is labelled with a node that is not in the graph")
        if not nx.is_directed_acyclic_graph(self.graph):
            raise CompileError(self.sink, "the traced program has a cycle")

    @property
    def sources(self) -> tuple[Label, ...]:
        """The input s-ops the program reads (``tokens``, ``indices``)."""
        return tuple(label for label in (TOKENS, INDICES) if label in self.graph)

    def expr(self, label: Label) -> language.RASPExpr:
        """The expression at node ``label``."""
        return self.exprs[label]

    def label_of(self, expr: language.RASPExpr) -> Label:
        """The node label of ``expr``."""
        return self.labels_by_id[expr.unique_id]

    def readers(self, label: Label) -> tuple[Label, ...]:
        """The nodes that read node ``label``."""
        return tuple(self.graph.successors(label))

    def topological_labels(self) -> list[Label]:
        """Node labels, each after everything it reads (deterministic)."""
        return list(self._topological_labels)

    @functools.cached_property
    def _topological_labels(self) -> tuple[Label, ...]:
        key = lambda label: self.exprs[label].unique_id  # noqa: E731
        return tuple(nx.lexicographical_topological_sort(self.graph, key=key))


@dataclasses.dataclass(frozen=True)
class NodeValues:
    """What value-set inference found for one node (every field a superset of what can happen).

    Attributes:
      value_set: the values the node can take (empty for selectors; None is never a member), keyed by type
        as well as value (``typed_values.ValueSet``: ``True``, ``1`` and ``1.0`` are three values).
      dropped_inputs: input values (pairs for a SequenceMap) on which the node's function raised; such inputs
        produce no value (``validate`` refuses them unless the program is compiled with
        ``partial_functions="allow"``).
      may_be_none: whether the s-op may have no value (None) at some position of some input; False for
        selectors.
      input_pairs: for a SequenceMap of two numerical means over the same positions, the (fst, snd) pairs it
        can read (``joint_means``; its value set is its function on these); None where any pair of the two
        value sets may meet.
    """

    value_set: typed_values.ValueSet
    dropped_inputs: typed_values.ValueSet = typed_values.ValueSet()
    may_be_none: bool = False
    input_pairs: typed_values.ValueSet | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "value_set", typed_values.ValueSet(self.value_set))
        object.__setattr__(self, "dropped_inputs", typed_values.ValueSet(self.dropped_inputs))
        if self.input_pairs is not None:
            object.__setattr__(self, "input_pairs", typed_values.ValueSet(self.input_pairs))
        if not isinstance(self.may_be_none, bool):
            raise errors.OptracrTypeError(None, f"NodeValues: may_be_none must be a bool, got {self.may_be_none!r}")


@dataclasses.dataclass(frozen=True)
class ProgramGraph:
    """A traced RASP program with the value sets of every node, for one ``InputSpec``: craft's input.

    Built by ``frontend.analyse`` (which has also validated it). Read it through the accessors: ``graph``
    (structure: an edge from every expression to each one that reads it), ``sink``, ``sources``, ``expr``,
    ``label_of``, ``encoding``, ``value_set``, ``dropped_inputs``, ``may_be_none``, ``readers``,
    ``topological_labels``.

    Attributes:
      traced: the program's expressions and edges.
      values: every node's ``NodeValues``.
      input_spec: the inputs the values were inferred for (vocabulary, max_seq_len, BOS, PAD, causal).
    """

    traced: TracedProgram
    values: Mapping[Label, NodeValues]
    input_spec: input_spec_lib.InputSpec

    def __post_init__(self) -> None:
        if not isinstance(self.traced, TracedProgram):
            raise CompileError(None, f"a ProgramGraph is built from a TracedProgram, got {self.traced!r}")
        if not isinstance(self.input_spec, input_spec_lib.InputSpec):
            raise CompileError(self.sink, f"a ProgramGraph needs an InputSpec, got {self.input_spec!r}")
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))
        missing = [label for label in self.traced.topological_labels() if label not in self.values]
        if missing:
            raise CompileError(
                missing[0], "this node has no value set; build the ProgramGraph with frontend.analyse"
            )
        extra = sorted(set(self.values) - set(self.traced.graph))
        if extra:
            raise CompileError(extra[0], "value sets for a label that is not a node of the program")
        wrong = [label for label, found in self.values.items() if not isinstance(found, NodeValues)]
        if wrong:
            raise CompileError(wrong[0], f"values must be NodeValues, got {self.values[wrong[0]]!r}")

    @property
    def graph(self) -> nx.DiGraph:
        """The program's structure (frozen): one node per expression, an edge to each reader."""
        return self.traced.graph

    @property
    def sink(self) -> Label:
        """Label of the program's output s-op."""
        return self.traced.sink

    @property
    def sources(self) -> tuple[Label, ...]:
        """The input s-ops the program reads (``tokens``, ``indices``)."""
        return self.traced.sources

    def expr(self, label: Label) -> language.RASPExpr:
        """The expression at node ``label``."""
        return self.traced.expr(label)

    def label_of(self, expr: language.RASPExpr) -> Label:
        """The node label of ``expr`` in this graph."""
        return self.traced.label_of(expr)

    def readers(self, label: Label) -> tuple[Label, ...]:
        """The nodes that read node ``label``."""
        return self.traced.readers(label)

    def topological_labels(self) -> list[Label]:
        """Node labels, each after everything it reads (deterministic)."""
        return self.traced.topological_labels()

    def encoding(self, label: Label) -> language.Encoding | None:
        """The node's encoding; None for selectors."""
        expr = self.expr(label)
        return language.get_encoding(expr) if isinstance(expr, language.SOp) else None

    def value_set(self, label: Label) -> typed_values.ValueSet:
        """The values node ``label`` can take (a superset), keyed by type as well as value."""
        return self.values[label].value_set

    def dropped_inputs(self, label: Label) -> typed_values.ValueSet:
        """The inputs (pairs for a SequenceMap) on which node ``label``'s function raised."""
        return self.values[label].dropped_inputs

    def input_pairs(self, label: Label) -> typed_values.ValueSet | None:
        """The (fst, snd) pairs SequenceMap ``label`` can read, where fewer than every pair of its inputs' values."""
        return self.values[label].input_pairs

    def may_be_none(self, label: Label) -> bool:
        """Whether node ``label`` may have no value (None) somewhere: a superset, like value sets."""
        return self.values[label].may_be_none


def trace(program: language.SOp) -> TracedProgram:
    """The graph of ``program``: a node per expression keyed by a unique label, edges child -> parent.

    Every ``tokens`` expression becomes the node ``tokens``, every ``indices`` the node ``indices``. When two
    different expressions carry the same user-chosen label, the later one found gets ``label#2`` (then ``#3``...),
    so graph labels are always unique; so does a user s-op named ``tokens``, ``indices``, ``one`` (the residual's
    constant direction) or like a private direction (``_w_selector_width_attn``), so every label compiles.
    """
    if not isinstance(program, language.SOp):
        raise CompileError(getattr(program, "label", None), f"a program must be an s-op (SOp), got {program!r}")
    graph = nx.DiGraph()
    exprs: dict[Label, language.RASPExpr] = {}
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

    stack = [program]
    while stack:
        expr = stack.pop()
        label = node_label(expr)
        if label in exprs:
            continue
        exprs[label] = expr
        graph.add_node(label)
        for child in expr.children:
            graph.add_edge(node_label(child), label)
            stack.append(child)
    return TracedProgram(graph=graph, sink=label_of[program.unique_id], exprs=exprs, labels_by_id=label_of)


def _reserved(label: Label) -> bool:
    """Whether the residual already uses ``label`` for a direction of its own (``one``, a private direction)."""
    return label in RESERVED_LABELS or (label.startswith("_") and label.endswith(PRIVATE_SUFFIXES))


def _fresh(label: Label, taken: set[Label]) -> Label:
    if label not in taken and not _reserved(label):
        return label
    suffix = 2
    while f"{label}#{suffix}" in taken:
        suffix += 1
    return f"{label}#{suffix}"
