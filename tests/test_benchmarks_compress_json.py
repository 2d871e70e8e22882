"""The compression benchmark writes plain JSON: an undefined cosine (NaN) is null, which strict readers accept."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import compress_frac_prevs  # benchmarks/ is on sys.path (tests/conftest.py)

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def _refuse_constant(name: str) -> float:
    raise ValueError(f"not plain JSON: {name}")


def test_nan_becomes_null_at_any_depth_and_everything_else_is_kept() -> None:
    value = {"cosine": [1.0, math.nan, (0.5, math.nan)], "runs": [{"mse": math.nan, "d": 3}], "ok": 0.0}
    assert compress_frac_prevs.strict_json(value) == {"cosine": [1.0, None, [0.5, None]],
                                                      "runs": [{"mse": None, "d": 3}], "ok": 0.0}
    json.dumps(compress_frac_prevs.strict_json(value), allow_nan=False)


@pytest.mark.parametrize("name", ["compress_frac_prevs.json", "compress_frac_prevs_fig7.json",
                                  "compress_sort_unique.json"])
def test_committed_compression_results_are_plain_json(name: str) -> None:
    json.loads((RESULTS / name).read_text(), parse_constant=_refuse_constant)
