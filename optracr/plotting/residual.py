"""The residual stream picture: one band of rows per s-op, one panel per sublayer that writes something.

``residual_plan`` decides what is drawn (pure numpy, no matplotlib); ``residual_figure`` draws a plan. By
default a band shows only the values its s-op takes on the given input (the directions that are non-zero at
some position), bands with no such value are hidden (the output's band never is), a selector width's scratch
direction is hidden, and sublayers where no block sits are left out. ``all_rows=True`` draws every
direction after the embedding and after every sublayer.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from optracr import assemble
from optracr.plotting import _matplotlib

INPUTS = ("one", "tokens", "indices")
USED = 1e-4  # a direction is used on an input if it exceeds this anywhere (attention leaks stay below 1e-6)


@dataclasses.dataclass(frozen=True)
class Band:
    """The rows of one s-op (or input, or scratch): residual labels drawn and each row's value text."""

    name: str
    kind: str  # "input", "sop" or "scratch"
    rows: tuple[str, ...]  # residual labels, in residual order
    values: tuple[str, ...]  # per row, the value it stands for ("" for a one-direction band)
    is_output: bool = False


@dataclasses.dataclass(frozen=True)
class Stage:
    """One panel: the residual after the embedding (``sublayer`` None) or after sublayer ``sublayer``."""

    title: str
    sublayer: int | None
    writes: tuple[str, ...]  # s-ops whose value this sublayer writes
    helps: tuple[str, ...] = ()  # s-ops whose block has a part here but writes its value later (selector width)
    detail: str = ""  # what sits here in words: the s-ops, fused regions as fused[a, b], scratch-only parts


@dataclasses.dataclass(frozen=True)
class ResidualPlan:
    """What the residual picture draws: bands top to bottom, panels left to right, one matrix per panel."""

    tokens: tuple[str, ...]
    decoded: tuple[str, ...]
    bands: tuple[Band, ...]
    stages: tuple[Stage, ...]
    matrices: tuple[np.ndarray, ...]  # per stage, rows x positions, the drawn rows only
    hidden_rows: tuple[str, ...]  # residual labels left out
    hidden_bands: tuple[str, ...]  # s-ops with no row drawn (no value on this input, or scratch)

    @property
    def rows(self) -> tuple[str, ...]:
        """Every drawn residual label, top to bottom."""
        return tuple(row for band in self.bands for row in band.rows)


def residual_plan(
    model: assemble.CompiledModel, tokens: Sequence[Hashable], *, all_rows: bool = False,
    result: assemble.ApplyResult | None = None,
) -> ResidualPlan:
    """Which bands, rows and panels the residual picture of ``model`` on ``tokens`` (BOS first) draws;
    ``result`` is ``model.apply(tokens)`` where the caller has it already."""
    result = result if result is not None else model.apply(tokens)
    layered = model.layered
    index = {label: number for number, label in enumerate(layered.residual_labels)}
    used = np.abs(np.stack(result.residuals)).max(axis=(0, 1)) > USED
    bands, hidden, hidden_bands = [], [], []
    for band in _bands(layered):
        keep = band.rows if all_rows else tuple(r for r in band.rows if used[index[r]])
        if not all_rows and band.kind == "scratch":
            keep = ()
        if band.is_output and not keep:
            keep = band.rows  # the output is drawn even where it has no value
        hidden += [row for row in band.rows if row not in keep]
        if not keep:
            hidden_bands.append(band.name)
        else:
            values = tuple(value for row, value in zip(band.rows, band.values) if row in keep)
            bands.append(dataclasses.replace(band, rows=keep, values=values))
    stages = _stages(layered, all_rows)
    order = [index[row] for band in bands for row in band.rows]
    matrices = tuple(
        np.array(result.residuals[0 if stage.sublayer is None else stage.sublayer + 1][:, order].T)
        for stage in stages
    )
    return ResidualPlan(
        tokens=tuple(_matplotlib.token_text(token) for token in tokens),
        decoded=tuple(_matplotlib.token_text(value) for value in result.decoded),
        bands=tuple(bands),
        stages=stages,
        matrices=matrices,
        hidden_rows=tuple(hidden),
        hidden_bands=tuple(hidden_bands),
    )


