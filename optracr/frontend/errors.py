"""Errors raised by the frontend (the package-wide family, and several problems reported at once)."""

from __future__ import annotations

from optracr.errors import CompileError, EvaluationError

__all__ = ["CompileError", "EvaluationError", "ProgramErrors", "raise_all"]


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
