"""With ``causal=True`` a program means what ``causal_eval`` computes; ``causal="strict"`` refuses look-ahead.

The real-world pattern: a selector comparing a Map of tokens with itself (EQ) can pick a later position. Compiled
with ``causal=True`` it warns (``CausalMeaningWarning``, naming the expression and the path to the output), the
model computes the causal meaning exactly (``verify`` compares with the causal evaluator), and that meaning
differs from the plain one on some input. ``causal="strict"`` refuses it, as every causal compile once did.
"""

from __future__ import annotations

import re

import pytest

import optracr
from optracr import causal_eval, cli, frontend, rasp
from optracr.errors import CausalMeaningWarning, CompileError

VOCAB = frozenset({"a", "b", "c"})
MAX_SEQ_LEN = 4
MODES = {"default": {}, "reference": {"fold": False, "fuse": False}}


def _same_class() -> rasp.Selector:
    is_ab = rasp.Map(lambda t: t in "ab", rasp.tokens).named("is_ab")
    return rasp.Select(is_ab, is_ab, rasp.Comparison.EQ).named("same_class")


def _uses() -> dict[str, rasp.SOp]:
    """The pattern's selector in a selector width and a numerical mean; its NEQ twin in a categorical copy (an
    a or b reads a c, which may stand after it: None under the mask)."""
    same = _same_class()
    is_a = rasp.numerical(rasp.Map(lambda t: 1 if t == "a" else 0, rasp.tokens)).named("is_a")
    is_ab = same.keys
    other_class = rasp.Select(is_ab, is_ab, rasp.Comparison.NEQ).named("other_class")
    class_name = rasp.Map(lambda b: "ab" if b else "c", is_ab).named("class_name")
    return {
        "width": rasp.SelectorWidth(same).named("count"),
        "mean": rasp.numerical(rasp.Aggregate(same, is_a, default=0)).named("share_a"),
        "copy": rasp.Aggregate(other_class, class_name).named("other_class_name"),
    }


def _compile_warned(program: rasp.SOp, **options: object) -> optracr.CompiledModel:
    with pytest.warns(CausalMeaningWarning, match="under causal=True .* can pick a later position"):
        return optracr.compile(program, VOCAB, MAX_SEQ_LEN, allocator="heuristic", causal=True, **options)


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("use", ["width", "mean", "copy"])
def test_a_look_ahead_program_compiles_with_a_warning_and_computes_its_causal_meaning(use: str, mode: str) -> None:
    program = _uses()[use]
    model = _compile_warned(program, **MODES[mode])
    report = optracr.verify(model, program)
    assert report.exhaustive and report.ok and report.num_undefined == 0, str(report)
    differs = []
    for xs in frontend.all_inputs(sorted(VOCAB), MAX_SEQ_LEN):
        got = model.apply([model.bos, *xs]).decoded[1:]
        assert _close(got, causal_eval.evaluate(program, list(xs))), xs  # what verify compares with
        differs += [xs] if not _close(got, rasp.evaluate(program, list(xs))) else []
    assert differs  # the plain meaning is another function: verify cannot have compared with it


def _close(got: list, expected: list) -> bool:
    return all(
        (g is None) == (e is None) and (g is None or (abs(g - e) < 1e-6 if isinstance(e, float) else g == e))
        for g, e in zip(got, expected, strict=True)
    )


def test_the_warning_names_the_expression_the_selector_a_witness_and_the_path_to_the_output() -> None:
    program = rasp.Map(lambda n: n * 2, _uses()["width"]).named("doubled")
    with pytest.warns(CausalMeaningWarning) as caught:
        optracr.compile(program, VOCAB, MAX_SEQ_LEN, allocator="heuristic", causal=True)
    (warning,) = caught
    assert warning.message.label == "count"
    assert str(warning.message) == (
        "'count': under causal=True a position sees only itself and earlier ones, but its selector 'same_class' "
        "can pick a later position (key False for query False, wherever they stand), and the output reads it along "
        "count -> doubled; the model computes the program's causal meaning, what optracr.causal_eval.evaluate "
        "(rasp.evaluate(..., causal=True)) gives, which can differ from rasp.evaluate without causal; compile with "
        "causal='strict' to refuse such programs, or keep the selector to earlier positions with "
        "`selector & rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)`"
    )
    assert warning.filename == __file__  # it points at the caller's compile, not into optracr


def test_strict_causal_refuses_the_look_ahead_program_naming_the_path() -> None:
    message = (
        "'count': under causal='strict' every selector must keep to its query's own and earlier positions, but its "
        "selector 'same_class' can pick a later position (key False for query False, wherever they stand), and it "
        "is the output; keep the selector to earlier positions"
    )
    with pytest.raises(CompileError, match=re.escape(message)):
        optracr.compile(_uses()["width"], VOCAB, MAX_SEQ_LEN, allocator="heuristic", causal="strict")


def test_the_reference_entry_point_warns_too_and_keeps_the_causal_mask() -> None:
    with pytest.warns(CausalMeaningWarning, match="'count': under causal=True") as caught:
        ported = optracr.compile_rasp_to_model(_uses()["width"], VOCAB, MAX_SEQ_LEN, causal=True)
    assert caught[0].filename == __file__
    assert ported.model_config.causal
    assert ported.apply(["compiler_bos", "a", "c", "b"]).decoded == ["compiler_bos", 1, 1, 2]


def test_strict_causal_models_are_causal_models() -> None:
    earlier = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    program = rasp.SelectorWidth(_same_class() & earlier).named("so_far")
    strict = optracr.compile(program, VOCAB, MAX_SEQ_LEN, allocator="heuristic", causal="strict")
    assert strict.layered.causal is True and strict.config.causal is True
    assert optracr.verify(strict, program).ok


def test_the_cli_prints_the_warning_as_one_line_and_compiles(capsys) -> None:
    assert cli.main(["compile", "hist", "--causal", "--allocator", "heuristic", "--input", "a b a"]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith("optracr: warning: 'hist': under causal=True a position sees only itself")
    assert captured.err.count("\n") == 1
    assert "output  BOS 1 1 2" in captured.out  # the causal meaning: equal tokens so far


def test_the_cli_causal_strict_flag_refuses_the_look_ahead_program(capsys) -> None:
    assert cli.main(["compile", "hist", "--causal-strict", "--allocator", "heuristic"]) == 2
    assert capsys.readouterr().err.startswith("optracr: error: 'hist': under causal='strict' every selector must")
    assert cli.main(["verify", "frac_prevs", "--causal-strict", "--allocator", "heuristic"]) == 0
    assert capsys.readouterr().out.startswith("OK")
