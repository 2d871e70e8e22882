"""The floating-point arithmetic a certificate accounts for: unit roundoff, and the standard dot-product bound.

Model (Higham, *Accuracy and Stability of Numerical Algorithms*, section 3.1): each addition, multiplication and
division is exact up to a relative error of at most ``u`` (the unit roundoff), so a dot product of ``n``
nonzero terms, summed in any order (with or without fused multiply-adds), is off by at most
``gamma(n) * sum(|x_i| |y_i|)`` with ``gamma(n) = n u / (1 - n u)``. ``exp`` is taken to be within ``EXP_ULPS``
units of roundoff (numpy's is within one or two), and an underflowing ``exp`` loses at most the smallest normal
number. Terms that are exactly zero add no error. In float32 the weights themselves are rounded to float32
first, one more relative error ``u`` per product.

The certificate computes its own bounds in float64 too, with sums of the same terms; ``gamma`` counts every
dot product twice over, so the bound also covers the certificate's rounding (at most float64's, however the
model runs). What is left (the few roundings of the softmax and mixing formulas on numbers near 1) is far below
``SAFETY``, the least margin a decoding check accepts.
"""

from __future__ import annotations

import dataclasses
import math

EXP_ULPS = 4
FLOAT64_UNIT = 2.0**-53
SAFETY = 1e-9  # the least decoding margin accepted (absolute; relative to the value for a large numerical one)


@dataclasses.dataclass(frozen=True)
class Arithmetic:
    """One precision: its name, unit roundoff, smallest normal number, and whether weights are rounded to it."""

    name: str
    unit: float
    tiny: float
    rounds_weights: bool

    def gamma(self, terms: float) -> float:
        """The relative error bound of a dot product of ``terms`` terms (inf when the bound breaks down)."""
        product = (terms + (1 if self.rounds_weights else 0)) * self.unit + terms * FLOAT64_UNIT
        return math.inf if product >= 0.5 else product / (1.0 - product)

    @property
    def exp_error(self) -> float:
        """The relative error of one ``exp``."""
        return EXP_ULPS * self.unit


FLOAT64 = Arithmetic("float64", FLOAT64_UNIT, 2.0**-1022, False)
FLOAT32 = Arithmetic("float32", 2.0**-24, 2.0**-126, True)
