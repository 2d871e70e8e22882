"""``CompileOptions``: checked at construction (errors name the option), serialisable, and the one place where
compile defaults are written."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from optracr import CompileError, options
from optracr.options import CompileOptions, FoldOptions, FuseOptions

PACKAGE = Path(__file__).resolve().parents[1] / "optracr"


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"allocator": "fast"}, r"option allocator: unknown allocator 'fast'; use one of 'solver', 'heuristic'"),
        ({"time_limit_s": -1.0}, r"option time_limit_s: must be a finite number of seconds >= 0, got -1.0"),
        ({"time_limit_s": float("inf")}, r"option time_limit_s: must be a finite number"),
        ({"workers": 0}, r"option workers: must be an int >= 1"),
        ({"seed": 2**31}, r"option seed: must be an int in \[0, 2\*\*31\)"),
        ({"causal": "yes"}, r"option causal: must be False, True or 'strict', got 'yes'"),
        ({"partial_functions": "maybe"}, r"option partial_functions: must be 'refuse' or 'allow', got 'maybe'"),
        ({"max_seq_len": 0}, r"option max_seq_len: must be an integer >= 1"),
        ({"bos": ["B"]}, r"option bos: the BOS token must be hashable"),
        ({"vocab": 3}, r"the vocabulary must be a collection of input tokens"),
        ({"vocab": [["a"]]}, r"vocabulary tokens must be hashable"),
        ({"vocab": [1, 1.0]}, r"equal under == but of different types: 1 \(int\), 1.0 \(float\)"),
        ({"passes": (FuseOptions(), FoldOptions())}, r"option passes: \['fuse', 'fold'\] must be distinct passes "
                                                      r"in the order they run: fold, fuse"),
        ({"passes": (FoldOptions(), FoldOptions())}, r"must be distinct passes"),
        ({"passes": ("fold",)}, r"option passes: 'fold' is no pass; use FoldOptions\(\)"),
        ({"passes": "fold"}, r"option passes: must be a sequence"),
    ],
)
def test_an_invalid_option_is_refused_naming_it_and_what_would_work(changes: dict, match: str) -> None:
    with pytest.raises(CompileError, match=match):
        CompileOptions(**changes)


def test_a_fuse_width_cap_must_be_a_positive_int() -> None:
    with pytest.raises(CompileError, match=r"option fused_width_cap \(the fuse pass's width_cap\): must be a "
                                           r"positive int or None"):
        FuseOptions(width_cap=0)


def test_options_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        CompileOptions().allocator = "heuristic"  # type: ignore[misc]


def test_json_round_trip_keeps_token_types_and_pass_settings() -> None:
    chosen = CompileOptions(vocab={1, "1", 2.5, (0, "a")}, max_seq_len=7, bos=0, pad="P", causal="strict",
                            allocator="heuristic", time_limit_s=0.5, workers=2, seed=9,
                            passes=(FuseOptions(width_cap=300),), partial_functions="allow")
    back = CompileOptions.from_json(chosen.to_json())
    assert back == chosen
    assert {type(token) for token in back.vocab} == {int, str, float, tuple} and type(back.bos) is int
    assert chosen.to_json()["passes"] == [{"name": "fuse", "width_cap": 300}]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"allocater": "solver"}, r"option allocater: unknown; the options are vocab, max_seq_len"),
        ({"passes": [{"name": "inline"}]}, r"option passes: each is an object named one of 'fold', 'fuse'"),
        ({"passes": [{"name": "fuse", "cap": 3}]}, r"pass 'fuse' has no setting 'cap'; its settings: width_cap"),
        ({"vocab": [{"set": 1}]}, r"compile options: a token is malformed"),
        ([], r"compile options are a JSON object"),
    ],
)
def test_from_json_refuses_what_to_json_never_writes(data: object, match: str) -> None:
    with pytest.raises(CompileError, match=match):
        CompileOptions.from_json(data)


def test_keywords_fold_fuse_and_the_cap_edit_the_passes() -> None:
    assert options.from_keywords(keywords={"fold": False}).passes == (FuseOptions(),)
    assert options.from_keywords(keywords={"fuse": False}).passes == (FoldOptions(),)
    assert options.from_keywords(keywords={"fold": False, "fuse": False}).passes == ()
    assert options.from_keywords(keywords={"fused_width_cap": 64}).passes == (FoldOptions(), FuseOptions(64))
    assert CompileOptions(passes=()).replace(fold=True).passes == (FoldOptions(),)


@pytest.mark.parametrize(
    ("keywords", "match"),
    [
        ({"fuse": False, "fused_width_cap": 64}, r"option fused_width_cap: 64 caps fusion, which fuse=False turns off"),
        ({"fold": "no"}, r"option fold: must be True or False, got 'no'"),
        ({"time_limit": 3}, r"option time_limit: unknown; the options are .*time_limit_s.*fused_width_cap"),
    ],
)
def test_keywords_that_cannot_be_options_are_refused(keywords: dict, match: str) -> None:
    with pytest.raises(CompileError, match=match):
        options.from_keywords(keywords=keywords)


# ------------------------------------------------------------------------------------ defaults written once
OPTION_DEFAULTS = {
    field.name: field.default for field in dataclasses.fields(CompileOptions)
    if isinstance(field.default, (str, float))  # "BOS", "PAD", "solver", 5.0, "refuse": literals worth finding
}
OPTION_NAMES = {field.name for field in dataclasses.fields(CompileOptions)} | {"time_limit", "compiler_bos"}


def _written_defaults(tree: ast.AST):
    """(name, literal) for every parameter default, dataclass field default and argparse ``default=`` in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args
            positional = arguments.posonlyargs + arguments.args
            pairs = list(zip(positional[len(positional) - len(arguments.defaults):], arguments.defaults))
            pairs += [(arg, default) for arg, default in zip(arguments.kwonlyargs, arguments.kw_defaults) if default]
            yield from ((arg.arg, default) for arg, default in pairs)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            yield node.target.id, node.value
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument":
            dest = next((k.value for k in node.keywords if k.arg == "dest"), None)
            name = next((a.value for a in node.args if isinstance(a, ast.Constant)), "")
            for keyword in node.keywords:
                if keyword.arg == "default":
                    yield (getattr(dest, "value", None) or str(name).lstrip("-").replace("-", "_")), keyword.value


