"""The reference's model interface, driven as code written from the reference's documentation would drive it."""

from __future__ import annotations

import numpy as np
import pytest

import optracr
from optracr import compiling
from optracr import assemble, export, rasp
from optracr.errors import InputError


def _reference_forward(model: export.ReferenceCompatibleModel, batch: np.ndarray) -> np.ndarray:
    """The reference's documented forward pass from ``params`` and ``model_config`` alone: the final residual.

    Embeddings are looked up; each layer adds softmax(q k^T / sqrt(key_size)) v W_o + b (PAD keys and, when
    causal, later keys masked), then relu(x W_1 + b_1) W_2 + b_2; every projection is ``x @ w + b``.
    """
    params, config = model.params, model.model_config
    pad = model.input_encoder.pad_encoding
    x = params["token_embed"]["embeddings"][batch] + params["pos_embed"]["embeddings"][np.arange(batch.shape[1])]
    allowed = np.broadcast_to((batch != pad)[:, None, None, :], (len(batch), 1, batch.shape[1], batch.shape[1]))
    if config.causal:
        allowed = allowed & np.tril(np.ones((batch.shape[1],) * 2, dtype=bool))
    for layer in range(config.num_layers):
        attn = {name: params[f"transformer/layer_{layer}/attn/{name}"] for name in ("query", "key", "value", "linear")}
        q, k, v = ((x @ attn[n]["w"] + attn[n]["b"]).reshape(*x.shape[:2], config.num_heads, config.key_size)
                   for n in ("query", "key", "value"))
        logits = np.where(allowed, np.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(config.key_size), -1e30)
        weights = np.exp(logits - logits.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        heads = np.einsum("bhqk,bkhd->bqhd", weights, v).reshape(*x.shape[:2], -1)
        x = x + heads @ attn["linear"]["w"] + attn["linear"]["b"]
        mlp = {n: params[f"transformer/layer_{layer}/mlp/{n}"] for n in ("linear_1", "linear_2")}
        x = x + np.maximum(x @ mlp["linear_1"]["w"] + mlp["linear_1"]["b"], 0) @ mlp["linear_2"]["w"] + mlp["linear_2"]["b"]
    return x


def _decode_from_residual(model: export.ReferenceCompatibleModel, residual: np.ndarray, label: str) -> list:
    """The output read off the residual through ``residual_labels`` and the output encoder, as a user would."""
    rows = {name: i for i, name in enumerate(model.residual_labels)}
    if not hasattr(model.output_encoder, "encoding_map"):  # numerical: one direction named by the label
        return [float(value) for value in residual[:, rows[label]]]
    classes = list(model.output_encoder.encoding_map)
    columns = residual[:, [rows[f"{label}:{value}"] for value in classes]]
    return [classes[int(np.argmax(row))] if row.max() > 0.5 else None for row in columns]


def test_reference_forward_from_params_matches_apply_on_every_input(case, compiled, every_input, matches) -> None:
    """Reads the output s-op off the residual by its labels, so it needs the reference structure (a folded
    output has no directions of its own: the unembedding composes it)."""
    model = compiled(*case, reference_structure=True)
    reference = export.reference_model(model)
    inputs = every_input(model)
    batch = np.array([reference.input_encoder.encode(tokens + [model.pad] * (len(inputs[-1]) - len(tokens)))
                      for tokens in inputs])
    residual = _reference_forward(reference, batch)
    want = model.apply_batch(inputs)
    numerical = model.output_encoding == rasp.Encoding.NUMERICAL
    for row, (tokens, expected) in enumerate(zip(inputs, want)):
        got = _decode_from_residual(reference, residual[row, 1 : len(tokens)], model.output_label)
        assert matches(got, expected, numerical), tokens


def test_reference_apply_matches_apply_and_has_the_reference_shapes(case, compiled, every_input, matches) -> None:
    model = compiled(*case)
    reference = export.reference_model(model)
    config, numerical = reference.model_config, model.output_encoding == rasp.Encoding.NUMERICAL
    for tokens in every_input(model)[:: 7]:
        result = reference.apply(tokens)
        assert result.decoded[0] == model.bos
        assert matches(result.decoded[1:], model.apply(tokens).decoded[1:], numerical)
        length, width = len(tokens), len(reference.residual_labels)
        assert len(result.residuals) == len(result.layer_outputs) == 2 * config.num_layers
        assert all(r.shape == (1, length, width) for r in result.residuals)
        assert [a.shape for a in result.attn_logits] == [(1, config.num_heads, length, length)] * config.num_layers
        assert result.unembedded.shape == (1, length)
        assert result.transformer_output.shape == result.input_embeddings.shape == (1, length, width)


def test_params_have_the_reference_layout_with_zero_biases(case, compiled) -> None:
    reference = export.reference_model(compiled(*case))
    config, width = reference.model_config, len(reference.residual_labels)
    heads = config.num_heads * config.key_size
    expected = {"query": (width, heads), "key": (width, heads), "value": (width, heads), "linear": (heads, width)}
    for layer in range(config.num_layers):
        for name, shape in expected.items():
            module = reference.params[f"transformer/layer_{layer}/attn/{name}"]
            assert module["w"].shape == shape and not module["b"].any()
        linear_1 = reference.params[f"transformer/layer_{layer}/mlp/linear_1"]
        assert linear_1["w"].shape == (width, config.mlp_hidden_size) and not linear_1["b"].any()
    assert config.layer_norm is False and config.num_heads >= 1 and config.mlp_hidden_size >= 1


def test_queries_are_scaled_by_the_square_root_of_the_key_size(compiled) -> None:
    model = compiled("sort", False)
    reference = export.reference_model(model)
    dense, size = model.layered.dense(), reference.model_config.key_size
    layer = next(i for i, layer in enumerate(dense.layers) if layer.query.any())
    query = reference.params[f"transformer/layer_{layer}/attn/query"]["w"]
    np.testing.assert_array_equal(query[:, : dense.key_size], dense.layers[layer].query[:, : dense.key_size] * np.sqrt(size))
    assert size == max(dense.key_size, dense.value_size)


def test_compile_rasp_to_model_returns_the_reference_interface_with_its_bos_and_pad() -> None:
    model = optracr.compile_rasp_to_model(rasp.Map(lambda t: t == "a", rasp.tokens), {"a", "b"}, 3)
    bos, pad = compiling.COMPILER_BOS, compiling.COMPILER_PAD
    assert (bos, pad) == ("compiler_bos", "compiler_pad")  # the reference's defaults
    assert isinstance(model, export.ReferenceCompatibleModel)
    assert model.input_encoder.bos_token == bos and model.input_encoder.encode([bos, "a"]) == [2, 0]
    assert model.output_encoder.encoding_map == {False: 0, True: 1}
    assert model.output_encoder.decoding_map == {0: False, 1: True}
    assert model.apply([bos, "a", "b", pad]).decoded == [bos, True, False, None]
    assert isinstance(model.compiled, optracr.CompiledModel)
    assert "is_a:True" in model.residual_labels or any(label.endswith(":True") for label in model.residual_labels)


def test_numerical_output_has_the_reference_numerical_encoder(compiled) -> None:
    reference = export.reference_model(compiled("frac_prevs", True))
    assert isinstance(reference.output_encoder, export.NumericalEncoder)
    assert not hasattr(reference.output_encoder, "encoding_map")
    assert reference.output_encoder.decode([0.5]) == [0.5]


def test_trailing_pad_is_masked_and_leaves_the_other_positions_unchanged(compiled) -> None:
    reference = export.reference_model(compiled("sort", False))
    short, padded = reference.apply(["BOS", 3, 1]), reference.apply(["BOS", 3, 1, "PAD", "PAD"])
    assert padded.decoded == [*short.decoded, None, None]
    np.testing.assert_array_equal(padded.residuals[-1][0, :3], short.residuals[-1][0])


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (["a", "b"], "must start with the BOS token"),
        (["BOS", "PAD", "a"], "PAD only at the end"),
        (["BOS", "z"], "unknown token"),
        (["BOS", "a", "a", "a", "a"], "at most 3"),
    ],
)
def test_bad_inputs_are_rejected_naming_the_problem(tokens: list, message: str) -> None:
    model = optracr.compile_rasp_to_model(
        rasp.Map(lambda t: t == "a", rasp.tokens), {"a", "b"}, 3, compiler_bos="BOS", compiler_pad="PAD"
    )
    with pytest.raises(InputError, match=message):
        model.apply(tokens)


