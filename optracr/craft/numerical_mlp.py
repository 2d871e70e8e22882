"""MLPs with numerical inputs: the discretising construction for Map, and LinearSequenceMap.

Discretising (numerical -> numerical or categorical Map). Let x_1 < ... < x_m be the known input values,
g_j the output at x_j (a number, or a one-hot; zero where the function gives no value), gap_j = x_{j+1} - x_j
and gap_min the smallest gap across which the output changes (g_{j+1} != g_j; neighbours with one output
need no telling apart). The output is g_k at an anchor x_k plus, for every j with g_{j+1} != g_j, a step of
height g_{j+1} - g_j centred on the midpoint c_j = (x_j + x_{j+1}) / 2, made of two ReLUs:

    step_j(x) = ReLU(s_j (x - c_j) + 1/2) - ReLU(s_j (x - c_j) - 1/2),   s_j = 1 / (gap_j - gap_min / 2),

which is 0 for x <= c_j - 1/(2 s_j) and 1 for x >= c_j + 1/(2 s_j). Steps above the anchor are built to be
active above their midpoint, steps below it active below (mirrored), so no pair of ReLUs is ever active
over the whole input range, and the anchor is chosen to keep the largest activation small (preferring an
anchor with g_k = 0, which saves the constant unit).

**Exactness bound**: the output equals g_j exactly for every input within gap_min / 4 of a known value x_j
(and g_1 below x_1, g_m above x_m): no step's ramp comes closer than that to a known value. Each step's slope
is the smallest that achieves this for its own gap, at most 2 / gap_min.

Before building, known inputs closer than ``MERGE_RELATIVE_TOLERANCE`` times the largest |x| are merged into
one: they differ only by float rounding (means such as 0.2 and 0.20000000000000004), and a step between them
would need a slope near 1e16. The build then checks that gap_min / 4 exceeds the input's known error
(``input_error``: attention leak upstream, passed in by ``lower``) plus float64 rounding
(``ROUNDING_RELATIVE_ERROR`` times the largest |x|), and raises ``CompileError`` otherwise.

Numerical outputs that are affine on the known inputs (``f(x) = a x + b`` for all of them, e.g. ``2 * x``)
use ``ReLU(a x + b) - ReLU(-a x - b)`` instead (a unit per sign that occurs): exact for every input, with
noise on the input scaled by ``a`` rather than snapped away.
"""

from __future__ import annotations

import numbers
from collections.abc import Hashable, Iterable, Mapping

import numpy as np

from optracr import errors
from optracr import frontend
from optracr.craft import bases
from optracr.craft import blocks
from optracr.craft import conventions
from optracr.craft import mlp_units

Label = str
TOLERANCE_FRACTION = 0.25  # exact within this fraction of the smallest gap the output changes across
AFFINE_RELATIVE_TOLERANCE = 1e-12
MERGE_RELATIVE_TOLERANCE = 1e-9  # far above float64 rounding (~1e-16), far below any gap the MLP can resolve
ROUNDING_RELATIVE_ERROR = 1e-13  # float64 rounding one block may add to a value, relative to the value scale


def rounding_error(values: Iterable[float]) -> float:
    """The float64 rounding a block may add to a value of this set: ``ROUNDING_RELATIVE_ERROR`` times its scale."""
    return ROUNDING_RELATIVE_ERROR * max((abs(float(v)) for v in values), default=0.0)


def _sorted_points(label: Label, table: Mapping[Hashable, object]) -> tuple[np.ndarray, list[Hashable]]:
    keys = sorted(table, key=float)
    points = np.array([float(key) for key in keys], dtype=np.float64)
    if len(points) == 0:
        raise errors.CompileError(label, "a numerical MLP needs at least one known input value")
    return points, keys


def _clusters(points: np.ndarray) -> list[list[int]]:
    """Indices of the sorted ``points`` grouped so that each group lies within the merge tolerance of its first."""
    tolerance = MERGE_RELATIVE_TOLERANCE * float(np.max(np.abs(points)))
    groups: list[list[int]] = []
    for index, point in enumerate(points):
        if groups and point - points[groups[-1][0]] <= tolerance:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def _merged(
    label: Label, keys: list[Hashable], points: np.ndarray, targets: np.ndarray, table: Mapping[Hashable, object]
) -> tuple[np.ndarray, np.ndarray]:
    """The known inputs with float-rounding duplicates merged into their smallest member, whose output they share."""
    same_output = MERGE_RELATIVE_TOLERANCE * max(1.0, float(np.max(np.abs(targets))))
    firsts = []
    for group in _clusters(points):
        first = group[0]
        for other in group[1:]:
            if not np.allclose(targets[other], targets[first], rtol=0.0, atol=same_output):
                raise errors.CompileError(
                    label,
                    f"known input values {keys[first]!r} and {keys[other]!r} differ only by float rounding but map "
                    f"to different outputs ({table[keys[first]]!r} and {table[keys[other]]!r}); no MLP can tell "
                    "them apart: round the input (e.g. Map(lambda x: round(x, 6), ...)) before this Map",
                )
        firsts.append(first)
    return points[firsts], targets[firsts]


