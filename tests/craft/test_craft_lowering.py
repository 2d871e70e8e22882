"""``lower``: block order, kinds, reads, residual spaces and order, embedding, errors, and the width table."""

from __future__ import annotations

import numpy as np
import pytest

from optracr import craft, frontend
from optracr.errors import CausalMeaningWarning, CompileError, InputError

rasp = frontend.rasp
D = craft.BasisDirection


def _frac_prevs() -> rasp.SOp:
    is_x = rasp.numerical(rasp.Map(lambda t: 1 if t == "x" else 0, rasp.tokens)).named("is_x")
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ).named("prevs")
    return rasp.numerical(rasp.Aggregate(prevs, is_x, default=0)).named("frac_prevs")


def _lowered(program: rasp.SOp, vocab=frozenset({"x", "y"}), max_seq_len: int = 3, **options) -> craft.BlockGraph:
    return craft.lower(frontend.analyse(program, vocab, max_seq_len, **options), fold=False)


def test_one_block_per_computed_sop_in_topological_order_with_selectors_folded() -> None:
    block_graph = _lowered(_frac_prevs())
    assert [(b.id, b.writes, type(b.block).__name__, b.reads) for b in block_graph.blocks] == [
        ("is_x", ("is_x",), "MLP", ("tokens",)),
        ("frac_prevs", ("frac_prevs",), "AttentionHead", ("indices", "is_x")),
    ]
    assert block_graph.output_label == "frac_prevs"
    assert block_graph.output_encoding == rasp.Encoding.NUMERICAL
    assert block_graph.output_space.basis == (D("frac_prevs"),)


def test_lowering_is_deterministic() -> None:
    program = _frac_prevs()
    first, second = _lowered(program), _lowered(program)
    assert [b.id for b in first.blocks] == [b.id for b in second.blocks]
    assert first.residual_space() == second.residual_space()
    for a, b in zip(first.blocks, second.blocks):
        np.testing.assert_array_equal(a.block.w_qk.matrix if a.heads else a.block.fst.matrix,
                                      b.block.w_qk.matrix if b.heads else b.block.fst.matrix)


def test_spaces_hold_inputs_one_and_every_sop() -> None:
    block_graph = _lowered(_frac_prevs())
    assert [str(d) for d in block_graph.spaces["tokens"].basis] == ["tokens:x", "tokens:y", "tokens:BOS", "tokens:PAD"]
    assert [str(d) for d in block_graph.spaces["indices"].basis] == ["indices:0", "indices:1", "indices:2"]
    assert block_graph.spaces["one"].basis == (D("one"),)
    assert block_graph.spaces["is_x"].basis == (D("is_x"),)


def test_residual_order_is_one_tokens_indices_then_sops_in_block_order() -> None:
    select = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ).named("same")
    width = rasp.SelectorWidth(select).named("count")
    program = rasp.Map(lambda n: n > 1, width).named("repeated")
    names = [str(d) for d in _lowered(program, max_seq_len=2).residual_space().basis]
    assert names == [
        "one", "tokens:x", "tokens:y", "tokens:BOS", "tokens:PAD", "indices:0", "indices:1",
        "count:0", "count:1", "count:2", "_count_selector_width_attn", "repeated:False", "repeated:True",
    ]


def test_embed_follows_the_residual_conventions() -> None:
    block_graph = _lowered(_frac_prevs())
    residual = craft.embed(block_graph, ["BOS", "y", "x", "PAD"])
    nonzero = [{str(d) for d, m in zip(residual.space.basis, row) if m} for row in residual.magnitudes]
    assert nonzero == [
        {"one", "tokens:BOS"},
        {"one", "tokens:y", "indices:0"},
        {"one", "tokens:x", "indices:1"},
        {"one", "tokens:PAD", "indices:2"},
    ]
    mask = craft.attention_mask([token == block_graph.pad for token in ["BOS", "y", "PAD"]], block_graph.causal)
    np.testing.assert_array_equal(mask, [[True, True, False]] * 3)


def test_embedding_tables_hold_one_and_the_token_per_token_and_the_index_after_bos() -> None:
    block_graph = _lowered(_frac_prevs(), vocab=frozenset({"y", "x"}), max_seq_len=2)
    assert craft.input_tokens(block_graph) == ("x", "y", "BOS", "PAD")
    names = [str(d) for d in block_graph.residual_space().basis]

    def nonzero(table: craft.VectorInBasis) -> list[set[str]]:
        return [{names[i] for i in np.flatnonzero(row)} for row in table.magnitudes]

    tokens = nonzero(craft.token_embedding(block_graph))
    assert tokens == [{"one", "tokens:x"}, {"one", "tokens:y"}, {"one", "tokens:BOS"}, {"one", "tokens:PAD"}]
    assert nonzero(craft.position_embedding(block_graph)) == [set(), {"indices:0"}, {"indices:1"}]


