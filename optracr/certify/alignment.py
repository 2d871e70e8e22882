"""A program rebuilt from the same code as the model's (``programs.LIBRARY[name].build()`` again) labels its unnamed
s-ops with fresh ids (``sequencemap_62037`` where the model says ``sequencemap_7``). ``aligned`` renames the rebuilt
program's nodes after the model's program they correspond to, walking both from the output in step;
names a user gave must agree (only the ids in labels may differ). The meaning
stays the rebuilt program's own (its functions, its value sets): the alignment only says which residual label
holds which of its s-ops, so a program that differs in what its functions compute is still certified against
its own meaning."""

from __future__ import annotations

import re

import networkx as nx

from optracr import frontend

rasp = frontend.rasp


def _shape(label: str) -> str:
    """A label with its ids left out: names a user gave must agree, the ids of unnamed s-ops need not."""
    return re.sub(r"\d+", "#", label)


def aligned(given: frontend.ProgramGraph, reference: frontend.ProgramGraph) -> frontend.ProgramGraph | None:
    """``given`` with every node labelled like the node of ``reference`` in the same place, or None when the two
    are not shaped alike (different expression types, children or number of nodes)."""
    mapping: dict[str, str] = {}
    stack = [(given.sink, reference.sink)]
    while stack:
        mine, theirs = stack.pop()
        if mine in mapping:
            if mapping[mine] != theirs:
                return None
            continue
        mapping[mine] = theirs
        mine_expr, their_expr = given.expr(mine), reference.expr(theirs)
        if (type(mine_expr) is not type(their_expr) or len(mine_expr.children) != len(their_expr.children)
                or _shape(mine) != _shape(theirs)):
            return None
        for child, other in zip(mine_expr.children, their_expr.children):
            stack.append((given.label_of(child), reference.label_of(other)))
    if len(mapping) != len(given.graph) or len(set(mapping.values())) != len(mapping):
        return None
    traced = given.traced
    renamed = frontend.TracedProgram(
        graph=nx.relabel_nodes(nx.DiGraph(traced.graph), mapping),
        sink=mapping[traced.sink],
        exprs={mapping[label]: expr for label, expr in traced.exprs.items()},
        labels_by_id={key: mapping[label] for key, label in traced.labels_by_id.items()},
    )
    return frontend.ProgramGraph(renamed, {mapping[label]: values for label, values in given.values.items()},
                                 given.input_spec)
