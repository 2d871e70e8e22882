"""The layout picture draws every block of the allocation at its allocated sublayer, widths as the layers'
heads and hidden units, fused regions as one box, folded s-ops on the boxes whose reads compose them."""

from __future__ import annotations

from collections import Counter

import pytest

from optracr import plotting

CASES = [("frac_prevs", False), ("sort", False), ("shuffle_dyck2", False), ("shuffle_dyck3", False),
         ("shuffle_dyck2", True)]


def _panels(name, reference, both_allocators):
    _, solver, heuristic = both_allocators(name, reference)
    plan = plotting.layout_plan([solver, heuristic], ["solver", "heuristic"])
    return list(zip((solver, heuristic), plan.panels))


@pytest.mark.parametrize(("name", "reference"), CASES)
def test_every_block_is_drawn_once_at_its_allocated_sublayer(name, reference, both_allocators) -> None:
    for model, panel in _panels(name, reference, both_allocators):
        sublayer_of = model.allocation.sublayer_of
        starts = Counter(block for box in panel.boxes for block in box.blocks if box.sublayer == sublayer_of[block])
        assert starts == Counter(list(sublayer_of)), f"{panel.title}: each block once where the allocation put it"
        for box in panel.boxes:  # a selector width's MLP half is the only part drawn a sublayer later
            assert all(box.sublayer in (sublayer_of[block], sublayer_of[block] + 1) for block in box.blocks)


@pytest.mark.parametrize(("name", "reference"), CASES)
def test_box_widths_add_up_to_each_layer_s_heads_and_hidden_units(name, reference, both_allocators) -> None:
    for model, panel in _panels(name, reference, both_allocators):
        for number, layer in enumerate(model.layered.layers):
            heads = sum(box.width for box in panel.boxes if box.sublayer == 2 * number)
            units = sum(box.width for box in panel.boxes if box.sublayer == 2 * number + 1)
            assert (heads, units) == (len(layer.heads), layer.mlp_hidden_width)
        assert (panel.num_layers, panel.parameters) == (model.config.num_layers, model.params_total)


@pytest.mark.parametrize(("name", "reference"), CASES)
def test_fused_regions_are_one_box_and_every_fold_is_noted(name, reference, both_allocators) -> None:
    for model, panel in _panels(name, reference, both_allocators):
        fused = [box for box in panel.boxes if box.fused]
        assert len(fused) == len(model.allocation.fusion_groups)
        assert all(not box.is_attention and len(box.blocks) >= 2 for box in fused)
        folded = {label for label, location in model.layered.locations.items() if location.folded}
        noted = {label for box in panel.boxes for label in box.folded} | set(panel.folded_into_unembedding)
        assert noted == folded
    if reference:
        assert not folded and not fused


def test_frac_prevs_folds_is_x_into_its_one_head(both_allocators) -> None:
    (_, panel), _ = _panels("frac_prevs", False, both_allocators)
    (box,) = panel.boxes
    assert (box.sublayer, box.sops, box.width, box.folded) == (0, ("frac_prevs",), 1, ("is_x",))


@pytest.mark.parametrize(("name", "reference"), CASES)
def test_the_figure_draws_one_outlined_box_per_planned_box(name, reference, both_allocators) -> None:
    _, solver, heuristic = both_allocators(name, reference)
    plan = plotting.layout_plan([solver, heuristic], ["solver", "heuristic"])
    figure = plotting.draw_layout(plan, title=name)
    assert len(figure.axes) == len(plan.panels)
    for axis, panel in zip(figure.axes, plan.panels):
        boxes = [patch for patch in axis.patches if (patch.get_gid() or "").startswith("box ")]
        assert sorted(patch.get_gid() for patch in boxes) == sorted(
            f"box {'+'.join(box.blocks)} sublayer {box.sublayer}" for box in panel.boxes)
        for patch in boxes:  # each in its layer's column, attention above MLP
            sublayer = int(patch.get_gid().split()[-1])
            assert (int(patch.get_x()), int(patch.get_y())) == (sublayer // 2, 1 - sublayer % 2)
        texts = "\n".join(text.get_text() for text in axis.texts)
        assert all(sop in texts for box in panel.boxes for sop in (box.blocks if box.fused else box.sops))
        assert axis.get_title(loc="left").startswith(panel.title)
