"""The affine-combination picture: which s-ops feed each MLP that discretises t, and t's coefficients.

``affine_plan`` reads the model's locations (the ground truth): every MLP block (an s-op's own, or a fused
region's) that computes its outputs from t = sum_i a_i v_i gives one panel, naming the s-ops it writes,
the layer, its hidden units, and each input s-op with its coefficient a_i. ``affine_figure`` draws one
horizontal bar per input, its length the coefficient relative to the largest (a separating lambda is a
sliver), the value written beside it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from optracr import assemble
from optracr.errors import CompileError
from optracr.plotting import _matplotlib


@dataclasses.dataclass(frozen=True)
class AffinePanel:
    """One MLP discretising an affine combination: what it computes, and t's inputs and coefficients."""

    block: str
    layer: int
    sops: tuple[str, ...]  # the s-ops the MLP computes (a fused region's members)
    hidden_units: int
    inputs: tuple[str, ...]
    coefficients: tuple[float, ...]


@dataclasses.dataclass(frozen=True)
class AffinePlan:
    """The panels of the picture, in layer order."""

    output_label: str
    panels: tuple[AffinePanel, ...]


def affine_plan(model: assemble.CompiledModel) -> AffinePlan:
    """Every MLP of ``model`` that discretises an affine combination of its inputs, one panel each."""
    by_block: dict[str, list[assemble.SopLocation]] = {}
    for location in model.layered.locations.values():
        if location.affine_inputs and location.block is not None:
            by_block.setdefault(location.block, []).append(location)
    panels = []
    for block, locations in by_block.items():
        first = locations[0]
        panels.append(AffinePanel(
            block=block, layer=first.layer, sops=tuple(sorted(location.label for location in locations)),
            hidden_units=len(first.mlp_units), inputs=first.affine_inputs, coefficients=first.affine_coefficients,
        ))
    panels.sort(key=lambda panel: (panel.layer, panel.block))
    return AffinePlan(model.output_label, tuple(panels))


def affine_figure(model: assemble.CompiledModel) -> Any:
    """The picture of ``affine_plan(model)``; a CompileError when no MLP of the model discretises one."""
    return draw_affine(affine_plan(model))


def draw_affine(plan: AffinePlan) -> Any:
    """Draws the plan: a row of bar charts, one per MLP."""
    if not plan.panels:
        raise CompileError(
            plan.output_label, "no MLP of this model discretises an affine combination (every one is a lookup table "
            "or an affine map); compile with fold=True, the default, and a program with numeric-valued inputs",
        )
    plt = _matplotlib.pyplot()
    plt.rcParams.update({"font.size": _matplotlib.FONT_SIZE})
    figure, axes = plt.subplots(1, len(plan.panels), figsize=(3.4 * len(plan.panels), 2.4), squeeze=False)
    for axis, panel in zip(axes[0], plan.panels):
        _draw_panel(axis, panel)
    figure.suptitle(f"'{plan.output_label}': MLPs computing their outputs from t = sum of coefficient x input")
    figure.tight_layout()
    return figure


def _draw_panel(axis: Any, panel: AffinePanel) -> None:
    largest = max(abs(c) for c in panel.coefficients) or 1.0
    rows = list(range(len(panel.inputs)))
    relative = [c / largest for c in panel.coefficients]
    axis.barh(rows, relative, color=["tab:blue" if c >= 0 else "tab:red" for c in relative])
    for row, (value, coefficient) in enumerate(zip(relative, panel.coefficients)):
        axis.text(value, row, f" {coefficient:.4g} ", va="center", ha="left" if value >= 0 else "right")
    axis.set_yticks(rows, labels=list(panel.inputs))
    axis.set_xlim(-1.6, 1.6)
    axis.axvline(0.0, color="black", linewidth=0.6)
    axis.invert_yaxis()
    axis.set_xlabel("coefficient / largest |coefficient|")
    sops = ", ".join(panel.sops)
    axis.set_title(f"layer {panel.layer} MLP, {panel.hidden_units} units\n{sops}", fontsize=_matplotlib.FONT_SIZE)
