"""``lay_out`` and the ``LayeredModel``: per layer, the same computation as the block graph's own numpy run.

The block graph's run (``_block_graph_run``: each craft block's ``apply`` in order) is the oracle; the block-wise
forward (``run_forward``) applies each sublayer's heads and combined MLP at once, and the dense/Haiku backend
runs padded arrays. All three must agree on every s-op after every sublayer, which pins the combination of a layer's blocks and the
padding of its heads.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from optracr import assemble, craft, frontend, programs, rasp, schedule
from optracr.compiler import scheduling
from optracr.errors import CompileError


def _two_mlps_then_a_third() -> rasp.SOp:
    """Two lookups of tokens (one layer's MLP sublayer, side by side) read by a third MLP a layer later."""
    upper = rasp.Map(lambda t: t.upper(), rasp.tokens).named("upper")
    rank = rasp.Map(lambda t: {"a": 0, "b": 1, "c": 2}[t], rasp.tokens).named("rank")
    return rasp.SequenceMap(lambda u, r: f"{u}{r}", upper, rank).named("joined")


def _build(program: rasp.SOp, vocab: set, max_seq_len: int, allocator: str = "solver", fold: bool = True):
    """The block graph and its layered model; ``fold=False`` is the reference structure (no folding, no fusion)."""
    block_graph = craft.lower(frontend.analyse(program, vocab, max_seq_len), fold=fold, fuse=fold)
    allocation = schedule.allocate(scheduling.scheduling_problem(block_graph), allocator=allocator)
    return block_graph, assemble.lay_out(block_graph, allocation)


def _block_graph_run(block_graph: craft.BlockGraph, tokens: list) -> craft.VectorInBasis:
    """Every block's own ``apply`` in block order, each reading what the ones before it wrote."""
    residual = craft.embed(block_graph, tokens)
    mask = craft.attention_mask([token == block_graph.pad for token in tokens], block_graph.causal)
    for lowered in block_graph.blocks:
        residual = residual + lowered.block.apply(residual, mask).project(residual.space)
    return residual


def _forward(model: assemble.LayeredModel, inputs: list) -> assemble.ForwardTrace:
    """The block-wise forward on one input, batch axis dropped."""
    trace = assemble.run_forward(model.block_weights(), model.token_ids(inputs)[None])
    return assemble.ForwardTrace(trace.output[0], tuple(r[0] for r in trace.residuals), (), ())


def _written_by(model: assemble.LayeredModel, sublayer: int) -> list[str]:
    """The stored s-ops written by sublayer ``sublayer`` or earlier (folded and fused-internal ones have no
    directions of their own)."""
    return [loc.label for loc in model.locations.values() if loc.directions and loc.sublayer <= sublayer]


CASES = [
    ("joined", lambda: _two_mlps_then_a_third(), {"a", "b", "c"}, 3),
    ("sort", lambda: programs.LIBRARY["sort"].build(), programs.LIBRARY["sort"].vocab, 4),
    ("shuffle_dyck2", lambda: programs.LIBRARY["shuffle_dyck2"].build(), programs.LIBRARY["shuffle_dyck2"].vocab, 4),
    ("frac_prevs", lambda: programs.LIBRARY["frac_prevs"].build(), programs.LIBRARY["frac_prevs"].vocab, 4),
]


@pytest.mark.parametrize("fold", [True, False])
@pytest.mark.parametrize(("name", "make", "vocab", "max_seq_len"), CASES, ids=[case[0] for case in CASES])
def test_every_sublayer_of_the_layered_run_agrees_with_the_block_graph_run(name, make, vocab, max_seq_len, fold) -> None:
    block_graph, model = _build(make(), vocab, max_seq_len, fold=fold)
    for tokens in itertools.islice(itertools.product(sorted(vocab), repeat=max_seq_len), 0, None, 7):
        inputs = ["BOS", *tokens]
        expected = _block_graph_run(block_graph, inputs)
        trace = _forward(model, inputs)
        assert len(trace.residuals) == 1 + 2 * model.shape.num_layers
        for sublayer, residual in enumerate(trace.residuals[1:]):
            got = craft.VectorInBasis(model.residual_space, residual)
            for label in _written_by(model, sublayer):
                space = block_graph.spaces[label]
                # Unfused, both runs do the same arithmetic; a fused MLP computes a region's outputs another way,
                # equal within the stated attention leak (1e-6) its inputs carry.
                np.testing.assert_allclose(
                    got.project(space).magnitudes, expected.project(space).magnitudes, atol=1e-9 if not fold else 1e-6,
                    err_msg=f"{label} after sublayer {sublayer} on {inputs}",
                )


@pytest.mark.parametrize(("name", "make", "vocab", "max_seq_len"), CASES, ids=[case[0] for case in CASES])
def test_haiku_backend_agrees_with_the_layered_run_after_every_sublayer(name, make, vocab, max_seq_len) -> None:
    _, model = _build(make(), vocab, max_seq_len)
    compiled = assemble.CompiledModel(model)
    for tokens in itertools.islice(itertools.product(sorted(vocab), repeat=max_seq_len), 0, None, 11):
        inputs = ["BOS", *tokens]
        numpy_trace, haiku_result = _forward(model, inputs), compiled.apply(inputs, backend="jax")
        for ours, theirs in zip(numpy_trace.residuals, haiku_result.residuals, strict=True):
            np.testing.assert_allclose(theirs, ours, atol=1e-9)
        np.testing.assert_allclose(haiku_result.output, numpy_trace.output, atol=1e-9)


def test_a_layers_mlps_keep_their_own_hidden_units() -> None:
    _, model = _build(_two_mlps_then_a_third(), {"a", "b", "c"}, 3, fold=False)
    upper, rank = model.locations["upper"], model.locations["rank"]
    assert upper.layer == rank.layer == 0 and upper.sublayer == rank.sublayer == 1
    layer = model.layers[0]
    assert layer.mlp_hidden_width == len(upper.mlp_units) + len(rank.mlp_units) == 3 + 3
    assert set(upper.mlp_units).isdisjoint(rank.mlp_units)
    assert model.locations["joined"].sublayer == 3


def test_locations_say_where_each_sop_is_computed_and_stored() -> None:
    entry = programs.LIBRARY["frac_prevs"]
    _, model = _build(entry.build(), entry.vocab, 5, fold=False)
    is_x, frac_prevs = model.locations["is_x"], model.locations["frac_prevs"]
    assert (is_x.layer, is_x.sublayer, is_x.heads, is_x.mlp_units, is_x.directions) == (0, 1, (), (0,), ("is_x",))
    assert (frac_prevs.layer, frac_prevs.sublayer, frac_prevs.heads, frac_prevs.mlp_units) == (1, 2, (0,), ())
    assert model.sublayer_contents == ((), ("is_x",), ("frac_prevs",), ())


def test_a_folded_sop_is_located_in_the_reads_that_compose_it() -> None:
    entry = programs.LIBRARY["frac_prevs"]
    _, model = _build(entry.build(), entry.vocab, 5)
    is_x, frac_prevs = model.locations["is_x"], model.locations["frac_prevs"]
    assert (is_x.folded, is_x.block, is_x.layer, is_x.directions) == (True, None, None, ())
    assert (is_x.folded_into, is_x.folded_from) == (("frac_prevs",), ("tokens:x",))
    assert is_x.describe() == "folded: composed into the reads of frac_prevs"
    assert (frac_prevs.layer, frac_prevs.sublayer, frac_prevs.heads) == (0, 0, (0,))
    assert model.sublayer_contents == (("frac_prevs",), ())
    assert "is_x" not in model.residual_labels


def test_selector_width_is_located_in_the_head_and_the_mlp_of_one_layer() -> None:
    _, model = _build(programs.LIBRARY["length"].build(), programs.LIBRARY["length"].vocab, 5)
    length = model.locations["length"]
    assert (length.layer, length.sublayer, length.heads) == (0, 1, (0,))
    assert len(length.mlp_units) == model.layers[0].mlp_hidden_width


def test_dense_weights_are_padded_to_the_shape_and_read_only() -> None:
    _, model = _build(programs.LIBRARY["sort"].build(), programs.LIBRARY["sort"].vocab, 5)
    dense, shape, width = model.dense(), model.shape, model.residual_space.num_dims
    for layer in dense.layers:
        assert layer.query.shape == layer.key.shape == (width, shape.num_heads * shape.key_size)
        assert layer.value.shape == (width, shape.num_heads * shape.value_size)
        assert layer.mlp_in.shape == (width, shape.mlp_hidden_width)
        with pytest.raises(ValueError):
            layer.query[0, 0] = 1.0
    assert dense is model.dense()


def test_a_layer_wider_than_the_shape_is_rejected() -> None:
    _, model = _build(programs.LIBRARY["frac_prevs"].build(), programs.LIBRARY["frac_prevs"].vocab, 5)
    narrow = dataclasses.replace(model.shape, num_heads=0)
    fields = {name: getattr(model, name) for name in model.__dataclass_fields__}
    with pytest.raises(CompileError, match="wider than the model's shape"):
        assemble.LayeredModel(**(fields | {"shape": narrow}))


def test_the_allocation_must_place_every_block() -> None:
    block_graph, model = _build(programs.LIBRARY["frac_prevs"].build(), programs.LIBRARY["frac_prevs"].vocab, 5)
    partial = schedule.Allocation(
        sublayer_of={"is_x": 1}, shape=model.shape, parameter_count=0, status=schedule.AllocationStatus.HEURISTIC
    )
    with pytest.raises(CompileError, match="places no sublayer for blocks"):
        assemble.lay_out(block_graph, partial)
