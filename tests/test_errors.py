"""One error family: every error a user can meet is an ``OptracrError`` that names what is wrong and what works;
a broken invariant is an ``OptracrBug``; no bare built-in error is raised anywhere in optracr."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import optracr
from optracr import cli, craft, export, frontend, rasp, schedule
from optracr.errors import CompileError, InputError, OptracrBug, OptracrError, OptracrTypeError

PACKAGE = Path(optracr.__file__).parent

# Built-in errors that keep their protocol meaning: a missing key of a mapping, a missing module attribute.
PROTOCOL_ERRORS = {"KeyError", "AttributeError"}
BUILTIN_ERRORS = {name for name in dir(__builtins__ if isinstance(__builtins__, dict) else __builtins__)
                  if name.endswith("Error") or name == "Exception"}


def _error_classes() -> list[type[BaseException]]:
    from optracr import certify
    from optracr import typed_json as values

    public = [getattr(optracr, name) for name in optracr.__all__]
    return [cls for cls in (*public, frontend.ProgramErrors, schedule.ScheduleError, schedule.AllocationError,
                            schedule.SolverFailure, certify.CertifyError, values.ValueFormatError, export.ModelFileError)
            if isinstance(cls, type) and issubclass(cls, Exception) and not issubclass(cls, Warning)]


def test_every_error_optracr_exports_is_an_optracr_error_and_keeps_its_builtin_base() -> None:
    classes = _error_classes()
    assert {"CompileError", "EvaluationError", "InputError", "ModelFileError", "ExportError"} <= {
        cls.__name__ for cls in classes}
    for cls in classes:
        if cls in (OptracrBug, OptracrError):
            continue
        assert issubclass(cls, OptracrError), cls
        assert issubclass(cls, TypeError if cls is OptracrTypeError else ValueError), cls  # what users caught


def test_input_and_file_errors_are_not_compile_errors() -> None:
    assert not issubclass(InputError, CompileError) and not issubclass(optracr.ModelFileError, CompileError)


def test_an_optracr_bug_is_an_assertion_error_saying_so() -> None:
    bug = OptracrBug("two blocks share an id")
    assert isinstance(bug, AssertionError) and not isinstance(bug, OptracrError)
    assert str(bug) == "optracr bug: two blocks share an id"


def test_an_error_names_its_label() -> None:
    error = CompileError("sorted_7", "categorical output needs a unique selector")
    assert (error.label, error.message, str(error)) == (
        "sorted_7", "categorical output needs a unique selector", "'sorted_7': categorical output needs a unique selector")


def _bare_raises(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Raise) and node.exc is not None:
            raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(raised, ast.Name) and raised.id in BUILTIN_ERRORS - PROTOCOL_ERRORS:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: raise {raised.id}")
    return found


def test_optracr_raises_no_bare_builtin_error() -> None:
    found = [line for path in sorted(PACKAGE.rglob("*.py")) for line in _bare_raises(path)]
    assert not found, "raise an optracr error (or OptracrBug) instead:\n" + "\n".join(found)


# ------------------------------------------------------------------------ what a user meets, by entry point
@pytest.mark.parametrize("build, message", [
    (lambda: rasp.Map(3, rasp.tokens), r"Map needs a callable, got 3; e\.g\. rasp\.Map\(lambda x: x \+ 1"),
    (lambda: rasp.SequenceMap(None, rasp.tokens, rasp.indices), "SequenceMap needs a callable, got None"),
    (lambda: rasp.Map(abs, "tokens"), r"Map: `inner` must be an s-op \(SOp\) such as rasp.tokens, got 'tokens'"),
    (lambda: rasp.Select(rasp.tokens, rasp.tokens, "=="), "Select needs a Comparison or a callable predicate"),
    (lambda: rasp.Aggregate(rasp.tokens, rasp.tokens), "Aggregate: `selector` must be a Selector such as"),
    (lambda: rasp.tokens.named(""), r"'tokens': a RASP label must be a non-empty string, got ''; e\.g\."),
], ids=["map", "sequence_map", "map_inner", "select", "aggregate", "named"])
def test_rasp_constructors_refuse_wrong_arguments_as_type_errors(build, message: str) -> None:
    with pytest.raises(OptracrTypeError, match=message) as raised:
        build()
    assert isinstance(raised.value, TypeError)


def test_craft_refuses_a_direction_without_a_name() -> None:
    with pytest.raises(OptracrTypeError, match="a basis direction's name must be a non-empty string, got 3"):
        craft.BasisDirection(3)


@pytest.fixture(scope="module")
def model() -> optracr.CompiledModel:
    return optracr.compile((rasp.tokens == "a").named("is_a"), {"a", "b"}, 3, allocator="heuristic")


@pytest.mark.parametrize("tokens, message", [
    (5, r"an input is a sequence of tokens starting with BOS, such as \['BOS', \.\.\.\], got 5"),
    (None, "an input is a sequence of tokens starting with BOS.*got None"),
    ("BOSab", "an input is a sequence of tokens starting with BOS.*got 'BOSab'"),
    (["a"], r"an input must start with the BOS token 'BOS', got \['a'\]"),
    (["BOS", "c"], r"unknown token\(s\) \['c'\]; the vocabulary is \['a', 'b'\]"),
    (["BOS", "a", "a", "a", "a"], "4 tokens after BOS but the model was compiled for at most 3"),
])
def test_apply_refuses_a_bad_input_by_saying_what_works(model, tokens, message: str) -> None:
    with pytest.raises(InputError, match=message):
        model.apply(tokens)
    with pytest.raises(InputError, match=message):
        model.apply_batch([tokens])


@pytest.mark.parametrize("option, message", [
    ({"vocab": 5}, r"verify: vocab must be a collection of input tokens such as \['a', 'b'\], got 5"),
    ({"vocab": "ab"}, "verify: vocab must be a collection of input tokens.*got 'ab'"),
    ({"max_seq_len": 0}, "verify: max_seq_len must be an int >= 1, got 0"),
    ({"num_samples": -1}, "verify: num_samples must be an int >= 0, got -1"),
    ({"num_samples": 2.5}, "verify: num_samples must be an int >= 0, got 2.5"),
    ({"tolerance": float("nan")}, "verify: tolerance must be a finite number >= 0, got nan"),
    ({"max_reported": -1}, "verify: max_reported must be an int >= 0"),
    ({"vocab": ["x"]}, r"unknown token\(s\) \['x'\]"),
], ids=lambda value: str(value) if isinstance(value, dict) else "")
def test_verify_refuses_an_option_that_cannot_work_by_name(model, option: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        optracr.verify(model, **option)


def test_exports_refuse_what_is_no_compiled_model(tmp_path: Path) -> None:
    with pytest.raises(OptracrTypeError, match="expected an optracr CompiledModel or assemble.LayeredModel, got str"):
        optracr.save("model", tmp_path / "saved")


def test_a_value_with_no_file_form_is_an_export_error() -> None:
    from optracr import typed_json as values

    with pytest.raises(optracr.ExportError, match="value <object object at .*> of type object cannot be saved; token"):
        values.to_json(object())


def test_the_cli_reports_every_optracr_error_as_one_line(monkeypatch, capsys) -> None:
    def fail(*args, **kwargs):
        raise optracr.ModelFileError("/nowhere/model.json: no such file; save a model first")

    monkeypatch.setattr(optracr, "compile", fail)
    assert cli.main(["compile", "reverse", "--allocator", "heuristic", "--max-seq-len", "3"]) == 2
    assert capsys.readouterr().err == "optracr: error: /nowhere/model.json: no such file; save a model first\n"


def test_artefacts_a_user_can_build_refuse_parts_of_the_wrong_kind(model) -> None:
    import dataclasses

    from optracr import assemble

    with pytest.raises(OptracrTypeError, match="a CompiledModel wraps an assemble.LayeredModel, got str"):
        assemble.CompiledModel("layered")
    with pytest.raises(OptracrTypeError, match="a layer's heads are craft.AttentionHead objects"):
        assemble.Layer(heads=("head",), mlp=None)
    with pytest.raises(OptracrTypeError, match="causal must be a bool, got 'yes'"):
        dataclasses.replace(model.layered, causal="yes")
    with pytest.raises(CompileError, match="the input tokens must include BOS and PAD, missing 'BOS'"):
        dataclasses.replace(model.layered, bos="BOS", input_tokens=("a", "b", "X", "PAD"))
    with pytest.raises(OptracrTypeError, match="NodeValues: may_be_none must be a bool, got 1"):
        frontend.NodeValues(frozenset(), may_be_none=1)
    with pytest.raises(OptracrTypeError, match="'select_.*': evaluate_batch evaluates s-ops, got a Select"):
        frontend.evaluate_batch(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ), [["a"]])


def test_a_broken_internal_invariant_is_reported_as_an_optracr_bug() -> None:
    from optracr.compress import train

    either = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ) | rasp.Select(
        rasp.indices, rasp.indices, rasp.Comparison.EQ)
    with pytest.raises(OptracrBug, match="optracr bug: .* is not a conjunction of Selects"):
        frontend.conjuncts(either)
    with pytest.raises(OptracrBug, match="optracr bug: a training history needs one loss of each kind"):
        train.TrainingHistory((1, 2), (0.5,), (0.5,), (0.5,), 1.0, False)
