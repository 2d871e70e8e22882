"""The examples in user-facing docstrings print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["optracr", "optracr.frontend.rasp", "optracr.compiler.pipeline", "optracr.programs",
           "optracr.generate.random_programs", "optracr.export.reference", "optracr.export.files",
           "optracr.causal_eval", "optracr.datasets.many", "optracr.cli.tokens", "optracr.user_programs",
           "optracr.certify.certifier", "optracr.options",
           "optracr.explore"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name: str) -> None:
    results = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0
    assert results.failed == 0
