"""PCA baseline, W W^T, per-sublayer profiles and the plots."""

from __future__ import annotations

import numpy as np

from optracr.compress import (
    layer_output_profile,
    pca_projection,
    plot_cosine_similarity,
    plot_layer_outputs,
    plot_pca,
    plot_wtw,
    projection_gram,
    residual_activations,
)
from optracr.compress import model as model_lib
from optracr.compress import train


def _handmade_compressed(model, projection) -> model_lib.CompressedModel:
    history = train.TrainingHistory((), (), (), (), seconds=0.0, stopped_early=False)
    return model_lib.CompressedModel(model=model, W=projection, history=history)


def test_pca_projection_has_orthonormal_columns_and_keeps_the_varying_directions(frac_prevs_model):
    projection = pca_projection(frac_prevs_model, 3, num_inputs=256)
    assert projection.shape == (frac_prevs_model.config.d_model, 3)
    np.testing.assert_allclose(projection.T @ projection, np.eye(3), atol=1e-6)
    # "one" is 1 everywhere and tokens:PAD never occurs at a kept position: no variance, no weight
    gram = projection_gram(projection)
    labels = frac_prevs_model.residual_labels
    for label in ("one", "tokens:PAD"):
        assert abs(gram[labels.index(label), labels.index(label)]) < 1e-6


def test_full_width_pca_reads_back_every_direction_that_varies(frac_prevs_model):
    width = frac_prevs_model.config.d_model
    activations = residual_activations(frac_prevs_model, num_inputs=256)
    assert activations.shape[1] == width
    gram = projection_gram(pca_projection(frac_prevs_model, width, num_inputs=256, center=False))
    np.testing.assert_allclose(gram, np.eye(width), atol=1e-6)


def test_wtw_is_w_times_w_transposed(frac_prevs_model):
    projection = np.random.default_rng(0).normal(size=(frac_prevs_model.config.d_model, 3))
    compressed = _handmade_compressed(frac_prevs_model, projection)
    np.testing.assert_allclose(compressed.wtw, projection @ projection.T, rtol=1e-5)


def test_layer_output_profile_of_the_identity_has_no_error(echo_model):
    compressed = _handmade_compressed(echo_model, np.eye(echo_model.config.d_model))
    profile = layer_output_profile(compressed, num_inputs=64)
    assert profile.compiled.shape == (4, echo_model.config.d_model)
    np.testing.assert_array_equal(profile.squared_error, 0.0)
    np.testing.assert_allclose(profile.compressed, profile.compiled)
    assert profile.compiled[1, echo_model.residual_labels.index("is_x")] > 0  # the MLP writes is_x


def test_plots_write_png_files(frac_prevs_model, tmp_path):
    compressed = _handmade_compressed(frac_prevs_model, np.eye(frac_prevs_model.config.d_model)[:, :5])
    metrics = compressed.metrics(num_inputs=64)
    written = [
        plot_wtw(compressed, tmp_path / "wtw.png"),
        plot_pca(frac_prevs_model, 5, tmp_path / "pca.png"),
        plot_cosine_similarity([metrics], tmp_path / "cosine.png", labels=["d = 5"]),
        plot_layer_outputs(layer_output_profile(compressed, num_inputs=64), tmp_path / "layers.png"),
    ]
    for path in written:
        assert path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
