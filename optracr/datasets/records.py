"""``Job`` and ``Record``: one program to compile, and what became of it (plain JSON data both)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from optracr import options as options_lib
from optracr.datasets import programs
from optracr.errors import CompileError, OptracrTypeError

STATUSES = ("ok", "mismatch", "error", "timeout", "lost")


@dataclasses.dataclass(frozen=True)
class Job:
    """One program to compile: a unique ``name`` (also its directory under ``save_dir``), how to rebuild the
    program (a ``ProgramSpec``, or a RASP program in hand as ``(program, vocab, max_seq_len)``), and the
    ``CompileOptions`` to compile it with, whose vocab and max_seq_len the program fills in (given as a mapping
    of ``optracr.compile`` keywords, e.g. ``{"allocator": "heuristic"}``, they are checked here, before any
    worker runs them)."""

    name: str
    program: programs.ProgramSpec
    compile_options: options_lib.CompileOptions = dataclasses.field(default_factory=options_lib.CompileOptions)

    def __post_init__(self) -> None:
        spec = programs.as_spec(self.program)
        if spec is None:
            raise OptracrTypeError(None, f"job {self.name!r}: program must be a ProgramSpec or (RASP program, vocab, "
                                         f"max_seq_len), got {type(self.program).__name__}")
        object.__setattr__(self, "program", spec)
        object.__setattr__(self, "compile_options", job_options(self.compile_options, f"job {self.name!r}"))


def job_options(given: Any, owner: str) -> options_lib.CompileOptions:
    """``given`` (``CompileOptions`` or a mapping of compile keywords) as the options of ``owner``'s programs,
    which must leave vocab and max_seq_len to the program."""
    try:
        chosen = given if isinstance(given, options_lib.CompileOptions) else options_lib.from_keywords(
            keywords=dict(given))
    except CompileError as error:
        raise CompileError(None, f"{owner}: {error}") from None
    except (TypeError, ValueError):
        raise CompileError(None, f"{owner}: compile_options must be CompileOptions or a mapping of compile "
                           f"keywords, got {given!r}") from None
    for name in ("vocab", "max_seq_len"):
        if getattr(chosen, name) is not None:
            raise CompileError(None, f"{owner}: option {name} comes from the program (its ProgramSpec); leave it "
                               "out of compile_options")
    return chosen


@dataclasses.dataclass(frozen=True)
class Record:
    """What one job gave: ``status`` "ok", "mismatch" (compiled, but verify found a difference), "error"
    (``error`` says which exception), "timeout", or "lost" (its worker died or never ran it: not the program's
    fault as far as known, worth running again); the model's sizes, the verification counts, where the model
    was saved (relative to ``save_dir``) and the seconds each step took; ``causal_meaning`` lists, for a model
    compiled with ``causal=True``, the selectors that may pick a later position (what ``CausalMeaningWarning``
    says at compile time): where it is not empty the model computes the program's causal meaning, which may
    differ from its plain one. Everything but ``seconds`` is the same on every run with the same jobs and seed."""

    name: str
    program: Mapping[str, Any]  # ProgramSpec.to_json()
    status: str
    error: str | None = None
    sizes: Mapping[str, Any] | None = None  # layers, heads, mlp_width, residual_width, params_total, allocation
    verify: Mapping[str, Any] | None = None  # checked, undefined, mismatches, exhaustive, proved
    saved: str | None = None
    seconds: Mapping[str, float] = dataclasses.field(default_factory=dict)
    causal_meaning: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "causal_meaning", tuple(self.causal_meaning or ()))
        self._check_status()

    def _check_status(self) -> None:
        if self.status not in STATUSES:
            raise CompileError(
                None, f"record {self.name!r}: status must be one of {', '.join(STATUSES)}, got {self.status!r}"
            )

    @property
    def ok(self) -> bool:
        """Compiled (and verified, if asked) without error."""
        return self.status == "ok"

    def without_timings(self) -> Record:
        """The record with ``seconds`` emptied: what two runs of the same jobs must agree on."""
        return dataclasses.replace(self, seconds={})

    def to_json(self) -> dict[str, Any]:
        """The record as one JSON object (a line of a dataset's index)."""
        return {field.name: _plain(getattr(self, field.name)) for field in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Record:
        """The record ``to_json`` wrote."""
        return cls(**{field.name: data.get(field.name) for field in dataclasses.fields(cls) if field.name in data})


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
