"""Steps on t = a h(x) + b v with a numerical x read through a monotone h: thresholds on x, one per row v.

The case is one numerical input x whose value the region reads as h(x) (a selector width's scratch holds
x = 1/(w+1) and means w), and one categorical input with numeric values v. t = a h(x) + b v is not linear in
x, but every step of the discretisation, "t above the midpoint mu" (or below it, under the anchor), holds on
an interval of x at one end of its range, since a h is monotone: x above (or below) a threshold theta(v). One
pair of ReLUs per step, sigma K (x - theta(v)) +- 1/2, reads x with the same weight sigma K in every row and
takes -sigma K theta(v) from v's one-hot, so it serves every row: about two units per change of output along
t, however many rows, where gating each row's own steps costs two units per change per row.

theta(v) is the midpoint of the gap of known x values it falls in, or a gap g_min beyond the range when the
step is on (or off) for every x of row v; K = 2 / g_min, g_min the smallest gap any threshold falls in.
Exact for every x within g_min / 4 of a known value (refused unless that exceeds x's error plus float64
rounding), and while the one-hot's error times the largest one-hot weight stays below 1/4. An absent
categorical input silences every unit (weight B on its one-hot and -B on ``one``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from optracr.craft import bases
from optracr.craft import conventions
from optracr.craft import mlp_units
from optracr.craft import numerical_mlp

ONE_HOT_MARGIN = 0.25  # of the 1/2 a step's pre-activation keeps from its ramp


def threshold_units(
    x_direction: bases.BasisDirection,
    x_values: Sequence[float],
    x_meanings: Sequence[float],
    x_error: float,
    row_directions: Sequence[bases.BasisDirection],
    row_values: Sequence[float],
    coefficients: tuple[float, float],
    points: np.ndarray,
    targets: np.ndarray,
    output_space: bases.VectorSpaceWithBasis,
    one_hot_error: float,
) -> list[mlp_units.HiddenUnit] | None:
    """The units giving ``targets[j]`` where t = a h(x) + b v is ``points[j]``; None when x's gaps are too fine,
    h is not monotone, or the one-hot's error could cross a step."""
    order = np.argsort(np.array(x_values, dtype=np.float64), kind="stable")
    xs = np.array(x_values, dtype=np.float64)[order]
    scaled = coefficients[0] * np.array(x_meanings, dtype=np.float64)[order]
    if len(xs) > 1 and (np.min(np.diff(xs)) <= 0.0 or not _monotone(scaled)):
        return None
    steps = _steps(points, targets)
    boundaries = {}
    for j, (midpoint, direction, _) in enumerate(steps):
        for r, value in enumerate(row_values):
            on = direction * (scaled + coefficients[1] * value - midpoint) > 0.0
            boundary = _boundary(on)
            if boundary is None:
                return None
            boundaries[j, r] = boundary
    sides = {(j, r): side for (j, r), (side, _) in boundaries.items()}
    gaps = [xs[k] - xs[k - 1] for side, k in boundaries.values() if side == "inside"]
    g_min = float(min(gaps)) if gaps else 1.0
    if not numerical_mlp.TOLERANCE_FRACTION * g_min > x_error + numerical_mlp.rounding_error(xs):
        return None
    slope = 2.0 / g_min
    thetas = {key: _theta(xs, boundaries[key], steps[key[0]][1] * _orientation(scaled), g_min) for key in sides}
    reach = slope * (max(abs(xs[0]), abs(xs[-1])) + g_min) + 0.5
    gate = 1.0 + reach + max((slope * abs(theta) for theta in thetas.values()), default=0.0)
    if one_hot_error * (gate + max((slope * abs(t) for t in thetas.values()), default=0.0)) >= ONE_HOT_MARGIN:
        return None
    return _units(x_direction, row_directions, steps, thetas, slope, gate, targets, points, output_space, scaled)


def _steps(points: np.ndarray, targets: np.ndarray) -> list[tuple[float, float, np.ndarray]]:
    """(midpoint, +1 above the anchor / -1 below, what the step writes when on) for every change of output."""
    zero = np.flatnonzero(np.all(targets == 0.0, axis=1))
    anchor = int(zero[0]) if len(zero) else 0
    steps = []
    for j in range(len(points) - 1):
        height = targets[j + 1] - targets[j]
        if np.any(height != 0.0):
            direction = 1.0 if j >= anchor else -1.0
            steps.append(((points[j] + points[j + 1]) / 2.0, direction, height * direction))
    return steps


def _anchor_target(targets: np.ndarray) -> np.ndarray:
    zero = np.flatnonzero(np.all(targets == 0.0, axis=1))
    return targets[int(zero[0]) if len(zero) else 0]


def _boundary(on: np.ndarray) -> tuple[str, int] | None:
    """Where a step switches along sorted x: ("inside", k) between x_{k-1} and x_k, "all" or "none"; None when
    its on-set is not one end of the range."""
    if on.all():
        return "all", 0
    if not on.any():
        return "none", 0
    switches = np.flatnonzero(on[1:] != on[:-1])
    return ("inside", int(switches[0]) + 1) if len(switches) == 1 else None


def _monotone(values: np.ndarray) -> bool:
    steps = np.diff(values)
    return bool(np.all(steps >= 0.0) or np.all(steps <= 0.0))


def _orientation(scaled: np.ndarray) -> float:
    """+1 when a h(x) grows with x, -1 when it shrinks (a flat h makes every step all or none)."""
    return -1.0 if len(scaled) > 1 and scaled[-1] < scaled[0] else 1.0


def _theta(xs: np.ndarray, boundary: tuple[str, int], sign: float, g_min: float) -> float:
    """The threshold: mid-gap inside, else a gap g_min beyond the end where the step is on (all) or off (none)."""
    side, k = boundary
    if side == "inside":
        return float((xs[k - 1] + xs[k]) / 2.0)
    below = (side == "all") == (sign > 0)  # on everywhere with the ramp rising in x: put theta below the range
    return float(xs[0] - g_min) if below else float(xs[-1] + g_min)


def _units(
    x_direction: bases.BasisDirection,
    row_directions: Sequence[bases.BasisDirection],
    steps: list[tuple[float, float, np.ndarray]],
    thetas: dict[tuple[int, int], float],
    slope: float,
    gate: float,
    targets: np.ndarray,
    points: np.ndarray,
    output_space: bases.VectorSpaceWithBasis,
    scaled: np.ndarray,
) -> list[mlp_units.HiddenUnit]:
    one = conventions.one_direction()
    units = []
    anchor = _anchor_target(targets)
    if np.any(anchor != 0.0):
        reads = {**dict.fromkeys(row_directions, gate), one: 1.0 - gate}
        units.append(mlp_units.HiddenUnit(reads, _writes(output_space, anchor)))
    for j, (_, direction, writes) in enumerate(steps):
        sign = direction * _orientation(scaled)
        for offset, weight in ((0.5, 1.0), (-0.5, -1.0)):
            reads = {d: -sign * slope * thetas[j, r] + gate for r, d in enumerate(row_directions)}
            reads[x_direction] = sign * slope
            reads[one] = offset - gate
            units.append(mlp_units.HiddenUnit(reads, _writes(output_space, weight * writes)))
    return units


def _writes(output_space: bases.VectorSpaceWithBasis, vector: np.ndarray) -> dict[bases.BasisDirection, float]:
    return {output_space.basis[i]: float(vector[i]) for i in np.flatnonzero(vector)}
