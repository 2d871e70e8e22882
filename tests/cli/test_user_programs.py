"""``user_programs``: ``file.py:NAME`` and ``module:NAME`` load the same way for the CLI and ``ProgramSpec``."""

from __future__ import annotations

from pathlib import Path

import pytest

from optracr import rasp
from optracr import user_programs
from optracr.datasets import ProgramSpec
from optracr.errors import CompileError

SOURCE = '''
from optracr import rasp
from os import path  # imported, not defined here: not listed

flip = rasp.Map(lambda t: 1 - t, rasp.tokens).named("flip")
selector = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)


def make_offset(offset: int, *, scale: int = 1) -> rasp.SOp:  # annotations are left out of messages
    return rasp.Map(lambda t: scale * t + offset, rasp.tokens).named("offset")


def not_a_program():
    return 3
'''


@pytest.fixture()
def source_file(tmp_path: Path) -> Path:
    path = tmp_path / "loader_programs.py"
    path.write_text(SOURCE)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dir/progs.py:make", user_programs.ProgramReference("dir/progs.py", "make", is_file=True)),
        ("pkg.mod:make", user_programs.ProgramReference("pkg.mod", "make", is_file=False)),
        ("sort", None),
        ("not a module:make", None),
    ],
)
def test_parse_reference_tells_files_from_modules(text: str, expected) -> None:
    assert user_programs.parse_reference(text) == expected


def test_a_name_after_the_colon_must_be_a_python_name() -> None:
    with pytest.raises(CompileError, match="after the colon comes the Python name of an s-op"):
        user_programs.parse_reference("progs.py:not-a-name")


def test_an_s_op_and_a_function_with_its_options_load(source_file: Path) -> None:
    assert user_programs.load_program(f"{source_file}:flip").label == "flip"
    program = user_programs.load_program(f"{source_file}:make_offset", {"offset": 2, "scale": 3})
    assert rasp.evaluate(program, [0, 1]) == [2, 5]


def test_a_program_spec_and_the_loader_agree(source_file: Path) -> None:
    spec = ProgramSpec.function(f"{source_file}:make_offset", [0, 1], 2, offset=1)
    program, vocab, max_seq_len = spec.build()
    assert rasp.evaluate(program, [0, 1]) == [1, 2] and vocab == {0, 1} and max_seq_len == 2
    with pytest.raises(CompileError, match=r"needs the parameter offset, but the ProgramSpec calls it with only "):
        ProgramSpec.function(f"{source_file}:make_offset", [0, 1], 2, scale=2).build()


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("nope", {}, r"has no 'nope'; it defines s-ops: flip; functions: make_offset, not_a_program$"),
        ("make_offset", {}, r"make_offset\(offset, \*, scale=1\) needs the parameter offset, but it is called with "
                            r"no arguments; give it a default \(def make_offset\(offset=...\)\)"),
        ("make_offset", {"offset": 1, "size": 2}, r"cannot be called with only offset=..., size=...: got an "
                                                  r"unexpected keyword argument 'size'"),
        ("not_a_program", {}, r"expected an s-op or a function returning one, got an int \(3\)"),
        ("selector", {}, r"got a Select; compile an s-op that uses the selector"),
    ],
)
def test_what_is_not_a_program_is_an_error_saying_what_works(
    source_file: Path, name: str, options: dict, message: str
) -> None:
    with pytest.raises(CompileError, match=message):
        user_programs.load_program(f"{source_file}:{name}", options)


def test_a_missing_file_or_a_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CompileError, match=r"no such file 'missing.py' \(it does not exist\)"):
        user_programs.load_program("missing.py:flip")
    (tmp_path / "folder.py").mkdir()
    with pytest.raises(CompileError, match=r"\(it is a directory\)"):
        user_programs.load_program(f"{tmp_path / 'folder.py'}:flip")


def test_a_file_imports_the_modules_beside_it(tmp_path: Path) -> None:
    (tmp_path / "loader_helpers.py").write_text("from optracr import rasp\nflip = rasp.Map(lambda t: -t, rasp.tokens)\n")
    (tmp_path / "uses_helpers.py").write_text("from loader_helpers import flip\n")
    assert rasp.evaluate(user_programs.load_program(f"{tmp_path / 'uses_helpers.py'}:flip"), [2]) == [-2]


def test_an_error_while_importing_a_module_names_its_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "loader_broken_module.py").write_text("import loader_not_there_either\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(CompileError) as raised:
        user_programs.load_program("loader_broken_module:flip")
    message = str(raised.value)
    assert "importing loader_broken_module (for loader_broken_module:flip) raised an error at " in message
    assert "loader_broken_module.py, line 1: ModuleNotFoundError: No module named 'loader_not_there_either'" in message


def test_an_error_inside_the_function_propagates_for_the_caller_to_report(tmp_path: Path) -> None:
    path = tmp_path / "raising.py"
    path.write_text("def make():\n    raise RuntimeError('cannot be built')\n")
    with pytest.raises(RuntimeError, match="cannot be built") as raised:
        user_programs.load_program(f"{path}:make")
    assert user_programs.describe_error(raised.value, path) == f"{path}, line 2: RuntimeError: cannot be built"


def test_an_error_deep_in_a_library_names_the_users_line_that_called_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "loader_json_module.py").write_text("import json\n\nvalue = json.loads('{')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(CompileError, match=r"loader_json_module.py, line 3: json.decoder.JSONDecodeError: Expecting"):
        user_programs.load_program("loader_json_module:value")
