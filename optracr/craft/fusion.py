"""Fused MLPs: one ReLU hidden layer computing every s-op of a chain of Map/SequenceMap blocks at once.

A fused region's external inputs are categorical s-ops (one-hot, all zero = absent) and at most one numerical
s-op ``x``; ``function`` gives every output the region writes for one combination of known input values.

**Categorical inputs only** (k >= 1). One input is the *column*, the others make up a *row* (one value each).
For every row and every distinct output tuple the row gives (all-None tuples skipped), one unit

    ReLU(sum of the row's one-hots + sum of the column's one-hots giving that tuple - (k - 1))

writes the tuple (+1 on ``L:v`` for a categorical output, the value on ``L`` for a numerical one). With one-hot
inputs it is exactly 1 when the row matches and the column value gives the tuple, and exactly 0 otherwise.
Where numerical outputs take many values in a row, the row is narrower split: a unit per distinct tuple of its
categorical outputs as above, plus, per numerical output o and per sign its values take in the row, one unit
``ReLU(sum_c |f_o(r, c)| x_c + M (sum of the row's one-hots - (k - 1)))`` written with that sign (M = 1 + the
largest |f_o(r, c)|), as ``categorical_mlp``'s numerical SequenceMap does: exact up to float64 rounding. Each
row takes the narrower plan (the tuples on ties), and the column is the input giving the fewest units (the first
on ties). Width: min over the column input C of the sum over rows r of min(T_r, P_r + S_r), T_r = #distinct
non-None output tuples f(r, .), P_r = #distinct non-None tuples of the categorical outputs, S_r = the number of
(numerical output, sign) pairs occurring in row r. Never wider than the unfused Map or SequenceMap of one output.

**One numerical input x** (known values x_1 < ... < x_n, error e) and k >= 0 categorical inputs. For every
combination r of the categorical inputs' values, g_r(x_j) (a vector over the outputs) is built exactly as
``numerical_mlp``'s discretising MLP builds it (an anchor unit when no x_j gives zero, and a two-ReLU step
across every midpoint where g_r changes; see ``numerical_mlp``), and every unit is gated by r: it reads r's
one-hots with weight B and ``one`` with -B k on top, B = 1 + its largest pre-activation over
[min(x_1 - e, 0), max(x_n + e, 0)], so a combination other than r (or an absent input) silences it there.
Width: the sum over r of 2 #{j : g_r(x_j) != g_r(x_j+1)} + [no x_j gives g_r(x_j) = 0]. Known values one
float rounding apart are merged, and the region is refused unless a quarter of the smallest gap any g_r steps
across exceeds e plus float64 rounding (``numerical_mlp``'s check): then every output is exact for every input
within that quarter of a known value.

**Semantics of absent inputs.** ``function`` is consulted only for present values: it never receives None for
a categorical input. When a categorical input is absent (all-zero one-hot) every unit is off, so every output
has no value (all-zero one-hot; 0 for a numerical output), whatever ``function`` would say about None.

**Affine combinations** (``affine``, on by default). When every output depends on the inputs only through
t = sum_i a_i v_i (v_i a numerical input's value, or the number a categorical input's one-hot points at), one
discretising MLP on t replaces the table where it is narrower: about two units per change of output along t.
It is the only construction for **several numerical inputs**: a step in x gated by a categorical one-hot is
exact, but nothing here gates one numerical input by another, whereas a separating lambda (t = x + lambda y,
lambda small enough that t orders by x, then y) turns any function of the pair into a function of t. Such a
region is refused only when no combination's gaps stay above the inputs' errors. A selector width's scratch
(1/(w+1), read as w) combines with one categorical input through a threshold per row (``affine_thresholds``).
``FusedUnits.combination`` records the choice.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import numbers
from collections.abc import Callable, Sequence

import numpy as np

from optracr import errors
from optracr.craft import affine
from optracr.craft import bases
from optracr.craft import blocks
from optracr.craft import conventions
from optracr.craft import mlp_units
from optracr.craft import numerical_mlp

Label = str
Writes = frozenset  # of (output direction, weight) pairs, zero weights left out: what one output tuple writes
RegionFunction = Callable[[tuple], Sequence[object]]


@dataclasses.dataclass(frozen=True)
class FusedInput:
    """One external input of a fused region as it sits in the residual.

    A categorical input's ``space`` has one direction per value (one-hot; all zero = absent) and ``values`` are
    their ``.value`` in space order; a numerical input's ``space`` is one direction, ``values`` the finite
    numbers it can take and ``error`` how far its residual value may be from one of them (checked against the
    gaps the outputs step across).
    """

    space: bases.VectorSpaceWithBasis
    numerical: bool
    values: tuple
    error: float = 0.0
    meanings: tuple | None = None  # a numerical input's value as the region reads it (e.g. w for 1/(w+1)), in
    # ``values`` order; None: the value itself. Only affine combinations use it.

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))
        if self.meanings is not None:
            object.__setattr__(self, "meanings", tuple(self.meanings))
            if not self.numerical or len(self.meanings) != len(self.values):
                raise errors.CompileError(None, f"meanings belong to a numerical input, one per value; got {self.meanings}")
        if not self.numerical:
            if self.values != tuple(direction.value for direction in self.space.basis):
                raise errors.CompileError(
                    None, f"a categorical input's values are its directions' values in order, got {self.values}"
                )
            if self.error != 0.0:
                raise errors.CompileError(
                    None, f"only a numerical input has an error, got {self.error} for {self.space}"
                )
            return
        if self.space.num_dims != 1:
            raise errors.CompileError(None, f"a numerical input is one direction, got {self.space}")
        for value in self.values:
            if not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise errors.CompileError(
                    None, f"a numerical input's values are finite numbers, got {value!r} for {self.space}"
                )
        if not (math.isfinite(self.error) and self.error >= 0.0):
            raise errors.CompileError(None, f"an input's error is a finite number >= 0, got {self.error}")


@dataclasses.dataclass(frozen=True)
class FusedOutput:
    """One s-op the fused MLP writes."""

    label: Label
    space: bases.VectorSpaceWithBasis  # categorical: its one-hot directions label:value; numerical: the one direction
    numerical: bool

    def __post_init__(self) -> None:
        if self.numerical and self.space.num_dims != 1:
            raise errors.CompileError(None, f"numerical output {self.label!r} is one direction, got {self.space}")
        strangers = [str(d) for d in self.space.basis if d.name != self.label]
        if strangers:
            raise errors.CompileError(
                None, f"output {self.label!r} owns only directions named {self.label!r}, got {strangers}"
            )


@dataclasses.dataclass(frozen=True)
class _Region:
    """A checked region: which inputs are categorical, which one (if any) is numerical, the output space."""

    inputs: tuple[FusedInput, ...]
    outputs: tuple[FusedOutput, ...]
    categorical: tuple[int, ...]  # positions in ``inputs``
    numerical: int | None
    output_space: bases.VectorSpaceWithBasis

    def arguments(self, categorical_values: tuple, numerical_value: object = None) -> tuple:
        """The function's argument tuple: the values in ``inputs`` order."""
        arguments: list[object] = [numerical_value] * len(self.inputs)
        for position, value in zip(self.categorical, categorical_values):
            arguments[position] = value
        return tuple(arguments)


