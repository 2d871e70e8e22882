"""Affine-combination lowering: an MLP whose outputs depend on its inputs only through t = sum_i a_i v_i.

The inputs are numerical s-ops (v_i their value) and categorical s-ops whose values are numbers (v_i the value
its one-hot points at: reading the one-hot against the values is linear, so t costs no block and no residual
direction; it is composed into the first layer). When every combination of known input values with the same t
gives the same outputs, one discretising MLP on t (``numerical_mlp.discretising_units``: a two-ReLU step at
every midpoint where the outputs change, plus an anchor unit when no t gives nothing) computes them all:
about two units per change of output along t, instead of a unit per row and output of a table.

**Coefficients.** a_1 = 1; each further a_i is searched among small rationals (+-1, +-2, +-3, +-1/2, +-1/3)
and two *separating* values, one so small and one so large that t orders the combinations by the earlier
inputs first or by v_i first (then t tells every combination apart, whatever the function: the lambda of
``b1 + lambda * b2``). The narrowest consistent choice wins; up to ``MAX_INPUTS`` inputs and
``MAX_COMBINATIONS`` combinations are searched.

**Exactness.** The steps are exact for every t within a quarter of the smallest stepped gap of a known t
(``numerical_mlp``'s rule), so a choice is kept only when that quarter exceeds t's error: sum_i |a_i| e_i for
numerical inputs, |a_i| max|v_i| ``ONE_HOT_ERROR`` for categorical ones, plus float64 rounding.
**Absent inputs.** Every unit also reads B on every categorical input's one-hot and -B k on ``one``
(k categorical inputs, B above the unit's largest pre-activation over t's range), so an absent categorical
input (all-zero one-hot) silences it, as a lookup writes nothing; BOS is silenced by ``mlp_units.build_mlp``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from optracr import errors

from optracr.craft import affine_thresholds
from optracr.craft import bases
from optracr.craft import conventions
from optracr.craft import mlp_units
from optracr.craft import numerical_mlp

Writes = frozenset  # of (output direction, weight) pairs: what one combination of input values writes
WritesOf = Callable[[tuple], Writes]
MAX_INPUTS = 3
MAX_COMBINATIONS = 50_000
ONE_HOT_ERROR = 1e-6  # how far a categorical one-hot may be off (L1): above one head's stray softmax mass
SMALL_COEFFICIENTS = (1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, -3.0, 1.0 / 3.0, -1.0 / 3.0)


class Input(Protocol):
    """An input as ``fusion.FusedInput`` holds it: one-hot directions and their values, or a number and its error."""

    space: bases.VectorSpaceWithBasis
    numerical: bool
    values: tuple
    error: float
    meanings: tuple | None


@dataclasses.dataclass(frozen=True)
class AffineTerm:
    """One input of t: ``coefficient`` times the s-op ``label``'s value."""

    label: str
    coefficient: float
    numerical: bool

    def __post_init__(self) -> None:
        if not math.isfinite(self.coefficient):
            raise errors.CompileError(None, f"an affine coefficient is a finite number, got {self.coefficient} for {self.label!r}")


@dataclasses.dataclass(frozen=True)
class AffineCombination:
    """t = sum of the terms: what the MLP reads, and the distinct known values of t it discretises."""

    terms: tuple[AffineTerm, ...]
    points: tuple[float, ...]  # the distinct known values of t, ascending
    error: float  # how far t may be off a known value (checked against the stepped gaps)

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", tuple(self.terms))
        object.__setattr__(self, "points", tuple(float(p) for p in self.points))
        if not self.terms:
            raise errors.CompileError(None, "an affine combination has at least one term")
        if list(self.points) != sorted(self.points):
            raise errors.CompileError(None, f"the known values of t are ascending, got {self.points[:5]}...")

    def describe(self) -> str:
        """t as a formula over the s-op labels, e.g. ``t = 1*length - 1*indices``."""
        return formula([term.label for term in self.terms], [term.coefficient for term in self.terms])


def formula(labels: Sequence[str], coefficients: Sequence[float]) -> str:
    """``t = a_1*label_1 + ...`` (coefficients to 6 significant digits), e.g. ``t = 1*length - 1*indices``."""
    terms = [f"{'-' if c < 0 else '+'} {abs(c):.6g}*{label}" for label, c in zip(labels, coefficients)]
    return "t = " + " ".join(terms).lstrip("+ ")


@dataclasses.dataclass(frozen=True, eq=False)
class AffineUnits:
    """The hidden units of the discretising MLP on t, already reading the residual directions t sums."""

    combination: AffineCombination
    units: tuple[mlp_units.HiddenUnit, ...]

    @property
    def width(self) -> int:
        """The hidden width of the MLP."""
        return len(self.units)


@dataclasses.dataclass(frozen=True)
class _Choice:
    coefficients: tuple[float, ...]
    points: np.ndarray
    targets: np.ndarray
    error: float
    width: int