def _steps(points: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, float]:
    """Which gaps need a step (the outputs either side differ), and the smallest of those (1.0 when none)."""
    live = np.any(np.diff(targets, axis=0) != 0.0, axis=1)
    gaps = np.diff(points)[live]
    return live, float(np.min(gaps)) if len(gaps) else 1.0


def _check_resolution(label: Label, points: np.ndarray, targets: np.ndarray, input_error: float) -> None:
    """Raises unless a quarter of the smallest stepped gap exceeds the input's known error plus float64 rounding."""
    live, gap_min = _steps(points, targets)
    error = input_error + rounding_error(points)
    if not np.any(live) or TOLERANCE_FRACTION * gap_min > error:
        return
    candidates = np.flatnonzero(live)
    smallest = int(candidates[np.argmin(np.diff(points)[candidates])])
    low, high = float(points[smallest]), float(points[smallest + 1])
    raise errors.CompileError(
        label,
        f"known input values {low!r} and {high!r} map to different outputs but are only {high - low:.3g} apart, "
        f"while the input may be off by up to {error:.3g} (attention leak and float64 rounding upstream); the "
        f"discretising MLP needs such gaps above {error / TOLERANCE_FRACTION:.3g}: use fewer, coarser input values "
        "(round them, or a smaller max_seq_len for a mean) or compute this s-op categorically",
    )


def exactness_tolerance(values: Iterable[float]) -> float:
    """How far from a known input value the discretising MLP stays exact, whatever the outputs: a quarter of the
    smallest gap (values one float rounding apart count as one, as the MLP merges them)."""
    points = np.sort(np.array([float(v) for v in values], dtype=np.float64))
    if len(points) == 0:
        return float("inf")
    distinct = points[[group[0] for group in _clusters(points)]]
    return float(TOLERANCE_FRACTION * np.min(np.diff(distinct))) if len(distinct) > 1 else float("inf")


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
    return {output_space.basis[i]: float(vector[i]) for i in np.flatnonzero(vector)}


def discretising_units(
    input_direction: bases.BasisDirection,
    output_space: bases.VectorSpaceWithBasis,
    points: np.ndarray,
    targets: np.ndarray,
) -> list[mlp_units.HiddenUnit]:
    """Hidden units giving ``targets[j]`` (a vector over ``output_space``) near ``points[j]``.

    ``points`` are sorted and apart by more than float rounding (``map_numerical_mlp`` merges the rest).
    """
    one = conventions.one_direction()
    live, gap_min = _steps(points, targets)
    slopes = np.zeros(len(live))
    slopes[live] = 1.0 / (np.diff(points)[live] - gap_min / 2.0)
    midpoints = (points[:-1] + points[1:]) / 2.0
    heights = np.diff(targets, axis=0)
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


def _affine_fit(points: np.ndarray, values: np.ndarray) -> tuple[float, float, float] | None:
    """(slope a, intercept b, tolerance) when ``values == a * points + b`` up to rounding, else None."""
    span = points[-1] - points[0]
    slope = 0.0 if span == 0.0 else (values[-1] - values[0]) / span
    intercept = values[0] - slope * points[0]
    fitted = slope * points + intercept
    scale = max(1.0, float(np.max(np.abs(values))), abs(slope) * float(np.max(np.abs(points))))
    tolerance = AFFINE_RELATIVE_TOLERANCE * scale
    if np.max(np.abs(fitted - values)) > tolerance:
        return None
    return float(slope), float(intercept), tolerance


def _affine_units(
    input_direction: bases.BasisDirection, output: bases.BasisDirection, points: np.ndarray, values: np.ndarray
) -> list[mlp_units.HiddenUnit] | None:
    """``ReLU(a x + b) - ReLU(-a x - b)`` when the values are affine in the points, else None."""
    fit = _affine_fit(points, values)
    if fit is None:
        return None
    slope, intercept, tolerance = fit
    fitted = slope * points + intercept
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


def affine_coefficients(label: Label, table: Mapping[Hashable, object]) -> tuple[float, float] | None:
    """(slope, intercept) when ``table`` is affine on its known inputs (up to rounding), else None."""
    points, keys = _sorted_points(label, table)
    fit = _affine_fit(points, _numbers(label, keys, table))
    return None if fit is None else (fit[0], fit[1])


