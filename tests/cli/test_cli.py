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


# ------------------------------------------------------------------ tokens typed on the command line
TYPED_PROGRAMS = '''
from optracr import rasp

is_one = rasp.Map(lambda t: t == 1, rasp.tokens).named("is_one")
kind = rasp.Map(lambda t: type(t).__name__, rasp.tokens).named("kind")
'''


@pytest.fixture()
def typed_programs(tmp_path: Path) -> Path:
    path = tmp_path / "typed_programs.py"
    path.write_text(TYPED_PROGRAMS)
    return path


def _json_output(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list:
    assert cli.main([*argv, "--json", "--allocator", "heuristic"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)["output"]


def test_a_mixed_vocab_for_a_file_program_is_refused_with_both_readings(
    typed_programs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["compile", f"{typed_programs}:is_one", "--vocab", "0,1,x", "--max-seq-len", "3"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing compiled
    assert "--vocab 0,1,x reads more than one way (it holds integers (0, 1) and words (x))" in captured.err
    assert "--vocab-type str reads them all as strings ('0', '1', 'x')" in captured.err
    assert """a JSON list keeps each as it reads: --vocab '[0, 1, "x"]'""" in captured.err


def test_a_json_vocab_keeps_integers_and_strings(typed_programs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["compile", f"{typed_programs}:is_one", "--vocab", '[0, 1, "x"]', "--max-seq-len", "3", "--input", "1 x 0"]
    assert _json_output(argv, capsys) == ["BOS", True, False, False]
    argv = ["compile", f"{typed_programs}:kind", "--vocab", '[2, "x", 2.5, true]', "--max-seq-len", "4",
            "--input", '[2, "x", 2.5, true]']
    assert _json_output(argv, capsys) == ["BOS", "int", "str", "float", "bool"]


@pytest.mark.parametrize(
    ("vocab_type", "vocab", "tokens", "kinds"),
    [
        ("str", "0,1,x", "1 x 0", ["str", "str", "str"]),
        ("int", "0, 1, -2", "-2 1", ["int", "int"]),
        ("float", "1,2.5", "1 2.5", ["float", "float"]),
        ("bool", "true,False", "True false", ["bool", "bool"]),
    ],
)
def test_vocab_type_reads_every_token_as_that_type(
    typed_programs: Path, vocab_type: str, vocab: str, tokens: str, kinds: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["compile", f"{typed_programs}:kind", "--vocab", vocab, "--vocab-type", vocab_type, "--max-seq-len", "3",
            "--input", tokens]
    assert _json_output(argv, capsys) == ["BOS", *kinds]


@pytest.mark.parametrize(
    ("vocab", "kinds"), [("0,1", ["int", "int"]), ("0.5,1.5", ["float", "float"]), ("a,b", ["str", "str"])]
)
def test_a_vocab_that_reads_one_way_needs_no_type(
    typed_programs: Path, vocab: str, kinds: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    words = " ".join(token.strip() for token in vocab.split(","))
    argv = ["compile", f"{typed_programs}:kind", "--vocab", vocab, "--max-seq-len", "2", "--input", words]
    assert _json_output(argv, capsys) == ["BOS", *kinds]


@pytest.mark.parametrize(
    ("vocab", "message"),
    [
        ("1,2.5", "--vocab-type float reads them all as floats (1.0, 2.5); a JSON list keeps each as it reads: "
                  "--vocab '[1, 2.5]'"),
        ("True,False", "--vocab-type bool reads them as booleans; a JSON list keeps each as it reads: "
                       "--vocab '[true, false]'"),
        ("[1, 1.0]", "--vocab [1, 1.0]: 1, 1.0 are equal under Python's =="),
        ("[1, true]", "1, True are equal under Python's =="),
        ("[1, 2", "--vocab [1, 2 is not a JSON list (Expecting ',' delimiter at character 5)"),
        ('[1, null]', "null is not a token; a token is a JSON number, string, true or false"),
        ("[NaN]", "nan is not a finite number"),
    ],
)
def test_vocabs_that_read_several_ways_or_not_at_all_are_refused(
    typed_programs: Path, vocab: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["compile", f"{typed_programs}:kind", "--vocab", vocab, "--max-seq-len", "2"]) == 2
    assert message in capsys.readouterr().err


def test_a_library_program_reads_vocab_as_its_own_type(capsys: pytest.CaptureFixture[str]) -> None:
    assert _json_output(["compile", "sort", "--vocab", "3,1,2", "--input", "2 3 1"], capsys) == ["BOS", 1, 2, 3]
    assert _json_output(["compile", "sort", "--input", "[3, 1, 2]"], capsys) == ["BOS", 1, 2, 3]


def test_a_vocab_of_another_type_than_the_library_programs_says_what_to_pass(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["compile", "sort", "--vocab", "a,b"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "optracr: error: --vocab a,b: 'a', 'b' are not integers, and sort's own vocabulary is integers "
        "{1, 2, 3, 4}, so --vocab is read as integers; give integers (e.g. --vocab 1,2,3), or say how to read the "
        "tokens: --vocab-type str reads them all as strings ('a', 'b'); a JSON list keeps each as it reads: "
        """--vocab '["a", "b"]'"""
    )


def test_vocab_type_without_vocab_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compile", "sort", "--vocab-type", "str"]) == 2
    assert "--vocab-type str says how to read --vocab, but no --vocab is given" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("vocab", "tokens", "message"),
    [
        ('[1, "1"]', "1", """'1' could be any of the vocabulary's tokens '1', 1; write the input as a JSON list, """
                          """e.g. --input '["1"]' or --input '[1]'"""),
        ("0,1", "0 2", "'2' is not a token of the vocabulary {0, 1}"),
        ("0,1", "[0, 1.0]", "1.0 is not in the vocabulary {0, 1}"),
        ("0,1", "[0, {}]", "{} is not a token"),
    ],
)
def test_input_tokens_outside_the_vocabulary_or_ambiguous_are_refused(
    typed_programs: Path, vocab: str, tokens: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["compile", f"{typed_programs}:kind", "--vocab", vocab, "--max-seq-len", "2", "--input", tokens]
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_dataset_vocab_is_read_with_its_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from optracr import datasets

    assert cli.main(["dataset", str(tmp_path / "mixed"), "-n", "1", "--vocab", "0,1,x"]) == 2
    assert "--vocab-type str reads them all as strings" in capsys.readouterr().err
    assert not (tmp_path / "mixed").exists()
    specs = []

    def record(out, spec, **options):
        specs.append(spec)
        raise KeyboardInterrupt  # the command's own way out: nothing is written

    monkeypatch.setattr(datasets, "write_dataset", record)
    assert cli.main(["dataset", str(tmp_path / "typed"), "-n", "1", "--vocab", '[0, 1, "x"]']) == 130
    assert sorted(map(repr, specs[0].vocab)) == ["'x'", "0", "1"]  # the integers stay integers


# ------------------------------------------------------------------------------- programs of one's own
USER_PROGRAMS = '''
from optracr import rasp

flip = rasp.Map(lambda t: 1 - t, rasp.tokens).named("flip")


def make_flip():
    return flip


def make_scaled(factor, offset=0):
    return rasp.Map(lambda t: factor * t + offset, rasp.tokens)


def make_broken():
    return {}["missing"]
'''


@pytest.fixture()
def user_programs_file(tmp_path: Path) -> Path:
    path = tmp_path / "user_programs_file.py"
    path.write_text(USER_PROGRAMS)
    return path


def test_a_file_without_a_name_says_to_write_file_colon_name(
    user_programs_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["compile", str(user_programs_file), "--vocab", "0,1", "--max-seq-len", "2"]) == 2
    err = capsys.readouterr().err
    assert f"'{user_programs_file}' is a file, not a program: write {user_programs_file}:NAME" in err
    assert "defines s-ops: flip; functions: make_broken, make_flip, make_scaled" in err
    assert "no library program" not in err


def test_a_missing_file_without_a_name_says_what_to_write(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compile", "missing.py"]) == 2
    assert "'missing.py' is a file, not a program: write missing.py:NAME" in capsys.readouterr().err


def test_a_function_that_needs_arguments_is_an_error_naming_them(
    user_programs_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["compile", f"{user_programs_file}:make_scaled", "--vocab", "0,1", "--max-seq-len", "2"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "make_scaled(factor, offset=0) needs the parameter factor, but the command line calls it with no " in err
    assert "give it a default (def make_scaled(factor=...))" in err
    assert "def program(): return make_scaled(...)" in err and "Traceback" not in err


def test_an_error_in_the_users_function_names_the_file_and_line(
    user_programs_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["compile", f"{user_programs_file}:make_broken", "--vocab", "0,1", "--max-seq-len", "2"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"calling make_broken() raised an error at {user_programs_file}, line 16: KeyError: 'missing'" in err


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x = 1\ny = 1 / 0\n", "line 2: ZeroDivisionError: division by zero"),
        ("def f(:\n", "line 1: SyntaxError: invalid syntax"),
        ("import sys\nsys.exit(3)\n", "called sys.exit(3); put a script's own work under `if __name__ =="),
    ],
)
def test_an_error_while_running_the_users_file_names_the_file_and_line(
    tmp_path: Path, source: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken_file.py"
    path.write_text(source)
    assert cli.main(["compile", f"{path}:x", "--vocab", "0,1", "--max-seq-len", "2"]) == 2
    err = capsys.readouterr().err
    assert f"running {path} (for {path}:x)" in err and message in err and "Traceback" not in err


def test_a_program_from_an_importable_module_compiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    package = tmp_path / "cli_module_package"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "progs.py").write_text(USER_PROGRAMS)
    monkeypatch.chdir(tmp_path)  # the current directory is searched, as `python -m` would
    argv = ["compile", "cli_module_package.progs:make_flip", "--vocab", "0,1", "--max-seq-len", "2", "--input", "0 1"]
    assert _json_output(argv, capsys) == ["BOS", 1, 0]


def test_a_module_that_is_not_there_is_an_error_saying_what_to_write(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compile", "no_such_package.progs:make", "--vocab", "a", "--max-seq-len", "2"]) == 2
    err = capsys.readouterr().err
    assert "no module named 'no_such_package' (for no_such_package.progs:make)" in err
    assert "path/to/file.py:NAME or package.module:NAME" in err


def test_a_closed_pipe_ends_the_command_quietly() -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]  # the checkout, whose optracr the command runs
    command = [sys.executable, "-m", "optracr.cli", "list"]
    process = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader is gone before the first line is written, as `| head -0` would
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=120) == 1
    assert stderr == ""
