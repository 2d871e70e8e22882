"""The example in ``compress``'s docstring prints what it says."""

from __future__ import annotations

import doctest

from optracr.compress import compressor


def test_compress_docstring_example_holds():
    results = doctest.testmod(compressor, optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0
    assert results.failed == 0
