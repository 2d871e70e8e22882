"""What an analysis finds: the blocks it reasons about, the bounds that fail, and the inputs undefined by design."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Mapping
from typing import Any

from optracr.certify import tables


@dataclasses.dataclass(frozen=True)
class Block:
    """A part of the model the certificate reasons about on its own: the embedding, one head, the hidden units of
    one layer's MLP that write the same s-ops, a selector width's head with its MLP, or the unembedding."""

    kind: str  # "embedding", "head", "mlp", "pair" (a selector width's head and MLP units), "unembedding",
    # or "missing" (the writer of an s-op the residual stores, which no head or unit writes)
    layer: int | None = None
    heads: tuple[int, ...] = ()
    units: tuple[int, ...] = ()
    writes: tuple[str, ...] = ()

    @property
    def sublayer(self) -> int:
        """The sublayer it sits in (-1 for the embedding, a large number for the unembedding)."""
        if self.kind in ("embedding", "missing"):
            return -1
        if self.kind == "unembedding":
            return 1 << 30
        return 2 * self.layer + (0 if self.kind in ("head", "pair") else 1)

    def describe(self) -> str:
        """In words: where it is and what it writes."""
        if self.kind in ("embedding", "unembedding"):
            return f"the {self.kind}"
        if self.kind == "missing":
            return f"the block that should write {self.writes[0]!r}"
        heads = f"head {', '.join(map(str, self.heads))}"
        units = f"MLP units {_span(self.units)}"
        where = f"layer {self.layer} " + {"head": heads, "mlp": units}.get(self.kind, f"{heads} and {units}")
        return f"{where} (writing {', '.join(repr(label) for label in self.writes)})"

    def to_json(self) -> dict[str, Any]:
        """As plain data."""
        return {"kind": self.kind, "layer": self.layer, "heads": list(self.heads), "units": list(self.units),
                "writes": list(self.writes), "description": self.describe()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Block:
        """The block ``to_json`` describes."""
        return cls(data["kind"], data["layer"], tuple(data["heads"]), tuple(data["units"]), tuple(data["writes"]))


def _span(units: tuple[int, ...]) -> str:
    """Unit indices as ranges: ``0-63, 70``."""
    parts, start = [], None
    for index, unit in enumerate(units):
        if start is None:
            start = unit
        if index + 1 == len(units) or units[index + 1] != unit + 1:
            parts.append(str(start) if start == unit else f"{start}-{unit}")
            start = None
    return ", ".join(parts) if parts else "none"


@dataclasses.dataclass(frozen=True)
class Failure:
    """A bound the proof needs that the weights do not meet: in which block, on which values, and by how much."""

    block: Block
    what: str  # the bound that fails, in words
    values: tuple[tuple[str, str], ...] = ()  # (label, value) the failing case reads
    margin: float = float("-inf")  # how far the bound is from holding (negative)
    length: int | None = None  # the input length at which it fails, where that is known

    def describe(self) -> str:
        """One line."""
        values = ", ".join(f"{label}={value}" for label, value in self.values)
        at = f" at {values}" if values else ""
        return f"{self.block.describe()}{at}: {self.what}"

    def to_json(self) -> dict[str, Any]:
        """As plain data."""
        return {"block": self.block.to_json(), "what": self.what, "values": [list(pair) for pair in self.values],
                "margin": self.margin, "length": self.length}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Failure:
        """The failure ``to_json`` describes."""
        return cls(Block.from_json(data["block"]), data["what"], tuple(tuple(pair) for pair in data["values"]),
                   data["margin"], data["length"])


@dataclasses.dataclass(frozen=True)
class Undefined:
    """A kind of input on which the evaluator has no answer, by the program's design, left out of the proof."""

    label: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        """As plain data."""
        return {"label": self.label, "reason": self.reason}


def values_shown(assignment: Mapping[str, Hashable]) -> tuple[tuple[str, str], ...]:
    """An assignment of states to labels, in words."""
    return tuple((label, tables.shown(state)) for label, state in assignment.items())
