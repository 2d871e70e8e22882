"""``CompiledModel.summary``: what the shape line means, and where the model came from."""

from __future__ import annotations

from pathlib import Path

import optracr
from optracr import programs


def _shuffle_dyck2() -> optracr.CompiledModel:
    entry = programs.get_program("shuffle_dyck2")
    return optracr.compile(entry.build(), entry.vocab, entry.max_seq_len)


def test_the_summary_says_heads_and_mlp_width_are_per_layer_maxima() -> None:
    model = _shuffle_dyck2()
    heads_per_layer = [len(model.layered.layers[layer].heads) for layer in range(model.config.num_layers)]
    assert max(heads_per_layer) == model.config.num_heads == 5 and min(heads_per_layer) < 5
    shape = model.summary().splitlines()[1]
    assert shape == (
        "  layers 2; per layer at most 5 heads (key size 6, value size 2) and 59 MLP units; residual width 32"
    )


def test_a_compiled_model_says_how_long_each_stage_took() -> None:
    model = _shuffle_dyck2()
    lines = model.summary().splitlines()
    assert lines[4].startswith("  compiled in ") and "passes fold, fuse" in lines[4]
    stages = [stage.name for stage in model.provenance.stages]
    assert [line.split()[0] for line in lines[5:5 + len(stages)]] == stages
    assert stages == ["frontend", "lower", "fold", "fuse", "schedule", "assemble"]


def test_a_loaded_model_says_where_it_was_loaded_from_and_how_it_was_compiled(tmp_path: Path) -> None:
    model = _shuffle_dyck2()
    loaded = optracr.load(optracr.save(model, tmp_path / "saved"))
    summary = loaded.summary()
    assert f"  loaded from {tmp_path / 'saved'}" in summary.splitlines()
    assert model.provenance.lines()[0] in summary.splitlines()  # the saved record of its compilation