def affine_units(
    name: str | None,
    inputs: Sequence[Input],
    output_space: bases.VectorSpaceWithBasis,
    writes_of: WritesOf,
    *,
    max_width: int | None = None,
) -> AffineUnits | None:
    """The narrowest exact discretising MLP on an affine combination of ``inputs``, or None when there is none.

    ``writes_of`` takes one known value per input (in order) and returns what that combination writes. None
    also when every exact choice is wider than ``max_width``, or the inputs are not all numbers.
    """
    value_lists = [_numbers(each.values if each.meanings is None else each.meanings) for each in inputs]
    if not inputs or any(values is None for values in value_lists) or len(inputs) > MAX_INPUTS:
        return None
    read_through = [each.meanings is not None for each in inputs]
    if any(read_through) and not _thresholds_apply(inputs):
        return None
    if math.prod(len(values) for values in value_lists) > MAX_COMBINATIONS:
        return None
    grids = np.meshgrid(*[np.array(values) for values in value_lists], indexing="ij")
    columns = np.stack([grid.ravel() for grid in grids], axis=1)
    written = [writes_of(arguments) for arguments in itertools.product(*(each.values for each in inputs))]
    ids, targets = _written_ids(written, output_space)
    if any(read_through):
        return _threshold_build(name, inputs, value_lists, output_space, columns, ids, targets, max_width)
    best: _Choice | None = None
    for coefficients in _coefficient_choices(value_lists):
        choice = _evaluate(coefficients, columns, ids, targets, inputs, value_lists)
        if choice is not None and (best is None or choice.width < best.width):
            best = choice
    if best is None or (max_width is not None and best.width > max_width):
        return None
    return _build(name, inputs, value_lists, output_space, best)


def _thresholds_apply(inputs: Sequence[Input]) -> bool:
    """A numerical input read through its meanings combines only with one categorical input (``affine_thresholds``)."""
    numerical = [each for each in inputs if each.numerical]
    return len(inputs) == 2 and len(numerical) == 1 and numerical[0].meanings is not None


def _threshold_build(
    name: str | None,
    inputs: Sequence[Input],
    value_lists: list[list[float]],
    output_space: bases.VectorSpaceWithBasis,
    columns: np.ndarray,
    ids: np.ndarray,
    targets: np.ndarray,
    max_width: int | None,
) -> AffineUnits | None:
    """The narrowest choice whose steps ``affine_thresholds`` can place on x in every row."""
    x_position = 0 if inputs[0].numerical else 1
    x, row = inputs[x_position], inputs[1 - x_position]
    choices = [choice for coefficients in _coefficient_choices(value_lists)
               if (choice := _evaluate(coefficients, columns, ids, targets, inputs, value_lists, in_t=False))]
    for choice in sorted(choices, key=lambda c: c.width):
        if max_width is not None and choice.width > max_width:
            return None
        units = affine_thresholds.threshold_units(
            x.space.basis[0], [float(v) for v in x.values], value_lists[x_position], x.error, row.space.basis,
            value_lists[1 - x_position], (choice.coefficients[x_position], choice.coefficients[1 - x_position]),
            choice.points, choice.targets, output_space, ONE_HOT_ERROR,
        )
        if units is not None:
            return AffineUnits(_combination(inputs, choice), tuple(units))
    return None


def _numbers(values: Sequence[object]) -> list[float] | None:
    if not values or not all(isinstance(v, numbers.Real) and math.isfinite(v) for v in values):
        return None
    return [float(v) for v in values]


def _written_ids(written: list[Writes], space: bases.VectorSpaceWithBasis) -> tuple[np.ndarray, np.ndarray]:
    """An id per distinct ``Writes`` for every combination, and each id's target vector over ``space``."""
    index: dict[Writes, int] = {}
    ids = np.array([index.setdefault(writes, len(index)) for writes in written], dtype=np.int64)
    targets = np.zeros((len(index), space.num_dims))
    for writes, row in index.items():
        for direction, weight in writes:
            targets[row, space.index(direction)] += weight
    return ids, targets


def _gap(values: Sequence[float]) -> float:
    """The smallest gap between values that differ by more than float rounding (1.0 when there is none)."""
    points = np.unique(np.array(values, dtype=np.float64))
    if len(points) < 2:
        return 1.0
    distinct = points[[group[0] for group in numerical_mlp._clusters(points)]]
    return float(np.min(np.diff(distinct))) if len(distinct) > 1 else 1.0


def _span(values: Sequence[float]) -> float:
    return float(max(values) - min(values)) if values else 0.0


def _coefficient_choices(value_lists: list[list[float]]) -> list[tuple[float, ...]]:
    """a_1 = 1 and, for every further input, the small rationals and the two separating values."""
    choices: list[tuple[float, ...]] = [(1.0,)]
    prefix_values = [sorted(set(value_lists[0]))]
    for position, values in enumerate(value_lists[1:], start=1):
        last = position == len(value_lists) - 1  # the sums so far are needed only to separate a further input
        grown = []
        for prefix, sums in zip(choices, prefix_values):
            for coefficient in dict.fromkeys(SMALL_COEFFICIENTS + _separating(sums, values)):
                following = [] if last else sorted({s + coefficient * v for s in sums for v in values})
                grown.append((prefix + (coefficient,), following))
        choices = [coefficients for coefficients, _ in grown]
        prefix_values = [sums for _, sums in grown]
    return choices


