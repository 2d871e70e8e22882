"""The attention picture: every head's pattern on one input, titled with the selector the head implements.

``attention_plan`` finds the s-op each head computes (the model's locations) and, given the program, its
operation and selector (``selectors.head_descriptions``); ``attention_figure`` draws one panel per head that
exists (layers without heads and the padding heads of narrower layers are not drawn).
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from optracr import assemble
from optracr.errors import CompileError
from optracr.frontend import rasp
from optracr.plotting import _matplotlib
from optracr.plotting import selectors


@dataclasses.dataclass(frozen=True)
class HeadPanel:
    """One head: its pattern (query rows x key columns) and what it computes."""

    layer: int
    head: int
    sop: str  # the s-op the head computes (for a selector width, its attention half)
    operation: str  # "Aggregate(is_x)", "SelectorWidth", or "" when the program was not given
    selector: str  # "indices[k] <= indices[q]", or "" when the program was not given
    pattern: np.ndarray


@dataclasses.dataclass(frozen=True)
class AttentionPlan:
    """The panels of the attention picture, in layer then head order."""

    tokens: tuple[str, ...]
    panels: tuple[HeadPanel, ...]


def attention_plan(
    model: assemble.CompiledModel, tokens: Sequence[Hashable], *, program: rasp.SOp | None = None,
    result: assemble.ApplyResult | None = None,
) -> AttentionPlan:
    """Which heads the attention picture of ``model`` on ``tokens`` (BOS first) draws, and their titles;
    ``result`` is ``model.apply(tokens)`` where the caller has it already."""
    result = result if result is not None else model.apply(tokens)
    owners = {(location.layer, head): label
              for label, location in model.layered.locations.items() for head in location.heads}
    described = selectors.head_descriptions(program) if program is not None else {}
    panels = []
    for layer_number, layer in enumerate(model.layered.layers):
        for head in range(len(layer.heads)):
            sop = owners.get((layer_number, head), "?")
            if program is not None and sop not in described:
                raise CompileError(sop, f"layer {layer_number} head {head} computes {sop!r}, but the program given "
                                   "has no Aggregate or SelectorWidth of that label; pass the very program object "
                                   "the model was compiled from (unnamed s-ops get new labels on every build)")
            operation, selector = described.get(sop, ("", ""))
            pattern = np.array(result.attention[layer_number][head])
            panels.append(HeadPanel(layer_number, head, sop, operation, selector, pattern))
    return AttentionPlan(tuple(_matplotlib.token_text(token) for token in tokens), tuple(panels))


CELL = 0.34  # inches per position
TITLE_LINES = 5  # layer and head, what it computes (up to 2 lines), the selector (up to 2)
NUMBERS_UP_TO = 9  # write each weight in its cell for inputs up to this many positions


def attention_figure(
    model: assemble.CompiledModel, tokens: Sequence[Hashable], *, program: rasp.SOp | None = None,
    title: str = "",
) -> Any:
    """Every head's attention pattern on ``tokens`` (BOS first): one row of panels per layer with heads.

    With ``program`` (the RASP program ``model`` was compiled from), each panel's title says what the head
    computes and which keys it selects: ``k`` is the key position, ``q`` the query's.
    """
    return draw_attention(attention_plan(model, tokens, program=program), title=title or model.output_label)


def draw_attention(plan: AttentionPlan, *, title: str = "") -> Any:
    """Draws an ``AttentionPlan``."""
    plt = _matplotlib.pyplot()
    size = _matplotlib.FONT_SIZE
    layers = sorted({panel.layer for panel in plan.panels})
    columns = max((sum(p.layer == layer for p in plan.panels) for layer in layers), default=1)
    side = max(CELL * len(plan.tokens), 1.9)
    header = 0.16 * TITLE_LINES
    width, height = 0.5 + (side + 0.75) * columns, 0.7 + (side + header + 0.45) * max(len(layers), 1)
    figure, axes = plt.subplots(max(len(layers), 1), columns, figsize=(width, height), squeeze=False,
                                gridspec_kw={"hspace": (header + 0.45) / side, "wspace": 0.75 / side,
                                             "top": 1 - (0.6 + header) / height, "bottom": 0.45 / height,
                                             "left": 0.5 / width, "right": 1 - 0.2 / width})
    for axis in axes.flat:
        axis.set_visible(False)
    for panel in plan.panels:
        row = layers.index(panel.layer)
        column = sum(p.layer == panel.layer and p.head < panel.head for p in plan.panels)
        _draw_head(axes[row][column], panel, plan.tokens, side)
    figure.suptitle(f"{title}   attention on: {' '.join(plan.tokens[1:])}\nrows: query position q, columns: "
                    "key position k", fontsize=size + 2, x=0.01, ha="left")
    return figure


def _draw_head(axis: Any, panel: HeadPanel, tokens: tuple[str, ...], side: float) -> None:
    size = _matplotlib.FONT_SIZE
    axis.set_visible(True)
    axis.imshow(panel.pattern, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    positions = range(len(tokens))
    axis.set_xticks(positions, tokens, fontsize=size)
    axis.set_yticks(positions, tokens, fontsize=size)
    axis.set_xlabel("key", fontsize=size)
    axis.set_ylabel("query", fontsize=size)
    if len(tokens) <= NUMBERS_UP_TO:
        for (query, key), weight in np.ndenumerate(panel.pattern):
            if weight > 0.005:
                colour = "white" if weight > 0.6 else "black"
                axis.text(key, query, f"{weight:.2f}".lstrip("0"), ha="center", va="center", fontsize=6.5,
                          color=colour)
    chars = max(16, int((side + 0.5) / 0.068))  # a title may reach into the gap right of its panel
    computes = f"{panel.sop} = {panel.operation}" if panel.operation else panel.sop
    lines = [f"layer {panel.layer}, head {panel.head}", *textwrap.wrap(computes, chars, max_lines=2, placeholder="...")]
    if panel.selector:
        lines += textwrap.wrap(f"select {panel.selector}", chars, max_lines=2, placeholder="...")
    axis.set_title("\n".join(lines), fontsize=size, loc="left", va="bottom")
