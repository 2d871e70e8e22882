"""The error ``certify`` raises when it cannot start: a model and program that do not belong together."""

from __future__ import annotations

from optracr.errors import CompileError


class CertifyError(CompileError):
    """``certify`` was given something it cannot reason about (a program the model was not compiled from, a loaded
    model without its program); ``label`` names the s-op at fault where there is one."""
