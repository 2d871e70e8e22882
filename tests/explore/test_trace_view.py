"""One input's data: the model's output, the evaluator's, the residual stream and the heads, all from apply."""

from __future__ import annotations

import numpy as np
import pytest

import optracr
from optracr import plotting, rasp
from optracr.errors import InputError
from optracr.explore import trace_view


CASES = [("sort", "3 1 4 2 2"), ("reverse", "a b c d"), ("shuffle_dyck2", "( { } )"), ("frac_prevs", "x a x")]


def _apply(model, text):
    return model.apply(trace_view.parse_input(model, text))


@pytest.mark.parametrize(("name", "text"), CASES)
def test_outputs_are_apply_and_the_evaluator(name: str, text: str, library_model) -> None:
    program, model = library_model(name)
    trace = trace_view.input_trace(model, program, text)
    decoded = _apply(model, text).decoded
    assert trace["model"] == [trace_view.value_text(value) for value in decoded]
    expected = rasp.evaluate(program, trace_view.parse_input(model, text)[1:], causal=model.layered.causal)
    assert trace["expected"] == [trace_view.value_text(value) for value in expected]
    assert trace["mismatches"] == [False] * len(expected)


@pytest.mark.parametrize(("name", "text"), CASES)
def test_residual_rows_follow_the_bands_and_equal_the_trace(name: str, text: str, library_model) -> None:
    program, model = library_model(name)
    trace = trace_view.input_trace(model, program, text)
    layout = trace_view.stream_layout(model, program, trace_view.parse_input(model, text))
    residuals = _apply(model, text).residuals
    assert layout["num_directions"] == model.config.d_model
    assert [stage["sublayer"] for stage in layout["stages"]] == [None, *range(2 * model.config.num_layers)]
    for stage, matrix in zip(layout["stages"], trace["residual"]):
        after = residuals[0 if stage["sublayer"] is None else stage["sublayer"] + 1]
        for band in layout["bands"]:
            for offset, direction in enumerate(band["directions"]):
                assert model.residual_labels[direction] == band["rows"][offset]
                np.testing.assert_allclose(matrix[band["start"] + offset], after[:, direction], atol=1e-6)


def test_attention_is_every_heads_pattern_titled_with_its_selector(library_model) -> None:
    program, model = library_model("sort")
    trace = trace_view.input_trace(model, program, "4 1 3")
    layout = trace_view.stream_layout(model, program, trace_view.parse_input(model, "4 1 3"))
    patterns = _apply(model, "4 1 3").attention
    assert [(head["layer"], head["head"]) for head in layout["heads"]] == [(1, 0), (2, 0)]
    assert layout["heads"][1]["sop"] == "sort" and layout["heads"][1]["selector"] == "target_pos[k] == indices[q]"
    for head, pattern in zip(layout["heads"], trace["attention"]):
        np.testing.assert_allclose(pattern, patterns[head["layer"]][head["head"]], atol=1e-6)


@pytest.mark.parametrize("text", ["3 9", "1 2 3 4 1 2", "BOS"])
def test_a_refused_input_carries_applys_message(text: str, library_model) -> None:
    program, model = library_model("sort")
    with pytest.raises(InputError) as refused:
        model.apply(trace_view.parse_input(model, text))
    assert trace_view.input_trace(model, program, text) == {"input": text, "error": str(refused.value)}


def test_integer_tokens_are_read_as_the_vocabulary_holds_them(library_model) -> None:
    _, model = library_model("sort")
    assert trace_view.parse_input(model, " 3  1 ") == ["BOS", 3, 1]
    _, model = library_model("reverse")
    assert trace_view.parse_input(model, "a 1") == ["BOS", "a", "1"]