def test_compile_options_is_the_only_place_compile_defaults_are_written() -> None:
    """No second literal 5.0 time limit, no second "BOS" / "PAD" / "solver" / "refuse" default anywhere."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "options.py":
            continue
        for name, default in _written_defaults(ast.parse(path.read_text())):
            if not isinstance(default, ast.Constant) or default.value is None or isinstance(default.value, bool):
                continue
            typed = (type(default.value), default.value)  # 5 (a dataset's length) is not the time limit 5.0
            if name in OPTION_NAMES and typed in {(type(value), value) for value in OPTION_DEFAULTS.values()}:
                found.append(f"{path.relative_to(PACKAGE)}: {name} = {default.value!r}")
            elif "time_limit" in name and typed == (float, CompileOptions.time_limit_s):
                found.append(f"{path.relative_to(PACKAGE)}: {name} = {default.value!r}")
    assert not found, "compile defaults written outside CompileOptions:\n" + "\n".join(found)


def test_the_defaults_check_finds_a_second_copy() -> None:
    tree = ast.parse('def allocate(*, time_limit_s: float = 5.0, bos="BOS"): ...\n'
                     'parser.add_argument("--time-limit", type=float, default=5.0)\n')
    assert [(name, d.value) for name, d in _written_defaults(tree)] == [
        ("time_limit_s", 5.0), ("bos", "BOS"), ("time_limit", 5.0)]