def _bands(layered: assemble.LayeredModel) -> list[Band]:
    """Every residual direction grouped by the name of its s-op, in residual order."""
    grouped: dict[str, list[Any]] = {}
    for direction in layered.residual_space.basis:
        grouped.setdefault(direction.name, []).append(direction)
    bands = []
    for name, directions in grouped.items():
        kind = "input" if name in INPUTS else "sop" if name in layered.locations else "scratch"
        bands.append(Band(
            name=name,
            kind=kind,
            rows=tuple(str(direction) for direction in directions),
            values=tuple("" if direction.value is None else _matplotlib.token_text(direction.value)
                         for direction in directions),
            is_output=name == layered.output_label,
        ))
    return bands


def _stages(layered: assemble.LayeredModel, all_rows: bool) -> tuple[Stage, ...]:
    stages = [Stage("embedding", None, ())]
    for sublayer, contents in enumerate(layered.sublayer_contents):
        if contents or all_rows:
            kind = "attention" if sublayer % 2 == 0 else "MLP"
            writes = tuple(label for label in contents if layered.locations[label].sublayer == sublayer)
            helps = tuple(label for label in contents if label not in writes)
            detail = ", ".join([*_grouped(layered, writes), *(f"{label} (scratch)" for label in helps)])
            stages.append(Stage(f"layer {sublayer // 2} {kind}", sublayer, writes, helps, detail))
    return tuple(stages)


def _grouped(layered: assemble.LayeredModel, labels: Sequence[str]) -> list[str]:
    """The labels, each fused region once as ``fused[a, b]`` (its members in the region's order)."""
    texts: list[str] = []
    for label in labels:
        members = layered.locations[label].fused_with
        text = f"fused[{', '.join(members)}]" if members else label
        if text not in texts:
            texts.append(text)
    return texts


# ------------------------------------------------------------------------------------------------ drawing
CELL_WIDTH = 0.32  # inches per position
ROW_HEIGHT = 0.19  # inches per row
TITLE_LINES = 4  # a panel's title: the sublayer, then the s-ops it writes, wrapped
OUTPUT_COLOUR = "#b35806"
WRITE_COLOUR = "#1a9850"


def residual_figure(
    model: assemble.CompiledModel, tokens: Sequence[Hashable], *, all_rows: bool = False, title: str = ""
) -> Any:
    """The residual stream of ``model`` on ``tokens`` (BOS first) as a matplotlib figure.

    One panel per stage (embedding, then each sublayer with a block), one band of rows per s-op; a green
    frame marks the bands a sublayer writes (dashed: a selector width's attention half, which writes its
    hidden scratch), the output's band is framed in orange. See ``residual_plan`` for what is left out.
    """
    return draw_residual(residual_plan(model, tokens, all_rows=all_rows), title=title or model.output_label)


