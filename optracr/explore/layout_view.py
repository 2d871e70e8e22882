"""The layout view's data: the layout picture's boxes (``plotting.layout_plan``) as rectangles to scale.

Layers are columns one unit wide, the attention sublayer above the MLP one; a box's width is its heads (or
hidden units) over the layer's padded width, so every layer's cell is the width every layer pays for.
"""

from __future__ import annotations

from typing import Any

from optracr import assemble
from optracr import plotting

FILL = 0.92  # of a layer's column: the padded width; the rest is the gap between layers


def layout_boxes(model: assemble.CompiledModel) -> dict[str, Any]:
    """The model's shape and one JSON-ready rectangle per box, with what the box computes in words."""
    panel = plotting.layout_plan([model], titles=["layout"]).panels[0]
    locations = model.layered.locations
    scales = {True: FILL / max(panel.num_heads, 1), False: FILL / max(panel.mlp_hidden_width, 1)}
    left: dict[int, float] = {}
    boxes = []
    for box in panel.boxes:
        x = left.get(box.sublayer, box.layer + (1 - FILL) / 2)
        width = box.width * scales[box.is_attention]
        left[box.sublayer] = x + width
        unit = "head" if box.is_attention else "hidden unit"
        boxes.append({
            "sublayer": box.sublayer, "layer": box.layer, "attention": box.is_attention, "x0": x, "x1": x + width,
            "width": box.width, "unit": unit, "fused": box.fused, "sops": list(box.sops),
            "blocks": list(box.blocks), "folded": list(box.folded),
            "computes": [f"{label}: {locations[label].describe()}" for label in box.sops],
        })
    return {
        "num_layers": panel.num_layers, "num_heads": panel.num_heads, "mlp_hidden_width": panel.mlp_hidden_width,
        "parameters": panel.parameters, "fill": FILL, "boxes": boxes,
        "folded_into_unembedding": list(panel.folded_into_unembedding),
    }
