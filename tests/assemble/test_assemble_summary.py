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
    assert max(heads_per_layer) == model.config.num_heads == 3 and min(heads_per_layer) < 3
    shape = model.summary().splitlines()[1]
    assert shape == (
        "  layers 3; per layer at most 3 heads (key size 6, value size 2) and 19 MLP units; residual width 36"
    )


def test_a_compiled_model_says_how_long_each_stage_took() -> None:
    provenance = _shuffle_dyck2().summary().splitlines()[4]
    assert provenance.startswith("  compiled in ") and "frontend" in provenance and "assemble" in provenance


def test_a_loaded_model_says_where_it_was_loaded_from_not_compile_times(tmp_path: Path) -> None:
    loaded = optracr.load(optracr.save(_shuffle_dyck2(), tmp_path / "saved"))
    summary = loaded.summary()
    assert f"  loaded from {tmp_path / 'saved'}" in summary.splitlines()
    assert "compiled in" not in summary
