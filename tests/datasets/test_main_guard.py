"""A script that calls ``compile_many`` without a main guard gets a ``CompileError`` showing the fix; the README's
snippet runs as a script."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUARD = 'if __name__ == "__main__":'


def _readme_snippet() -> str:
    """The README's compile_many example: the Python block of "Datasets of compiled models" that calls it."""
    section = (ROOT / "README.md").read_text().split("## Datasets of compiled models", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    [snippet] = [block for block in blocks if "compile_many(" in block]
    return snippet


def _without_guard(snippet: str) -> str:
    """The snippet as a new user pastes it: the guarded lines at the script's top level."""
    head, body = snippet.split(GUARD + "\n", 1)
    return head + textwrap.dedent(body)


def _run(script: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=os.environ,
                          timeout=300, cwd=script.parent)


def test_the_readme_snippet_runs_as_a_script_and_prints_what_the_readme_says(tmp_path: Path) -> None:
    snippet = _readme_snippet()
    expected = re.search(r"^\s*# (\[.*\])$", snippet, flags=re.MULTILINE).group(1)
    script = tmp_path / "snippet.py"
    script.write_text(snippet)
    done = _run(script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected


def test_without_a_main_guard_the_script_gets_a_compile_error_that_shows_the_fix(tmp_path: Path) -> None:
    script = tmp_path / "snippet.py"
    script.write_text(_without_guard(_readme_snippet()))
    done = _run(script)
    assert done.returncode == 1
    assert "BrokenProcessPool" not in done.stderr and "bootstrapping phase" not in done.stderr
    call = next(line for line in script.read_text().splitlines() if "compile_many(" in line)
    number = script.read_text().splitlines().index(call) + 1
    assert (
        "optracr.errors.CompileError: compile_many cannot start its worker processes: they are spawned, and each "
        f"first re-runs your main script {script}, which calls compile_many again at line {number} because the call "
        f"is not under `{GUARD}`. Put the call (and the code that uses its records) under that guard:\n\n"
        f"    {GUARD}\n        {call}\n"
    ) in done.stderr, done.stderr


def test_a_callers_own_spawn_pool_without_a_main_guard_gets_the_same_error(tmp_path: Path) -> None:
    script = tmp_path / "own_pool.py"
    script.write_text(
        "import concurrent.futures, multiprocessing\n"
        "import optracr\n"
        "from optracr.datasets import ProgramSpec\n"
        "pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context('spawn'))\n"
        "records = optracr.compile_many([ProgramSpec.library('hist')],\n"
        "                               executor=pool)\n"
    )
    done = _run(script)
    assert done.returncode == 1
    assert (f"calls compile_many again at line 5 because the call is not under `{GUARD}`" in done.stderr)
    assert (f"    {GUARD}\n        records = optracr.compile_many([ProgramSpec.library('hist')],\n"
            "                                       executor=pool)\n") in done.stderr, done.stderr


def test_workers_that_die_for_another_reason_are_a_compile_error_without_the_guard_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from optracr.datasets import many
    from optracr.errors import CompileError

    monkeypatch.setattr(many.worker, "import_stages", functools.partial(os._exit, 3))  # each worker dies at once
    with pytest.raises(CompileError, match=r"the local worker processes could not start \(BrokenProcessPool"):
        many.local_pool(2)
