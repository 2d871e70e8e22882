"""The layout picture: where the allocation put every block, beside another allocation of the same program.

``layout_plan`` reads each model's locations (the ground truth of which s-op is computed where): per block an
attention box (its heads) and an MLP box (its hidden units) in the sublayer it occupies; the blocks of a
fused region share one MLP box; each folded s-op is noted on the boxes whose reads compose it.
``layout_figure`` draws the models one above the other, layers as columns, attention above MLP, box widths
to scale (one scale for every panel), each cell's outline the model's padded width.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Sequence
from typing import Any

from optracr import assemble
from optracr.plotting import _matplotlib

UNEMBEDDING = "unembedding"


@dataclasses.dataclass(frozen=True)
class LayoutBox:
    """One drawn box: part of a block (or a fused region) in one sublayer."""

    sublayer: int  # 2k: attention of layer k, 2k + 1: its MLP
    blocks: tuple[str, ...]  # the allocation's block ids drawn here (a fused region: its members)
    sops: tuple[str, ...]  # the s-ops computed here
    width: int  # heads (attention) or hidden units (MLP)
    fused: bool = False
    folded: tuple[str, ...] = ()  # folded s-ops these reads compose

    @property
    def layer(self) -> int:
        """The layer the box sits in."""
        return self.sublayer // 2

    @property
    def is_attention(self) -> bool:
        """Whether the box is heads (else MLP units)."""
        return self.sublayer % 2 == 0


@dataclasses.dataclass(frozen=True)
class LayoutPanel:
    """One model's layout: its boxes, its padded shape and what it costs."""

    title: str
    num_layers: int
    num_heads: int  # per layer, padded
    mlp_hidden_width: int  # per layer, padded
    parameters: int
    boxes: tuple[LayoutBox, ...]
    folded_into_unembedding: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class LayoutPlan:
    """The panels of the layout picture, top to bottom."""

    panels: tuple[LayoutPanel, ...]


def layout_plan(models: Sequence[assemble.CompiledModel], titles: Sequence[str] = ()) -> LayoutPlan:
    """Which boxes the layout picture of ``models`` (allocations of one program) draws, one panel each."""
    titles = list(titles) or [model.allocation.status.name.lower() for model in models]
    return LayoutPlan(tuple(_panel(model, title) for model, title in zip(models, titles, strict=True)))


def _panel(model: assemble.CompiledModel, title: str) -> LayoutPanel:
    layered = model.layered
    by_block: dict[str, list[Any]] = {}
    for location in layered.locations.values():
        if not location.folded:
            by_block.setdefault(location.block, []).append(location)
    folds = {label: location.folded_into for label, location in layered.locations.items() if location.folded}
    boxes = []
    for locations in by_block.values():
        with_heads = [location for location in locations if location.heads]
        if with_heads:
            labels = tuple(location.label for location in with_heads)
            boxes.append(LayoutBox(
                2 * with_heads[0].layer, labels, labels, len({h for loc in with_heads for h in loc.heads}),
                folded=_folded_into(folds, labels),
            ))
        with_units = [location for location in locations if location.mlp_units]
        if with_units:
            fused_with = with_units[0].fused_with
            blocks = fused_with or tuple(location.label for location in with_units)
            boxes.append(LayoutBox(
                2 * with_units[0].layer + 1, blocks, tuple(location.label for location in with_units),
                len({unit for location in with_units for unit in location.mlp_units}), fused=bool(fused_with),
                folded=() if with_heads and not fused_with else _folded_into(folds, blocks),
            ))
    shape = layered.shape
    return LayoutPanel(
        title=title, num_layers=shape.num_layers, num_heads=shape.num_heads,
        mlp_hidden_width=shape.mlp_hidden_width, parameters=model.params_total,
        boxes=tuple(sorted(boxes, key=lambda box: box.sublayer)),
        folded_into_unembedding=_folded_into(folds, (UNEMBEDDING,)),
    )


def _folded_into(folds: dict[str, tuple[str, ...]], blocks: Sequence[str]) -> tuple[str, ...]:
    return tuple(label for label, readers in folds.items() if set(readers) & set(blocks))


# ------------------------------------------------------------------------------------------------ drawing
ROW = 1.35  # inches per sublayer row
NARROWEST = 0.5  # inches: columns widen (up to MAX_COLUMN) until the narrowest box is this wide
MIN_COLUMN, MAX_COLUMN = 2.2, 4.0
COLOURS = {"attention": "#9ecae1", "mlp": "#fdd0a2", "fused": "#fdd0a2"}
HATCH_COLOUR = "#e6550d"
LEGEND = ("box width: heads or hidden units, to one scale in every panel; dotted: a layer's padded width (every "
          "layer pays for the widest)\nhatched: a fused MLP computing several s-ops in one hidden layer;  "
          "+ name: a folded s-op (no block of its own) composed into this box's reads")


def layout_figure(
    model: assemble.CompiledModel, *others: assemble.CompiledModel, titles: Sequence[str] = (), title: str = ""
) -> Any:
    """The layout of ``model`` (and of ``others``, e.g. the heuristic's allocation of the same program) as a
    matplotlib figure: one panel per model, layers as columns, the attention sublayer above the MLP one."""
    plan = layout_plan((model, *others), titles)
    return draw_layout(plan, title=title or model.output_label)


