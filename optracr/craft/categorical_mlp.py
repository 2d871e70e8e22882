"""MLPs with categorical inputs: lookup tables for Map and SequenceMap (categorical or numerical output).

Inputs are one-hot (or all zero for "no value"); every hidden unit's activation is then exactly 0 or the
output it stands for, so these MLPs are exact on every input, and an absent input gives no output.
"""

from __future__ import annotations

import numbers
from collections.abc import Hashable, Mapping

from optracr import errors
from optracr import frontend
from optracr.craft import bases
from optracr.craft import blocks
from optracr.craft import conventions
from optracr.craft import mlp_units

Label = str


def _output_direction(label: Label, output_space: bases.VectorSpaceWithBasis, value: Hashable) -> bases.BasisDirection:
    direction = bases.BasisDirection(label, value)
    if direction not in output_space:
        raise errors.CompileError(
            label, f"the function gives {value!r}, which is not in the inferred value set; recompute value sets"
        )
    return direction


def _number(label: Label, value: object) -> float:
    if value is None:
        return 0.0
    if not isinstance(value, numbers.Real):
        raise errors.CompileError(label, f"a numerical output must be a number, got {value!r}; make it categorical")
    return float(value)


def _one_hot_units(
    label: Label,
    output_space: bases.VectorSpaceWithBasis,
    groups: list[tuple[Hashable, list[bases.BasisDirection]]],
    gate: bases.BasisDirection | None = None,
) -> list[mlp_units.HiddenUnit]:
    """One unit per output value: the inputs mapping to it (AND the gate, when given) switch it on."""
    units = []
    for value, inputs in groups:
        reads = dict.fromkeys(inputs, 1.0)
        if gate is not None:
            reads[gate] = 1.0
            reads[conventions.one_direction()] = -1.0
        units.append(mlp_units.HiddenUnit(reads, {_output_direction(label, output_space, value): 1.0}))
    return units


def _group_by_output(
    table: Mapping[bases.BasisDirection, Hashable],
) -> list[tuple[Hashable, list[bases.BasisDirection]]]:
    """(output value, the input directions giving it), values told apart by type (``True`` and ``1`` apart)."""
    groups: dict[Hashable, tuple[Hashable, list[bases.BasisDirection]]] = {}
    for direction in sorted(table):
        value = table[direction]
        if value is not None:
            groups.setdefault(frontend.value_key(value), (value, []))[1].append(direction)
    return sorted(groups.values(), key=lambda group: bases.value_sort_key(group[0]))


def _signed_units(
    output: bases.BasisDirection,
    weights: Mapping[bases.BasisDirection, float],
    gate: bases.BasisDirection | None = None,
) -> list[mlp_units.HiddenUnit]:
    """``out = ReLU(w.x) - ReLU(-w.x)`` (a unit only for a sign that occurs), optionally ANDed with a gate."""
    units = []
    for sign in (1.0, -1.0):
        signed = {d: sign * w for d, w in weights.items() if sign * w != 0.0}
        if not any(w > 0 for w in signed.values()):
            continue
        if gate is not None:
            margin = max(abs(w) for w in weights.values())
            signed[gate] = margin
            signed[conventions.one_direction()] = -margin
        units.append(mlp_units.HiddenUnit(signed, {output: sign}))
    return units


def map_categorical_mlp(
    label: Label,
    input_space: bases.VectorSpaceWithBasis,
    output_space: bases.VectorSpaceWithBasis,
    table: Mapping[Hashable, Hashable],
    *,
    bos_direction: bases.BasisDirection,
) -> blocks.MLP:
    """Categorical -> categorical Map: one hidden unit per output value, fed by the inputs mapping to it.

    ``table`` maps each input value to its output value (None: no output). Hidden width = number of distinct
    output values, never more than the number of input values.
    """
    by_direction = {d: table.get(d.value) for d in input_space.basis}
    units = _one_hot_units(label, output_space, _group_by_output(by_direction))
    return mlp_units.build_mlp(label, [mlp_units.InputDomain(input_space)], output_space, units, bos_direction)


