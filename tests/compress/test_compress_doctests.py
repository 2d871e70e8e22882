"""The examples in ``compress``'s and ``scramble``'s docstrings print what they say."""

from __future__ import annotations

import doctest

import pytest

from optracr.compress import compressor, variants


@pytest.mark.parametrize("module", [compressor, variants], ids=lambda module: module.__name__)
def test_docstring_examples_hold(module):
    results = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0
    assert results.failed == 0
