"""``trace`` and ``ProgramGraph``: complete and frozen at construction, read through accessors (frontend/graph.py)."""

from __future__ import annotations

import dataclasses

import networkx as nx
import pytest

from optracr import rasp
from optracr.errors import CompileError
from optracr.frontend import InputSpec, NodeValues, ProgramGraph, TracedProgram, analyse, trace


def _program() -> rasp.SOp:
    inverse = rasp.Map(lambda i: 1 / i, rasp.indices).named("inverse")
    return rasp.SequenceMap(lambda t, x: (t, x), rasp.tokens, inverse).named("pair")


def test_trace_gives_a_traced_program_not_a_program_graph() -> None:
    traced = trace(_program())
    assert isinstance(traced, TracedProgram) and not isinstance(traced, ProgramGraph)
    assert traced.topological_labels() == ["tokens", "indices", "inverse", "pair"]
    assert traced.readers("indices") == ("inverse",) and traced.sources == ("tokens", "indices")


def test_program_graph_cannot_be_built_without_value_sets() -> None:
    traced = trace(_program())
    spec = InputSpec({"a"}, 3)
    with pytest.raises(TypeError):
        ProgramGraph(traced=traced)  # type: ignore[call-arg]
    partial = {label: NodeValues(frozenset()) for label in ("tokens", "indices")}
    with pytest.raises(CompileError, match="'inverse': this node has no value set; build the ProgramGraph with"):
        ProgramGraph(traced=traced, values=partial, input_spec=spec)


def test_program_graph_needs_an_input_spec_and_node_values() -> None:
    traced = trace(_program())
    values = {label: NodeValues(frozenset()) for label in traced.graph}
    with pytest.raises(CompileError, match="needs an InputSpec"):
        ProgramGraph(traced=traced, values=values, input_spec={"vocab": {"a"}})  # type: ignore[arg-type]
    with pytest.raises(CompileError, match="values must be NodeValues"):
        ProgramGraph(traced=traced, values={**values, "pair": frozenset()}, input_spec=InputSpec({"a"}, 3))
    with pytest.raises(CompileError, match="not a node of the program"):
        ghost = {**values, "ghost": NodeValues(frozenset())}
        ProgramGraph(traced=traced, values=ghost, input_spec=InputSpec({"a"}, 3))


def test_program_graph_is_frozen() -> None:
    program_graph = analyse(_program(), {"a"}, 3, partial_functions="allow")
    with pytest.raises(dataclasses.FrozenInstanceError):
        program_graph.input_spec = InputSpec({"b"}, 3)  # type: ignore[misc]
    with pytest.raises(nx.NetworkXError, match="Frozen graph"):
        program_graph.graph.add_node("extra")
    with pytest.raises(TypeError):
        program_graph.values["pair"] = NodeValues(frozenset())  # type: ignore[index]


def test_program_graph_accessors_read_each_node() -> None:
    program = _program()
    program_graph = analyse(program, {"a"}, 3, partial_functions="allow")
    assert program_graph.label_of(program) == program_graph.sink == "pair"
    assert program_graph.expr("pair") is program_graph.traced.expr("pair")
    assert program_graph.value_set("inverse") == {1.0, 0.5}
    assert program_graph.dropped_inputs("inverse") == {0}
    assert program_graph.may_be_none("pair") is False
    assert program_graph.encoding("pair") is rasp.Encoding.CATEGORICAL
    assert program_graph.readers("tokens") == ("pair",)
    assert program_graph.topological_labels() == ["tokens", "indices", "inverse", "pair"]