def draw_layout(plan: LayoutPlan, *, title: str = "") -> Any:
    """Draws a ``LayoutPlan``."""
    plt = _matplotlib.pyplot()
    columns = max(panel.num_layers for panel in plan.panels)
    head_scale = 0.92 / max(max(panel.num_heads for panel in plan.panels), 1)
    unit_scale = 0.92 / max(max(panel.mlp_hidden_width for panel in plan.panels), 1)
    narrowest = min((box.width * (head_scale if box.is_attention else unit_scale)
                     for panel in plan.panels for box in panel.boxes), default=1.0)
    column = min(max(MIN_COLUMN, NARROWEST / narrowest), MAX_COLUMN)
    panel_height = 2 * ROW + 0.9
    width, height = 1.1 + column * columns, 1.4 + panel_height * len(plan.panels)
    figure, axes = plt.subplots(len(plan.panels), 1, figsize=(width, height), squeeze=False,
                                gridspec_kw={"left": 1.0 / width, "right": 1 - 0.1 / width,
                                             "top": 1 - 1.0 / height, "bottom": 0.55 / height,
                                             "hspace": 0.9 / (2 * ROW)})
    for axis, panel in zip(axes[:, 0], plan.panels):
        _draw_panel(axis, panel, columns, head_scale, unit_scale, column)
    figure.suptitle(f"{title}: {_comparison(plan)}", fontsize=_matplotlib.FONT_SIZE + 3, x=0.01, ha="left")
    figure.text(0.01, 0.08 / height, LEGEND, fontsize=_matplotlib.FONT_SIZE, color="0.3", va="bottom")
    return figure


def _comparison(plan: LayoutPlan) -> str:
    if len(plan.panels) < 2:
        return "where each block sits"
    first, second = plan.panels[0], plan.panels[1]
    layers, parameters = second.num_layers - first.num_layers, second.parameters - first.parameters
    if not layers and not parameters:
        return f"{first.title} and {second.title} need the same layers and parameters"
    return f"the {first.title} saves {_count(layers, 'layer')} and {parameters:,} parameters against the {second.title}"


def _draw_panel(axis: Any, panel: LayoutPanel, columns: int, head_scale: float, unit_scale: float,
                column: float) -> None:
    import matplotlib.patches as patches

    size = _matplotlib.FONT_SIZE
    axis.set_xlim(0, columns)
    axis.set_ylim(0, 2)
    axis.set_xticks([layer + 0.5 for layer in range(panel.num_layers)],
                    [f"layer {layer}" for layer in range(panel.num_layers)], fontsize=size + 1)
    axis.set_yticks([1.5, 0.5], ["attention", "MLP"], fontsize=size + 1)
    axis.tick_params(length=0)
    axis.xaxis.tick_top()
    for spine in axis.spines.values():
        spine.set_visible(False)
    for layer in range(panel.num_layers):  # each cell's padded capacity: what every layer pays for
        for row, capacity in ((1, panel.num_heads * head_scale), (0, panel.mlp_hidden_width * unit_scale)):
            if capacity:
                axis.add_patch(patches.Rectangle((layer + 0.04, row + 0.06), capacity, 0.88, fill=False,
                                                 edgecolor="0.55", linestyle=":", linewidth=1.0))
            else:
                axis.text(layer + 0.5, row + 0.5, "none", ha="center", va="center", fontsize=size, color="0.5")
    left: dict[int, float] = {}
    for box in panel.boxes:
        scale = head_scale if box.is_attention else unit_scale
        row = 1 if box.is_attention else 0
        x = left.get(box.sublayer, box.layer + 0.04)
        box_width = box.width * scale
        left[box.sublayer] = x + box_width
        colour = COLOURS["attention" if box.is_attention else "fused" if box.fused else "mlp"]
        corner, extent = (x, row + 0.06), (box_width, 0.88)
        axis.add_patch(patches.Rectangle(corner, *extent, facecolor=colour, edgecolor="none"))
        if box.fused:
            axis.add_patch(patches.Rectangle(corner, *extent, fill=False, hatch="///", edgecolor=HATCH_COLOUR,
                                             linewidth=0, alpha=0.35))
        axis.add_patch(patches.Rectangle(corner, *extent, fill=False, edgecolor="black", linewidth=1.0,
                                         gid=f"box {'+'.join(box.blocks)} sublayer {box.sublayer}"))
        _label_box(axis, box, x, row, box_width, box_width * column)
    note = f";  the unembedding composes {', '.join(panel.folded_into_unembedding)}" \
        if panel.folded_into_unembedding else ""
    axis.set_title(
        f"{panel.title}: {_count(panel.num_layers, 'layer')}, {_count(panel.num_heads, 'head')} and "
        f"{_count(panel.mlp_hidden_width, 'MLP unit')} per layer, {panel.parameters:,} parameters{note}",
        fontsize=size + 2, loc="left", pad=20)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _label_box(axis: Any, box: LayoutBox, x: float, row: int, box_width: float, inches: float) -> None:
    """The box's s-ops (a fused region's members), its width, and the folded s-ops its reads compose; written
    across the box where it is wide enough, else along it."""
    names = ["fused", *(f"{name} +" for name in box.blocks[:-1]), box.blocks[-1]] if box.fused else list(box.sops)
    lines = [*names, _count(box.width, "head" if box.is_attention else "unit"), *(f"+ {label}" for label in box.folded)]
    vertical = inches < 0.075 * max(len(line) for line in lines)
    axis.text(x + box_width / 2, row + 0.5, "\n".join(lines), ha="center", va="center",
              fontsize=_matplotlib.FONT_SIZE, rotation=90 if vertical else 0, linespacing=1.05)
