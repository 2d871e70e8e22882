"""Random programs compile to models that compute exactly what the RASP evaluator computes, on every input."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optracr
from optracr import frontend
from optracr.generate import random_programs

# Small enough that verify runs every input (3 + 9 + 27 + 81 of them) and one example takes a fraction of a second.
VOCAB = frozenset({"a", "b", "c"})
MAX_SEQ_LEN = 4
# Mixes heavy in selectors and categorical aggregates (which may be None) besides the default one: more
# selector combinations over s-ops that may be None, where the compiled head and the evaluator must agree.
MIXES = (
    None,
    {"map": 2.0, "sequence_map": 1.0, "numerical_aggregate": 2.0, "categorical_aggregate": 3.0, "selector_width": 3.0},
    {"categorical_aggregate": 1.0, "selector_width": 1.0},
)

# Programs hold selectors combined over different s-ops (&, |, ~), numerical keys and queries, and products
# of numerical s-ops (random_programs' docstring); causal ones keep every selector to earlier positions.
_small_programs = st.one_of(
    *(
        random_programs.programs(min_sops=2, max_sops=8, vocab=VOCAB, max_seq_len=MAX_SEQ_LEN, mix=mix, causal=None)
        for mix in MIXES
    )
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=_small_programs, fold=st.booleans())  # fold: the default mode, or fold=False, fuse=False
def test_compiled_random_program_matches_the_evaluator_on_every_input(
    generated: random_programs.GeneratedProgram, fold: bool
) -> None:
    causal = generated.causal
    model = optracr.compile(
        generated.program, generated.vocab, generated.max_seq_len, allocator="heuristic", causal=causal, fold=fold,
        fuse=fold,
    )
    report = optracr.verify(model, generated.program)
    assert report.exhaustive
    assert report.ok, f"seed {generated.seed}, {generated.num_sops} s-ops, causal={causal}, fold={fold}:\n{report}"


@pytest.mark.parametrize("fold", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_deeper_generated_programs_compile_and_stay_exact(seed: int, fold: bool) -> None:
    # 30 s-ops: deep chains of lookups, which a compounded worst-case error bound once refused.
    generated = random_programs.generate(seed, num_sops=30)
    model = optracr.compile(
        generated.program, generated.vocab, generated.max_seq_len, allocator="heuristic", fold=fold, fuse=fold
    )
    report = optracr.verify(model, generated.program)
    assert report.ok, str(report)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=_small_programs)
def test_random_programs_folded_and_fused_by_the_solver_match_the_evaluator(
    generated: random_programs.GeneratedProgram,
) -> None:
    model = optracr.compile(generated.program, generated.vocab, generated.max_seq_len, allocator="solver")
    heuristic = optracr.compile(generated.program, generated.vocab, generated.max_seq_len, allocator="heuristic")
    assert model.config.num_layers <= heuristic.config.num_layers
    report = optracr.verify(model, generated.program)
    assert report.ok, f"seed {generated.seed}, {generated.num_sops} s-ops, chosen {model.allocation.fusion_groups}:\n{report}"


# Selectors that look ahead, compiled with causal=True: the model computes the causal meaning (causal_eval).
_looking_ahead = st.one_of(
    *(
        random_programs.programs(min_sops=2, max_sops=8, vocab=VOCAB, max_seq_len=MAX_SEQ_LEN, mix=mix, causal=False)
        for mix in MIXES
    )
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=_looking_ahead, fold=st.booleans())
def test_random_programs_compiled_causally_compute_their_causal_meaning(
    generated: random_programs.GeneratedProgram, fold: bool
) -> None:
    with warnings.catch_warnings(record=True) as caught:  # a warning per selector that can look ahead, if any
        warnings.simplefilter("always")
        model = optracr.compile(
            generated.program, generated.vocab, generated.max_seq_len, allocator="heuristic", causal=True,
            fold=fold, fuse=fold,
        )
    assert all(issubclass(warning.category, optracr.CausalMeaningWarning) for warning in caught)
    report = optracr.verify(model, generated.program)  # against the causal evaluator
    assert report.exhaustive and report.ok, f"seed {generated.seed}, {generated.num_sops} s-ops, fold={fold}:\n{report}"
    if not caught:  # no selector can pick a later key: the causal and the plain meaning agree everywhere
        inputs = list(frontend.all_inputs(sorted(generated.vocab), generated.max_seq_len))
        causal = frontend.evaluate_batch(generated.program, inputs, causal=True)
        assert causal == frontend.evaluate_batch(generated.program, inputs), f"seed {generated.seed}"


# Type-mixed values (0 / 0.0 / False, 1 / 1.0 / True, some maps keyed on repr) and tables raising KeyError.
_mixed_programs = random_programs.programs(
    min_sops=2, max_sops=8, vocab=VOCAB, max_seq_len=MAX_SEQ_LEN, mixed_types=True, partial=True
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=_mixed_programs, fold=st.booleans())
def test_random_programs_with_type_mixed_values_and_raising_functions_match_the_evaluator(
    generated: random_programs.GeneratedProgram, fold: bool
) -> None:
    """Issue 16: equal values of different types stay apart; inputs where a function raises are undefined."""
    model = optracr.compile(
        generated.program, generated.vocab, generated.max_seq_len, allocator="heuristic", fold=fold, fuse=fold,
        partial_functions="allow",
    )
    report = optracr.verify(model, generated.program)
    context = f"seed {generated.seed}, {generated.num_sops} s-ops, fold={fold}:\n{report}"
    assert report.exhaustive and report.num_mismatches == 0, context
    assert report.num_checked > 0 or report.num_undefined > 0, context


def test_a_generated_program_with_a_raising_function_is_refused_unless_allowed() -> None:
    generated = next(
        g for seed in range(100)
        if _raises_somewhere(g := random_programs.generate(seed, num_sops=6, vocab=VOCAB, max_seq_len=3, partial=True))
    )
    with pytest.raises(optracr.CompileError, match="its function raises on input values .*partial_functions='allow'"):
        optracr.compile(generated.program, generated.vocab, generated.max_seq_len, allocator="heuristic")


def _raises_somewhere(generated: random_programs.GeneratedProgram) -> bool:
    graph = frontend.analyse(generated.program, generated.vocab, generated.max_seq_len, partial_functions="allow")
    return any(graph.dropped_inputs(label) for label in graph.topological_labels())
