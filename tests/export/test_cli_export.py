"""The command line: --version, export, and programs from one's own files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import optracr
from optracr import cli

PROGRAM_FILE = '''
from optracr import rasp

def make_program():
    is_x = rasp.numerical(rasp.Map(lambda t: 1 if t == "x" else 0, rasp.tokens))
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    return rasp.numerical(rasp.Aggregate(prevs, is_x, default=0))

flip = rasp.Map(lambda t: 1 - t, rasp.tokens)
not_a_program = 3
'''


@pytest.fixture()
def program_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_programs.py"
    path.write_text(PROGRAM_FILE)
    return path


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("optracr 0.")


def test_compile_a_function_from_a_file(program_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["compile", f"{program_file}:make_program", "--vocab", "x,a", "--max-seq-len", "4", "--input", "x a x"]
    assert cli.main(args) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].split() == ["output", "BOS", "1", "0.5", "0.666667"]


def test_compile_a_module_level_s_op_causally_with_integer_tokens(program_file: Path, capsys) -> None:
    args = ["compile", f"{program_file}:flip", "--vocab", "0,1", "--max-seq-len", "3", "--causal", "--json", "--input", "0 1"]
    assert cli.main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["causal"] is True and summary["output"] == ["BOS", 1, 0]


@pytest.mark.parametrize(
    ("spec", "extra", "message"),
    [
        ("{file}:nope", ["--vocab", "a", "--max-seq-len", "2"], "has no 'nope'; it defines s-ops: flip; functions: make_program"),
        ("{file}:not_a_program", ["--vocab", "a", "--max-seq-len", "2"], "expected an s-op or a function"),
        ("{file}:flip", [], "needs --vocab and --max-seq-len"),
        ("missing.py:flip", ["--vocab", "a", "--max-seq-len", "2"], "no such file"),
    ],
)
def test_bad_program_files_are_errors_saying_what_works(program_file, spec, extra, message, capsys) -> None:
    assert cli.main(["compile", spec.format(file=program_file), *extra]) == 2
    assert message in capsys.readouterr().err


def test_export_safetensors_writes_a_loadable_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["export", "sort", "--format", "safetensors", "--out", str(tmp_path)]) == 0
    assert "model.json, model.safetensors" in capsys.readouterr().out
    assert optracr.load(tmp_path).apply(["BOS", 3, 1, 2]).decoded == ["BOS", 1, 2, 3]


def test_export_tl_writes_a_bridge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    assert cli.main(["export", "hist", "--format", "tl", "--out", str(tmp_path)]) == 0
    assert "transformer_lens.json, transformer_lens.safetensors" in capsys.readouterr().out
    from optracr import export

    bridge = export.load_transformer_lens(tmp_path)
    assert bridge.input_encoder.encode(["BOS", "a"]) == [4, 0] and bridge.cfg.n_layers == 1
