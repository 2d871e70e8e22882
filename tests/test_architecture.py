"""Every package and root module imports only the units before it (docs/design.md), through their package faces,
without cycles; nothing imports the reference."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from typing import NamedTuple

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "optracr"

# Every package and root module of optracr, and the units it may import: imports point one way (a DAG, checked
# below), from the front end to the stages after it. "optracr" is the root face (``import optracr``,
# ``optracr.compile``); ``from optracr import rasp`` is the frontend's face. docs/design.md explains the order.
# ``options`` (CompileOptions: every compile choice's default and valid values) and ``errors`` import no stage,
# so every stage may read them.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "typed_json": {"errors"},  # tokens as typed JSON (saved models, options)
    "options": {"errors", "typed_json"},
    "frontend": {"errors", "options"},
    "craft": {"errors", "options", "frontend"},
    "schedule": {"errors", "options"},
    "assemble": {"errors", "options", "frontend", "craft", "schedule"},
    # the certificate (and verify, built on it) reads the layered model, the program and craft's labelled types;
    # it is outside the chain
    "certify": {"errors", "options", "frontend", "craft", "assemble"},
    "export": {"errors", "typed_json", "options", "frontend", "craft", "schedule", "assemble", "certify"},
    # compress comes after CompiledModel and its save/load: variants are saved beside their original.
    "compress": {"errors", "options", "frontend", "assemble", "export"},
    "plotting": {"errors", "frontend", "assemble"},
    # the page: the model's views (plotting's plans) and verify's comparison of values
    "explore": {"errors", "frontend", "assemble", "certify", "plotting"},
    "programs": {"errors", "frontend"},
    "user_programs": {"errors", "frontend"},  # file.py:NAME and module:NAME, for the CLI and datasets
    # the generator writes RASP programs
    "generate": {"errors", "frontend"},
    "causal_eval": {"errors", "frontend"},
    # the compiler chains the stages
    "compiler": {"errors", "options", "frontend", "craft", "schedule", "assemble", "export"},
    "datasets": {"errors", "options", "frontend", "export", "compiler", "certify", "programs", "generate",
                 "user_programs"},
    "cli": {"optracr", "errors", "options", "frontend", "schedule", "export", "compress", "plotting", "explore", "datasets",
            "programs", "user_programs", "certify"},
    "__init__": {"errors", "options", "frontend", "assemble", "certify", "export", "compress", "datasets",
                 "compiler"},
}
UNITS = {path.stem if path.is_file() else path.name for path in PACKAGE.iterdir()
         if path.suffix == ".py" or (path / "__init__.py").is_file()}
PACKAGES = sorted(unit for unit in UNITS if (PACKAGE / unit / "__init__.py").is_file())


def _unit_of(path: Path) -> str:
    """The package or root module a file belongs to."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else Path(parts[0]).stem


def test_options_and_errors_import_no_stage() -> None:
    """Every stage imports them, so they import nothing of a stage (options reads ``typed_json``, tokens as
    typed JSON, a module that imports nothing of optracr but its errors, and only when options meet JSON)."""
    for name in ("options", "errors"):
        loaded = {found.loaded for found in _imports(PACKAGE / f"{name}.py")}
        assert loaded <= {"optracr.errors", "optracr.typed_json"}, f"{name}.py imports {sorted(loaded)}"
    assert {found.loaded for found in _imports(PACKAGE / "typed_json.py")} <= {"optracr.errors"}


def _optracr_imports(path: Path) -> set[str]:
    """The optracr units a file imports (``optracr.x...`` -> ``x``; ``from optracr import rasp`` -> frontend; a
    name of the root face such as ``optracr.compile`` -> ``optracr``), and ``tracr`` if it imports the reference."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] if node.module != "optracr" else [f"optracr.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "tracr":
                imported.add("tracr")
            if parts[0] != "optracr":
                continue
            unit = parts[1] if len(parts) > 1 else "optracr"
            imported.add("frontend" if unit == "rasp" else unit if unit in UNITS else "optracr")
    imported.discard(_unit_of(path))
    return imported


def test_every_package_and_root_module_has_its_place_in_the_order() -> None:
    assert UNITS == set(ALLOWED), f"add {sorted(UNITS - set(ALLOWED))} / drop {sorted(set(ALLOWED) - UNITS)}"


def test_the_order_has_no_cycle() -> None:
    graph = nx.DiGraph((unit, allowed) for unit, targets in ALLOWED.items() for allowed in targets - {"optracr"})
    assert nx.is_directed_acyclic_graph(graph), list(nx.simple_cycles(graph))


@pytest.mark.parametrize("unit", sorted(ALLOWED))
def test_a_unit_imports_only_the_units_before_it(unit: str) -> None:
    paths = sorted((PACKAGE / unit).rglob("*.py")) if unit in PACKAGES else [PACKAGE / f"{unit}.py"]
    for path in paths:
        forbidden = _optracr_imports(path) - ALLOWED[unit] - {"tracr"}
        assert not forbidden, f"{path.relative_to(PACKAGE)} imports {sorted(forbidden)}"


def test_nothing_in_optracr_imports_the_reference_package() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        assert "tracr" not in _optracr_imports(path), f"{path.relative_to(PACKAGE)} imports tracr"


# ------------------------------------------------------------------------------------------ module graph
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


def test_a_package_is_imported_only_through_its_face() -> None:
    """Outside package S, ``optracr.S`` is imported as a package (names from its ``__all__``), never its modules."""
    faces = {package: _face(package) for package in PACKAGES}
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


def _package_names(tree: ast.AST) -> dict[str, str]:
    """The local names a file binds to optracr packages (``from optracr import craft`` -> {"craft": "craft"})."""
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "optracr":
            bound.update({alias.asname or alias.name: alias.name for alias in node.names if alias.name in PACKAGES})
    return bound


def test_outside_a_package_only_the_names_of_its_face_are_used() -> None:
    """``craft.space(...)``, not ``craft.bases.space(...)``: a face lists what other units use, so they use only it."""
    faces = {package: _face(package) for package in PACKAGES}
    violations = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        bound = {name: package for name, package in _package_names(tree).items()
                 if module.split(".")[:2] != ["optracr", package]}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound:
                package = bound[node.value.id]
                if node.attr not in faces[package]:
                    violations.append(f"{module}:{node.lineno} uses {package}.{node.attr}, not in its __all__")
    assert not violations, "\n".join(violations)


@pytest.mark.parametrize("package", PACKAGES)
def test_a_face_lists_names_not_submodules(package: str) -> None:
    """A face re-exports what others call; its modules stay behind it (``frontend.rasp`` is the language's face)."""
    submodules = {path.stem for path in (PACKAGE / package).glob("*.py")} | {
        path.name for path in (PACKAGE / package).iterdir() if (path / "__init__.py").is_file()}
    face = importlib.import_module(f"optracr.{package}")
    listed = {name for name in _face(package) & submodules if inspect.ismodule(getattr(face, name))} - {"rasp"}
    assert not listed, f"optracr.{package} lists its modules {sorted(listed)} in __all__"
