"""The schedule package exports what it lists and its docstring example runs (imports: tests/test_architecture.py)."""

import optracr.schedule

def test_public_names_are_exported():
    for name in optracr.schedule.__all__:
        assert hasattr(optracr.schedule, name), name


def test_package_docstring_example_runs():
    import doctest

    failures, tried = doctest.testmod(optracr.schedule)
    assert tried > 0
    assert failures == 0
