"""Random programs, compiled and then perturbed or not: where enumerating every input finds a wrong output, the
certificate never says PROVED; on the models as compiled it says PROVED (completeness on small programs)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optracr
from optracr.generate import random_programs

VOCAB = frozenset({"a", "b", "c"})
MAX_SEQ_LEN = 4
MIX = {"map": 2.0, "sequence_map": 1.0, "numerical_aggregate": 2.0, "categorical_aggregate": 3.0,
       "selector_width": 3.0}
_programs = st.one_of(
    random_programs.programs(min_sops=2, max_sops=10, vocab=VOCAB, max_seq_len=MAX_SEQ_LEN, causal=None),
    random_programs.programs(min_sops=2, max_sops=10, vocab=VOCAB, max_seq_len=MAX_SEQ_LEN, mix=MIX, causal=None),
    random_programs.programs(min_sops=2, max_sops=8, vocab=VOCAB, max_seq_len=MAX_SEQ_LEN, mixed_types=True,
                             partial=True),
)
_perturbations = st.sampled_from([("scale_qk", 0.1), ("scale_qk", 0.5), ("scale_ov", 0.5), ("drop_unit", 0.0),
                                  ("shift_bias", 0.5), ("shift_bias", -1.0), ("unembed", 0.4)])


def _compiled(generated: random_programs.GeneratedProgram, fold: bool) -> optracr.CompiledModel:
    return optracr.compile(generated.program, generated.vocab, generated.max_seq_len, allocator="heuristic",
                           causal=generated.causal, fold=fold, fuse=fold, partial_functions="allow")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=_programs, fold=st.booleans(), perturbation=_perturbations, where=st.integers(0, 1000))
def test_certify_never_proves_a_perturbed_model_that_enumeration_finds_wrong(
    generated: random_programs.GeneratedProgram, fold: bool, perturbation: tuple, where: int, perturb
) -> None:
    model = _compiled(generated, fold)
    kind, factor = perturbation
    layers = model.layered.layers
    if kind in ("scale_qk", "scale_ov"):
        places = [(layer, head) for layer, weights in enumerate(layers) for head in range(len(weights.heads))]
    elif kind == "unembed":
        places = [(None, None)]
    else:
        places = [(layer, unit) for layer, weights in enumerate(layers) if weights.mlp is not None
                  for unit in range(weights.mlp.hidden_width)]
    if not places:
        return
    layer, index = places[where % len(places)]
    changed = perturb(model, kind, layer, index, factor)
    report = optracr.verify(changed, generated.program)
    certificate = optracr.certify(changed, float32=False, search_seconds=0.0)
    assert report.exhaustive
    if report.num_mismatches:
        assert not certificate.proved, f"seed {generated.seed}: {report}\n{certificate}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=_programs, fold=st.booleans())
def test_certify_proves_small_random_models_as_compiled(generated: random_programs.GeneratedProgram,
                                                        fold: bool) -> None:
    model = _compiled(generated, fold)
    certificate = optracr.certify(model, search_seconds=0.0)
    report = optracr.verify(model, generated.program)
    assert report.num_mismatches == 0
    assert certificate.proved, f"seed {generated.seed}, {generated.num_sops} s-ops, fold={fold}:\n{certificate}"


def test_weights_so_large_that_bounds_overflow_are_not_proved_without_warnings(library_model, perturb) -> None:
    cases = (("hist", "scale_qk", 0, 0, 1e305), ("hist", "scale_ov", 0, 0, 1e308),
             ("sort", "shift_bias", 0, 0, 1e308), ("sort", "unembed", None, None, 1e308))
    for name, kind, layer, index, factor in cases:
        changed = perturb(library_model(name), kind, layer, index, factor)
        certificate = optracr.certify(changed, search_seconds=0.0)
        assert not certificate.proved, (name, kind)
