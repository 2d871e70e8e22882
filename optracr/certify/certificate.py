"""``Certificate``: what ``certify`` proved about a compiled model, in words (``str``) and as data (``to_json``)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from optracr.certify import arithmetic
from optracr.certify import counterexample as counterexample_lib
from optracr.certify import findings

ASSUMPTIONS = (
    "value-set inference: every s-op holds only values of its inferred value set (and two numerical means over the "
    "same positions only the pairs of values it lists)",
    "the frontend's rewrites (same-input selector combinations, paired keys, categorical copies, length, Full) "
    "keep the program's meaning",
    "IEEE arithmetic: each dot product of n terms is exact up to gamma_n = n u / (1 - n u) of the sum of |terms| "
    f"(u = 2^-53 in float64), exp within {arithmetic.EXP_ULPS} units of roundoff",
)


@dataclasses.dataclass(frozen=True)
class SopBound:
    """One s-op: where the model holds it, its worst distance from its exact encoding, and the room left.

    ``error`` and ``margin`` are None for an s-op without directions of its own (folded into its readers, or
    read only inside a fused MLP): the blocks that compose it are checked on its values.
    """

    label: str
    where: str
    encoding: str
    error: float | None
    margin: float | None
    values: int

    def to_json(self) -> dict[str, Any]:
        """As plain data."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Certificate:
    """The outcome of ``optracr.certify``.

    ``proved``: every input of length 1..``max_seq_len`` over the vocabulary on which the evaluator has an answer
    decodes to that answer at every position (numerical outputs within ``tolerance``, relative above 1), under
    ``ASSUMPTIONS``. Otherwise ``failures`` lists the bounds that do not hold, ``blamed`` the block at fault and
    ``story`` what goes wrong there, ``largest_length`` the longest inputs still proved, and ``counterexample`` an
    input the model gets wrong when the search found one.
    """

    proved: bool
    output_label: str
    output_encoding: str
    vocab_size: int
    max_seq_len: int
    causal: bool
    tolerance: float
    output_margin: float
    output_error: float
    sops: tuple[SopBound, ...]
    undefined: tuple[findings.Undefined, ...]
    failures: tuple[findings.Failure, ...]
    blamed: findings.Block | None
    story: str
    story_values: tuple[tuple[str, str], ...]
    largest_length: int
    float32: bool | None
    float32_failure: str
    bounds_precision: str  # the arithmetic the reported bounds assume ("float32" bounds hold in float64 too)
    counterexample: counterexample_lib.Counterexample | None
    searched_inputs: int
    seconds: float

    # --------------------------------------------------------------------------------- in words
    def __str__(self) -> str:
        lines = [self.headline()]
        if not self.proved:
            lines += self._failure_lines()
        lines.append(f"  float32: {self._float32_line()}")
        if self.undefined:
            lines.append("  left out by design (the evaluator has no answer on these inputs, so nothing is claimed):")
            lines += [f"    {u.label!r}: {u.reason}" for u in self.undefined]
        lines.append("  assumptions: " + "; ".join(ASSUMPTIONS))
        lines.append("  per s-op (worst distance from its exact encoding over every value; margin: room left before "
                     f"it could read as another value; bounds in {self._precision_words()}):")
        width = max((len(sop.label) for sop in self.sops), default=0)
        for sop in self.sops:
            if sop.error is None:
                lines.append(f"    {sop.label:<{width}}  {sop.where}")
            else:
                lines.append(f"    {sop.label:<{width}}  error {sop.error:.3g}, margin {sop.margin:.3g} "
                             f"({sop.encoding}, {sop.values} values; {sop.where})")
        return "\n".join(lines)

    def headline(self) -> str:
        """The first line: PROVED for which inputs, or NOT PROVED, where and why."""
        inputs = (f"every input of length 1..{self.max_seq_len} over the {self.vocab_size}-token vocabulary"
                  + (" (causal)" if self.causal else ""))
        if self.proved:
            rule = ("within " + f"{self.tolerance:g}" + " (relative above 1)" if self.output_encoding == "numerical"
                    else "by the decoding rule (largest class above 1/2)")
            return (f"PROVED for {inputs}: wherever the RASP evaluator has an answer, the model's output "
                    f"{self.output_label!r} decodes to it at every position, {rule}; decoding margin "
                    f"{self.output_margin:.6g} (the output is off its exact value by at most {self.output_error:.2g})")
        where = self.blamed.describe() if self.blamed is not None else "the model"
        return f"NOT PROVED for {inputs}: {where}: {self.story}"

    def _failure_lines(self) -> list[str]:
        lines = []
        if self.story_values:
            lines.append("  at " + ", ".join(f"{label}={value}" for label, value in self.story_values))
        for failure in self.failures[:5]:
            lines.append(f"  fails: {failure.describe()}")
        if len(self.failures) > 5:
            lines.append(f"  ... and {len(self.failures) - 5} more")
        lines.append(f"  largest length proved: {self.largest_length}" + (
            f" (the proof fails from length {self.largest_length + 1})" if self.largest_length < self.max_seq_len
            else ""))
        if self.counterexample is not None:
            c = self.counterexample
            lines.append(f"  counterexample (confirmed by running the model): input {list(c.input)}: the evaluator "
                         f"gives {list(c.expected)}, the model {list(c.got)}")
        else:
            lines.append(f"  no counterexample found among {self.searched_inputs} inputs tried (the bound may be "
                         "loose there, or the failing case rare)")
        return lines

    def _float32_line(self) -> str:
        if self.float32 is None:
            return f"not proved ({self.float32_failure})" if self.float32_failure else "not checked"
        if self.float32:
            return "PROVED too (weights and arithmetic in float32, u = 2^-24)"
        return f"NOT PROVED ({self.float32_failure})"

    def _precision_words(self) -> str:
        if self.bounds_precision == "float32":
            return "float32 arithmetic, which hold in float64 too"
        return f"{self.bounds_precision} arithmetic"

    # --------------------------------------------------------------------------------- as data
    def to_json(self) -> dict[str, Any]:
        """Every field as plain JSON data (``from_json`` reads it back)."""
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        data["sops"] = [sop.to_json() for sop in self.sops]
        data["undefined"] = [u.to_json() for u in self.undefined]
        data["failures"] = [f.to_json() for f in self.failures]
        data["blamed"] = None if self.blamed is None else self.blamed.to_json()
        data["story_values"] = [list(pair) for pair in self.story_values]
        data["counterexample"] = None if self.counterexample is None else self.counterexample.to_json()
        data["assumptions"] = list(ASSUMPTIONS)
        data["report"] = str(self)
        return _clean(json.loads(json.dumps(data, default=repr)))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Certificate:
        """The certificate ``to_json`` wrote (a counterexample's values come back as their repr strings)."""
        fields = {field.name for field in dataclasses.fields(cls)}
        values = {name: data[name] for name in fields}
        for name in ("tolerance", "output_margin", "output_error", "seconds"):
            values[name] = _number(data[name])
        values["sops"] = tuple(SopBound(**{**sop, "error": _number(sop["error"]), "margin": _number(sop["margin"])})
                               for sop in data["sops"])
        values["undefined"] = tuple(findings.Undefined(**u) for u in data["undefined"])
        values["failures"] = tuple(findings.Failure.from_json({**f, "margin": _number(f["margin"])})
                                   for f in data["failures"])
        values["blamed"] = None if data["blamed"] is None else findings.Block.from_json(data["blamed"])
        values["story_values"] = tuple(tuple(pair) for pair in data["story_values"])
        found = data["counterexample"]
        values["counterexample"] = None if found is None else counterexample_lib.Counterexample(
            tuple(found["input"]), tuple(found["expected"]), tuple(found["got"]))
        return cls(**values)


_NON_FINITE = {"inf": float("inf"), "-inf": float("-inf"), "nan": float("nan")}


def _clean(value: Any) -> Any:
    """JSON data with every non-finite number written as the string "inf", "-inf" or "nan" (plain JSON)."""
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        return repr(float(value)) if isinstance(value, float) else value
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


def _number(value: Any) -> Any:
    """A number ``_clean`` wrote as a string, back as a float; anything else unchanged."""
    return _NON_FINITE.get(value, value) if isinstance(value, str) else value
