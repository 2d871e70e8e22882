"""The program view's data: one node per s-op and selector, with its expression, value set and location.

With the RASP program, the nodes and edges are the compiler's own graph (``frontend.analyse``, the rewritten
program whose labels the model's locations use; ``optracr.compile`` keeps it as ``model.program_graph``); without one (a saved model), the nodes are the model's
s-ops and inputs, with no edges and no expressions.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import networkx as nx

from optracr import assemble, frontend, plotting
from optracr.frontend import rasp

INPUT_LABELS = ("tokens", "indices")
SHOWN_VALUES = 40  # a value set longer than this is shown as its first values and a count


def program_nodes(model: assemble.CompiledModel, program_graph: frontend.ProgramGraph | None) -> dict[str, Any]:
    """``{"nodes": [...], "edges": [[from, to], ...]}``: every node JSON-ready, placed for drawing."""
    if program_graph is None:
        graph = nx.DiGraph()
        graph.add_nodes_from(INPUT_LABELS)
        graph.add_nodes_from(model.layered.locations)
    else:
        graph = program_graph.graph
    positions = _positions(graph, model.layered.locations)
    nodes = [_node(label, model, program_graph, positions[label]) for label in graph.nodes]
    return {"nodes": nodes, "edges": [list(edge) for edge in graph.edges]}


def analysed(model: assemble.CompiledModel, program: rasp.SOp) -> frontend.ProgramGraph:
    """The program as the compiler saw it for this model's inputs (its labels are the model's)."""
    layered = model.layered
    vocab = [token for token in layered.input_tokens if token not in (layered.bos, layered.pad)]
    return frontend.analyse(program, vocab, layered.max_seq_len, bos=layered.bos, pad=layered.pad,
                            causal=layered.causal, partial_functions="allow")


def _positions(graph: nx.DiGraph, locations: Mapping[str, assemble.SopLocation]) -> dict[str, tuple[int, int]]:
    """(column, row) per node: columns are topological generations (inputs first), or sublayers without edges."""
    if graph.number_of_edges():
        generations = nx.topological_generations(graph)
    else:
        def column(label: str) -> int:
            location = locations.get(label)
            return 0 if location is None or location.sublayer is None else location.sublayer + 1
        by_column: dict[int, list[str]] = {}
        for label in graph.nodes:
            by_column.setdefault(column(label), []).append(label)
        generations = [by_column[key] for key in sorted(by_column)]
    return {label: (x, y) for x, generation in enumerate(generations) for y, label in enumerate(sorted(generation))}


def _node(label: str, model: assemble.CompiledModel, program_graph: frontend.ProgramGraph | None,
          position: tuple[int, int]) -> dict[str, Any]:
    location = model.layered.locations.get(label)
    node = {"label": label, "x": position[0], "y": position[1], "kind": _kind(label, location, program_graph),
            "where": _where(label, location), "expression": "", "encoding": "", "values": "",
            "directions": list(location.directions) if location else []}
    if program_graph is not None:
        expr = program_graph.expr(label)
        node["expression"] = describe_expression(expr, program_graph)
        if isinstance(expr, rasp.SOp):
            node["encoding"] = program_graph.encoding(label).value
            node["values"] = _values_text(program_graph.value_set(label))
    elif location is not None and location.directions:
        node["values"] = _values_text(_direction_values(model, location))
    return node


def _kind(label: str, location: assemble.SopLocation | None, program_graph: frontend.ProgramGraph | None) -> str:
    """input, selector, folded, attention, mlp or fused: what colours the node."""
    if label in INPUT_LABELS:
        return "input"
    if location is None:
        expr = program_graph.expr(label) if program_graph is not None else None
        return "selector" if isinstance(expr, rasp.Selector) else "input"
    if location.folded:
        return "folded"
    if location.fused_with:
        return "fused"
    return "attention" if location.sublayer % 2 == 0 else "mlp"


def _where(label: str, location: assemble.SopLocation | None) -> str:
    if label in INPUT_LABELS:
        return "the embedding (" + ("token" if label == "tokens" else "position") + " embedding directions)"
    if location is None:
        return "no block of its own: the attention heads of the s-ops that read it compute it"
    text = location.describe()
    if location.folded and location.folded_from:
        text += f" (a sum of {', '.join(location.folded_from)})"
    return text


def _direction_values(model: assemble.CompiledModel, location: assemble.SopLocation) -> list[Hashable]:
    by_label = {str(direction): direction for direction in model.layered.residual_space.basis}
    return [by_label[name].value for name in location.directions if by_label[name].value is not None]


def _values_text(values: Any) -> str:
    texts = sorted((str(value) for value in values), key=_natural)
    shown = ", ".join(texts[:SHOWN_VALUES])
    more = f" ... ({len(texts)} values)" if len(texts) > SHOWN_VALUES else ""
    return "{" + shown + more + "}"


def _natural(text: str) -> tuple:
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def describe_expression(expr: rasp.RASPExpr, program_graph: frontend.ProgramGraph) -> str:
    """One line of RASP for ``expr``, naming its children by their labels."""
    name = program_graph.label_of
    if isinstance(expr, rasp.Selector):
        return "Select: " + plotting.describe_selector(expr, program_graph.traced)
    if isinstance(expr, (rasp.TokensType, rasp.IndicesType)):
        return "the input " + ("tokens" if isinstance(expr, rasp.TokensType) else "indices")
    if isinstance(expr, rasp.LengthType):
        return "length"
    if isinstance(expr, rasp.Map):
        return f"Map({_function_name(expr.f)}, {name(expr.inner)})"
    if isinstance(expr, rasp.LinearSequenceMap):
        return f"{expr.fst_fac:g} * {name(expr.fst)} + {expr.snd_fac:g} * {name(expr.snd)}"
    if isinstance(expr, rasp.SequenceMap):
        return f"SequenceMap({_function_name(expr.f)}, {name(expr.fst)}, {name(expr.snd)})"
    if isinstance(expr, rasp.SelectorWidth):
        return f"SelectorWidth({name(expr.selector)}), selecting {_selector_text(expr.selector, program_graph)}"
    if isinstance(expr, rasp.Aggregate):
        default = "" if expr.default is None else f", default={expr.default!r}"
        return (f"Aggregate({name(expr.selector)}, {name(expr.sop)}{default}), selecting "
                f"{_selector_text(expr.selector, program_graph)}")
    if isinstance(expr, rasp.Full):
        return f"Full({expr.fill!r})"
    if isinstance(expr, rasp.ConstantSOp):
        return f"ConstantSOp({expr.value!r})"
    return type(expr).__name__


def _selector_text(selector: rasp.Selector, program_graph: frontend.ProgramGraph) -> str:
    return plotting.describe_selector(selector, program_graph.traced)


def _function_name(function: Any) -> str:
    name = getattr(function, "__name__", "f")
    return "f" if name == "<lambda>" else name
