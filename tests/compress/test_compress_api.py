"""``optracr.compress(model, d, ...)`` is the documented entry point, although a sub-package shares its name."""

from __future__ import annotations

import numpy as np

import optracr
from optracr import assemble


def test_optracr_compress_is_callable_and_returns_a_compressed_model(frac_prevs_model: assemble.CompiledModel) -> None:
    width = frac_prevs_model.config.d_model
    compressed = optracr.compress(
        frac_prevs_model, width, steps=1, learning_rate=1e-12, final_learning_rate=1e-12, weight_decay=0.0,
        initial_W=np.eye(width), progress=False,
    )
    tokens = ["BOS", *frac_prevs_model.input_tokens[:2]]
    expected = frac_prevs_model.apply(tokens).decoded
    assert compressed.apply(tokens).decoded[0] == expected[0]
    np.testing.assert_allclose(compressed.apply(tokens).decoded[1:], expected[1:], atol=1e-5)
    assert optracr.compress.compress is optracr.compress.compressor.compress