@dataclasses.dataclass(frozen=True, eq=False)
class FusedUnits:
    """A region's hidden units, planned but not yet built into matrices (``fused_units``)."""

    name: str | None
    region: _Region
    units: tuple[mlp_units.HiddenUnit, ...]
    combination: affine.AffineCombination | None = None  # set when the units discretise an affine combination

    @property
    def width(self) -> int:
        """The hidden width of the MLP these units make."""
        return len(self.units)

    def mlp(self, *, bos_direction: bases.BasisDirection) -> blocks.MLP:
        """The MLP: reads the inputs, ``one`` and ``bos_direction``; hidden units ``_name_hidden:i``."""
        return mlp_units.build_mlp(
            self.name, _domains(self.region.inputs), self.region.output_space, list(self.units), bos_direction
        )


def fused_units(
    inputs: Sequence[FusedInput],
    outputs: Sequence[FusedOutput],
    function: RegionFunction,
    *,
    name: str | None = None,
    affine_combinations: bool = True,
    width_cap: int | None = None,
) -> FusedUnits:
    """The hidden units of one MLP writing every output's value for every combination of known input values.

    ``function`` takes one value per input, in ``inputs`` order (a categorical input's value, never None; a
    numerical input's known value as listed) and returns one value per output, in ``outputs`` order (None: no
    value). See the module doc for the construction; ``.width`` is the hidden width, ``.mlp(...)`` the block.
    With ``affine_combinations`` (the default), the discretising MLP on an affine combination of the inputs
    (``affine``) replaces the table when it is narrower, and is the only construction for several numerical
    inputs; ``.combination`` then says which. An affine construction wider than ``width_cap`` is not built.

    Raises:
        CompileError: several numerical inputs and no affine combination of them; known numerical values too
            close for their error; an output value outside its output's space (or not a finite number for a
            numerical output).
    """
    region = _region(name, inputs, outputs)
    several_numerical = sum(each.numerical for each in region.inputs) > 1
    table = None if several_numerical else _units(name, region, function, width_cap)
    if affine_combinations:
        limits = [limit for limit in (width_cap, None if table is None else len(table) - 1) if limit is not None]
        alternative = affine.affine_units(
            name, region.inputs, region.output_space, lambda arguments: _writes(name, region.outputs, function(arguments)),
            max_width=min(limits, default=None),
        )
        if alternative is not None:
            return FusedUnits(name, region, alternative.units, alternative.combination)
    if several_numerical:
        raise _several_numerical_error(name, region)
    if table is None:
        raise errors.CompileError(name, f"the fused MLP would be wider than the cap of {width_cap} hidden units")
    return FusedUnits(name, region, table)


