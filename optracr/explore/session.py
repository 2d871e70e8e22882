"""``Explorer``: a compiled model (and, where known, its RASP program) with everything the page shows.

The model-wide parts (program graph, layout, band and head layout) are computed once; ``run`` computes one
input's trace. ``page_data`` is the JSON the page is drawn from.
"""

from __future__ import annotations

import dataclasses
import functools
import random
from collections.abc import Sequence
from typing import Any

from optracr import assemble, frontend
from optracr.errors import CompileError, InputError
from optracr.explore import layout_view, program_view, trace_view
from optracr.frontend import rasp

MODES = ("server", "static")


@dataclasses.dataclass(frozen=True, eq=False)
class Explorer:
    """A compiled model to explore; ``program`` is the very RASP program it was compiled from (default: the one
    ``optracr.compile`` kept in the model; None for a model loaded from disk, whose page then has no expressions,
    edges or evaluator answers)."""

    model: assemble.CompiledModel
    program: rasp.SOp | None = None
    title: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.model, assemble.CompiledModel):
            raise CompileError(None, f"explore needs a CompiledModel (optracr.compile or optracr.load), got "
                               f"{type(self.model).__name__}")
        if self.program is None:
            object.__setattr__(self, "program", self.model.program)
        if self.program is not None and not isinstance(self.program, rasp.SOp):
            raise CompileError(None, f"program must be the RASP s-op the model was compiled from, got "
                               f"{type(self.program).__name__}")
        if self.program is not None:
            missing = sorted(set(self.model.layered.locations) - set(self._program_graph.graph.nodes))
            if missing:
                raise CompileError(missing[0], "the model computes this s-op but the program given has no node of "
                                   "that label; pass the very program object the model was compiled from (unnamed "
                                   "s-ops get new labels on every build)")
        object.__setattr__(self, "title", self.title or self.model.output_label)

    @functools.cached_property
    def _program_graph(self) -> frontend.ProgramGraph | None:
        if self.program is None:
            return None
        if self.program is self.model.program and self.model.program_graph is not None:
            return self.model.program_graph  # what the compiler analysed: no second analysis
        return program_view.analysed(self.model, self.program)

    def example_input(self) -> str:
        """A full-length input drawn from the vocabulary with a fixed seed (the page's first input)."""
        vocab = sorted(self._vocab, key=repr)
        return " ".join(str(token) for token in random.Random(0).choices(vocab, k=self.model.layered.max_seq_len))

    @property
    def _vocab(self) -> list:
        return [token for token in self.model.input_tokens if token not in (self.model.bos, self.model.pad)]

    def run(self, text: str) -> dict[str, Any]:
        """The page's data for input ``text`` (space-separated tokens), or ``{"error": ...}`` from ``apply``."""
        return trace_view.input_trace(self.model, self.program, text)

    def checked_runs(self, texts: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``run`` of each input, keyed by its normalised text; an ``InputError`` naming the first bad one."""
        runs = {}
        for text in texts:
            trace = self.run(text)
            if "error" in trace:
                raise InputError(f"input {text!r}: {trace['error']}")
            runs[trace["input"]] = trace
        if not runs:
            raise InputError("no input to show; give at least one, e.g. " + repr(self.example_input()))
        return runs

    @functools.cached_property
    def _model_parts(self) -> dict[str, Any]:
        tokens = trace_view.parse_input(self.model, self.example_input())
        return {
            "program": program_view.program_nodes(self.model, self._program_graph),
            "layout": layout_view.layout_boxes(self.model),
            "stream": trace_view.stream_layout(self.model, self.program, tokens),
        }

    def page_data(self, inputs: Sequence[str], *, mode: str) -> dict[str, Any]:
        """Everything the page draws: the model-wide parts and the traces of ``inputs`` (the first shown first)."""
        if mode not in MODES:
            raise CompileError(None, f"unknown page mode {mode!r}; use one of {', '.join(MODES)}")
        texts = [" ".join(text.split()) for text in inputs]
        traces = self.checked_runs(texts)
        config = self.model.config
        vocab = " ".join(str(token) for token in sorted(self._vocab, key=repr))
        hint = (f"space-separated tokens from {{{vocab}}}, or a JSON list; at most {self.model.layered.max_seq_len} "
                "(BOS is added)")
        return {
            **self._model_parts,
            "title": self.title,
            "mode": mode,
            "bos": trace_view.value_text(self.model.bos),
            "shape": f"{config.num_layers} layers, {config.num_heads} head{'' if config.num_heads == 1 else 's'}, MLP width {config.mlp_hidden_size}, "
                     f"residual width {config.d_model}",
            "hint": hint if mode == "server" else hint + "; this static page holds the listed inputs only",
            "traces": traces,
            "initial": texts[0],
        }
