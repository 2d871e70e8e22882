"""The layout view: the layout picture's boxes as rectangles, widths to one scale per sublayer kind."""

from __future__ import annotations

import pytest

from optracr.explore import layout_view


@pytest.mark.parametrize("name", ["sort", "shuffle_dyck3", "hist"])
def test_boxes_are_the_models_heads_and_units_to_scale(name: str, library_model) -> None:
    _, model = library_model(name)
    view = layout_view.layout_boxes(model)
    shape = model.layered.shape
    assert (view["num_layers"], view["num_heads"], view["mlp_hidden_width"]) == (
        shape.num_layers, shape.num_heads, shape.mlp_hidden_width)
    for box in view["boxes"]:
        capacity = shape.num_heads if box["attention"] else shape.mlp_hidden_width
        assert box["x1"] - box["x0"] == pytest.approx(layout_view.FILL * box["width"] / capacity)
        assert box["layer"] <= box["x0"] < box["x1"] <= box["layer"] + 1
        for label in box["sops"]:
            location = model.layered.locations[label]
            assert location.layer == box["layer"]
            assert len(location.heads if box["attention"] else location.mlp_units) <= box["width"]
    for sublayer in {box["sublayer"] for box in view["boxes"]}:  # boxes of one sublayer side by side
        row = sorted((box["x0"], box["x1"]) for box in view["boxes"] if box["sublayer"] == sublayer)
        assert all(left[1] == pytest.approx(right[0]) for left, right in zip(row, row[1:]))


def test_a_box_says_what_it_computes(library_model) -> None:
    _, model = library_model("sort")
    boxes = {(box["sublayer"], tuple(box["sops"])): box for box in layout_view.layout_boxes(model)["boxes"]}
    assert boxes[(4, ("sort",))]["computes"] == ["sort: layer 2 attention (heads [0]), stored in 4 direction(s)"]
    assert boxes[(4, ("sort",))]["unit"] == "head" and boxes[(4, ("sort",))]["width"] == 1


def test_a_folded_sop_is_named_where_it_is_composed(users_model) -> None:
    _, model = users_model
    assert layout_view.layout_boxes(model)["folded_into_unembedding"] == ["half_rank"]
