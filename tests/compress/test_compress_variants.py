"""Scrambled variants (compress.variants, compress.checking): the same function in a basis with no labels.

Checked against the original compiled model's own Haiku forward pass on every input of two library programs,
and against hand-computed facts: rotations keep inner products, a non-orthogonal residual map or a head map
without its inverse on the other side changes the function, ReLU commutes with permutations and positive
scales only.
"""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest

import optracr
from optracr import compress, programs
from optracr.compress import variants
from optracr.errors import CompileError

PROGRAMS = ("frac_prevs", "sort")  # numerical and categorical output; sort has 3 layers with heads and MLPs
PARTS = {
    "residual": dict(residual=True, heads=False, mlp=False),
    "heads": dict(residual=False, heads=True, mlp=False),
    "mlp": dict(residual=False, heads=False, mlp=True),
    "all": dict(residual=True, heads=True, mlp=True),
}


@pytest.fixture(scope="module", params=PROGRAMS)
def paper_model(request) -> optracr.CompiledModel:
    entry = programs.get_program(request.param)
    return optracr.compile(entry.build(), entry.vocab, entry.max_seq_len, fold=False, fuse=False)


@pytest.mark.parametrize("part", sorted(PARTS))
def test_every_rotation_variant_reproduces_the_original_on_every_input(paper_model, part):
    variant = compress.scramble(paper_model, seed=7, **PARTS[part])
    check = compress.check_variant(variant, progress=False)
    assert check.exhaustive and check.num_inputs == sum(4**n for n in range(1, 6))
    assert check.exact and check.max_abs_error < 1e-9, check
    assert check.agreement == 1.0
    assert variant.exact


def test_rotated_residual_has_no_one_hot_directions(paper_model):
    variant = compress.scramble(paper_model, seed=7)
    rotation = variant.scrambling.residual
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(rotation.shape[1]), atol=1e-12)
    # Residual direction i of the original is row i of the rotation: none is (close to) a standard basis vector.
    assert np.abs(rotation).max() < 0.99
    original, scrambled = paper_model.layered.dense(), variant.weights
    for before, after in ((original.token_embed, scrambled.token_embed), (original.pos_embed, scrambled.pos_embed)):
        written = np.any(before, axis=1)  # (BOS has no position direction)
        assert np.all(np.count_nonzero(before[written], axis=1) <= 2)  # one-hot (plus the constant "one")
        assert np.all(np.count_nonzero(np.abs(after[written]) > 1e-6, axis=1) > 2)
        assert np.all(np.abs(after[written]).max(axis=1) < 0.99 * np.linalg.norm(after[written], axis=1))
    # The rotation keeps inner products between embedding rows.
    np.testing.assert_allclose(scrambled.token_embed @ scrambled.token_embed.T,
                               original.token_embed @ original.token_embed.T, atol=1e-12)


def test_head_and_mlp_maps_hide_which_units_compute_what(paper_model):
    variant = compress.scramble(paper_model, seed=7, residual=False)
    for before, after in zip(paper_model.layered.dense().layers, variant.weights.layers):
        if np.any(before.mlp_in):
            assert not np.allclose(before.mlp_in, after.mlp_in)
        if np.any(before.query):
            assert not np.allclose(before.query, after.query)
            # The bilinear form each head computes is unchanged: W_Q W_K^T and W_V W_O.
            np.testing.assert_allclose(after.query @ after.key.T, before.query @ before.key.T, atol=1e-9)
            np.testing.assert_allclose(after.value @ after.output, before.value @ before.output, atol=1e-12)


def test_seeds_draw_different_variants_and_a_seed_repeats_itself(paper_model):
    first, again, other = (compress.scramble(paper_model, seed=s).weights.token_embed for s in (1, 1, 2))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_a_residual_map_that_is_not_orthogonal_changes_the_function(paper_model):
    dense = paper_model.layered.dense()
    width = dense.token_embed.shape[1]
    stretched = variants.random_orthogonal(np.random.default_rng(0), width) * np.linspace(0.5, 1.5, width)[None, :]
    scrambling = variants.random_scrambling(dense, 0, heads=False, mlp=False, residual_map=stretched)
    check = compress.check_variant(variants.ScrambledModel(paper_model, scrambling), progress=False)
    assert not scrambling.exact and not check.exact and check.max_abs_error > 1e-3


def test_relu_commutes_with_permutation_and_positive_scaling_only():
    rng = np.random.default_rng(0)
    x, w_in, w_out = rng.normal(size=(5, 4)), rng.normal(size=(4, 6)), rng.normal(size=(6, 3))
    relu = lambda a: np.maximum(a, 0.0)  # noqa: E731
    permutation, scale = rng.permutation(6), rng.uniform(0.5, 2.0, 6)
    shuffled = relu(x @ w_in[:, permutation] * scale) @ (w_out[permutation] / scale[:, None])
    np.testing.assert_allclose(shuffled, relu(x @ w_in) @ w_out, atol=1e-12)
    rotation = variants.random_orthogonal(rng, 6)
    assert not np.allclose(relu(x @ w_in @ rotation) @ (rotation.T @ w_out), relu(x @ w_in) @ w_out, atol=1e-3)


