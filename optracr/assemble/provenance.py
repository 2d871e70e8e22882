"""``Provenance``: how a model was compiled: the options, and each pipeline stage with its time and output.

``optracr.compile`` records one ``StageRecord`` per stage it runs (frontend, lower, each pass, schedule,
assemble); ``CompiledModel.provenance`` keeps them, ``summary`` prints them and the save format stores them
(``to_json``), so a loaded model still says how it was made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from optracr import options as options_lib
from optracr.errors import CompileError


@dataclasses.dataclass(frozen=True)
class StageRecord:
    """One stage of the pipeline: its ``name``, the ``seconds`` it took and a one-line ``summary`` of its output."""

    name: str
    seconds: float
    summary: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise CompileError(None, f"a stage record needs a stage name, got {self.name!r}")
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float)) or self.seconds < 0:
            raise CompileError(None, f"stage {self.name!r}: seconds must be a number >= 0, got {self.seconds!r}")
        if not isinstance(self.summary, str):
            raise CompileError(None, f"stage {self.name!r}: summary must be a string, got {self.summary!r}")


@dataclasses.dataclass(frozen=True)
class Provenance:
    """The options a model was compiled with and the stages that ran, in order."""

    options: options_lib.CompileOptions
    stages: tuple[StageRecord, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        if not isinstance(self.options, options_lib.CompileOptions):
            raise CompileError(None, f"provenance needs the CompileOptions, got {self.options!r}")
        if not all(isinstance(stage, StageRecord) for stage in self.stages):
            raise CompileError(None, f"provenance stages must be StageRecords, got {self.stages!r}")

    @property
    def seconds(self) -> Mapping[str, float]:
        """Each stage's seconds, by stage name."""
        return {stage.name: stage.seconds for stage in self.stages}

    def lines(self) -> list[str]:
        """The summary's lines: total time, the options that shape the model, then one line per stage."""
        options = self.options
        passes = ", ".join(_shown_pass(chosen) for chosen in options.passes) or "none (the reference's structure)"
        causal = {False: "no", True: "yes", options_lib.STRICT_CAUSAL: "strict"}[options.causal]
        lines = [
            f"  compiled in {sum(self.seconds.values()):.3f} s; passes {passes}; allocator {options.allocator} "
            f"(time limit {options.time_limit_s:g} s, seed {options.seed}, workers {options.workers}); causal "
            f"{causal}; partial functions {options.partial_functions}",
        ]
        lines += [f"    {stage.name:<9} {stage.seconds:8.3f} s  {stage.summary}" for stage in self.stages]
        return lines

    def to_json(self) -> dict[str, Any]:
        """The provenance as plain JSON."""
        return {"options": self.options.to_json(), "stages": [dataclasses.asdict(stage) for stage in self.stages]}

    @classmethod
    def from_json(cls, data: Any) -> Provenance:
        """The provenance ``to_json`` wrote; a ``CompileError`` saying what is wrong otherwise."""
        if not isinstance(data, Mapping) or not isinstance(data.get("stages"), list):
            raise CompileError(None, f"provenance is an object with 'options' and a 'stages' list, got {data!r}")
        stages = []
        for entry in data["stages"]:
            if not isinstance(entry, Mapping) or set(entry) != {"name", "seconds", "summary"}:
                raise CompileError(None, f"a provenance stage has name, seconds and summary, got {entry!r}")
            stages.append(StageRecord(**entry))
        return cls(options_lib.CompileOptions.from_json(data.get("options")), tuple(stages))


def _shown_pass(chosen: options_lib.PassOptions) -> str:
    settings = dataclasses.asdict(chosen)
    shown = ", ".join(f"{key} {'default' if value is None else value}" for key, value in settings.items())
    return f"{chosen.name} ({shown})" if shown else chosen.name
