"""The side-by-side scale benchmark: one fresh process per compile, time-outs reported as such, exponents fitted."""

from __future__ import annotations

import sys

import pytest

import optracr
from optracr import programs

import scale  # benchmarks/ is on sys.path (tests/conftest.py)


def test_one_optracr_row_matches_an_in_process_compile() -> None:
    row = scale.run_one("optracr", "reverse", 6, python=sys.executable, timeout_s=300.0)
    model = optracr.compile(programs.LIBRARY["reverse"].make(6), set(range(6)), 6)
    assert row["status"] == "proved" and row["proved"]  # 6^6 inputs: verify certifies rather than enumerates
    assert (row["layers"], row["mlp"], row["d_model"]) == (
        model.config.num_layers, model.config.mlp_hidden_size, model.config.d_model
    )
    assert (row["params"], row["nonzero"]) == (model.params_total, model.params_nonzero)
    assert row["disk_mb"] > 0 and row["peak_mb"] > 0 and row["apply_ms"] > 0


def test_a_compile_over_its_time_limit_is_reported_as_a_time_out() -> None:
    row = scale.run_one("optracr", "sort", 6, python=sys.executable, timeout_s=0.01)
    assert row["status"] == "TIMEOUT (> 0 s)" and "params" not in row


def test_a_failing_process_is_reported_with_its_last_error_line() -> None:
    row = scale.run_one("optracr", "no_such_program", 6, python=sys.executable, timeout_s=300.0)
    assert row["status"].startswith("FAILED (KeyError")


def test_growth_exponents_recover_a_power_law_and_skip_unfinished_sizes() -> None:
    rows = [{"program": "p", "compiler": "optracr", "n": n, "params": 3 * n**2, "compile_s": 0.5 * n,
             "mlp": n, "d_model": 2 * n, "nonzero": n**3, "apply_ms": 1.0, "peak_mb": 100.0, "disk_mb": n / 10}
            for n in (16, 32, 64)]
    rows.append({"program": "p", "compiler": "reference", "n": 64, "status": "TIMEOUT (> 200 s)"})
    (slopes, reference) = scale.exponents(rows)
    assert slopes["params"] == pytest.approx(2.0) and slopes["nonzero"] == pytest.approx(3.0)
    assert slopes["compile_s"] == pytest.approx(1.0) and slopes["apply_ms"] == pytest.approx(0.0, abs=1e-12)
    assert reference["sizes"] == [] and reference["params"] is None
    assert "TIMEOUT (> 200 s)" in scale.markdown(rows, [slopes, reference])


def test_parameter_ratio_only_for_programs_both_compilers_finished() -> None:
    rows = [{"program": "a", "compiler": "optracr", "n": 64, "params": 100},
            {"program": "a", "compiler": "reference", "n": 64, "params": 250},
            {"program": "b", "compiler": "optracr", "n": 64, "params": 100},
            {"program": "b", "compiler": "reference", "n": 64, "status": "TIMEOUT (> 200 s)"}]
    assert scale.parameter_ratios(rows, 64) == {"a": 2.5}
