"""Shared fixtures for the schedule tests."""

import json
import pathlib

import pytest

from optracr import schedule

REFERENCE_DATA = pathlib.Path(__file__).parent / "data" / "reference_allocations.json"


def pytest_configure(config: pytest.Config) -> None:
    """Keep a failing hypothesis example reportable under `filterwarnings = error`."""
    # To print a patch for a failing example, hypothesis imports libcst, whose import raises this deprecation
    # warning; as an error it would turn the test failure into a pytest INTERNALERROR.
    config.addinivalue_line("filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")


def _problem_from_record(record: dict) -> schedule.Problem:
    blocks = tuple(
        schedule.Block(
            id=block["id"],
            kind=schedule.BlockKind[block["kind"]],
            num_heads=block["num_heads"],
            mlp_hidden_width=block["mlp_hidden_width"],
            key_size=block["key_size"],
            value_size=block["value_size"],
            depends_on=tuple(block["depends_on"]),
        )
        for block in record["blocks"]
    )
    return schedule.Problem(blocks, residual_width=record["residual_width"])


@pytest.fixture(scope="session")
def reference_programs() -> dict[str, tuple[schedule.Problem, dict]]:
    """Problems extracted from the reference Tracr's library programs, with the reference's allocation."""
    records = json.loads(REFERENCE_DATA.read_text())
    return {name: (_problem_from_record(record), record) for name, record in records.items()}
