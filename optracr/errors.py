"""The one error family of optracr: every failure names the RASP expression (or block) at fault."""

from __future__ import annotations


class CompileError(ValueError):
    """A program, option or artefact optracr cannot compile; ``label`` names the expression at fault."""

    def __init__(self, label: str | None, message: str) -> None:
        self.label = label
        self.message = message
        super().__init__(f"{label!r}: {message}" if label is not None else message)


class EvaluationError(CompileError):
    """The RASP evaluator has no value for an expression on some input."""


class InputError(CompileError):
    """An input a compiled model cannot take (missing BOS, unknown token, too long)."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


class CausalMeaningWarning(UserWarning):
    """A program compiled with ``causal=True`` whose selector can pick a later position: the model computes the
    program's causal meaning (``optracr.causal_eval``), which may differ from its plain one; ``label`` names the
    expression. ``causal="strict"`` refuses such programs instead."""

    def __init__(self, label: str, message: str) -> None:
        self.label = label
        self.message = message
        super().__init__(f"{label!r}: {message}")
