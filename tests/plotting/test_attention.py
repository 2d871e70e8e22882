"""The attention picture draws one panel per head that exists, its pattern the model's, titled with what the
head computes and the selector it implements (read from the program)."""

from __future__ import annotations

import numpy as np
import pytest

from optracr import plotting, rasp
from optracr.errors import CompileError
from optracr.plotting import selectors

PROGRAMS = ["frac_prevs", "sort", "shuffle_dyck2", "shuffle_dyck3"]


@pytest.mark.parametrize("name", PROGRAMS)
def test_one_panel_per_head_of_every_layer_with_the_model_s_pattern(name, compiled, inputs) -> None:
    program, model = compiled(name)
    tokens = ["BOS", *inputs[name]]
    plan = plotting.attention_plan(model, tokens, program=program)
    heads = [(number, head) for number, layer in enumerate(model.layered.layers) for head in range(len(layer.heads))]
    assert [(panel.layer, panel.head) for panel in plan.panels] == heads
    attention = model.apply(tokens).attention
    for panel in plan.panels:
        np.testing.assert_array_equal(panel.pattern, attention[panel.layer][panel.head])
        location = model.layered.locations[panel.sop]
        assert location.layer == panel.layer and panel.head in location.heads


def test_frac_prevs_head_averages_is_x_over_the_positions_up_to_the_query(compiled, inputs) -> None:
    program, model = compiled("frac_prevs")
    tokens = ["BOS", *inputs["frac_prevs"]]
    (panel,) = plotting.attention_plan(model, tokens, program=program).panels
    assert (panel.sop, panel.operation, panel.selector) == ("frac_prevs", "Aggregate(is_x)", "indices[k] <= indices[q]")
    expected = np.zeros((len(tokens), len(tokens)))
    expected[0, 0] = 1.0  # BOS attends to itself only
    for query in range(1, len(tokens)):
        expected[query, 1: query + 1] = 1 / query
    np.testing.assert_allclose(panel.pattern, expected, atol=1e-6)


def test_sort_titles_name_the_selector_width_and_the_aggregate(compiled, inputs) -> None:
    program, model = compiled("sort")
    plan = plotting.attention_plan(model, ["BOS", *inputs["sort"]], program=program)
    titles = {panel.sop: (panel.operation, panel.selector) for panel in plan.panels}
    assert titles["sort"] == ("Aggregate(tokens)", "target_pos[k] == indices[q]")
    assert titles["target_pos"][0] == "SelectorWidth"


def test_without_the_program_panels_name_the_s_op_only(compiled, inputs) -> None:
    _, model = compiled("sort")
    plan = plotting.attention_plan(model, ["BOS", *inputs["sort"]])
    assert {panel.sop for panel in plan.panels} == {"target_pos", "sort"}
    assert all(panel.operation == panel.selector == "" for panel in plan.panels)


def test_another_build_of_the_program_is_refused_by_name() -> None:
    import optracr

    def build() -> rasp.SOp:  # unnamed: each build gets new labels
        is_x = rasp.numerical(rasp.Map(lambda t: 1 if t == "x" else 0, rasp.tokens))
        return rasp.numerical(rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ), is_x, default=0))

    model = optracr.compile(build(), {"a", "x"}, 3)
    with pytest.raises(CompileError, match="very program object"):
        plotting.attention_plan(model, ["BOS", "x", "a"], program=build())


def test_combined_selectors_and_custom_predicates_are_described_as_written() -> None:
    both = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LT) & rasp.SelectorNot(rasp.Select(
        rasp.tokens, rasp.tokens, rasp.Comparison.EQ))
    mine = rasp.Select(rasp.tokens, rasp.indices, lambda key, query: key == query).named("mine")
    program = rasp.numerical(rasp.Aggregate(both, rasp.numerical(rasp.Map(lambda t: 1, rasp.tokens)))).named("out")
    width = rasp.SelectorWidth(mine).named("width")
    described = {**selectors.head_descriptions(program), **selectors.head_descriptions(width)}
    assert described["out"][1] == "(indices[k] < indices[q]) and (not (tokens[k] == tokens[q]))"
    assert described["width"] == ("SelectorWidth", "f(tokens[k], indices[q])")


@pytest.mark.parametrize("name", PROGRAMS)
def test_the_figure_draws_a_titled_panel_per_head(name, compiled, inputs) -> None:
    program, model = compiled(name)
    plan = plotting.attention_plan(model, ["BOS", *inputs[name]], program=program)
    figure = plotting.draw_attention(plan, title=name)
    panels = [axis for axis in figure.axes if axis.get_visible() and axis.images]
    assert len(panels) == len(plan.panels)
    for axis, panel in zip(panels, plan.panels):
        title = axis.get_title(loc="left")
        assert title.startswith(f"layer {panel.layer}, head {panel.head}\n{panel.sop}")
        assert panel.selector.split()[0] in title
