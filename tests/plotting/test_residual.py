"""The residual picture draws one band per s-op with a value on the input, its values as rows (checked
against the RASP evaluator), and one panel per sublayer where a block sits."""

from __future__ import annotations

import numpy as np
import pytest

from optracr import frontend, plotting, rasp

PROGRAMS = ["frac_prevs", "sort", "shuffle_dyck2", "shuffle_dyck3"]


def _expected_bands(program: rasp.SOp, model, tokens: list) -> dict[str, list[str]]:
    """Per stored s-op with a value on the input (by the evaluator), the residual labels of those values."""
    exprs = frontend.trace(program).exprs
    expected = {}
    for label in dict.fromkeys(direction.name for direction in model.layered.residual_space.basis):
        location = model.layered.locations.get(label)
        if location is None or not location.directions:
            continue
        values = [v for v in rasp.evaluate(exprs[label], tokens) if v is not None]
        if location.directions == (label,):  # numerical: one direction, drawn where some value is not 0
            rows = [label] if any(value != 0 for value in values) else []
        else:
            rows = [direction for direction in location.directions if direction.split(":", 1)[1] in map(str, values)]
        if rows or label == model.output_label:
            expected[label] = rows or list(location.directions)
    return expected


@pytest.mark.parametrize("name", PROGRAMS)
def test_one_band_per_s_op_with_a_value_on_the_input_its_rows_the_values_taken(name, compiled, inputs) -> None:
    program, model = compiled(name)
    plan = plotting.residual_plan(model, ["BOS", *inputs[name]])
    drawn = {band.name: list(band.rows) for band in plan.bands if band.kind == "sop"}
    assert drawn == _expected_bands(program, model, inputs[name])
    assert [band.name for band in plan.bands if band.is_output] == [model.output_label]


@pytest.mark.parametrize("name", PROGRAMS)
def test_input_bands_show_the_tokens_and_positions_of_the_input(name: str, compiled, inputs) -> None:
    _, model = compiled(name)
    tokens = inputs[name]
    plan = plotting.residual_plan(model, ["BOS", *tokens])
    bands = {band.name: set(band.rows) for band in plan.bands if band.kind == "input"}
    assert bands == {"one": {"one"}, "tokens": {f"tokens:{t}" for t in [*tokens, "BOS"]},
                     "indices": {f"indices:{i}" for i in range(len(tokens))}}


@pytest.mark.parametrize("name", PROGRAMS)
def test_panels_are_the_embedding_and_the_sublayers_where_a_block_sits(name: str, compiled, inputs) -> None:
    _, model = compiled(name)
    plan = plotting.residual_plan(model, ["BOS", *inputs[name]])
    occupied = set()
    for location in model.layered.locations.values():
        if not location.folded:
            occupied.add(location.sublayer)
            if location.heads:
                occupied.add(2 * location.layer)
    assert [stage.sublayer for stage in plan.stages] == [None, *sorted(occupied)]


@pytest.mark.parametrize("name", PROGRAMS)
def test_the_matrices_are_the_residual_stream_on_the_drawn_rows(name: str, compiled, inputs) -> None:
    _, model = compiled(name)
    tokens = ["BOS", *inputs[name]]
    plan = plotting.residual_plan(model, tokens)
    result = model.apply(tokens)
    columns = [model.residual_labels.index(row) for row in plan.rows]
    for stage, matrix in zip(plan.stages, plan.matrices):
        residual = result.residuals[0 if stage.sublayer is None else stage.sublayer + 1]
        np.testing.assert_array_equal(matrix, residual[:, columns].T)
    assert set(plan.rows) | set(plan.hidden_rows) == set(model.residual_labels)


def test_all_rows_draws_every_direction_after_every_sublayer(compiled, inputs) -> None:
    _, model = compiled("shuffle_dyck2")
    plan = plotting.residual_plan(model, ["BOS", *inputs["shuffle_dyck2"]], all_rows=True)
    assert plan.rows == model.residual_labels and not plan.hidden_rows
    assert [stage.sublayer for stage in plan.stages] == [None, *range(2 * model.config.num_layers)]


def test_the_scratch_of_a_selector_width_is_hidden_by_default(compiled, inputs) -> None:
    _, model = compiled("sort")
    plan = plotting.residual_plan(model, ["BOS", *inputs["sort"]])
    assert "_target_pos_selector_width_attn" in plan.hidden_bands
    assert not any(band.kind == "scratch" for band in plan.bands)


def test_a_fused_region_is_named_once_in_its_panel_title(compiled, inputs) -> None:
    _, model = compiled("shuffle_dyck2")
    plan = plotting.residual_plan(model, ["BOS", *inputs["shuffle_dyck2"]])
    last = plan.stages[-1]
    members = model.layered.locations[model.output_label].fused_with
    assert last.detail == f"fused[{', '.join(members)}]"


@pytest.mark.parametrize("name", PROGRAMS)
def test_the_figure_draws_the_plan(name: str, compiled, inputs) -> None:
    _, model = compiled(name)
    tokens = ["BOS", *inputs[name]]
    plan = plotting.residual_plan(model, tokens)
    figure = plotting.draw_residual(plan, title=name)
    panels = [axis for axis in figure.axes if axis.images]
    assert len(panels) == len(plan.stages)
    assert [axis.get_title(loc="left").splitlines()[0] for axis in panels] == [stage.title for stage in plan.stages]
    assert [label.get_text() for label in panels[0].get_yticklabels()] == [v for b in plan.bands for v in b.values]
    assert [label.get_text() for label in panels[0].get_xticklabels()] == list(plan.tokens)
    texts = {text.get_text() for text in panels[0].texts}
    assert {band.name for band in plan.bands} <= texts


def test_the_largest_library_program_keeps_a_legible_row_height_and_font(compiled, inputs) -> None:
    _, model = compiled("shuffle_dyck3")
    figure = plotting.residual_figure(model, ["BOS", *inputs["shuffle_dyck3"]])
    panels = [axis for axis in figure.axes if axis.images]
    rows = len(panels[0].get_yticklabels())
    height_inches = panels[0].get_position().height * figure.get_figheight()
    assert height_inches / rows >= 0.18
    assert min(label.get_fontsize() for label in panels[0].get_yticklabels()) >= 8
