"""The frontend: RASP, its evaluator, tracing, value-set inference, rewrites and validation.

``analyse`` chains them: program -> rewritten program -> ``ProgramGraph`` with value sets, or one
``CompileError`` listing every unsupported construct.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterable

from optracr.frontend import rasp
from optracr.frontend.errors import CompileError, EvaluationError
from optracr.frontend.evaluator import evaluate
from optracr.frontend.graph import ProgramGraph, trace
from optracr.frontend.rewrite import rewrite
from optracr.frontend.validate import validate, validate_causal, validate_options
from optracr.frontend.value_sets import infer as infer_value_sets

__all__ = [
    "CompileError",
    "EvaluationError",
    "ProgramGraph",
    "ProgramErrors",
    "analyse",
    "evaluate",
    "infer_value_sets",
    "raise_all",
    "rasp",
    "rewrite",
    "trace",
    "validate",
    "validate_causal",
    "validate_options",
]


class ProgramErrors(CompileError):
    """Several problems found at once; ``errors`` holds each ``CompileError``."""

    def __init__(self, errors: list[CompileError]) -> None:
        self.errors = tuple(errors)
        lines = "\n".join(f"  - {error}" for error in errors)
        super().__init__(errors[0].label, f"{len(errors)} problem(s) found:\n{lines}")


def raise_all(errors: list[CompileError]) -> None:
    """Raises the single error, or all of them together; nothing when the list is empty."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ProgramErrors(errors)


def analyse(
    program: rasp.SOp,
    vocab: Iterable[Hashable],
    max_seq_len: int,
    *,
    bos: Hashable = "BOS",
    pad: Hashable = "PAD",
    causal: bool = False,
) -> ProgramGraph:
    """The program traced, with value sets, validated; raises ``CompileError`` listing every problem."""
    if not isinstance(program, rasp.SOp):
        label = program.label if isinstance(program, rasp.RASPExpr) else None
        raise CompileError(label, f"a program must be an s-op (rasp.SOp), got {program!r}")
    vocab = list(vocab)
    raise_all(validate_options(vocab, max_seq_len, bos, pad))
    if causal:
        raise_all(validate_causal(trace(program)))
    program_graph = infer_value_sets(trace(rewrite(program)), vocab, max_seq_len)
    raise_all(validate(program_graph))
    return dataclasses.replace(program_graph, validated=True)