def test_token_order_is_the_value_order_for_mixed_types() -> None:
    program = rasp.Map(lambda t: str(t), rasp.tokens).named("text")
    block_graph = _lowered(program, vocab=frozenset({("b", 2), "c", (1, "a"), 3, 2.5}))
    assert craft.input_tokens(block_graph) == (2.5, 3, "c", (1, "a"), ("b", 2), "BOS", "PAD")


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (["y", "x"], "must start with the BOS token"),
        (["BOS", "x", "x", "x", "x"], "compiled for at most 3"),
        (["BOS", "z"], "unknown token"),
        (["BOS", "PAD", "x"], "PAD only at the end"),
    ],
)
def test_embed_rejects_inputs_that_break_the_conventions(tokens, message) -> None:
    with pytest.raises(InputError, match=message):
        craft.embed(_lowered(_frac_prevs()), tokens)


def test_decode_reads_categorical_none_and_numerical_values(run_graph) -> None:
    select = rasp.Select(rasp.indices, rasp.indices, lambda key, query: key == query + 1).named("next")
    program = rasp.Aggregate(select, rasp.tokens).named("shifted")
    block_graph = _lowered(program)
    assert craft.decode(block_graph, run_graph(block_graph, ["BOS", "x", "y"])) == ["y", None]


def test_a_program_graph_lower_accepts_has_been_validated_by_analyse() -> None:
    """Numerical tokens never reach lower: analyse, which builds every ProgramGraph lower takes, rejects them."""
    program = rasp.numerical(rasp.Map(lambda x: x + 1, rasp.numerical(rasp.tokens))).named("next")
    with pytest.raises(CompileError, match=r"rasp\.numerical\(rasp\.Map\(lambda x: x, rasp\.tokens\)\)"):
        _lowered(program, vocab={1, 2})


def test_a_sop_named_one_is_traced_apart_from_the_constant_direction(run_graph) -> None:
    """Regression: the reference accepts any label; ``one`` was refused as the residual's constant."""
    program = rasp.Map(lambda t: t + "!", rasp.tokens).named("one")
    block_graph = _lowered(program, vocab={"x", "y"})
    assert block_graph.spaces["one"].basis == (D("one"),)
    assert [str(d) for d in block_graph.spaces["one#2"].basis] == ["one#2:x!", "one#2:y!"]
    assert craft.decode(block_graph, run_graph(block_graph, ["BOS", "y", "x"])) == ["y!", "x!"]


def test_sop_named_like_a_private_direction_is_traced_apart_from_it(run_graph) -> None:
    width = rasp.numerical(rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ))).named("w")
    clash = rasp.numerical(rasp.Map(lambda n: n + 1, width)).named("_w_selector_width_attn")
    block_graph = _lowered(clash)
    assert block_graph.output_label == "_w_selector_width_attn#2"
    assert craft.decode(block_graph, run_graph(block_graph, ["BOS", "x", "x"])) == [3.0, 3.0]


def test_lower_takes_only_a_program_graph_with_value_sets() -> None:
    with pytest.raises(CompileError, match="lower takes a frontend.ProgramGraph .build it with frontend.analyse."):
        craft.lower(frontend.trace(_frac_prevs()), fold=False)


def test_lower_takes_options_from_the_program_graph() -> None:
    program_graph = frontend.analyse(_frac_prevs(), {"x", "y"}, 3, bos="<s>", pad="_", causal=True)
    block_graph = craft.lower(program_graph, fold=False)
    assert block_graph.input_spec is program_graph.input_spec
    assert (block_graph.bos, block_graph.pad, block_graph.causal) == ("<s>", "_", True)
    assert craft.input_tokens(block_graph) == ("x", "y", "<s>", "_")
    assert D("tokens", "<s>") in block_graph.block_by_label["frac_prevs"].block.input_space
    with pytest.raises(TypeError):
        craft.lower(program_graph, causal=False, fold=False)  # type: ignore[call-arg]


def test_bad_options_are_rejected_before_lowering() -> None:
    with pytest.raises(CompileError, match="causal must be False, True or 'strict'"):
        frontend.analyse(_frac_prevs(), {"x", "y"}, 3, causal="yes")
    with pytest.raises(CompileError, match="also in the vocabulary"):
        frontend.analyse(_frac_prevs(), {"x", "y"}, 3, bos="x")
    with pytest.raises(frontend.ProgramErrors, match="3 problem"):
        frontend.analyse(_frac_prevs(), {"x", "y"}, 3, bos="x", pad="x")


def test_linear_sequence_map_of_numerical_inputs_with_categorical_output_is_a_lookup_on_a_categorical_copy() -> None:
    frac = _frac_prevs()
    program = rasp.LinearSequenceMap(frac, frac, 1.0, 1.0).named("total")
    block_graph = _lowered(program)
    assert block_graph.block_by_label["total"].reads == (f"{frac.label}_as_categorical",)