def test_a_wrong_model_output_is_marked_at_its_positions(monkeypatch: pytest.MonkeyPatch, users_model) -> None:
    program, model = users_model
    right = rasp.evaluate(program, [3, 1, 2])
    monkeypatch.setattr(trace_view.rasp, "evaluate", lambda *args, **kwargs: [right[0], 7.0, right[2]])
    trace = trace_view.input_trace(model, program, "3 1 2")
    assert trace["mismatches"] == [False, True, False]
    assert trace["expected"] == ["1.5", "7", "1"]


def test_a_numerical_output_matches_within_verifys_tolerance(users_model) -> None:
    program, model = users_model
    trace = trace_view.input_trace(model, program, "3 1 2 2")
    assert trace["model"] == ["BOS", "2", "0.5", "1.5", "1.5"] and trace["mismatches"] == [False] * 4


def test_the_evaluators_refusal_is_said_instead_of_an_answer() -> None:
    program = rasp.numerical(rasp.Map(lambda x: 1 / x, rasp.tokens)).named("inverse")
    model = optracr.compile(program, [0, 1, 2], 3, partial_functions="allow")
    trace = trace_view.input_trace(model, program, "2 0")
    assert trace["expected"] is None and trace["mismatches"] == []
    assert trace["evaluator_error"].startswith("the evaluator has no answer on this input:")


def test_without_a_program_there_is_no_evaluator_answer_and_heads_are_named_by_sop(library_model) -> None:
    _, model = library_model("sort")
    trace = trace_view.input_trace(model, None, "2 1")
    assert trace["expected"] is None and "no RASP program" in trace["evaluator_error"]
    heads = trace_view.stream_layout(model, None, ["BOS", 2, 1])["heads"]
    assert [(head["sop"], head["selector"]) for head in heads] == [("target_pos", ""), ("sort", "")]


def test_values_are_written_for_people() -> None:
    assert [trace_view.value_text(value) for value in (None, 0.1 + 0.2, 3, True, "a")] == ["-", "0.3", "3", "True", "a"]


def test_bands_are_the_residual_plans_with_every_row(library_model) -> None:
    program, model = library_model("shuffle_dyck2")
    tokens = trace_view.parse_input(model, "( )")
    plan = plotting.residual_plan(model, tokens, all_rows=True)
    bands = trace_view.stream_layout(model, program, tokens)["bands"]
    assert [(band["name"], band["kind"], tuple(band["rows"])) for band in bands] == [
        (band.name, band.kind, band.rows) for band in plan.bands]
    assert [band["name"] for band in bands if band["output"]] == [model.output_label]


def test_a_json_list_carries_each_tokens_type() -> None:
    program = rasp.Map(lambda token: str(token) * 2, rasp.tokens).named("doubled")
    model = optracr.compile(program, [1, "1", "a"], 3)
    assert trace_view.parse_input(model, '[1, "1"]') == ["BOS", 1, "1"]
    trace = trace_view.input_trace(model, program, '[1, "1", "a"]')
    assert trace["model"] == ["BOS", "11", "11", "aa"] and trace["mismatches"] == [False] * 3


@pytest.mark.parametrize(("text", "message"), [
    ("[1, 2", r"'\[1, 2' is not a JSON list \(Expecting ',' delimiter\); write tokens like \[1, \"x\"\]"),
    ("[[1]]", r"'\[\[1\]\]' is not a flat JSON list of tokens"),
])
def test_a_bad_json_list_is_an_error_naming_what_works(text: str, message: str, library_model) -> None:
    program, model = library_model("sort")
    with pytest.raises(InputError, match=message) as refused:
        trace_view.parse_input(model, text)
    assert trace_view.input_trace(model, program, text) == {"input": text, "error": str(refused.value)}


def test_a_json_token_outside_the_vocabulary_gets_applys_message(library_model) -> None:
    program, model = library_model("sort")
    with pytest.raises(InputError) as refused:
        model.apply(["BOS", 1, "2"])
    assert trace_view.input_trace(model, program, '[1, "2"]')["error"] == str(refused.value)