def fused_mlp(
    name: str,
    inputs: Sequence[FusedInput],
    outputs: Sequence[FusedOutput],
    function: RegionFunction,
    *,
    bos_direction: bases.BasisDirection,
    affine_combinations: bool = True,
) -> blocks.MLP:
    """One MLP writing every output's value for every combination of known input values (``fused_units``)."""
    units = fused_units(inputs, outputs, function, name=name, affine_combinations=affine_combinations)
    return units.mlp(bos_direction=bos_direction)


def fused_width(
    inputs: Sequence[FusedInput], outputs: Sequence[FusedOutput], function: RegionFunction, *, name: str | None = None
) -> int:
    """The hidden width ``fused_mlp`` builds for this region (no matrices built); the same errors, naming ``name``."""
    return fused_units(inputs, outputs, function, name=name).width


def _region(name: str | None, inputs: Sequence[FusedInput], outputs: Sequence[FusedOutput]) -> _Region:
    """The region, checked: something read and written, no s-op twice, at most one numerical input."""
    output_labels = ", ".join(output.label for output in outputs)
    if not inputs or not outputs:
        raise errors.CompileError(
            name, f"a fused region reads at least one input and writes at least one output, got {len(inputs)} "
            f"inputs and outputs [{output_labels}]",
        )
    try:
        output_space = bases.direct_sum(*(output.space for output in outputs))
        bases.direct_sum(*(each.space for each in inputs), output_space)
    except ValueError as error:
        raise errors.CompileError(name, f"a fused region's inputs and outputs are distinct s-ops: {error}") from None
    numerical = [position for position, each in enumerate(inputs) if each.numerical]
    for position in numerical:
        if not inputs[position].values:
            raise errors.CompileError(name, f"numerical input {inputs[position].space.basis[0]} has no known values")
    categorical = tuple(position for position, each in enumerate(inputs) if not each.numerical)
    return _Region(tuple(inputs), tuple(outputs), categorical, (numerical or [None])[0], output_space)


