"""The certificate reads craft's labelled types and naming conventions only: it never calls a construction (the
lookup tables, attention, selector width, discretising MLPs, fusion, folding) nor lowering's error bounds, so a bug
in any of them surfaces as NOT PROVED rather than being repeated by the proof."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "optracr" / "certify"
# craft's labelled types, and its naming conventions (re-exported by its face)
ALLOWED = {"AttentionHead", "BasisDirection", "Bilinear", "Linear", "MLP", "VectorSpaceWithBasis", "value_sort_key",
           "ONE", "TOKENS", "INDICES", "bos_direction", "pad_direction", "selector_width_scratch"}


def _craft_names(path: Path) -> set[str]:
    """Every ``craft.X`` the module uses, and every name it imports from ``optracr.craft``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "craft":
            found.add(node.attr)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("optracr.craft"):
            found.update({node.module.removeprefix("optracr.craft").strip(".") or "craft",
                          *(alias.name for alias in node.names)})
    return found


def test_certify_uses_only_crafts_types_and_conventions() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        unexpected = _craft_names(path) - ALLOWED
        assert not unexpected, f"{path.name} uses craft's {sorted(unexpected)}"


def test_certify_never_reads_the_lowering_bounds_nor_the_ground_truth_for_its_proof() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        text = path.read_text()
        assert "error_bound" not in text and "sharpness" not in text, path.name
        if path.name not in ("blame.py", "certifier.py"):  # they name blocks in the report, after the proof
            assert ".locations" not in text, path.name