def map_categorical_to_numerical_mlp(
    label: Label,
    input_space: bases.VectorSpaceWithBasis,
    output_space: bases.VectorSpaceWithBasis,
    table: Mapping[Hashable, object],
    *,
    bos_direction: bases.BasisDirection,
) -> blocks.MLP:
    """Categorical -> numerical Map: ``out = sum_v f(v) x_v`` as ReLU(+) - ReLU(-); negative outputs kept.

    Hidden width: 1 if every output has one sign, 2 if both signs occur, 0 if every output is 0.
    """
    (output,) = output_space.basis
    weights = {d: _number(label, table.get(d.value)) for d in input_space.basis}
    units = _signed_units(output, weights)
    return mlp_units.build_mlp(label, [mlp_units.InputDomain(input_space)], output_space, units, bos_direction)


Row = tuple[bases.BasisDirection, dict[bases.BasisDirection, object]]  # (row input direction, column -> output)


def _rows(
    table: Mapping[tuple[Hashable, Hashable], object],
    row_space: bases.VectorSpaceWithBasis,
    column_space: bases.VectorSpaceWithBasis,
    rows_are_fst: bool,
) -> list[Row]:
    rows = []
    for row in row_space.basis:
        entries = {}
        for column in column_space.basis:
            pair = (row.value, column.value) if rows_are_fst else (column.value, row.value)
            entries[column] = table.get(pair)
        rows.append((row, entries))
    return rows


def _table_units(
    label: Label, output_space: bases.VectorSpaceWithBasis, rows: list[Row], numerical: bool
) -> list[mlp_units.HiddenUnit]:
    units: list[mlp_units.HiddenUnit] = []
    for gate, entries in rows:
        if numerical:
            weights = {d: _number(label, value) for d, value in entries.items()}
            units += _signed_units(output_space.basis[0], weights, gate=gate)
        else:
            units += _one_hot_units(label, output_space, _group_by_output(entries), gate=gate)
    return units


def sequence_map_categorical_mlp(
    label: Label,
    fst_space: bases.VectorSpaceWithBasis,
    snd_space: bases.VectorSpaceWithBasis,
    output_space: bases.VectorSpaceWithBasis,
    table: Mapping[tuple[Hashable, Hashable], object],
    *,
    numerical_output: bool,
    bos_direction: bases.BasisDirection,
) -> blocks.MLP:
    """SequenceMap of two categorical s-ops: for each value ``a`` of one input, units ANDing ``x = a`` with
    the set of values of the other input that give each output.

    Categorical output: one unit per (a, distinct output in row a); numerical output: ReLU(+) - ReLU(-) per
    row a (a unit per sign occurring in the row). Rows run over whichever input gives fewer units (the fst on
    ties); at most |fst| * |snd| units. Exact: with one-hot inputs each unit is exactly 0 or 1 (categorical)
    or exactly the signed output (numerical); an absent input switches every unit off.
    """
    units = sequence_map_units(label, (fst_space, snd_space), output_space, table, numerical_output=numerical_output)
    domains = [mlp_units.InputDomain(fst_space), mlp_units.InputDomain(snd_space)]
    return mlp_units.build_mlp(label, domains, output_space, units, bos_direction)


def sequence_map_units(
    label: Label, input_spaces: tuple[bases.VectorSpaceWithBasis, bases.VectorSpaceWithBasis],
    output_space: bases.VectorSpaceWithBasis, table: Mapping[tuple[Hashable, Hashable], object], *,
    numerical_output: bool,
) -> list[mlp_units.HiddenUnit]:
    """The hidden units of ``sequence_map_categorical_mlp`` (inputs: fst, snd), not yet built into matrices."""
    fst_space, snd_space = input_spaces
    candidates = []
    for rows_are_fst in (True, False):
        row_space, column_space = (fst_space, snd_space) if rows_are_fst else (snd_space, fst_space)
        rows = _rows(table, row_space, column_space, rows_are_fst)
        candidates.append(_table_units(label, output_space, rows, numerical_output))
    return min(candidates, key=len)
