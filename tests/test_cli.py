"""The optracr command, run as a user would (through ``main``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optracr import cli, programs, rasp


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


@pytest.mark.parametrize("what", ["residual", "attention", "layout"])
def test_show_draws_each_picture_of_shuffle_dyck2(what: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"{what}.png"
    assert cli.main(["show", "shuffle_dyck2", "--input", "( ) } {", "--what", what, "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert capsys.readouterr().out.strip() == f"wrote {out}"


def test_show_all_rows_and_the_reference_structure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "all.svg"
    argv = ["show", "sort", "--input", "3 1 2", "--all-rows", "--reference-structure", "--out", str(out)]
    assert cli.main(argv) == 0
    assert out.read_text().startswith("<?xml")  # the suffix picks the format


def test_show_residual_without_input_says_what_to_add(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["show", "sort", "--what", "attention"]) == 2
    assert '--input "TOKENS"' in capsys.readouterr().err


@pytest.mark.parametrize("vocab", ["", " , ", ","])
def test_empty_vocab_is_a_usage_error_not_the_default_vocab(vocab: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compile", "hist", "--vocab", vocab]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing was compiled
    assert "argument --vocab" in captured.err and "names no token" in captured.err
    assert "--vocab a,b,c" in captured.err and "leave --vocab out" in captured.err


def test_a_given_vocab_is_used(capsys: pytest.CaptureFixture[str]) -> None:
    import optracr

    assert cli.main(["compile", "hist", "--vocab", "a,b", "--json", "--allocator", "heuristic"]) == 0
    expected = optracr.compile(programs.make_hist(), {"a", "b"}, 5, allocator="heuristic")
    assert json.loads(capsys.readouterr().out)["d_model"] == expected.config.d_model


def _every_input_undefined(max_seq_len: int) -> rasp.SOp:
    # t // i raises at index 0, which every input has; it compiles with --partial-functions allow.
    return rasp.SequenceMap(lambda token, index: token // index, rasp.tokens, rasp.indices)


def test_verify_exits_non_zero_when_nothing_was_checked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = programs.LibraryProgram("undefined_everywhere", _every_input_undefined, frozenset({1, 2}), 3, False, "")
    monkeypatch.setitem(programs.LIBRARY, entry.name, entry)
    assert cli.main(["verify", entry.name, "--allocator", "heuristic", "--partial-functions", "allow"]) == 3
    captured = capsys.readouterr()
    assert captured.out.startswith("NOTHING CHECKED: all 14 inputs (every input) are UNDEFINED")
    assert "optracr: error: nothing was checked" in captured.err


def test_verify_exits_one_on_a_mismatch(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import optracr

    real_verify = optracr.verify
    # The model of `length`, checked against a program that means something else.
    monkeypatch.setattr(optracr, "verify", lambda model, program, **options: real_verify(
        model, rasp.Map(lambda n: n + 1, program), **options))
    assert cli.main(["verify", "length", "--max-seq-len", "2"]) == 1
    assert capsys.readouterr().out.startswith("FAILED: ")


def test_verify_refuses_a_partial_function_unless_allowed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = programs.LibraryProgram("undefined_everywhere", _every_input_undefined, frozenset({1, 2}), 3, False, "")
    monkeypatch.setitem(programs.LIBRARY, entry.name, entry)
    assert cli.main(["verify", entry.name, "--allocator", "heuristic"]) != 0
    assert "its function raises on input values [(1, 0), (2, 0)]" in capsys.readouterr().err