def _several_numerical_error(name: str | None, region: _Region) -> errors.CompileError:
    names = ", ".join(str(each.space.basis[0]) for each in region.inputs if each.numerical)
    output_labels = ", ".join(output.label for output in region.outputs)
    return errors.CompileError(
        name,
        f"the fused region writing {output_labels} has several numerical inputs ({names}) and its outputs are no "
        "function of one affine combination of them that its gaps can resolve; one exact hidden layer gates a "
        "numerical input by categorical ones only, so this region cannot be fused: leave its blocks apart or "
        "fuse a smaller region that reads one numerical input",
    )


def _domains(inputs: Sequence[FusedInput]) -> list[mlp_units.InputDomain]:
    """What each input can hold: a one-hot (or zero), or a number within its error of a known value (or 0)."""
    domains = []
    for each in inputs:
        if each.numerical:
            domains.append(mlp_units.InputDomain(each.space, True, *_numerical_range(each)))
        else:
            domains.append(mlp_units.InputDomain(each.space))
    return domains


def _numerical_range(each: FusedInput) -> tuple[float, float]:
    """[lowest known value - error, highest + error], widened to hold 0 (BOS, absent)."""
    values = [float(v) for v in each.values]
    return min(min(values) - each.error, 0.0), max(max(values) + each.error, 0.0)


def _writes(name: str | None, outputs: tuple[FusedOutput, ...], result: object) -> Writes:
    """What one output tuple writes: 1 on ``L:v`` for a categorical value, the number on ``L`` (zeros left out)."""
    if not isinstance(result, Sequence) or isinstance(result, str) or len(result) != len(outputs):
        labels = ", ".join(output.label for output in outputs)
        raise errors.CompileError(name, f"the region function returns one value per output ({labels}), got {result!r}")
    writes = []
    for output, value in zip(outputs, result):
        if value is None:
            continue
        if output.numerical:
            if not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise errors.CompileError(output.label, f"a numerical output is a finite number, got {value!r}")
            if value != 0:
                writes.append((output.space.basis[0], float(value)))
            continue
        direction = bases.BasisDirection(output.label, value)
        if direction not in output.space:
            raise errors.CompileError(
                output.label,
                f"the function gives {value!r}, which is not in the inferred value set; recompute value sets",
            )
        writes.append((direction, 1.0))
    return frozenset(writes)


def _units(
    name: str | None, region: _Region, function: RegionFunction, width_cap: int | None
) -> tuple[mlp_units.HiddenUnit, ...] | None:
    """The table construction's units; None when a numerical region is planned wider than ``width_cap``."""
    if region.numerical is None:
        units = _categorical_units(name, region, function)
    else:
        units = _numerical_units(name, region, function, width_cap)
    return None if units is None else tuple(units)


# Categorical inputs only: a row of the other inputs' values times the groups of one column input.

Entries = dict[int, Writes]  # a row: column value index -> what it writes (non-empty only)


@dataclasses.dataclass(frozen=True)
class _RowPlan:
    """A row's units: one per group of column values writing one tuple, one per (numerical output, sign)."""

    groups: dict[Writes, list[int]]  # what a group writes -> its column value indices
    signed: list[tuple[bases.BasisDirection, float, dict[int, float]]]  # (output, sign, column index -> |value|)

    @property
    def width(self) -> int:
        return len(self.groups) + len(self.signed)