def test_learned_compression_is_a_variant_with_its_accuracy_reported():
    entry = programs.get_program("frac_prevs")
    model = optracr.compile(entry.build(), entry.vocab, entry.max_seq_len, fold=False, fuse=False)
    compressed = compress.compress(model, 6, steps=300, learning_rate=1e-2, progress=False)
    variant = compress.compressed_variant(compressed, seed=3)
    assert variant.d == 6 and variant.weights.token_embed.shape == (len(model.input_tokens), 6)
    np.testing.assert_array_equal(variant.scrambling.residual, compressed.W)
    check = compress.check_variant(variant, progress=False)
    assert not variant.exact and check.num_inputs == 1364 and 0.0 <= check.agreement <= 1.0
    # Scrambled heads and MLP units change nothing on top: the same W alone gives the same outputs.
    plain = compress.check_variant(compress.compressed_variant(compressed), progress=False)
    assert check.mse == pytest.approx(plain.mse, rel=1e-6, abs=1e-12)
    # and the variant runs as the compressed model does (float32 there, float64 here).
    tokens = ["BOS", "x", "a", "x"]
    np.testing.assert_allclose(variant.apply(tokens).output, compressed.apply(tokens).output, atol=1e-4)


def test_saved_variant_loads_with_the_same_weights_and_outputs(paper_model, tmp_path):
    variant = compress.scramble(paper_model, seed=5)
    check = compress.check_variant(variant, progress=False)
    directory = compress.save_variant(variant, tmp_path / "variant", check=check)
    assert sorted(p.name for p in directory.iterdir()) == ["original", "scrambled.json", "scrambled.safetensors"]
    loaded = compress.load_variant(directory)
    for name, array in variant.weights.arrays().items():
        np.testing.assert_array_equal(loaded.weights.arrays()[name], array)
    np.testing.assert_array_equal(loaded.scrambling.residual, variant.scrambling.residual)
    tokens = ["BOS", *paper_model.input_tokens[:3]]
    assert loaded.apply(tokens).decoded == variant.apply(tokens).decoded
    np.testing.assert_allclose(loaded.apply(tokens).output, paper_model.apply(tokens).output, atol=1e-9)
    with pytest.raises(optracr.export.ModelFileError, match="no model.json"):
        optracr.load(directory)  # a variant is never mistaken for its original


def test_tampered_variant_is_refused(paper_model, tmp_path):
    from safetensors import numpy as safetensors_numpy

    directory = compress.save_variant(compress.scramble(paper_model, seed=5), tmp_path / "variant")
    weights = directory / "scrambled.safetensors"
    tensors = safetensors_numpy.load_file(str(weights))
    tensors["weights.token_embed"] = tensors["weights.token_embed"] + 1e-3
    safetensors_numpy.save_file(tensors, str(weights))
    with pytest.raises(optracr.export.ModelFileError, match=f"{re.escape(str(weights))} is damaged or was changed"):
        compress.load_variant(directory)
    # with the digest brought up to date, the weights are still checked against the saved scrambling
    document = json.loads((directory / "scrambled.json").read_text())
    document["weights_sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    (directory / "scrambled.json").write_text(json.dumps(document))
    with pytest.raises(optracr.export.ModelFileError, match="weights.token_embed is not the saved scrambling"):
        compress.load_variant(directory)


def test_a_version_1_variant_without_a_digest_still_loads(paper_model, tmp_path):
    variant = compress.scramble(paper_model, seed=5)
    directory = compress.save_variant(variant, tmp_path / "variant")
    document = json.loads((directory / "scrambled.json").read_text())
    del document["weights_sha256"]
    (directory / "scrambled.json").write_text(json.dumps({**document, "format_version": 1}))
    loaded = compress.load_variant(directory)
    assert all(np.array_equal(loaded.weights.arrays()[name], array) for name, array in variant.weights.arrays().items())


def test_a_damaged_or_foreign_variant_file_is_refused_naming_its_path(paper_model, tmp_path):
    directory = compress.save_variant(compress.scramble(paper_model, seed=5), tmp_path / "variant")
    assert json.loads((directory / "scrambled.json").read_text())["format_version"] == 2
    weights = directory / "scrambled.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(optracr.export.ModelFileError, match=f"{re.escape(str(weights))} is damaged"):
        compress.load_variant(directory)
    (directory / "scrambled.json").write_text('{"format": "optracr-model"}')
    with pytest.raises(optracr.export.ModelFileError,
                       match=f"{re.escape(str(directory / 'scrambled.json'))}: field 'format' must be "
                             "'optracr-scrambled', got 'optracr-model'; this is not a saved variant"):
        compress.load_variant(directory)
    weights.unlink()
    with pytest.raises(optracr.export.ModelFileError, match=f"{re.escape(str(directory))}: no scrambled.safetensors"):
        compress.load_variant(directory)


def test_scrambling_errors_name_what_is_wrong(paper_model):
    dense = paper_model.layered.dense()
    with pytest.raises(CompileError, match="scale must be at least 1"):
        compress.scramble(paper_model, seed=0, scale=0.5)
    good = variants.random_scrambling(dense, 0)
    with pytest.raises(CompileError, match="MLP scales must be positive"):
        variants.Scrambling(good.kind, good.residual, good.query_key, good.value_output, good.mlp_permutation,
                            tuple(-scale for scale in good.mlp_scale))
    with pytest.raises(CompileError, match="permutation of its MLP units"):
        variants.Scrambling(good.kind, good.residual, good.query_key, good.value_output,
                            tuple(np.full_like(p, len(p)) for p in good.mlp_permutation), good.mlp_scale)
    with pytest.raises(CompileError, match="does not fit the model"):
        variants.ScrambledModel(paper_model, variants.random_scrambling(dense, 0, residual_map=np.eye(3)))
