"""The floating-point arithmetic a certificate accounts for: unit roundoff, and bounds on a dot product's error.

Model: every operation is IEEE round-to-nearest with unit roundoff ``u``: a product or sum is exact up to a
relative ``u``, and adding ``b`` to a float ``a`` is off by at most ``|b|`` too (``a`` itself is a float within
``|b|`` of ``a + b``). Hence, for a dot product summed in any order (pairwise or blocked, with or without fused
multiply-adds), whose terms split into at most ``m`` *main* terms and others whose absolute values sum to at
most ``r``, with ``T`` bounding the sum of all |terms| (Higham, *Accuracy and Stability of Numerical
Algorithms*, section 3.1, with the main terms counted as there and every other term's loss bounded by itself):

    |fl(x . y) - x . y| <= gamma(m + 1) T + (1 + 2 gamma(n)) r,    gamma(k) = k u / (1 - k u),

``n`` being the number of terms; the classic ``gamma(n) T`` holds too, and the smaller of the two is used. A one-hot read through a weight matrix has one main term per label; the rest are
the stray entries around it, tiny in a compiled model. A dot product of dot products (a score ``q W k``) is
bounded by twice that. ``exp`` is taken to be within ``EXP_ULPS`` units of roundoff (numpy's is within one or
two), and an underflowing ``exp`` loses at most the smallest normal number. In float32 the weights themselves
are rounded to float32 first, one more relative error ``u`` per product.

The certificate computes its own bounds in float64, with sums of the same terms; ``gamma`` adds float64's
``k u`` to every bound, which covers the certificate's rounding (at most float64's, however the model runs).
What is left (the few roundings of the softmax and mixing formulas on numbers near 1) is far below ``SAFETY``,
the least margin a decoding check accepts.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

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

    def dot_error(self, main_terms: int, total, rest, terms: int):
        """The error bound of a dot product (module doc): ``main_terms`` main terms, ``total`` bounding the sum of
        all |terms|, ``rest`` the sum of the others' |terms|, ``terms`` terms in all (arrays broadcast); the
        smaller of that bound and the classic ``gamma(terms) total``."""
        classic = self.gamma(terms)
        refined = self.gamma(main_terms + 1) * total + (1.0 + 2.0 * classic) * rest
        return np.minimum(classic * total, refined)

    @property
    def exp_error(self) -> float:
        """The relative error of one ``exp``."""
        return EXP_ULPS * self.unit


FLOAT64 = Arithmetic("float64", FLOAT64_UNIT, 2.0**-1022, False)
FLOAT32 = Arithmetic("float32", 2.0**-24, 2.0**-126, True)
