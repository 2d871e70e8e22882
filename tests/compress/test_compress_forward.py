"""The compressed forward pass with W = identity is the compiled model; the loss is then zero."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from optracr.compress import forward, inputs, losses
from optracr.compress import model as model_lib
from optracr.compress import train


def _identity_model(model) -> model_lib.CompressedModel:
    history = train.TrainingHistory((), (), (), (), seconds=0.0, stopped_early=False)
    return model_lib.CompressedModel(model=model, W=np.eye(model.config.d_model), history=history)


def _batch(model, seed: int = 0, size: int = 64) -> np.ndarray:
    return inputs.held_out_batch(seed, inputs.TokenIds.of(model), size)


@pytest.mark.parametrize("fixture", ["frac_prevs_model", "echo_model"])
def test_identity_projection_reproduces_every_sublayer_and_the_output(fixture, request):
    model = request.getfixturevalue(fixture)
    token_ids = jnp.asarray(_batch(model))
    ids = inputs.TokenIds.of(model)
    ours = forward.compressed_forward(
        forward.frozen_weights(model), jnp.eye(model.config.d_model), token_ids, pad_id=ids.pad_id, causal=False
    )
    theirs = forward.reference_forward(model)(forward.float32_params(model), token_ids)
    np.testing.assert_array_equal(np.asarray(ours.output), np.asarray(theirs.output))
    assert len(ours.sublayer_outputs) == len(theirs.sublayer_outputs) == 2 * model.config.num_layers
    for mine, reference in zip(ours.sublayer_outputs, theirs.sublayer_outputs):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(reference))
    for mine, reference in zip(ours.residuals, theirs.residuals):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(reference))


@pytest.mark.parametrize("fixture", ["frac_prevs_model", "echo_model"])
def test_identity_compressed_model_applies_like_the_compiled_model(fixture, request):
    model = request.getfixturevalue(fixture)
    compressed = _identity_model(model)
    tokens = ["BOS", "x", "a", "x", "x"]
    ours, theirs = compressed.apply(tokens), model.apply(tokens)
    assert ours.residual_labels == theirs.residual_labels
    np.testing.assert_allclose(ours.output, theirs.output, atol=1e-6)
    for mine, reference in zip(ours.sublayer_outputs, theirs.sublayer_outputs):
        np.testing.assert_allclose(mine, reference, atol=1e-6)
    if model.output_classes:
        assert ours.decoded == theirs.decoded
        assert compressed.apply_batch([tokens, tokens[:2]]) == model.apply_batch([tokens, tokens[:2]])
    else:
        np.testing.assert_allclose(ours.decoded[1:], theirs.decoded[1:], atol=1e-6)


@pytest.mark.parametrize("fixture", ["frac_prevs_model", "echo_model"])
def test_identity_projection_has_zero_loss_and_perfect_metrics(fixture, request):
    model = request.getfixturevalue(fixture)
    token_ids = jnp.asarray(_batch(model))
    ids = inputs.TokenIds.of(model)
    reference = forward.reference_forward(model)(forward.float32_params(model), token_ids)
    terms = losses.compression_loss(
        forward.frozen_weights(model), jnp.eye(model.config.d_model), token_ids, reference,
        pad_id=ids.pad_id, causal=False, categorical=bool(model.output_classes), layer_loss_weight=1.0,
    )
    assert float(terms.layer) == 0.0
    metrics = _identity_model(model).metrics(num_inputs=128)
    assert metrics.layer_squared_error == (0.0,) * 4
    # layer 0 attention and layer 1 MLP write nothing: no position to compare there
    assert np.isnan(metrics.cosine_similarity[0]) and np.isnan(metrics.cosine_similarity[3])
    np.testing.assert_allclose(metrics.cosine_similarity[1:3], 1.0, atol=1e-6)
    if model.output_classes:
        assert metrics.accuracy == 1.0 and metrics.mse is None
    else:
        assert float(terms.output) == 0.0
        assert metrics.mse == 0.0 and metrics.accuracy is None


def test_a_projection_onto_fewer_directions_loses_what_it_drops(frac_prevs_model):
    """Keeping every direction but is_x: the MLP's write of is_x is lost, so frac_prevs reads zero."""
    labels = frac_prevs_model.residual_labels
    keep = [row for row, label in enumerate(labels) if label != "is_x"]
    projection = np.eye(len(labels))[:, keep]
    history = train.TrainingHistory((), (), (), (), seconds=0.0, stopped_early=False)
    compressed = model_lib.CompressedModel(model=frac_prevs_model, W=projection, history=history)
    assert compressed.d == len(labels) - 1
    assert compressed.apply(["BOS", "x", "x"]).decoded[1:] == [0.0, 0.0]


@pytest.fixture(scope="module", params=["frac_prevs", "sort_unique"])
def library_model(request):
    import optracr
    from optracr import programs

    entry = programs.get_program(request.param)
    return optracr.compile(entry.build(), entry.vocab, entry.max_seq_len)


def test_identity_projection_reproduces_compiled_library_programs(library_model):
    token_ids = jnp.asarray(_batch(library_model, size=128))
    ids = inputs.TokenIds.of(library_model)
    width = library_model.config.d_model
    ours = forward.compressed_forward(
        forward.frozen_weights(library_model), jnp.eye(width), token_ids, pad_id=ids.pad_id,
        causal=library_model.config.causal,
    )
    theirs = forward.reference_forward(library_model)(forward.float32_params(library_model), token_ids)
    np.testing.assert_array_equal(np.asarray(ours.output), np.asarray(theirs.output))
    for mine, reference in zip(ours.sublayer_outputs, theirs.sublayer_outputs):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(reference))
    compressed = _identity_model(library_model)
    tokens = ["BOS", *sorted(library_model.input_tokens[:-2], key=repr)]
    ours_decoded, theirs_decoded = compressed.apply(tokens).decoded, library_model.apply(tokens).decoded
    np.testing.assert_allclose(
        [np.nan if v is None else float(v) for v in ours_decoded[1:]],
        [np.nan if v is None else float(v) for v in theirs_decoded[1:]],
        atol=1e-6,
    )


def test_identity_projection_equals_the_block_wise_forward_in_float32(library_model):
    from optracr import assemble

    token_ids = _batch(library_model, size=128)
    ids = inputs.TokenIds.of(library_model)
    ours = forward.compressed_forward(
        forward.frozen_weights(library_model), jnp.eye(library_model.config.d_model), jnp.asarray(token_ids),
        pad_id=ids.pad_id, causal=library_model.config.causal,
    )
    want = assemble.run_forward(library_model.layered.block_weights(np.float32), token_ids)
    np.testing.assert_allclose(np.asarray(ours.output), want.output, rtol=0, atol=1e-4)
