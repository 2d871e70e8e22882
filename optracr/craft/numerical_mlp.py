"""MLPs with numerical inputs: the discretising construction for Map, and LinearSequenceMap.

Discretising (numerical -> numerical or categorical Map). Let x_1 < ... < x_m be the known input values,
g_j the output at x_j (a number, or a one-hot; zero where the function gives no value), gap_j = x_{j+1} - x_j
and gap_min the smallest gap. The output is g_k at an anchor x_k plus, for every j with g_{j+1} != g_j, a
step of height g_{j+1} - g_j centred on the midpoint c_j = (x_j + x_{j+1}) / 2, made of two ReLUs:

    step_j(x) = ReLU(s_j (x - c_j) + 1/2) - ReLU(s_j (x - c_j) - 1/2),   s_j = 1 / (gap_j - gap_min / 2),

which is 0 for x <= c_j - 1/(2 s_j) and 1 for x >= c_j + 1/(2 s_j). Steps above the anchor are built to be
active above their midpoint, steps below it active below (mirrored), so no pair of ReLUs is ever active
over the whole input range, and the anchor is chosen to keep the largest activation small (preferring an
anchor with g_k = 0, which saves the constant unit).

**Exactness bound**: the output equals g_j exactly for every input within gap_min / 4 of a known value x_j
(and g_1 below x_1, g_m above x_m). Each step's slope is the smallest that achieves this for its own gap,
at most 2 / gap_min.

Numerical outputs that are affine on the known inputs (``f(x) = a x + b`` for all of them, e.g. ``2 * x``)
use ``ReLU(a x + b) - ReLU(-a x - b)`` instead (a unit per sign that occurs): exact for every input, with
noise on the input scaled by ``a`` rather than snapped away.
"""

from __future__ import annotations

import numbers
from collections.abc import Hashable, Iterable, Mapping

import numpy as np

from optracr import errors
from optracr.craft import bases
from optracr.craft import blocks
from optracr.craft import conventions
from optracr.craft import mlp_units

Label = str
TOLERANCE_FRACTION = 0.25  # exact within this fraction of the smallest gap between known inputs
AFFINE_RELATIVE_TOLERANCE = 1e-12


def _sorted_points(label: Label, table: Mapping[Hashable, object]) -> tuple[np.ndarray, list[Hashable]]:
    keys = sorted(table, key=float)
    points = np.array([float(key) for key in keys], dtype=np.float64)
    if len(points) == 0:
        raise errors.CompileError(label, "a numerical MLP needs at least one known input value")
    if np.any(np.diff(points) <= 0):
        raise errors.CompileError(label, "two known input values are equal as floats; use distinct numbers")
    return points, keys


def exactness_tolerance(values: Iterable[float]) -> float:
    """How far from a known input value the discretising MLP stays exact: a quarter of the smallest gap."""
    points = np.unique(np.array([float(v) for v in values], dtype=np.float64))
    return float(TOLERANCE_FRACTION * np.min(np.diff(points))) if len(points) > 1 else float("inf")


def _anchor(
    points: np.ndarray, targets: np.ndarray, slopes: np.ndarray, midpoints: np.ndarray, live: np.ndarray
) -> int:
    """The anchor index minimising the largest activation, among zero-output anchors when there are any."""
    right = np.where(live, slopes * (points[-1] - midpoints), 0.0)  # step active above its midpoint
    left = np.where(live, slopes * (midpoints - points[0]), 0.0)  # step active below its midpoint
    suffix = np.maximum.accumulate(right[::-1])[::-1] if len(right) else right
    prefix = np.maximum.accumulate(left) if len(left) else left
    m = len(points)
    cost = np.array([max(suffix[k] if k < m - 1 else 0.0, prefix[k - 1] if k > 0 else 0.0) for k in range(m)])
    zero = np.all(targets == 0.0, axis=1)
    candidates = np.flatnonzero(zero) if zero.any() else np.arange(m)
    return int(candidates[np.argmin(cost[candidates])])


def _writes(output_space: bases.VectorSpaceWithBasis, vector: np.ndarray) -> dict[bases.BasisDirection, float]:
    return {d: float(w) for d, w in zip(output_space.basis, vector) if w != 0.0}


def discretising_units(
    input_direction: bases.BasisDirection,
    output_space: bases.VectorSpaceWithBasis,
    points: np.ndarray,
    targets: np.ndarray,
) -> list[mlp_units.HiddenUnit]:
    """Hidden units giving ``targets[j]`` (a vector over ``output_space``) near ``points[j]`` (sorted)."""
    one = conventions.one_direction()
    gaps = np.diff(points)
    gap_min = float(np.min(gaps)) if len(gaps) else 1.0
    slopes = 1.0 / (gaps - gap_min / 2.0)
    midpoints = (points[:-1] + points[1:]) / 2.0
    heights = np.diff(targets, axis=0)
    live = np.any(heights != 0.0, axis=1)
    anchor = _anchor(points, targets, slopes, midpoints, live)
    units = []
    if np.any(targets[anchor] != 0.0):
        units.append(mlp_units.HiddenUnit({one: 1.0}, _writes(output_space, targets[anchor])))
    for step in np.flatnonzero(live):
        slope, centre, height = float(slopes[step]), float(midpoints[step]), heights[step]
        sign = 1.0 if step >= anchor else -1.0  # above the anchor: active above the midpoint
        for offset, weight in ((0.5, sign), (-0.5, -sign)):
            reads = {input_direction: sign * slope, one: -sign * slope * centre + offset}
            units.append(mlp_units.HiddenUnit(reads, _writes(output_space, weight * height)))
    return units


