"""``optracr explore``: a live page on localhost, or ``--html FILE``; a saved model or a program from a file."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

import optracr
from optracr import cli

USERS_FILE = '''from optracr import rasp
at_most = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LEQ).named("at_most")
rank = rasp.SelectorWidth(at_most).named("rank")
'''


def _page_data(path: Path) -> dict:
    found = re.search(r'<script id="explore-data" type="application/json">(.*?)</script>', path.read_text(), re.S)
    return json.loads(found.group(1))


def test_html_writes_a_page_with_exactly_the_inputs_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sort.html"
    assert cli.main(["explore", "sort", "--html", str(out), "--input", "3 1 2", "--input", "4 4"]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}: open it in a browser")
    data = _page_data(out)
    assert list(data["traces"]) == ["3 1 2", "4 4"] and data["mode"] == "static"
    assert data["traces"]["4 4"]["model"] == ["BOS", "4", "4"]


def test_a_saved_model_is_explored_without_a_program(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     library_model) -> None:
    _, model = library_model("reverse")
    directory = optracr.save(model, tmp_path / "reverse_model")
    out = tmp_path / "page.html"
    assert cli.main(["explore", str(directory), "--html", str(out), "--input", "a b c"]) == 0
    data = _page_data(out)
    assert data["title"] == "reverse_model" and data["program"]["edges"] == []
    assert data["traces"]["a b c"]["model"] == ["BOS", "c", "b", "a"] and data["traces"]["a b c"]["expected"] is None


def test_a_program_from_a_file_is_explored(tmp_path: Path) -> None:
    source = tmp_path / "mine.py"
    source.write_text(USERS_FILE)
    out = tmp_path / "rank.html"
    assert cli.main(["explore", f"{source}:rank", "--vocab", "1,2,3", "--max-seq-len", "4", "--html", str(out),
                     "--input", "3 1 2"]) == 0
    trace = _page_data(out)["traces"]["3 1 2"]
    assert trace["model"] == ["BOS", "3", "1", "2"] and trace["expected"] == ["3", "1", "2"]


def test_a_bad_input_is_an_error_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "never.html"
    assert cli.main(["explore", "sort", "--html", str(out), "--input", "3 x"]) == 2
    assert "input '3 x': unknown token(s) ['x']; the vocabulary is [1, 2, 3, 4]" in capsys.readouterr().err
    assert not out.exists()


def test_a_directory_that_holds_no_model_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["explore", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no model.json" in err and "or give a library program name (see `optracr list`)" in err


def test_the_command_serves_the_page_on_localhost(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "optracr.cli", "explore", "hist", "--input", "a b a"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as running:
        try:
            line = running.stdout.readline()
            url = re.fullmatch(r"exploring hist at (http://127\.0\.0\.1:\d+/) \(Ctrl-C stops\)\n", line).group(1)
            with urllib.request.urlopen(url + "run?input=c+c+a", timeout=10) as response:
                assert json.loads(response.read())["model"] == ["BOS", "2", "2", "1"]
        finally:
            running.terminate()