def affine_slope(label: Label, table: Mapping[Hashable, object]) -> float | None:
    """The slope ``map_numerical_mlp`` uses when ``table`` is affine on its known inputs; None when it discretises."""
    points, keys = _sorted_points(label, table)
    fit = _affine_fit(points, _numbers(label, keys, table))
    return None if fit is None else fit[0]


def _discretising_mlp(
    label: Label,
    input_direction: bases.BasisDirection,
    output_space: bases.VectorSpaceWithBasis,
    table: Mapping[Hashable, object],
    keys: list[Hashable],
    points: np.ndarray,
    targets: np.ndarray,
    *,
    input_error: float,
    bos_direction: bases.BasisDirection,
) -> blocks.MLP:
    """The MLP giving ``targets[j]`` near sorted ``points[j]``: rounding duplicates merged, gaps checked."""
    merged_points, merged_targets = _merged(label, keys, points, targets, table)
    _check_resolution(label, merged_points, merged_targets, input_error)
    units = discretising_units(input_direction, output_space, merged_points, merged_targets)
    domain = mlp_units.InputDomain.of_values(input_direction, points)
    return mlp_units.build_mlp(label, [domain], output_space, units, bos_direction)


def map_numerical_mlp(
    label: Label,
    input_direction: bases.BasisDirection,
    output_space: bases.VectorSpaceWithBasis,
    table: Mapping[Hashable, object],
    *,
    bos_direction: bases.BasisDirection,
    allow_affine: bool = True,
    input_error: float = 0.0,
) -> blocks.MLP:
    """Numerical -> numerical Map: affine (<= 2 units) when it can be, else discretising (see module doc).

    ``table`` maps each known input value to its output (None: no output, written as 0); ``input_error``
    bounds how far the input may be from a known value (checked against the gaps when discretising).
    """
    points, keys = _sorted_points(label, table)
    values = _numbers(label, keys, table)
    (output,) = output_space.basis
    units = _affine_units(input_direction, output, points, values) if allow_affine else None
    if units is None:
        return _discretising_mlp(
            label, input_direction, output_space, table, keys, points, values[:, None],
            input_error=input_error, bos_direction=bos_direction,
        )
    domain = mlp_units.InputDomain.of_values(input_direction, points)
    return mlp_units.build_mlp(label, [domain], output_space, units, bos_direction)


def map_numerical_to_categorical_mlp(
    label: Label,
    input_direction: bases.BasisDirection,
    output_space: bases.VectorSpaceWithBasis,
    table: Mapping[Hashable, Hashable],
    *,
    bos_direction: bases.BasisDirection,
    input_error: float = 0.0,
) -> blocks.MLP:
    """Numerical -> categorical Map, discretising: output one-hot of ``table[x]`` (zero where None).

    ``input_error`` bounds how far the input may be from a known value (checked against the gaps).
    """
    points, keys = _sorted_points(label, table)
    codes = np.zeros(len(keys))  # 0: no value; i + 1: the output space's direction i
    code_of: dict[Hashable, int] = {}  # per output value (by type and value), looked up once
    for row, key in enumerate(keys):
        output = table[key]
        if output is None:
            continue
        output_key = frontend.value_key(output)
        if output_key not in code_of:
            direction = bases.BasisDirection(label, output)
            if direction not in output_space:
                raise errors.CompileError(label, f"the function gives {output!r}, outside the inferred value set")
            code_of[output_key] = output_space.index(direction) + 1
        codes[row] = code_of[output_key]
    # Merge and check on the codes (a column whose entries differ exactly where the one-hots do), so a refusal
    # costs O(points), not O(points x outputs); the one-hots are built for the merged points only.
    merged_points, merged_codes = _merged(label, keys, points, codes[:, None], table)
    _check_resolution(label, merged_points, merged_codes, input_error)
    targets = np.zeros((len(merged_points), output_space.num_dims))
    rows = np.flatnonzero(merged_codes[:, 0])
    targets[rows, merged_codes[rows, 0].astype(int) - 1] = 1.0
    units = discretising_units(input_direction, output_space, merged_points, targets)
    domain = mlp_units.InputDomain.of_values(input_direction, points)
    return mlp_units.build_mlp(label, [domain], output_space, units, bos_direction)


def linear_sequence_map_mlp(
    label: Label,
    fst: tuple[bases.BasisDirection, Iterable[float], float],
    snd: tuple[bases.BasisDirection, Iterable[float], float],
    output_space: bases.VectorSpaceWithBasis,
    *,
    bos_direction: bases.BasisDirection,
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
    return mlp_units.build_mlp(label, domains, output_space, units, bos_direction)
