"""Building an MLP from hidden units described by name, silenced at BOS.

Every construction describes its hidden units as (first-layer weights on input directions, second-layer
weights on output directions); biases are weights on ``one``. ``build_mlp`` adds to each unit a negative
weight on ``tokens:BOS`` larger than the biggest pre-activation the unit can reach on any input the block
can see, so the MLP writes exactly zero at the BOS position (docs/artefacts.md, "Residual conventions").
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

from optracr import errors
from optracr.craft import bases
from optracr.craft import blocks
from optracr.craft import conventions
from optracr.craft import operators

Weights = Mapping[bases.BasisDirection, float]


@dataclasses.dataclass(frozen=True)
class InputDomain:
    """What an MLP input subspace can hold at a position: one-hot or zero (categorical), or a number.

    A numerical input holds a value in ``[low, high]``; both bounds are widened to include 0 (the value at
    BOS and wherever the s-op is absent).
    """

    space: bases.VectorSpaceWithBasis
    numerical: bool = False
    low: float = 0.0
    high: float = 0.0

    def __post_init__(self) -> None:
        if self.numerical and self.space.num_dims != 1:
            raise errors.OptracrBug(f"a numerical input is one direction, got {self.space}")
        if self.low > self.high:
            raise errors.OptracrBug(f"an input range needs low <= high, got [{self.low}, {self.high}]")

    @classmethod
    def of_values(cls, direction: bases.BasisDirection, values: Iterable[float]) -> InputDomain:
        """A numerical input taking ``values`` (or 0)."""
        values = [float(v) for v in values]
        return cls(bases.space([direction]), True, min(values + [0.0]), max(values + [0.0]))

    def max_contribution(self, weights: Weights) -> float:
        """The largest ``sum(weight * input)`` over the inputs this domain allows."""
        if self.numerical:
            weight = weights.get(self.space.basis[0], 0.0)
            return max(weight * self.low, weight * self.high)
        return max([0.0] + [weights.get(direction, 0.0) for direction in self.space.basis])


@dataclasses.dataclass(frozen=True)
class HiddenUnit:
    """One ReLU: ``reads`` its input directions (bias on ``one``) and ``writes`` to output directions."""

    reads: Weights
    writes: Weights

    def __post_init__(self) -> None:
        for weights in (self.reads, self.writes):
            for direction, weight in weights.items():
                if not isinstance(direction, bases.BasisDirection) or not math.isfinite(weight):
                    message = f"hidden unit weights map directions to finite numbers, got {direction!r}: {weight!r}"
                    raise errors.OptracrBug(message)
        object.__setattr__(self, "reads", MappingProxyType(dict(self.reads)))
        object.__setattr__(self, "writes", MappingProxyType(dict(self.writes)))

    def max_preactivation(self, domains: Sequence[InputDomain]) -> float:
        """The largest pre-activation (BOS term left out) over every input the domains allow."""
        bias = self.reads.get(conventions.one_direction(), 0.0)
        return bias + sum(domain.max_contribution(self.reads) for domain in domains)


def build_mlp(
    label: str,
    domains: Sequence[InputDomain],
    output_space: bases.VectorSpaceWithBasis,
    units: Sequence[HiddenUnit],
    bos_direction: bases.BasisDirection,
) -> blocks.MLP:
    """The MLP with these hidden units (in order), reading the domains' spaces, ``one`` and ``tokens:BOS``."""
    input_space = bases.join_vector_spaces(
        *(domain.space for domain in domains), conventions.one_space(), bases.space([bos_direction])
    )
    hidden_space = conventions.hidden_space(label, len(units))
    silencers = [-(1.0 + max(0.0, unit.max_preactivation(domains))) for unit in units]
    for unit in units:
        unknown = [str(d) for d in unit.reads if d not in input_space or d == bos_direction]
        unknown += [str(d) for d in unit.writes if d not in output_space]
        if unknown:
            raise errors.OptracrBug(f"MLP {label!r}: a hidden unit uses directions outside its spaces: {unknown}")

    def first_layer(direction: bases.BasisDirection) -> bases.VectorInBasis:
        if direction == bos_direction:
            return bases.VectorInBasis(hidden_space, silencers)
        return bases.VectorInBasis(hidden_space, [unit.reads.get(direction, 0.0) for unit in units])

    def second_layer(hidden: bases.BasisDirection) -> bases.VectorInBasis:
        return output_space.vector(dict(units[hidden.value].writes))

    fst = operators.Linear.from_action(input_space, hidden_space, first_layer)
    snd = operators.Linear.from_action(hidden_space, output_space, second_layer)
    return blocks.MLP(fst, snd)