def _categorical_units(name: str | None, region: _Region, function: RegionFunction) -> list[mlp_units.HiddenUnit]:
    """Per row, the narrower of its two plans, over the column input giving the fewest units (see module doc)."""
    categorical = [region.inputs[position] for position in region.categorical]
    written = {}
    for combination in itertools.product(*(range(len(each.values)) for each in categorical)):
        values = tuple(each.values[index] for each, index in zip(categorical, combination))
        written[combination] = _writes(name, region.outputs, function(region.arguments(values)))
    numerical_outputs = [output.space.basis[0] for output in region.outputs if output.numerical]
    plans = []
    for column in range(len(categorical)):
        rows = _rows(written, column)
        plans.append({row: _row_plan(entries, numerical_outputs) for row, entries in rows.items()})
    column = min(range(len(categorical)), key=lambda c: sum(plan.width for plan in plans[c].values()))
    units = []
    for row, plan in plans[column].items():
        gate = [each.space.basis[index] for each, index in zip(categorical[:column] + categorical[column + 1 :], row)]
        column_space = categorical[column].space
        for writes, indices in plan.groups.items():
            units.append(_lookup_unit(gate, [column_space.basis[index] for index in indices], writes))
        for output, sign, weights in plan.signed:
            units.append(_signed_unit(gate, {column_space.basis[i]: w for i, w in weights.items()}, output, sign))
    return units


def _rows(written: dict[tuple[int, ...], Writes], column: int) -> dict[tuple[int, ...], Entries]:
    rows: dict[tuple[int, ...], Entries] = {}
    for combination, writes in written.items():
        if writes:
            rows.setdefault(combination[:column] + combination[column + 1 :], {})[combination[column]] = writes
    return rows


def _row_plan(entries: Entries, numerical_outputs: list[bases.BasisDirection]) -> _RowPlan:
    """A unit per distinct tuple, or, when narrower, per distinct categorical part plus ReLU(+) - ReLU(-) per
    numerical output (a unit per sign occurring in the row)."""
    whole = _RowPlan(_grouped(entries), [])
    if not numerical_outputs:
        return whole
    numerical = frozenset(numerical_outputs)
    parts = {index: frozenset(w for w in writes if w[0] not in numerical) for index, writes in entries.items()}
    signed = []
    for output in numerical_outputs:
        values = {index: dict(writes).get(output, 0.0) for index, writes in entries.items()}
        for sign in (1.0, -1.0):
            weights = {index: sign * value for index, value in values.items() if sign * value > 0.0}
            if weights:
                signed.append((output, sign, weights))
    split = _RowPlan(_grouped(parts), signed)
    return whole if whole.width <= split.width else split


def _grouped(entries: Entries) -> dict[Writes, list[int]]:
    groups: dict[Writes, list[int]] = {}
    for index, writes in entries.items():
        if writes:
            groups.setdefault(writes, []).append(index)
    return groups


def _lookup_unit(
    gate: list[bases.BasisDirection], column: list[bases.BasisDirection], writes: Writes
) -> mlp_units.HiddenUnit:
    """ReLU(row one-hots + the group's column one-hots - (k - 1)): 1 when the row matches and the column value is
    in the group, else <= 0 (exact: integer arithmetic)."""
    reads = dict.fromkeys([*gate, *column], 1.0)
    if gate:
        reads[conventions.one_direction()] = -float(len(gate))
    return mlp_units.HiddenUnit(reads, dict(writes))


def _signed_unit(
    gate: list[bases.BasisDirection],
    weights: dict[bases.BasisDirection, float],
    output: bases.BasisDirection,
    sign: float,
) -> mlp_units.HiddenUnit:
    """ReLU(sum_c |f(r, c)| x_c + M (row one-hots - (k - 1))) written with ``sign``, M = 1 + the largest weight:
    |f(r, c)| when the row matches (up to float rounding), <= -1 otherwise."""
    reads = dict(weights)
    if gate:
        margin = 1.0 + max(weights.values())
        reads.update(dict.fromkeys(gate, margin))
        reads[conventions.one_direction()] = -margin * len(gate)
    return mlp_units.HiddenUnit(reads, {output: sign})


