"""SelectorWidth as one head plus one MLP: exact for every width 0..max_seq_len, silent at BOS."""

from __future__ import annotations

import functools

import pytest

from optracr import craft, frontend
from optracr.craft import bases
from optracr.errors import CompileError

rasp = frontend.rasp


def _position() -> rasp.SOp:
    """The index, computed from tokens too (a compiled program must read its input)."""
    return rasp.SequenceMap(lambda token, index: index, rasp.tokens, rasp.indices).named("position")


def _width(comparison: rasp.Comparison, numerical: bool, keys: rasp.SOp | None = None) -> rasp.SOp:
    queries = _position() if keys is None else keys
    keys = rasp.indices if keys is None else keys
    width = rasp.SelectorWidth(rasp.Select(keys, queries, comparison).named("select")).named("width")
    return rasp.numerical(width) if numerical else width


@pytest.mark.parametrize("max_seq_len", [16, 40])
@pytest.mark.parametrize("numerical", [False, True])
def test_selector_width_is_exact_for_every_width_up_to_max_seq_len(max_seq_len, numerical, checker) -> None:
    """Regression: the reference's selector width is wrong for every width of 10 or more.

    On a full-length input, LT gives widths 0..N-1 and LEQ gives 1..N, one per position.
    """
    full = [["a"] * max_seq_len]
    for comparison in (rasp.Comparison.LT, rasp.Comparison.LEQ):
        checker(_width(comparison, numerical), {"a"}, max_seq_len, full)


@pytest.mark.parametrize("numerical", [False, True])
@pytest.mark.parametrize("causal", [False, True])
def test_selector_width_of_a_token_comparison_is_exact(numerical, causal, checker, inputs) -> None:
    vocab = {1, 2, 3}
    all_inputs, random_inputs = inputs
    program = _width(rasp.Comparison.LEQ, numerical, keys=rasp.tokens)
    if causal:  # kept to earlier positions (a conjunction, one head); look-ahead selectors: test_craft_causal
        earlier = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
        program = rasp.SelectorWidth(program.selector & earlier).named("width")
        program = rasp.numerical(program) if numerical else program
    checker(program, vocab, 16, all_inputs(vocab, 4) + random_inputs(vocab, 16, 30), causal=causal)


def test_selector_width_of_an_empty_selection_is_zero(checker, inputs) -> None:
    checker(_width(rasp.Comparison.FALSE, numerical=False), {"a", "b"}, 5, inputs[0]({"a", "b"}, 5))


@pytest.mark.parametrize(("numerical", "hidden_width"), [(False, 2 * 12 + 1), (True, 2 * 12)])
def test_selector_width_is_one_head_and_one_mlp_of_known_width(numerical, hidden_width) -> None:
    block_graph = craft.lower(frontend.analyse(_width(rasp.Comparison.LT, numerical), {"a"}, 12), fold=False)
    lowered = block_graph.block_by_label["width"]
    assert (type(lowered.block), lowered.num_heads, lowered.mlp_hidden_width) == (craft.SeriesWithResiduals, 1, hidden_width)
    assert (lowered.key_size, lowered.value_size) == (13, 1)
    head, mlp = lowered.block.blocks
    assert isinstance(head, craft.AttentionHead) and isinstance(mlp, craft.MLP)


def test_selector_width_scratch_is_private_and_follows_its_sop_in_the_residual() -> None:
    block_graph = craft.lower(frontend.analyse(_width(rasp.Comparison.LT, False), {"a"}, 3), fold=False)
    scratch = craft.BasisDirection("_width_selector_width_attn")
    assert block_graph.scratch_spaces["width"].basis == (scratch,)
    head, mlp = block_graph.block_by_label["width"].block.blocks
    assert head.output_space.basis == (scratch,) and scratch in mlp.input_space
    names = [str(d) for d in block_graph.residual_space().basis]
    assert names[-5:] == ["width:0", "width:1", "width:2", "width:3", "_width_selector_width_attn"]


def test_length_rewrites_to_selector_width_and_is_exact(checker, inputs) -> None:
    program = rasp.numerical(rasp.Map(lambda n: n, rasp.length)).named("copy")
    block_graph = checker(program, {"a", "b"}, 6, inputs[0]({"a", "b"}, 6))
    lowered = block_graph.block_by_label["length"]
    assert (lowered.num_heads, len(lowered.mlps)) == (1, 1)


@pytest.mark.parametrize("numerical", [False, True])
def test_selector_width_refuses_query_and_key_errors_its_mlp_cannot_absorb(numerical) -> None:
    """The head's error on 1/(w+1) grows with the selector's input error; past a quarter of the MLP's smallest
    gap (1/(N(N+1)) / 4 at N = 4) the construction must refuse rather than build a model that can be wrong."""
    values = bases.space_of_values("q", [0, 1])
    output = craft.conventions.sop_space(
        "width", rasp.Encoding.NUMERICAL if numerical else rasp.Encoding.CATEGORICAL, range(5)
    )
    build = functools.partial(
        craft.selector_width.selector_width_block, "width", values, values, lambda key, query: key == query, output,
        numerical_output=numerical, max_seq_len=4, bos_direction=craft.conventions.bos_direction("BOS"),
    )
    assert build(selector_error=1e-6).blocks[1].hidden_width > 0  # a tiny error is absorbed
    with pytest.raises(CompileError, match="only .* apart, while the input may be off"):
        build(selector_error=1e-3)
