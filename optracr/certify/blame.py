"""Which block is at fault when the proof fails: the first block (in the order the model runs) whose output,
replaced by the exact encoding of what the program says it holds, makes every bound hold. Each candidate is one
more pass with that block's labels overridden; the weights of every other block stay as they are."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable

import numpy as np

from optracr.certify import arrays
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
        value = arrays.where(table.hot >= 0, table.intended_hot(), 0.0)
    zeros = np.zeros(rows)
    return table.replaced(center=arrays.where(table.hot >= 0, value, 0.0), hot_lo=value, hot_hi=value, cold_lo=zeros,
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
    for name, label in context.residual.labels.items():
        if label.role is residual_lib.Role.SOP and name not in context.weights.written_at:
            candidates.append((findings.Block("missing", writes=(name,)), {name: exact_tables[name]}))
    for block in blocks_in_order(context):
        labels = [_served(context, name) for name in block.writes]
        candidates.append((block, {name: exact_tables[name] for name in labels if name in exact_tables}))
    for block, overrides in candidates:
        if overrides and rerun(overrides).proved:
            return Blame(block, "replacing what it writes by the exact encoding makes every bound hold")
    return None


def blocks_in_order(context) -> list[findings.Block]:
    """Every head and hidden-unit group in the order the model runs them; a selector width's head joins the MLP
    group reading its scratch direction as one block (``kind`` "pair"): it writes nothing the program names."""
    weights = context.weights
    found = []
    for number in range(len(weights.heads)):
        groups = list(weights.groups[number])
        paired: dict[int, list[int]] = {}
        for head in weights.heads[number]:
            scratch = [name for name in head.block.writes
                       if context.residual.labels[name].role is residual_lib.Role.SCRATCH]
            partner = next((index for index, group in enumerate(groups) if scratch and any(
                name in group.reads for name in scratch)), None)
            if partner is None:
                found.append(head.block)
            else:
                paired.setdefault(partner, []).extend(head.block.heads)
        for index, group in enumerate(groups):
            if index in paired:
                found.append(dataclasses.replace(group.block, kind="pair", heads=tuple(paired[index])))
            else:
                found.append(group.block)
    return found


def _served(context, name: str) -> str:
    """The label whose value a written label stands for: a selector width's scratch serves the width."""
    label = context.residual.labels[name]
    return label.sop if label.role is residual_lib.Role.SCRATCH else name


def _table(context, name: str) -> tables_lib.Table:
    """The label's table after the baseline pass, or every state its value set allows."""
    return context.tables.get(name) or context.unwritten(name)


def describe(context, block: findings.Block) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What goes wrong in ``block`` in the baseline pass, in words, with the values it happens at."""
    if block.kind == "missing":
        where = context.layered.locations.get(block.writes[0])
        planned = f" (the model's map says {where.describe()})" if where is not None else ""
        return f"no head or hidden unit writes {block.writes[0]!r}, so it reads as zero everywhere{planned}", ()
    if block.kind in ("embedding", "unembedding"):
        failing = [f for f in context.failures if f.block.kind == block.kind] or context.failures
        return (failing[0].what if failing else "its output is off"), (failing[0].values if failing else ())
    names = list(block.writes)
    if block.kind == "pair":
        scratch = [name for head in context.weights.heads[block.layer] if head.block.heads[0] in block.heads
                   for name in head.block.writes]
        for name in scratch:
            boxes = context.details.get(name, {}).get("boxes", {})
            if first_failing_width(boxes) is not None:
                return _width_story(boxes), ()
            width_label = context.residual.labels[name].sop
            table = context.tables.get(width_label)
            if table is not None and boxes:
                return _pair_story(width_label, table, boxes), ()
    for name in names:
        details = context.details.get(name) or context.details.get(_served(context, name))
        table = context.tables.get(name)
        if details is None or table is None:
            continue
        kind = details.get("kind")
        worst = details["worst"]() if kind == "mlp" else None  # found on demand (mlp._worst)
        if worst:
            state = tables_lib.NO_VALUE if worst["intended"] is None else worst["intended"]
            return (f"writes {name!r} = {tables_lib.shown(state)} {_off(table, table.row_of(state))}",
                    findings.values_shown(worst["values"]))
        if kind in ("categorical", "numerical"):
            rows = list(table.value_rows)
            row = rows[int(np.argmax(table.error()[rows]))] if rows else table.num_rows - 1
            return (f"writes {name!r} = {tables_lib.shown(table.states[row])} {_off(table, row)}; up to "
                    f"{details['stray']:.3g} of the attention can fall off the selected keys (one selected key against "
                    f"{context.max_length - 1} others at their highest scores), up to {details['empty']:.3g} off BOS "
                    "when nothing is selected", ())
        if kind == "width":
            return _width_story(details["boxes"]), ()
    return "its output is off (see the failures below)", ()


def _off(table: tables_lib.Table, row: int) -> str:
    """How far one row of a table is from the exact encoding, in words."""
    error = float(table.error()[row])
    if table.label.numerical:
        return f"in [{table.hot_lo[row]:.6g}, {table.hot_hi[row]:.6g}], off by up to {error:.3g}"
    hot = (f"its direction in [{table.hot_lo[row]:.4g}, {table.hot_hi[row]:.4g}], " if table.hot[row] >= 0 else "")
    return (f"off its one-hot by up to {error:.3g} ({hot}the other directions in [{table.cold_lo[row]:.4g}, "
            f"{table.cold_hi[row]:.4g}])")


def _width_story(boxes: dict[int, tuple[float, float]]) -> str:
    """Where a selector width head's writes for neighbouring widths overlap, or else that they do not."""
    widths = sorted(boxes)
    for first, second in zip(widths, widths[1:]):
        (low_a, high_a), (low_b, high_b) = boxes[first], boxes[second]
        if max(low_a, low_b) <= min(high_a, high_b):
            return (f"fails at width {second}: the head writes [{low_b:.4g}, {high_b:.4g}] for width {second} and "
                    f"[{low_a:.4g}, {high_a:.4g}] for width {first}, which overlap, so no MLP can tell them apart")
    return "its head keeps every width apart, but its MLP does not map them to the widths"


def _pair_story(label: str, table: tables_lib.Table, boxes: dict[int, tuple[float, float]]) -> str:
    """A selector width whose head keeps the widths apart but whose output reads wrong at some widths."""
    errors = table.error()
    failing = [state for row, state in enumerate(table.states[:-1]) if isinstance(state, int) and errors[row] >= 0.5]
    if not failing:
        return "its head keeps every width apart, but what its MLP writes is off (see the failures below)"
    width = failing[0]
    near = ", ".join(f"width {other}: [{boxes[other][0]:.4g}, {boxes[other][1]:.4g}]" for other in (width - 1, width + 1)
                     if other in boxes)
    more = f" (and at widths {failing[1:6]}{' ...' if len(failing) > 6 else ''})" if len(failing) > 1 else ""
    low, high = boxes.get(width, (float("nan"), float("nan")))
    return (f"fails at width {width}{more}: its head writes [{low:.4g}, {high:.4g}] for width {width} ({near}), "
            f"and its MLP reads that as {label!r} = {width} {_off(table, table.row_of(width))}")


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
