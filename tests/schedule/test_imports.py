"""Pins the stage boundary: schedule imports nothing from the other optracr stages."""

import ast
import pathlib

import optracr.schedule

SCHEDULE_DIR = pathlib.Path(optracr.schedule.__file__).parent


def test_schedule_imports_only_itself_from_optracr():
    for path in SCHEDULE_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                if name == "optracr" or name.startswith("optracr."):
                    assert name.startswith("optracr.schedule"), f"{path.name} imports {name}"


def test_public_names_are_exported():
    for name in optracr.schedule.__all__:
        assert hasattr(optracr.schedule, name), name


def test_package_docstring_example_runs():
    import doctest

    failures, tried = doctest.testmod(optracr.schedule)
    assert tried > 0
    assert failures == 0
