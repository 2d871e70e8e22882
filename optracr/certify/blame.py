"""Which block is at fault when the proof fails: the first block (in the order the model runs) whose output,
replaced by the exact encoding of what the program says it holds, makes every bound hold. Each candidate is one
more pass with that block's labels overridden; the weights of every other block stay as they are."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable

import numpy as np

from optracr.certify import analysis as analysis_lib
from optracr.certify import findings
from optracr.certify import residual as residual_lib
from optracr.certify import tables as tables_lib


@dataclasses.dataclass(frozen=True)
class Blame:
    """The block at fault, and why it is the one."""

    block: findings.Block
    reason: str


def exact(table: tables_lib.Table) -> tables_lib.Table:
    """``table``'s states encoded exactly: a one-hot, a number, 1 for ``one``; nothing else anywhere."""
    label = table.label
    rows = table.num_rows
    if label.role is residual_lib.Role.ONE:
        value = np.ones(rows)
    else:
        value = np.where(table.hot >= 0, table.intended_hot(), 0.0)
    zeros = np.zeros(rows)
    return table.replaced(center=np.where(table.hot >= 0, value, 0.0), hot_lo=value, hot_hi=value, cold_lo=zeros,
                          cold_hi=zeros, sum_lo=zeros, sum_hi=zeros)


def find(baseline: analysis_lib.Analysis, rerun: Callable[[dict], analysis_lib.Analysis]) -> Blame | None:
    """The block at fault for ``baseline``'s failures; ``rerun(overrides)`` is the same pass with overrides."""
    context = baseline.context
    local = [failure for failure in baseline.failures if failure.block.kind != "unembedding"]
    if local:  # a block the certificate cannot reason about names itself
        return Blame(local[0].block, local[0].what)
    exact_tables = {name: exact(_table(context, name)) for name in context.residual.labels}
    everything = rerun({name: table for name, table in exact_tables.items()
                        if context.residual.labels[name].role is not residual_lib.Role.SCRATCH})
    if not everything.proved:
        return Blame(findings.Block("unembedding", writes=(context.layered.output_label,)),
                     "its output decodes wrong even when every label it reads holds its exact encoding")
    embedding = findings.Block("embedding", writes=tuple(context.embedding.tables))
    candidates = [(embedding, {name: exact_tables[name] for name in context.embedding.tables})]
    weights = context.weights
    for number in range(len(weights.heads)):
        for part in [*weights.heads[number], *weights.groups[number]]:
            labels = [_served(context, name) for name in part.block.writes]
            candidates.append((part.block, {name: exact_tables[name] for name in labels if name in exact_tables}))
    for block, overrides in candidates:
        if overrides and rerun(overrides).proved:
            return Blame(block, "replacing what it writes by the exact encoding makes every bound hold")
    return None


def _served(context, name: str) -> str:
    """The label whose value a written label stands for: a selector width's scratch serves the width."""
    label = context.residual.labels[name]
    return label.sop if label.role is residual_lib.Role.SCRATCH else name


def _table(context, name: str) -> tables_lib.Table:
    """The label's table after the baseline pass, or every state its value set allows."""
    return context.tables.get(name) or context.unwritten(name)


def describe(context, block: findings.Block) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What goes wrong in ``block`` in the baseline pass, in words, with the values it happens at."""
    for name in block.writes:
        details = context.details.get(name) or context.details.get(_served(context, name))
        if details is None:
            continue
        kind = details.get("kind")
        if kind == "mlp" and details.get("worst"):
            worst = details["worst"]
            intended = tables_lib.shown(tables_lib.NO_VALUE if worst["intended"] is None else worst["intended"])
            low, high = worst["range"]
            return (f"writes {name!r} = {intended} off its exact encoding by up to {worst['error']:.3g} (the "
                    f"direction that should hold it lies in [{low:.4g}, {high:.4g}])",
                    findings.values_shown(worst["values"]))
        if kind in ("categorical", "numerical"):
            return (f"up to {details['stray']:.3g} of the attention can fall off the selected keys (one selected key "
                    f"against {context.max_length - 1} others at their highest scores), and up to "
                    f"{details['empty']:.3g} off BOS when nothing is selected", ())
        if kind == "width":
            return _width_story(details["boxes"]), ()
    return "its output is off (see the failures below)", ()


def _width_story(boxes: dict[int, tuple[float, float]]) -> str:
    """Where a selector width head's writes for neighbouring widths overlap, or else that they do not."""
    widths = sorted(boxes)
    for first, second in zip(widths, widths[1:]):
        (low_a, high_a), (low_b, high_b) = boxes[first], boxes[second]
        if max(low_a, low_b) <= min(high_a, high_b):
            return (f"fails at width {second}: the head writes [{low_b:.4g}, {high_b:.4g}] for width {second} and "
                    f"[{low_a:.4g}, {high_a:.4g}] for width {first}, which overlap, so no MLP can tell them apart")
    return "its head keeps every width apart, but its MLP does not map them to the widths"


def first_failing_width(boxes: dict[int, tuple[float, float]]) -> int | None:
    """The smallest width whose range overlaps its neighbour's, if any."""
    widths = sorted(boxes)
    for first, second in zip(widths, widths[1:]):
        if max(boxes[first][0], boxes[second][0]) <= min(boxes[first][1], boxes[second][1]):
            return second
    return None


def shown_values(values: dict[str, Hashable]) -> tuple[tuple[str, str], ...]:
    """Values in words."""
    return findings.values_shown(values)
