"""Stages import only the stages above them (../shared/DESIGN.md), and nothing imports the reference."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "optracr"

ALLOWED = {
    "frontend": {"frontend", "errors"},
    "craft": {"craft", "frontend", "errors"},
    "schedule": {"schedule", "errors"},
    "assemble": {"assemble", "craft", "schedule", "frontend", "errors"},
    "compress": {"compress", "assemble", "frontend", "errors"},
    "export": {"export", "assemble", "craft", "schedule", "frontend", "errors"},
}


def _optracr_imports(path: Path) -> set[str]:
    """The optracr sub-packages a file imports (``optracr.x...`` -> ``x``; ``from optracr import x`` -> ``x``)."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "tracr":
                imported.add("tracr")
            if parts[0] == "optracr" and len(parts) > 1:
                imported.add(parts[1])
    return imported


@pytest.mark.parametrize("stage", sorted(ALLOWED))
def test_stage_imports_only_the_stages_above_it(stage: str) -> None:
    for path in sorted((PACKAGE / stage).rglob("*.py")):
        forbidden = _optracr_imports(path) - ALLOWED[stage]
        assert not forbidden, f"{path.relative_to(PACKAGE)} imports {sorted(forbidden)}"


def test_nothing_in_optracr_imports_the_reference_package() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        assert "tracr" not in _optracr_imports(path), f"{path.relative_to(PACKAGE)} imports tracr"