def test_causal_mask_comes_from_the_runner(run_graph) -> None:
    """Heads carry no causal flag: the same head is causal or not by the mask ``run`` builds from the graph."""
    is_x = rasp.numerical(rasp.Map(lambda t: 1 if t == "x" else 0, rasp.tokens)).named("is_x")
    every = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.TRUE)
    program = rasp.numerical(rasp.Aggregate(every, is_x, default=0)).named("frac")
    plain_graph = _lowered(program, max_seq_len=4)
    with pytest.warns(CausalMeaningWarning, match="'frac': under causal=True"):  # `every` looks ahead
        causal_graph = _lowered(program, max_seq_len=4, causal=True)
    assert causal_graph.causal and not plain_graph.causal
    assert not hasattr(causal_graph.block_by_label["frac"].block, "causal")
    tokens, xs = ["BOS", "x", "y", "x", "PAD"], list("xyx")
    causal_frac = craft.decode(causal_graph, run_graph(causal_graph, tokens))[:3]
    plain_frac = craft.decode(plain_graph, run_graph(plain_graph, tokens))[:3]
    assert rasp.evaluate(program, xs, causal=True) == pytest.approx([1.0, 0.5, 2 / 3])
    assert rasp.evaluate(program, xs) == pytest.approx([2 / 3] * 3)
    assert causal_frac == pytest.approx([1.0, 0.5, 2 / 3])
    assert plain_frac == pytest.approx([2 / 3] * 3)


def test_lowered_block_reads_its_widths_off_its_block() -> None:
    block_graph = _lowered(_frac_prevs())
    head, mlp = block_graph.block_by_label["frac_prevs"], block_graph.block_by_label["is_x"]
    assert (head.num_heads, head.mlp_hidden_width, head.key_size, head.value_size) == (1, 0, 4, 1)
    assert (mlp.num_heads, mlp.mlp_hidden_width, mlp.key_size, mlp.value_size) == (0, 1, 0, 0)


def test_lowered_block_rejects_what_fits_no_sublayer() -> None:
    lowered = _lowered(_frac_prevs()).block_by_label["frac_prevs"]
    mlp = _lowered(_frac_prevs()).block_by_label["is_x"].block
    with pytest.raises(CompileError, match="fits no sublayer"):
        craft.LoweredBlock("x", ("frac_prevs",), craft.SeriesWithResiduals((mlp, lowered.block)), ("is_x",))
    with pytest.raises(CompileError, match="reads an s-op it writes"):
        craft.LoweredBlock("x", ("frac_prevs",), lowered.block, ("frac_prevs",))
    with pytest.raises(CompileError, match="one or more distinct s-ops"):
        craft.LoweredBlock("x", (), lowered.block, ("is_x",))


def test_width_table_rows_match_the_built_blocks() -> None:
    """Rows of the width table in optracr/craft/__init__.py, against blocks built for known value-set sizes."""
    vocab = {1, 2, 3, 4}  # |tokens| = 4
    n = 5  # |indices| = 5
    tokens, indices = rasp.tokens, rasp.indices
    cases = {
        # Map categorical -> categorical: distinct non-None outputs.
        "parity": (rasp.Map(lambda x: x % 2, tokens), (0, 2, 0, 0)),
        # Map categorical -> numerical: one unit per sign.
        "signed": (rasp.numerical(rasp.Map(lambda x: x - 2, tokens)), (0, 2, 0, 0)),
        # SequenceMap categorical: sum over rows of distinct outputs; rows over tokens: x < i has 2 outputs
        # in each row except x = 4 (always False on 0..4).
        "less": (rasp.SequenceMap(lambda x, i: x < i, tokens, indices), (0, 2 + 2 + 2 + 1, 0, 0)),
        # Aggregate categorical: key size min(|Q|+1, |K|+1), value size min(|V|, |O|).
        "copy": (rasp.Aggregate(rasp.Select(indices, tokens, rasp.Comparison.EQ), tokens), (1, 0, min(5, 6), 4)),
        # SelectorWidth categorical: 2N + 1 hidden units, value size 1.
        "count": (rasp.SelectorWidth(rasp.Select(tokens, tokens, rasp.Comparison.LEQ)), (1, 2 * n + 1, 4 + 1, 1)),
    }
    for label, (program, (heads, hidden, key_size, value_size)) in cases.items():
        lowered = craft.lower(frontend.analyse(program.named(label), vocab, n), fold=False).block_by_label[label]
        assert (lowered.num_heads, lowered.mlp_hidden_width, lowered.key_size, lowered.value_size) == (
            heads, hidden, key_size, value_size), label
    rows = [line.split() for line in craft.__doc__.splitlines()]
    assert ["Map", "categorical", "->", "categorical", "0", "#distinct"] in [row[:6] for row in rows]
    assert ["SelectorWidth", "categorical", "1", "2N", "+", "1", "min(|Q|+1,", "|K|+1)", "1"] in rows
    assert ["Aggregate", "categorical", "1", "0", "min(|Q|+1,", "|K|+1)", "min(|V|,", "|O|)"] in rows
