"""``compile`` runs one pipeline (frontend, lower, the passes, schedule, assemble) and records it in the model."""

from __future__ import annotations

import json

import pytest

import optracr
from optracr import CompileError, craft, frontend, programs, rasp
from optracr.export import ModelFileError
from optracr.options import CompileOptions, FoldOptions


def _sort():
    entry = programs.LIBRARY["sort"]
    return entry.build(entry.max_seq_len), entry.vocab, entry.max_seq_len


def test_default_compile_records_every_stage_with_the_pass_outputs() -> None:
    program, vocab, n = _sort()
    model = optracr.compile(program, vocab, n, allocator="heuristic")
    stages = model.provenance.stages
    assert [stage.name for stage in stages] == ["frontend", "lower", "fold", "fuse", "schedule", "assemble"]
    graph = craft.lower(frontend.analyse(program, vocab, n))  # the same passes, run by craft's short form
    assert stages[2].summary.startswith(f"{len(graph.folds)} s-ops folded")
    assert stages[3].summary.startswith(f"{len(graph.fusion_candidates)} fusion candidates")
    assert dict(model.compile_seconds) == {stage.name: stage.seconds for stage in stages}
    assert model.options == CompileOptions(vocab=vocab, max_seq_len=n, allocator="heuristic")
    summary = model.summary()
    assert all(f"    {stage.name:<9}" in summary for stage in stages) and "passes fold, fuse" in summary


def test_no_passes_is_the_reference_structure() -> None:
    program, vocab, n = _sort()
    model = optracr.compile(program, CompileOptions(vocab=vocab, max_seq_len=n, passes=(), allocator="heuristic"))
    assert "fold" not in model.compile_seconds and "fuse" not in model.compile_seconds
    reference = optracr.compile(program, vocab, n, fold=False, fuse=False, allocator="heuristic")
    assert model.residual_labels == reference.residual_labels
    assert model.sublayer_contents == reference.sublayer_contents
    assert not any(location.folded for location in model.layered.locations.values())


def test_keywords_beside_options_change_them() -> None:
    program = rasp.Map(lambda t: t == "a", rasp.tokens)
    options = CompileOptions(vocab={"a", "b"}, max_seq_len=2)
    model = optracr.compile(program, options, fuse=False)
    assert model.options.passes == (FoldOptions(),) and model.options.vocab == {"a", "b"}
    assert optracr.compile(program, options=options).options == options


@pytest.mark.parametrize(
    ("arguments", "keywords", "match"),
    [
        ((CompileOptions(vocab={"a"}), 3), {}, r"compile\(program, options\) takes max_seq_len in the options"),
        (({"a"}, 3), {"vocab": {"b"}}, r"option vocab: given twice"),
        ((CompileOptions(max_seq_len=3),), {}, r"option vocab: compile needs the vocabulary and the longest input"),
        (({"a"},), {}, r"option max_seq_len: compile needs"),
        (({"a"}, 3), {"allocator": "fast"}, r"option allocator: unknown allocator 'fast'"),
    ],
)
def test_compile_refuses_options_it_cannot_use(arguments: tuple, keywords: dict, match: str) -> None:
    with pytest.raises(CompileError, match=match):
        optracr.compile(rasp.Map(lambda t: t, rasp.tokens), *arguments, **keywords)


def test_compile_rasp_to_model_carries_its_options() -> None:
    from optracr.compiler import compiling

    program = rasp.Map(lambda t: t == "a", rasp.tokens)
    reference = compiling.compile_rasp_to_model(program, {"a", "b"}, 3, allocator="heuristic")
    assert reference.compiled.options == CompileOptions(
        vocab={"a", "b"}, max_seq_len=3, bos="compiler_bos", pad="compiler_pad", passes=(), allocator="heuristic")


def test_a_saved_model_keeps_its_provenance_and_an_older_file_loads_without(tmp_path) -> None:
    program, vocab, n = _sort()
    model = optracr.compile(program, vocab, n, allocator="heuristic", fuse=False)
    directory = optracr.save(model, tmp_path / "sort")
    loaded = optracr.load(directory)
    assert loaded.provenance == model.provenance and loaded.options.passes == (FoldOptions(),)
    document = json.loads((directory / "model.json").read_text())
    del document["provenance"]  # what a model saved before the field existed looks like
    (directory / "model.json").write_text(json.dumps(document))
    older = optracr.load(directory)
    assert older.provenance is None and older.options is None
    assert older.apply(["BOS", 2, 1]).decoded == loaded.apply(["BOS", 2, 1]).decoded


def test_a_malformed_provenance_names_the_file_and_field(tmp_path) -> None:
    model = optracr.compile(rasp.Map(lambda t: t == "a", rasp.tokens), {"a", "b"}, 2)
    directory = optracr.save(model, tmp_path / "m")
    document = json.loads((directory / "model.json").read_text())
    document["provenance"]["options"]["allocator"] = "fast"
    (directory / "model.json").write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match=r"model.json: field 'provenance' is malformed: option allocator"):
        optracr.load(directory)


def test_passes_refuse_a_graph_they_already_transformed() -> None:
    entry = programs.LIBRARY["reverse"]  # one fusion candidate
    program_graph = frontend.analyse(entry.build(entry.max_seq_len), entry.vocab, entry.max_seq_len)
    folded = craft.lower(program_graph)
    with pytest.raises(CompileError, match=r"the fuse pass ran twice"):
        craft.FusePass().apply(folded, program_graph)
    with pytest.raises(CompileError, match=r"the fold pass takes a graph from lower_each, before other passes"):
        craft.FoldPass().apply(folded, program_graph)
    with pytest.raises(CompileError, match=r"no pass runs with 'inline'; the passes are fold, fuse"):
        craft.pass_for("inline")  # type: ignore[arg-type]

