"""What every export reads: the ``assemble.LayeredModel`` of a compiled model (or the layered model itself)."""

from __future__ import annotations

from typing import Any

from optracr.errors import OptracrTypeError

def as_layered(model: Any) -> Any:
    """``model.layered`` for a ``CompiledModel``; a ``LayeredModel`` (anything with ``dense()``) as it is."""
    if hasattr(model, "dense"):
        return model
    if hasattr(model, "layered"):
        return model.layered
    raise OptracrTypeError(
        None,
        f"expected an optracr CompiledModel or assemble.LayeredModel, got {type(model).__name__}; "
        "compile a program with optracr.compile first"
    )