def _affine_units(
    input_direction: bases.BasisDirection, output: bases.BasisDirection, points: np.ndarray, values: np.ndarray
) -> list[mlp_units.HiddenUnit] | None:
    """``ReLU(a x + b) - ReLU(-a x - b)`` when the values are affine in the points, else None."""
    slope = 0.0 if len(points) == 1 else (values[-1] - values[0]) / (points[-1] - points[0])
    intercept = values[0] - slope * points[0]
    fitted = slope * points + intercept
    scale = max(1.0, float(np.max(np.abs(values))), abs(slope) * float(np.max(np.abs(points))))
    tolerance = AFFINE_RELATIVE_TOLERANCE * scale
    if np.max(np.abs(fitted - values)) > tolerance:
        return None
    units = []
    for sign, needed in ((1.0, np.max(fitted) > tolerance), (-1.0, np.min(fitted) < -tolerance)):
        if needed:
            reads = {d: sign * w for d, w in ((input_direction, slope), (conventions.one_direction(), intercept)) if w}
            units.append(mlp_units.HiddenUnit(reads, {output: sign}))
    return units


def _numbers(label: Label, keys: list[Hashable], table: Mapping[Hashable, object]) -> np.ndarray:
    values = []
    for key in keys:
        value = table[key]
        if value is not None and not isinstance(value, numbers.Real):
            raise errors.CompileError(label, f"a numerical output must be a number, got {value!r}; make it categorical")
        values.append(0.0 if value is None else float(value))
    return np.array(values, dtype=np.float64)


def map_numerical_mlp(
    label: Label,
    input_direction: bases.BasisDirection,
    output_space: bases.VectorSpaceWithBasis,
    table: Mapping[Hashable, object],
    *,
    bos: Hashable,
    allow_affine: bool = True,
) -> blocks.MLP:
    """Numerical -> numerical Map: affine (<= 2 units) when it can be, else discretising (see module doc).

    ``table`` maps each known input value to its output (None: no output, written as 0).
    """
    points, keys = _sorted_points(label, table)
    values = _numbers(label, keys, table)
    (output,) = output_space.basis
    units = _affine_units(input_direction, output, points, values) if allow_affine else None
    if units is None:
        units = discretising_units(input_direction, output_space, points, values[:, None])
    domain = mlp_units.InputDomain.of_values(input_direction, points)
    return mlp_units.build_mlp(label, [domain], output_space, units, bos)


def map_numerical_to_categorical_mlp(
    label: Label,
    input_direction: bases.BasisDirection,
    output_space: bases.VectorSpaceWithBasis,
    table: Mapping[Hashable, Hashable],
    *,
    bos: Hashable,
) -> blocks.MLP:
    """Numerical -> categorical Map, discretising: output one-hot of ``table[x]`` (zero where None)."""
    points, keys = _sorted_points(label, table)
    targets = np.zeros((len(keys), output_space.num_dims))
    for row, key in enumerate(keys):
        if table[key] is not None:
            direction = bases.BasisDirection(label, table[key])
            if direction not in output_space:
                raise errors.CompileError(label, f"the function gives {table[key]!r}, outside the inferred value set")
            targets[row, output_space.index(direction)] = 1.0
    units = discretising_units(input_direction, output_space, points, targets)
    domain = mlp_units.InputDomain.of_values(input_direction, points)
    return mlp_units.build_mlp(label, [domain], output_space, units, bos)


def linear_sequence_map_mlp(
    label: Label,
    fst: tuple[bases.BasisDirection, Iterable[float], float],
    snd: tuple[bases.BasisDirection, Iterable[float], float],
    output_space: bases.VectorSpaceWithBasis,
    *,
    bos: Hashable,
) -> blocks.MLP:
    """``a x + b y`` of two numerical s-ops, each given as (direction, known values, coefficient).

    ``ReLU(a x + b y) - ReLU(-a x - b y)``, keeping only a unit whose sign occurs on the known inputs: exact.
    The same s-op twice reads ``(a + b) x``.
    """
    (output,) = output_space.basis
    inputs = [(direction, [float(v) for v in values], float(factor)) for direction, values, factor in (fst, snd)]
    if inputs[0][0] == inputs[1][0]:  # one s-op read twice
        inputs = [(inputs[0][0], inputs[0][1], inputs[0][2] + inputs[1][2])]
    weights = {direction: coefficient for direction, _, coefficient in inputs}
    highest = sum(max(coefficient * v for v in values) for _, values, coefficient in inputs)
    lowest = sum(min(coefficient * v for v in values) for _, values, coefficient in inputs)
    domains = [mlp_units.InputDomain.of_values(direction, values) for direction, values, _ in inputs]
    units = []
    for sign, needed in ((1.0, highest > 0.0), (-1.0, lowest < 0.0)):
        if needed:
            units.append(mlp_units.HiddenUnit({d: sign * w for d, w in weights.items() if w}, {output: sign}))
    return mlp_units.build_mlp(label, domains, output_space, units, bos)
