"""Stages import only the stages above them (docs/artefacts.md), through their package faces, without cycles; nothing
imports the reference."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import NamedTuple

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "optracr"

# ``options`` (CompileOptions: every compile choice's default and valid values) and ``errors`` import no stage,
# so every stage may read them.
ALLOWED = {
    "frontend": {"frontend", "errors", "options"},
    "craft": {"craft", "frontend", "errors", "options"},
    "schedule": {"schedule", "errors", "options"},
    "assemble": {"assemble", "craft", "schedule", "frontend", "errors", "options"},
    # compress comes after CompiledModel and its save/load (docs/artefacts.md): variants are saved beside their original.
    "compress": {"compress", "assemble", "export", "frontend", "errors", "options"},
    "export": {"export", "assemble", "craft", "schedule", "frontend", "certify", "errors", "options"},
    # the certificate (and verify, built on it) reads the layered model, the program and craft's labelled types;
    # it is outside the chain
    "certify": {"certify", "assemble", "craft", "frontend", "errors", "options"},
    # the compiler chains the stages; the generator writes RASP programs
    "compiler": {"compiler", "frontend", "craft", "schedule", "assemble", "export", "errors", "options"},
    "generate": {"generate", "frontend", "errors"},
}


def test_options_and_errors_import_no_stage() -> None:
    """Every stage imports them, so they import nothing of a stage (options reads export's typed token JSON,
    a module that imports nothing of optracr, and only when options meet JSON)."""
    for name in ("options", "errors"):
        loaded = {found.loaded for found in _imports(PACKAGE / f"{name}.py")}
        assert loaded <= {"optracr.errors", "optracr.export.values"}, f"{name}.py imports {sorted(loaded)}"
    assert not _imports(PACKAGE / "export" / "values.py")


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


# ------------------------------------------------------------------------------------------ module graph
STAGES = ("frontend", "craft", "schedule", "assemble", "compress")


def _module_name(path: Path) -> str:
    parts = ("optracr", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


class _Import(NamedTuple):
    """One imported optracr name: the module it loads, the module the statement names, and the name (or None)."""

    loaded: str
    statement: str
    name: str | None


def _imports(path: Path) -> set[_Import]:
    """Every optracr import in a file, function-local ones too (``from m import x`` loads ``m.x`` if a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(_Import(a.name, a.name, None) for a in node.names if a.name.split(".")[0] == "optracr")
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.relative_to(PACKAGE)}: use absolute imports"
            if node.module and node.module.split(".")[0] == "optracr":
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    loaded = submodule if submodule in MODULES else node.module
                    found.add(_Import(loaded, node.module, alias.name))
    return found


def _face(stage: str) -> set[str]:
    """The names a stage's ``__init__`` lists in ``__all__``."""
    for node in ast.parse((PACKAGE / stage / "__init__.py").read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


def test_optracr_has_no_import_cycle() -> None:
    graph = nx.DiGraph()
    graph.add_nodes_from(MODULES)
    for module, path in MODULES.items():
        graph.add_edges_from((module, found.loaded) for found in _imports(path) if found.loaded != module)
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_a_stage_is_imported_only_through_its_package_face() -> None:
    """Outside stage S, ``optracr.S`` is imported as a package (names from its ``__all__``), never its modules."""
    faces = {stage: _face(stage) for stage in STAGES}
    violations = []
    for module, path in MODULES.items():
        for found in _imports(path):
            parts = found.statement.split(".")
            stage = parts[1] if len(parts) > 1 else None
            if stage not in faces or module.split(".")[:2] == ["optracr", stage]:
                continue
            if len(parts) > 2:
                violations.append(f"{module} imports {found.statement}, a module inside {stage}")
            elif found.name is not None and found.name not in faces[stage]:
                violations.append(f"{module} imports {found.name} from optracr.{stage}, which is not in its __all__")
    assert not violations, "\n".join(violations)
