"""The optracr command, run as a user would (through ``main``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optracr import cli, programs


def test_list_names_every_library_program(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == list(programs.LIBRARY)


def test_compile_sort_prints_the_summary_and_the_sorted_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compile", "sort", "--input", "3 1 2"]) == 0
    out = capsys.readouterr().out
    assert "layers" in out and "parameters" in out and "OPTIMAL" in out
    assert out.strip().splitlines()[-1].split() == ["output", "BOS", "1", "2", "3"]


def test_compile_json_has_the_documented_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compile", "hist", "--allocator", "heuristic", "--json", "--input", "a b a"]) == 0
    summary = json.loads(capsys.readouterr().out)
    for key in ("program", "allocator", "num_layers", "num_heads", "key_size", "value_size", "mlp_hidden_size",
                "d_model", "params_total", "params_nonzero", "allocation_status", "compile_seconds"):
        assert key in summary
    assert summary["program"] == "hist" and summary["allocation_status"] == "HEURISTIC"
    assert summary["num_layers"] == 1
    assert summary["output"] == ["BOS", 2, 1, 2]


def test_verify_exits_zero_on_an_exact_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["verify", "reverse", "--max-seq-len", "3"]) == 0
    assert capsys.readouterr().out.startswith("OK")


def test_unknown_program_is_an_error_listing_the_library(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compile", "no_such_program"]) == 2
    assert "frac_prevs" in capsys.readouterr().err


def test_show_writes_a_picture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "residual.png"
    assert cli.main(["show", "frac_prevs", "--input", "x a c x", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
