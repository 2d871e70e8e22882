"""Errors raised by the frontend (re-exported from the package-wide family)."""

from optracr.errors import CompileError, EvaluationError

__all__ = ["CompileError", "EvaluationError"]
