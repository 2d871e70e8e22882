"""The assembled transformer: decoding, masking, parameters and labels, against the evaluator."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import optracr
from optracr import craft, frontend, programs, rasp
from optracr.errors import InputError


def _first_a_after(query_is_b_only: bool = False) -> rasp.SOp:
    """Per position: the token at the previous position that is an 'a' (None when there is none)."""
    previous = rasp.Select(rasp.indices, rasp.indices, lambda key, query: key == query - 1).named("previous")
    return rasp.Aggregate(previous, rasp.tokens, default=None).named("previous_token")


def test_empty_selection_decodes_to_none_default() -> None:
    program = _first_a_after()
    model = optracr.compile(program, {"a", "b"}, 4)
    assert model.apply(["BOS", "a", "b", "b"]).decoded == ["BOS", None, "a", "b"]
    assert rasp.evaluate(program, ["a", "b", "b"]) == [None, "a", "b"]


def test_pad_never_changes_a_non_pad_position() -> None:
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    is_a = rasp.numerical(rasp.Map(lambda t: 1 if t == "a" else 0, rasp.tokens))
    program = rasp.numerical(rasp.Aggregate(prevs, is_a, default=0)).named("frac_a")
    model = optracr.compile(program, {"a", "b"}, 6)
    inputs = [["a"], ["b", "a"], ["a", "b", "b", "a", "a", "b"]]
    batched = model.apply_batch([["BOS", *tokens] for tokens in inputs])  # padded to length 7
    for tokens, got in zip(inputs, batched):
        alone = model.apply(["BOS", *tokens]).decoded[1:]
        assert got == pytest.approx(alone, abs=1e-9)
        assert got == pytest.approx(rasp.evaluate(program, tokens), abs=1e-6)  # the stated softmax bound


def test_a_folded_output_is_read_by_the_unembedding_from_its_sources() -> None:
    program = rasp.Map(lambda t: t.upper(), rasp.tokens).named("upper")
    model = optracr.compile(program, {"a", "b"}, 3)
    assert model.config.num_layers == 0 and "upper:A" not in model.residual_labels
    unembed, rows = model.params["unembed"]["w"], {label: i for i, label in enumerate(model.residual_labels)}
    assert model.output_classes == ("A", "B")
    assert unembed[rows["tokens:a"], 0] == 1.0 and unembed[rows["tokens:b"], 1] == 1.0
    assert np.count_nonzero(unembed) == 2
    assert model.apply(["BOS", "b", "a"]).decoded == ["BOS", "B", "A"]


def test_unembedding_is_a_parameter_reading_the_output_space() -> None:
    program = rasp.Map(lambda t: t.upper(), rasp.tokens).named("upper")
    model = optracr.compile(program, {"a", "b"}, 3, fold=False)
    unembed = model.params["unembed"]["w"]
    assert unembed.shape == (model.config.d_model, 2)
    assert model.output_classes == ("A", "B")
    rows = {label: i for i, label in enumerate(model.residual_labels)}
    assert unembed[rows["upper:A"], 0] == 1.0 and unembed[rows["upper:B"], 1] == 1.0
    assert np.count_nonzero(unembed) == 2


def test_residual_labels_are_explicit_and_ordered() -> None:
    program = rasp.Map(lambda t: t.upper(), rasp.tokens).named("upper")
    model = optracr.compile(program, {"b", "a"}, 2, fold=False)
    labels = model.residual_labels
    assert labels[:8] == ("one", "tokens:a", "tokens:b", "tokens:BOS", "tokens:PAD", "indices:0", "indices:1", "upper:A")
    assert labels[8] == "upper:B"
    assert len(labels) == model.config.d_model


def test_parameter_count_matches_the_allocation_and_the_arrays() -> None:
    model = optracr.compile(programs.make_hist(), {"a", "b", "c"}, 5)
    assert model.params_total == model.allocation.parameter_count
    assert 0 < model.params_nonzero < model.params_total


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (["a", "b"], "must start with the BOS token"),
        (["BOS", "z"], "unknown token"),
        (["BOS", "PAD", "a"], "unknown token"),
        (["BOS", "a", "a", "a", "a"], "compiled for at most 3"),
    ],
)
def test_bad_inputs_are_rejected_with_a_clear_error(tokens: list[str], message: str) -> None:
    model = optracr.compile(rasp.Map(lambda t: t, rasp.tokens), {"a", "b"}, 3)
    with pytest.raises(InputError, match=message):
        model.apply(tokens)


def test_compile_rasp_to_model_takes_the_reference_argument_names() -> None:
    program = rasp.Map(lambda t: t == "a", rasp.tokens)
    model = optracr.compile_rasp_to_model(
        program, vocab={"a", "b"}, max_seq_len=3, compiler_bos="<s>", compiler_pad="<pad>", mlp_exactness=100
    )
    assert model.apply(["<s>", "a", "b"]).decoded == ["<s>", True, False]


def test_unknown_allocator_is_rejected_listing_the_choices() -> None:
    with pytest.raises(optracr.CompileError, match="'solver', 'heuristic'"):
        optracr.compile(rasp.Map(lambda t: t, rasp.tokens), {"a"}, 2, allocator="greedy")


def test_apply_returns_every_residual_and_attention_pattern() -> None:
    model = optracr.compile(programs.make_hist(), {"a", "b"}, 4)
    result = model.apply(["BOS", "a", "b", "a"])
    assert len(result.residuals) == 1 + 2 * model.config.num_layers
    assert len(result.sublayer_outputs) == 2 * model.config.num_layers
    assert result.attention[0].shape == (model.config.num_heads, 4, 4)
    for before, added, after in zip(result.residuals, result.sublayer_outputs, result.residuals[1:]):
        np.testing.assert_allclose(before + added, after, atol=1e-12)
    np.testing.assert_allclose(result.attention[0].sum(axis=-1), 1.0, atol=1e-9)
    assert result.decoded == ["BOS", 2, 1, 2]


def test_mixed_type_vocabulary_is_embedded_in_the_order_of_crafts_token_space() -> None:
    """Regression: sorting by (type name, token) compared 1 with 'b' inside tuples and raised TypeError."""
    vocab = {(1, "a"), ("b", 2), 3, "c"}
    program = rasp.Map(lambda t: str(t), rasp.tokens).named("text")
    model = optracr.compile(program, vocab, 3)
    block_graph = craft.lower(frontend.analyse(program, vocab, 3))
    assert model.input_tokens == tuple(d.value for d in block_graph.spaces["tokens"].basis)
    assert model.input_tokens == (3, "c", (1, "a"), ("b", 2), "BOS", "PAD")
    tokens = [("b", 2), 3, (1, "a")]
    assert model.apply(["BOS", *tokens]).decoded[1:] == rasp.evaluate(program, tokens)


def test_compiled_embedding_is_crafts_embedding() -> None:
    program = programs.make_hist()
    model = optracr.compile(program, {"a", "b"}, 4)
    block_graph = craft.lower(frontend.analyse(program, {"a", "b"}, 4))
    assert model.residual_labels == tuple(str(d) for d in block_graph.residual_space().basis)
    token_rows, position_rows = model.params["token_embed"]["embeddings"], model.params["pos_embed"]["embeddings"]
    for tokens in (["BOS"], ["BOS", "b", "a", "b"], ["BOS", "a", "a", "b", "PAD"]):
        embedded = token_rows[[model.input_tokens.index(t) for t in tokens]] + position_rows[: len(tokens)]
        np.testing.assert_array_equal(embedded, craft.embed(block_graph, tokens).magnitudes)
    residual = model.apply(["BOS", "b", "a"]).residuals[0]
    np.testing.assert_array_equal(residual, craft.embed(block_graph, ["BOS", "b", "a"]).magnitudes)


def test_decoding_gives_the_largest_class_only_above_one_half() -> None:
    model = optracr.compile(rasp.Map(lambda t: t.upper(), rasp.tokens).named("upper"), {"a", "b"}, 3)
    output = np.array([[0.2, 0.9], [0.5, 0.1], [0.0, 0.0], [0.51, 0.49]])
    assert model.decode(output) == ["B", None, None, "A"]
    assert model.decode(output) == craft.decode_one_hot(output, model.output_classes)


@pytest.mark.parametrize("name", ["frac_prevs", "sort"])
def test_float32_forward_pass_verifies_exactly(name: str) -> None:
    entry = programs.LIBRARY[name]
    model = optracr.compile(entry.build(), entry.vocab, entry.max_seq_len)
    single = dataclasses.replace(model, float64=False)
    assert single.apply(["BOS", *sorted(entry.vocab, key=repr)[:2]]).output.dtype == np.float32
    report = optracr.verify(single, entry.build(), num_samples=300)
    assert report.ok, str(report)