def test_decoding_an_unknown_id_is_an_error() -> None:
    encoder = export.CategoricalEncoder(["x", "y"])
    with pytest.raises(InputError, match="unknown id"):
        encoder.decode([2])


def _generated_models() -> list:
    from optracr import generate

    models = []
    for seed in range(3):
        generated = generate.generate(seed, num_sops=10)
        models.append(optracr.compile(generated.program, generated.vocab, generated.max_seq_len,
                                      allocator="heuristic", causal=generated.causal))
    return models


def _logits_equal_the_block_wise_forward(model, every_input) -> None:
    reference = export.reference_model(model)
    token_ids, _ = model.layered.batch_token_ids(every_input(model)[:300])
    final = reference.forward(reference.params, token_ids).transformer_output.output
    want = assemble.run_forward(model.layered.block_weights(), token_ids).output
    np.testing.assert_allclose(final @ reference.unembedding, want, rtol=0, atol=1e-9)


def test_reference_forward_equals_the_block_wise_forward(case, compiled, every_input) -> None:
    _logits_equal_the_block_wise_forward(compiled(*case), every_input)


def test_reference_forward_equals_the_block_wise_forward_on_generated_programs(every_input) -> None:
    for model in _generated_models():
        _logits_equal_the_block_wise_forward(model, every_input)
