"""Every library program, under both allocators, computes exactly what the RASP evaluator computes."""

from __future__ import annotations

import functools

import pytest

import optracr
from optracr import programs

# Layer counts of the reference compiler on its own configurations (measured with it: benchmarks/README.md).
REFERENCE_LAYERS = {"reverse": 4, "sort": 3, "sort_freq": 5, "hist": 1, "shuffle_dyck2": 8}
# The default (smallest exact model) and the reference's structure (one block per s-op, all in the residual).
MODES = {"default": {}, "reference": {"fold": False, "fuse": False}}


@functools.cache
def _compiled(name: str, allocator: str, causal: bool = False, mode: str = "default") -> optracr.CompiledModel:
    entry = programs.LIBRARY[name]
    return optracr.compile(
        entry.build(), entry.vocab, entry.max_seq_len, allocator=allocator, causal=causal, **MODES[mode]
    )


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("allocator", ["solver", "heuristic"])
@pytest.mark.parametrize("name", sorted(programs.LIBRARY))
def test_library_program_matches_the_evaluator(name: str, allocator: str, mode: str) -> None:
    entry = programs.LIBRARY[name]
    report = optracr.verify(_compiled(name, allocator, mode=mode), entry.build(), num_samples=500)
    assert report.ok, str(report)


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("name", sorted(name for name, entry in programs.LIBRARY.items() if entry.causal))
def test_causal_library_program_matches_the_causal_evaluator(name: str, mode: str) -> None:
    entry = programs.LIBRARY[name]
    report = optracr.verify(_compiled(name, "solver", causal=True, mode=mode), entry.build(), num_samples=500)
    assert report.ok, str(report)


@pytest.mark.parametrize(("name", "layers"), sorted(REFERENCE_LAYERS.items()))
def test_heuristic_in_the_reference_structure_reproduces_the_reference_layer_counts(name: str, layers: int) -> None:
    assert _compiled(name, "heuristic", mode="reference").config.num_layers == layers


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("name", sorted(programs.LIBRARY))
def test_solver_is_never_deeper_nor_larger_at_equal_depth(name: str, mode: str) -> None:
    solver, heuristic = _compiled(name, "solver", mode=mode), _compiled(name, "heuristic", mode=mode)
    assert solver.config.num_layers <= heuristic.config.num_layers
    if solver.config.num_layers == heuristic.config.num_layers:
        assert solver.params_total <= heuristic.params_total
