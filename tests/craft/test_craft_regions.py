"""Fusion candidates: each region's one fused block computes, on every input, what its members computed."""

from __future__ import annotations

import itertools

import pytest

from optracr import craft, frontend, programs
from optracr.errors import EvaluationError

rasp = frontend.rasp


def _stored(block_graph: craft.BlockGraph) -> list[str]:
    """Every s-op the realized graph writes or folds (what can be decoded from its residual)."""
    return [*block_graph.block_by_label, *block_graph.folds]


def _check_every_input(program: rasp.SOp, block_graph: craft.BlockGraph, program_graph, max_inputs: int, run) -> int:
    vocab, max_seq_len = sorted(block_graph.vocab, key=repr), block_graph.max_seq_len
    inputs = [list(xs) for n in range(1, max_seq_len + 1) for xs in itertools.product(vocab, repeat=n)]
    checked = 0
    for xs in inputs[:: max(1, len(inputs) // max_inputs)]:
        residual = run(block_graph, ["BOS", *xs])
        for label in _stored(block_graph):
            expr = program_graph.expr(label)
            try:
                expected = frontend.evaluate(expr, xs)
            except EvaluationError:
                continue
            got = craft.decode(block_graph, residual, label)
            if rasp.is_numerical(expr):
                assert got == pytest.approx([0.0 if e is None else float(e) for e in expected], abs=1e-6), (label, xs)
            else:
                assert got == expected, (label, xs)
        checked += 1
    return checked


LIBRARY_WITH_REGIONS = ["reverse", "shuffle_dyck", "shuffle_dyck2", "sort_freq", "detect_pattern"]


@pytest.mark.parametrize("name", LIBRARY_WITH_REGIONS)
def test_every_fusion_candidate_is_exact_on_every_input(name: str, run_graph) -> None:
    entry = programs.LIBRARY[name]
    program = entry.build()
    program_graph = frontend.analyse(program, entry.vocab, entry.max_seq_len)
    block_graph = craft.lower(program_graph)
    assert block_graph.fusion_candidates
    for candidate in block_graph.fusion_candidates:
        realized = block_graph.realized((candidate.id,))
        assert candidate.block in realized.blocks
        assert not set(candidate.members) & set(realized.block_by_id)
        assert not set(candidate.internal) & set(realized.block_by_label)
        assert _check_every_input(program, realized, program_graph, max_inputs=300, run=run_graph) > 0


def test_selector_width_leads_a_region_with_the_maps_after_it() -> None:
    entry = programs.LIBRARY["reverse"]
    block_graph = craft.lower(frontend.analyse(entry.build(), entry.vocab, entry.max_seq_len))
    (candidate,) = block_graph.fusion_candidates
    assert candidate.members == ("length", "opp_idx") and candidate.internal == ("length",)
    assert isinstance(candidate.block.block, craft.SeriesWithResiduals) and candidate.scratch is not None
    assert candidate.block.writes == ("opp_idx",) and candidate.block.num_heads == 1


def _balance_readers(candidate: craft.FusionCandidate, program_graph: frontend.ProgramGraph) -> set[str]:
    """Which numerical balances the candidate's Map members read."""
    read = set()
    for member in candidate.members:
        expr = program_graph.expr(member)
        if isinstance(expr, rasp.Map):
            read.add(program_graph.label_of(expr.inner))
    return {label for label in read if label.startswith("balance_")}


def test_a_region_with_two_numerical_inputs_is_offered_through_an_affine_combination() -> None:
    """Both balances' ``< 0`` Maps and their ``or`` fuse: t = balance_() + lambda balance_{} tells pairs apart."""
    entry = programs.LIBRARY["shuffle_dyck2"]
    program_graph = frontend.analyse(entry.build(), entry.vocab, entry.max_seq_len)
    both = {"balance_()", "balance_{}"}
    offered = [c for c in craft.lower(program_graph).fusion_candidates if _balance_readers(c, program_graph) == both]
    assert offered and all(len(c.members) == 3 for c in offered)
    unfolded = craft.lower(program_graph, fold=False).fusion_candidates  # the fuse pass offers it without folding
    assert any(_balance_readers(c, program_graph) == both for c in unfolded)
    assert not craft.lower(program_graph, fuse=False).fusion_candidates


def test_an_input_that_may_be_absent_must_reach_every_output() -> None:
    """``early`` reads only ``maybe``'s sibling: fused, an absent ``maybe`` would silence it too."""
    maybe = rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices, lambda k, q: k == q - 1), rasp.tokens).named("maybe")
    early = rasp.Map(lambda t: t + "!", rasp.Map(lambda t: t, rasp.tokens, simplify=False).named("copy"))
    pair = rasp.SequenceMap(lambda a, b: a + b, early.named("early"), maybe).named("pair")
    both = rasp.SequenceMap(lambda p, e: p + e, pair, early).named("both")
    block_graph = craft.lower(frontend.analyse(both, {"a", "b"}, 3), fold=False)
    for candidate in block_graph.fusion_candidates:
        outputs = set(candidate.block.writes)
        assert not ({"pair", "early"} <= set(candidate.members) and "early" in outputs), candidate.members


def test_without_fuse_no_candidates_are_offered() -> None:
    entry = programs.LIBRARY["reverse"]
    program_graph = frontend.analyse(entry.build(), entry.vocab, entry.max_seq_len)
    assert craft.lower(program_graph, fuse=False).fusion_candidates == ()


def test_the_width_cap_drops_wider_regions() -> None:
    entry = programs.LIBRARY["reverse"]
    program_graph = frontend.analyse(entry.build(), entry.vocab, entry.max_seq_len)
    assert craft.lower(program_graph, fused_width_cap=18).fusion_candidates == ()
    assert len(craft.lower(program_graph, fused_width_cap=19).fusion_candidates) == 1


def test_a_selector_width_outside_the_region_is_read_as_its_stored_value(run_graph) -> None:
    """Regression: a region reading a selector width it does not contain once read that width's scratch."""
    width = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)).named("width")
    first = rasp.SequenceMap(lambda t, w: f"{t}{w}", rasp.tokens, width).named("first")
    second = rasp.SequenceMap(lambda f, i: f"{f}{i}", first, rasp.indices).named("second")
    program_graph = frontend.analyse(second, {"a", "b"}, 3)
    block_graph = craft.lower(program_graph, fold=False)
    region = [c for c in block_graph.fusion_candidates if set(c.members) == {"first", "second"}]
    assert region and "_width_selector_width_attn" not in {d.name for d in region[0].block.block.input_space}
    realized = block_graph.realized((region[0].id,))
    assert _check_every_input(second, realized, program_graph, max_inputs=100, run=run_graph) > 0


@pytest.mark.parametrize("source", ["indices", "tokens"])
def test_fused_region_applies_functions_to_the_values_themselves_not_their_floats(source: str) -> None:
    # A table keyed on repr tells 1 from 1.0: the fused MLP must see what the evaluator sees.
    import optracr

    table = lambda *args: len(repr(args)) % 3  # noqa: E731
    zero_one = rasp.numerical(rasp.Map(lambda x: 1 if x in (0, "a") else 0, getattr(rasp, source))).named("s1")
    copied = rasp.categorical(rasp.Map(lambda x: x, zero_one, simplify=False)).named("c1")
    program = rasp.SequenceMap(table, rasp.tokens, copied).named("s2")
    model = optracr.compile(program, {"a", "b"}, 3, allocator="heuristic")
    assert model.allocation.fusion_groups == ("fused:c1+s2",)
    assert optracr.verify(model, program).ok