# One numerical input: the discretising steps of every combination of the categorical inputs, gated by it.

def _numerical_units(
    name: str | None, region: _Region, function: RegionFunction, width_cap: int | None = None
) -> list[mlp_units.HiddenUnit] | None:
    """Per categorical combination r: the discretising units of g_r, each gated by r (see the module doc)."""
    numerical = region.inputs[region.numerical]
    categorical = [region.inputs[position] for position in region.categorical]
    keys = sorted(dict.fromkeys(numerical.values), key=float)
    points = np.array([float(key) for key in keys], dtype=np.float64)
    gated = []  # (gate directions, merged points, targets)
    for combination in itertools.product(*(range(len(each.values)) for each in categorical)):
        values = tuple(each.values[index] for each, index in zip(categorical, combination))
        results = {key: function(region.arguments(values, key)) for key in keys}
        written = [_writes(name, region.outputs, results[key]) for key in keys]
        if any(written):
            targets = _targets(region.output_space, written)
            gate = [each.space.basis[index] for each, index in zip(categorical, combination)]
            gated.append((gate, *numerical_mlp._merged(name, keys, points, targets, results)))
    if not gated:
        return []
    merged_points = gated[0][1]  # the same merge for every combination: it depends on the points only
    numerical_mlp._check_resolution(name, merged_points, _step_counts(gated), numerical.error)
    if width_cap is not None and _planned_width(gated) > width_cap:
        return None  # building thousands of gated units only to drop them is most of a large compile
    direction, input_range = numerical.space.basis[0], _numerical_range(numerical)
    units = []
    for gate, _, targets in gated:
        for unit in numerical_mlp.discretising_units(direction, region.output_space, merged_points, targets):
            units.append(_gated(unit, gate, direction, input_range))
    return units


def _planned_width(gated: list[tuple[list, np.ndarray, np.ndarray]]) -> int:
    """The units ``discretising_units`` makes for every combination: two per step, plus the anchors."""
    width = 0
    for _, points, targets in gated:
        live, _ = numerical_mlp._steps(points, targets)
        width += 2 * int(np.sum(live)) + int(not np.any(np.all(targets == 0.0, axis=1)))
    return width


def _step_counts(gated: list[tuple[list, np.ndarray, np.ndarray]]) -> np.ndarray:
    """One column per combination, changing between two points exactly where its targets do (points x combinations).

    The resolution check reads only where neighbouring rows differ; this stands in for every combination's
    targets side by side, which at large value sets would cost as much memory again as the targets themselves.
    """
    columns = []
    for _, _, targets in gated:
        steps = np.any(np.diff(targets, axis=0) != 0.0, axis=1)
        columns.append(np.concatenate([[0], np.cumsum(steps)]))
    return np.stack(columns, axis=1).astype(np.float64)


def _targets(space: bases.VectorSpaceWithBasis, written: list[Writes]) -> np.ndarray:
    """One row per known input value: what it writes, in ``space``'s coordinates."""
    targets = np.zeros((len(written), space.num_dims))
    for row, writes in enumerate(written):
        for direction, weight in writes:
            targets[row, space.index(direction)] += weight
    return targets


def _gated(
    unit: mlp_units.HiddenUnit,
    gate: list[bases.BasisDirection],
    direction: bases.BasisDirection,
    input_range: tuple[float, float],
) -> mlp_units.HiddenUnit:
    """The unit plus B (gate one-hots - k): unchanged when every gate direction is 1, <= -1 over the range else."""
    if not gate:
        return unit
    one = conventions.one_direction()
    slope, bias = unit.reads.get(direction, 0.0), unit.reads.get(one, 0.0)
    weight = 1.0 + max(0.0, slope * input_range[0] + bias, slope * input_range[1] + bias)
    reads = {**unit.reads, **dict.fromkeys(gate, weight), one: bias - weight * len(gate)}
    return mlp_units.HiddenUnit(reads, unit.writes)