def _separating(sums: Sequence[float], values: Sequence[float]) -> tuple[float, ...]:
    """lambda small enough that t orders by ``sums`` first, and large enough that it orders by ``values`` first."""
    span_values, span_sums = _span(values), _span(sums)
    if span_values == 0.0:
        return ()
    small = _gap(sums) / (2.0 * span_values) if span_sums > 0.0 else 1.0
    large = 2.0 * (span_sums + _gap(values)) / _gap(values)
    return (small, -small, large, -large)


def _evaluate(
    coefficients: tuple[float, ...],
    columns: np.ndarray,
    ids: np.ndarray,
    targets: np.ndarray,
    inputs: Sequence[Input],
    value_lists: list[list[float]],
    *,
    in_t: bool = True,
) -> _Choice | None:
    """The choice's known t values and outputs, when one t never needs two outputs and (``in_t``: steps on t
    itself) the gaps are wide enough."""
    t = columns @ np.array(coefficients)
    order = np.argsort(t, kind="stable")
    t_sorted, ids_sorted = t[order], ids[order]
    tolerance = numerical_mlp.MERGE_RELATIVE_TOLERANCE * max(1.0, float(np.max(np.abs(t_sorted))))
    starts = np.concatenate([[True], np.diff(t_sorted) > tolerance])
    if np.any(~starts[1:] & (ids_sorted[1:] != ids_sorted[:-1])):
        return None  # two combinations with the same t give different outputs
    points, point_ids = t_sorted[starts], ids_sorted[starts]
    point_targets = targets[point_ids]
    live, gap_min = numerical_mlp._steps(points, point_targets)
    error = _t_error(coefficients, inputs, value_lists) + numerical_mlp.rounding_error(points)
    if in_t and np.any(live) and not numerical_mlp.TOLERANCE_FRACTION * gap_min > error:
        return None
    anchor = 0 if np.any(np.all(point_targets == 0.0, axis=1)) else 1
    return _Choice(coefficients, points, point_targets, error, 2 * int(np.sum(live)) + anchor)


def _t_error(
    coefficients: tuple[float, ...], inputs: Sequence[Input], value_lists: list[list[float]]
) -> float:
    error = 0.0
    for coefficient, each, values in zip(coefficients, inputs, value_lists):
        if each.numerical:
            error += abs(coefficient) * each.error
        else:
            error += abs(coefficient) * max(abs(v) for v in values) * ONE_HOT_ERROR
    return error


def _build(
    name: str | None,
    inputs: Sequence[Input],
    value_lists: list[list[float]],
    output_space: bases.VectorSpaceWithBasis,
    choice: _Choice,
) -> AffineUnits:
    t_direction = bases.BasisDirection(f"{name}:affine_t")
    one = conventions.one_direction()
    expression: dict[bases.BasisDirection, float] = {}
    for coefficient, each, values in zip(choice.coefficients, inputs, value_lists):
        if each.numerical:
            expression[each.space.basis[0]] = coefficient
        else:
            expression.update((d, coefficient * v) for d, v in zip(each.space.basis, values) if v != 0.0)
    gate = [d for each in inputs if not each.numerical for d in each.space.basis]
    gated_inputs = sum(1 for each in inputs if not each.numerical)
    t_low, t_high = _t_range(choice.coefficients, value_lists, choice.error)
    units = []
    for unit in numerical_mlp.discretising_units(t_direction, output_space, choice.points, choice.targets):
        slope, bias = unit.reads.get(t_direction, 0.0), unit.reads.get(one, 0.0)
        reads = {d: slope * w for d, w in expression.items()} if slope else {}
        if gated_inputs:
            weight = 1.0 + max(0.0, slope * t_low + bias, slope * t_high + bias)
            for direction in gate:
                reads[direction] = reads.get(direction, 0.0) + weight
            bias -= weight * gated_inputs
        reads[one] = bias
        units.append(mlp_units.HiddenUnit({d: w for d, w in reads.items() if w != 0.0}, unit.writes))
    return AffineUnits(_combination(inputs, choice), tuple(units))


def _combination(inputs: Sequence[Input], choice: _Choice) -> AffineCombination:
    terms = tuple(
        AffineTerm(each.space.basis[0].name, coefficient, each.numerical)
        for coefficient, each in zip(choice.coefficients, inputs)
    )
    return AffineCombination(terms, tuple(choice.points), choice.error)


def _t_range(coefficients: tuple[float, ...], value_lists: list[list[float]], error: float) -> tuple[float, float]:
    """The range t can take, any input absent (0) included, widened by its error."""
    low = sum(min(0.0, coefficient * min(values), coefficient * max(values))
              for coefficient, values in zip(coefficients, value_lists))
    high = sum(max(0.0, coefficient * min(values), coefficient * max(values))
               for coefficient, values in zip(coefficients, value_lists))
    return low - error, high + error