def draw_residual(plan: ResidualPlan, *, title: str = "") -> Any:
    """Draws a ``ResidualPlan``."""
    plt = _matplotlib.pyplot()
    size = _matplotlib.FONT_SIZE
    num_rows, num_positions = len(plan.rows), len(plan.tokens)
    panel_width = max(CELL_WIDTH * num_positions, 1.4)
    label_width = 0.085 * max(len(band.name) for band in plan.bands) + 0.07 * max(
        len(value) for band in plan.bands for value in band.values) + 0.35
    title_lines = max(len(_stage_title(stage, panel_width).rstrip("\n").splitlines()) for stage in plan.stages)
    header, footer = 0.5 + 0.16 * title_lines, 0.75
    width = label_width + (panel_width + 0.15) * len(plan.stages) + 0.9
    height = ROW_HEIGHT * num_rows + header + footer
    figure, axes = plt.subplots(
        1, len(plan.stages), figsize=(width, height), sharey=True, squeeze=False,
        gridspec_kw={"left": label_width / width, "right": 1 - 0.9 / width, "wspace": 0.15 / panel_width,
                     "top": 1 - header / height, "bottom": footer / height},
    )
    vmax = max(1.0, max(float(np.abs(matrix).max(initial=0.0)) for matrix in plan.matrices))
    image = None
    for axis, stage, matrix in zip(axes[0], plan.stages, plan.matrices):
        image = axis.imshow(matrix, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto", interpolation="nearest")
        axis.set_title(_stage_title(stage, panel_width), fontsize=size, loc="left", va="bottom")
        axis.set_xticks(range(num_positions), plan.tokens, fontsize=size)
        axis.tick_params(axis="y", length=0)
        _draw_band_lines(axis, plan, stage)
        _write_numbers(axis, plan, matrix, vmax)
    _label_rows(axes[0][0], plan)
    colorbar = figure.colorbar(image, ax=axes[0].tolist(), fraction=0.4 / width, pad=0.2 / width)
    colorbar.ax.tick_params(labelsize=size)
    output = " ".join(plan.decoded[1:])
    figure.suptitle(f"{title}   input: {' '.join(plan.tokens[1:])}   output: {output}", fontsize=size + 3,
                    x=0.01, ha="left")
    figure.text(0.01, 0.12 / height, _footnote(plan), fontsize=size, ha="left", va="bottom", color="0.3")
    return figure


def _stage_title(stage: Stage, panel_width: float) -> str:
    """The sublayer's name, then what it writes (and what it helps compute), wrapped to the panel."""
    chars = max(12, int(panel_width / 0.062))
    lines = textwrap.wrap(stage.detail, width=chars, max_lines=TITLE_LINES - 1, placeholder=" ...")
    return "\n".join([stage.title, *lines])


def _footnote(plan: ResidualPlan) -> str:
    if not plan.hidden_rows:
        return "every residual direction is drawn"
    lines = [f"{len(plan.rows)} of {len(plan.rows) + len(plan.hidden_rows)} residual directions drawn: "
             "the values each s-op takes on this input; sublayers without a block left out (--all-rows: every one)"]
    if plan.hidden_bands:
        lines.append(textwrap.shorten("no value on this input, or scratch: " + ", ".join(plan.hidden_bands), 160))
    return "\n".join(lines)


def _draw_band_lines(axis: Any, plan: ResidualPlan, stage: Stage) -> None:
    """Separators between bands; a frame around the bands this stage writes and around the output band."""
    import matplotlib.patches as patches

    top = -0.5
    for band in plan.bands:
        bottom = top + len(band.rows)
        axis.axhline(bottom, color="0.35", linewidth=0.6)
        frame = None
        if band.name in stage.writes:
            frame = (OUTPUT_COLOUR if band.is_output else WRITE_COLOUR, "-", 1.8)
        elif band.name in stage.helps:
            frame = (WRITE_COLOUR, "--", 1.6)
        elif band.is_output:
            frame = (OUTPUT_COLOUR, ":", 1.4)
        if frame:
            colour, style, width = frame
            inset = 0.08
            axis.add_patch(patches.Rectangle(
                (-0.5 + inset, top + inset), len(plan.tokens) - 2 * inset, len(band.rows) - 2 * inset, fill=False,
                edgecolor=colour, linewidth=width, linestyle=style))
        top = bottom


def _write_numbers(axis: Any, plan: ResidualPlan, matrix: np.ndarray, vmax: float) -> None:
    """The value in every non-zero cell of a one-direction s-op's band (numerical s-ops)."""
    row = 0
    for band in plan.bands:
        if band.kind == "sop" and band.values == ("",):
            for position, value in enumerate(matrix[row]):
                if abs(value) > USED:
                    colour = "white" if abs(value) > 0.6 * vmax else "black"
                    axis.text(position, row, f"{value:.2g}", ha="center", va="center", fontsize=6.5, color=colour)
        row += len(band.rows)


def _label_rows(axis: Any, plan: ResidualPlan) -> None:
    """Values as tick labels, each band's name left of them, centred on the band; the output's in orange."""
    import matplotlib.transforms as transforms

    size = _matplotlib.FONT_SIZE
    values = [value for band in plan.bands for value in band.values]
    axis.set_yticks(range(len(values)), values, fontsize=size)
    offset = 0.07 * max(len(value) for value in values) + 0.1  # inches left of the axis, past the tick labels
    place = transforms.offset_copy(
        transforms.blended_transform_factory(axis.transAxes, axis.transData), fig=axis.figure, x=-offset, units="inches"
    )
    top = 0
    for band in plan.bands:
        centre = top + (len(band.rows) - 1) / 2
        colour = OUTPUT_COLOUR if band.is_output else "black"
        axis.text(0, centre, band.name, transform=place, ha="right", va="center", fontsize=size + 1,
                  fontweight="normal" if band.kind == "input" else "bold", color=colour)
        for label in axis.get_yticklabels()[top: top + len(band.rows)]:
            label.set_color(colour)
        top += len(band.rows)
