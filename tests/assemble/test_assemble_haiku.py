"""The Haiku backend is the one place that knows Haiku's parameter names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import optracr
from optracr import assemble, programs

PACKAGE = Path(__file__).resolve().parents[2] / "optracr"


def test_haiku_parameter_names_appear_in_exactly_one_module() -> None:
    names = ("transformer/layer_", "/attn/", "mlp/linear_", "unembed/w", "token_embed/embeddings")
    users = sorted(
        str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py") if any(n in path.read_text() for n in names)
    )
    # export/reference.py holds the reference compiler's own Haiku layout (attn/linear, biases), a separate
    # interface for code written against the reference, not optracr's backend.
    assert users == ["assemble/haiku_model.py", "export/reference.py"]


def test_haiku_params_hold_the_dense_weights_under_haiku_names() -> None:
    entry = programs.LIBRARY["sort"]
    model = optracr.compile(entry.build(), entry.vocab, 4)
    dense, params = model.layered.dense(), model.params
    for number, layer in enumerate(dense.layers):
        np.testing.assert_array_equal(params[f"transformer/layer_{number}/attn/key"]["w"], layer.key)
        np.testing.assert_array_equal(params[f"transformer/layer_{number}/mlp/linear_2"]["w"], layer.mlp_out)
    np.testing.assert_array_equal(params["unembed"]["w"], dense.unembed)
    assert model.params_total == model.allocation.parameter_count == sum(a.size for a in dense.arrays().values())
    assert isinstance(model.config, assemble.ModelConfig) and model.config.d_model == dense.unembed.shape[0]


@pytest.mark.parametrize("name", ["reverse", "shuffle_dyck2", "sort_freq", "detect_pattern", "double_frac_prevs"])
def test_parameters_of_folded_and_fused_models_are_what_the_scheduler_charged(name: str) -> None:
    entry = programs.LIBRARY[name]
    model = optracr.compile(entry.build(), entry.vocab, entry.max_seq_len)
    assert model.allocation.fusion_groups or any(loc.folded for loc in model.layered.locations.values())
    assert model.params_total == model.allocation.parameter_count
