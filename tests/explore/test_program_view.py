"""The program view: the compiler's graph, each node with its expression, value set and location."""

from __future__ import annotations

import re

import pytest

import optracr
from optracr.explore import program_view


def test_the_compilers_kept_graph_is_the_programs_analysis(library_model) -> None:
    program, model = library_model("sort")
    assert model.program is program
    assert sorted(model.program_graph.graph.edges) == sorted(program_view.analysed(model, program).graph.edges)


@pytest.mark.parametrize("name", ["sort", "shuffle_dyck2", "frac_prevs"])
def test_nodes_and_edges_are_the_compilers_graph_with_the_models_locations(name: str, library_model) -> None:
    program, model = library_model(name)
    graph = program_view.analysed(model, program)
    view = program_view.program_nodes(model, graph)
    assert {node["label"] for node in view["nodes"]} == set(graph.graph.nodes)
    assert sorted(map(tuple, view["edges"])) == sorted(graph.graph.edges)
    for node in view["nodes"]:
        location = model.layered.locations.get(node["label"])
        if location is not None:
            assert node["where"].startswith(location.describe())
            assert node["directions"] == list(location.directions)


def test_every_edge_runs_left_to_right(library_model) -> None:
    _, model = library_model("shuffle_dyck2")
    view = program_view.program_nodes(model, model.program_graph)
    place = {node["label"]: node["x"] for node in view["nodes"]}
    assert all(place[source] < place[reader] for source, reader in view["edges"])


def test_sort_nodes_say_their_expression_value_set_and_place(library_model) -> None:
    program, model = library_model("sort")
    nodes = {node["label"]: node for node in program_view.program_nodes(model, model.program_graph)["nodes"]}
    assert re.fullmatch(r"Aggregate\(select_\d+, tokens\), selecting target_pos\[k\] == indices\[q\]",
                        nodes["sort"].pop("expression"))
    assert nodes["sort"] == {
        "label": "sort", "x": nodes["sort"]["x"], "y": nodes["sort"]["y"], "kind": "attention",
        "where": "layer 2 attention (heads [0]), stored in 4 direction(s)",
        "encoding": "categorical", "values": "{1, 2, 3, 4}", "directions": ["sort:1", "sort:2", "sort:3", "sort:4"],
    }
    assert nodes["smaller"]["kind"] == "selector" and nodes["smaller"]["expression"].startswith("Select: ")
    assert nodes["tokens"]["kind"] == "input" and nodes["tokens"]["values"] == "{1, 2, 3, 4}"
    assert nodes["target_pos"]["expression"].startswith("SelectorWidth(")


def test_a_folded_sop_says_what_composes_it(users_model) -> None:
    program, model = users_model
    nodes = {node["label"]: node for node in program_view.program_nodes(model, model.program_graph)["nodes"]}
    assert nodes["half_rank"]["kind"] == "folded"
    assert nodes["half_rank"]["where"].startswith("folded: composed into the reads of unembedding")
    assert nodes["half_rank"]["expression"] == "Map(f, rank)" and nodes["half_rank"]["encoding"] == "numerical"


def test_a_saved_model_shows_its_sops_without_edges_or_expressions(library_model, tmp_path) -> None:
    _, model = library_model("sort")
    loaded = optracr.load(optracr.save(model, tmp_path / "sort"))
    view = program_view.program_nodes(loaded, None)
    assert view["edges"] == []
    nodes = {node["label"]: node for node in view["nodes"]}
    assert set(nodes) == {"tokens", "indices", *model.layered.locations}
    assert nodes["sort"]["values"] == "{1, 2, 3, 4}" and nodes["sort"]["expression"] == ""
    keys = next(label for label in model.layered.locations if label.startswith("sequencemap_"))
    columns = [nodes[label]["x"] for label in ("tokens", keys, "target_pos", "sort")]
    assert columns == sorted(set(columns))  # by the sublayer that computes each


def test_long_value_sets_are_cut_with_a_count() -> None:
    assert program_view._values_text(range(100)).endswith("... (100 values)}")
    assert program_view._values_text([10, 9, "b", 1.5]) == "{1.5, 9, 10, b}"
