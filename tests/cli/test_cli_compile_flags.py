"""Every command that compiles builds ONE ``CompileOptions`` from every compile flag (spied where it reaches
``compile``), and the flags are derived from the dataclass."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from optracr import CompileError, cli, programs, rasp
from optracr.cli import compile_flags
from optracr.compiler import pipeline
from optracr.options import CompileOptions, FoldOptions, FuseOptions

# (flags, the options they give besides the program's vocab and max_seq_len)
FLAG_CASES = [
    ([], {}),
    (["--bos", "START"], {"bos": "START"}),
    (["--pad", "NOTHING"], {"pad": "NOTHING"}),
    (["--allocator", "heuristic"], {"allocator": "heuristic"}),
    (["--time-limit", "1.5"], {"time_limit_s": 1.5}),
    (["--solver-workers", "2"], {"workers": 2}),
    (["--solver-seed", "7"], {"seed": 7}),
    (["--partial-functions", "allow"], {"partial_functions": "allow"}),
    (["--causal"], {"causal": True}),
    (["--causal-strict"], {"causal": "strict"}),
    (["--no-fold"], {"passes": (FuseOptions(),)}),
    (["--no-fuse"], {"passes": (FoldOptions(),)}),
    (["--fused-width-cap", "300"], {"passes": (FoldOptions(), FuseOptions(width_cap=300))}),
    (["--reference-structure"], {"passes": ()}),
]
# each command that compiles, with the arguments it needs besides the program
COMMANDS = {
    "compile": [],
    "verify": [],
    "certify": [],
    "show": ["--what", "layout", "--out", "unused.png"],
    "export": ["--format", "tl", "--out", "unused"],
    "compress": ["--d", "4", "--out", "unused"],
    "scramble": ["--seed", "1", "--out", "unused"],
}


class _Stop(CompileError):
    """Raised by the spy once it has seen the options: nothing after compile runs."""


@pytest.fixture
def reached(monkeypatch: pytest.MonkeyPatch) -> list[CompileOptions]:
    """The options every ``compile`` call received (each call then stops the command)."""
    seen: list[CompileOptions] = []

    def spy(program: rasp.SOp, options: CompileOptions):
        seen.append(options)
        raise _Stop(None, "stopped by the test's spy")

    monkeypatch.setattr(pipeline, "run_pipeline", spy)
    return seen


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(("flags", "expected"), FLAG_CASES, ids=lambda case: " ".join(case) if isinstance(case, list)
                         else None)
def test_every_compile_flag_reaches_compile_from_every_command(
    command: str, flags: list[str], expected: dict, reached: list[CompileOptions]
) -> None:
    entry = programs.LIBRARY["hist"]
    assert cli.main([command, "hist", *COMMANDS[command], *flags]) == 2
    assert reached == [CompileOptions(vocab=entry.vocab, max_seq_len=entry.max_seq_len, **expected)]


@pytest.mark.parametrize(("flags", "expected"), FLAG_CASES)
def test_every_compile_flag_reaches_the_dataset_spec(
    flags: list[str], expected: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from optracr import datasets

    specs = []

    def record(out, spec, **options):
        specs.append(spec)
        raise KeyboardInterrupt  # the command's own way out: nothing is written

    monkeypatch.setattr(datasets, "write_dataset", record)
    assert cli.main(["dataset", str(tmp_path / "out"), "-n", "1", *flags]) == 130
    assert [spec.compile_options for spec in specs] == [CompileOptions(**expected)]


def test_every_option_has_a_flag() -> None:
    """A field added to CompileOptions without a flag here fails this test."""
    flagged = {flag.field for flag in compile_flags.FLAGS} | set(compile_flags.SHAPED_FIELDS)
    assert flagged == {field.name for field in dataclasses.fields(CompileOptions)}


def test_the_layout_picture_compiles_twice_with_one_set_of_options(reached: list[CompileOptions]) -> None:
    assert cli.main(["show", "hist", "--what", "layout", "--partial-functions", "allow", "--time-limit", "2"]) == 2
    assert reached[0].partial_functions == "allow" and reached[0].time_limit_s == 2


def test_show_with_partial_functions_allow_draws_a_partial_program(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The flag the second copy of the options used to forget: without it the program is refused."""
    program = rasp.SequenceMap(lambda token, index: token // index, rasp.tokens, rasp.indices)
    entry = programs.LibraryProgram("partial", lambda n: program, frozenset({1, 2}), 2, False, "")
    monkeypatch.setitem(programs.LIBRARY, entry.name, entry)
    out = tmp_path / "layout.png"
    assert cli.main(["show", "partial", "--what", "layout", "--allocator", "heuristic", "--out", str(out)]) == 2
    assert "partial_functions='allow'" in capsys.readouterr().err
    assert cli.main(["show", "partial", "--what", "layout", "--allocator", "heuristic", "--out", str(out),
                     "--partial-functions", "allow"]) == 0
    assert out.is_file() and out.stat().st_size > 0


def test_a_cap_on_fusion_without_fusion_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compile", "hist", "--reference-structure", "--fused-width-cap", "10"]) == 2
    assert "--fused-width-cap caps the fuse pass, which --reference-structure turns off" in capsys.readouterr().err
    assert cli.main(["compile", "hist", "--no-fuse", "--fused-width-cap", "10"]) == 2
    assert "option fused_width_cap: 10 caps fusion, which fuse=False turns off" in capsys.readouterr().err


def test_an_invalid_flag_value_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compile", "hist", "--solver-workers", "0"]) == 2
    assert "option workers: must be an int >= 1" in capsys.readouterr().err
