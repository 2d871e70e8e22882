"""``Explorer``: refuses what it cannot explore, names bad inputs, and assembles the page's data."""

from __future__ import annotations

import pytest

import optracr
from optracr import explore, rasp
from optracr.errors import CompileError, InputError
from optracr.explore import NotebookView, session


def test_it_explores_a_compiled_model_only() -> None:
    with pytest.raises(CompileError, match=r"explore needs a CompiledModel \(optracr.compile or optracr.load\), got str"):
        session.Explorer("sort")


def test_the_program_must_be_an_sop(library_model) -> None:
    _, model = library_model("sort")
    with pytest.raises(CompileError, match="program must be the RASP s-op the model was compiled from, got Select"):
        session.Explorer(model, rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ))


def test_another_build_of_the_program_is_refused_by_label(library_model) -> None:
    _, model = library_model("sort")
    rebuilt = optracr.programs.get_program("sort").build()
    with pytest.raises(CompileError, match="'sequencemap_\\d+': the model computes this s-op but the program given has no"
                       " node of that label; pass the very program object"):
        session.Explorer(model, rebuilt)


def test_a_bad_precomputed_input_is_named_and_nothing_is_written(library_model, tmp_path) -> None:
    program, model = library_model("sort")
    with pytest.raises(InputError, match=r"input '1 7': unknown token\(s\) \['7'\]; the vocabulary is \[1, 2, 3, 4\]"):
        explore.static_page(model, ["3 1", "1 7"], program=program)
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_mode_lists_the_modes(library_model) -> None:
    program, model = library_model("sort")
    with pytest.raises(CompileError, match="unknown page mode 'live'; use one of server, static"):
        session.Explorer(model, program).page_data(["1"], mode="live")


def test_no_input_at_all_suggests_one(library_model) -> None:
    program, model = library_model("sort")
    with pytest.raises(InputError, match="no input to show; give at least one, e.g. '"):
        session.Explorer(model, program).checked_runs([])


def test_the_example_input_is_full_length_and_in_the_vocabulary(library_model) -> None:
    program, model = library_model("reverse")
    words = session.Explorer(model, program).example_input().split()
    assert len(words) == model.layered.max_seq_len and set(words) <= {"a", "b", "c", "d"}


def test_page_data_keys_inputs_by_their_tidy_text(library_model) -> None:
    program, model = library_model("sort")
    data = session.Explorer(model, program).page_data(["  3 1  ", "2"], mode="static")
    assert list(data["traces"]) == ["3 1", "2"] and data["initial"] == "3 1"
    assert data["title"] == "sort" and data["bos"] == "BOS"
    assert data["shape"] == "3 layers, 1 head, MLP width 20, residual width 43"


def test_model_explore_is_a_notebook_view_of_the_static_page(library_model) -> None:
    program, model = library_model("reverse")
    view = model.explore(["a b"], program=program, title="reverse")
    assert isinstance(view, NotebookView)
    shown = view._repr_html_()
    assert shown.startswith('<iframe srcdoc="&lt;!DOCTYPE html&gt;') and 'sandbox="allow-scripts"' in shown
    assert "&quot;a b&quot;" in shown  # the precomputed input, escaped into the attribute


def test_a_notebook_view_holds_a_whole_page() -> None:
    with pytest.raises(InputError, match="a NotebookView holds a whole explore page"):
        NotebookView("<p>hi</p>")
