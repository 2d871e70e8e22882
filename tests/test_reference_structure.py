"""The reference-structure mode (no folding, no fusion) reproduces the models optracr built before either.

Layers and parameters of every library program under the solver, as measured before folding and fusion
existed (README "Model sizes", solver column, at the commit that introduced the LayeredModel).
"""

from __future__ import annotations

import pytest

import optracr
from optracr import programs

BEFORE_FOLDING_AND_FUSION = {
    "length": (1, 600), "length_numerical": (1, 420), "length_long": (1, 2_728), "reverse": (4, 14_448),
    "pair_balance": (2, 2_829), "shuffle_dyck": (5, 11_476), "shuffle_dyck2": (7, 34_650),
    "shuffle_dyck3": (8, 59_641), "hist": (1, 988), "sort_unique": (2, 2_300), "sort": (3, 12_298),
    "sort_by_reversed_index": (4, 24_168), "sort_freq": (5, 43_956), "frac_prevs": (2, 630),
    "double_frac_prevs": (2, 675), "shift_by": (1, 576), "detect_pattern": (3, 3_952), "count_less_freq": (2, 3_132),
    "count": (1, 1_608), "nary_sequencemap": (3, 4_180),
}


@pytest.mark.parametrize(("name", "expected"), sorted(BEFORE_FOLDING_AND_FUSION.items()))
def test_reference_structure_reproduces_the_unfolded_unfused_models(name: str, expected: tuple[int, int]) -> None:
    entry = programs.LIBRARY[name]
    model = optracr.compile(entry.build(), entry.vocab, entry.max_seq_len, fold=False, fuse=False)
    assert (model.config.num_layers, model.params_total) == expected
    assert not any(location.folded or location.fused_with for location in model.layered.locations.values())


def test_the_default_mode_is_never_deeper_than_the_reference_structure() -> None:
    deeper = []
    for name, (layers, _) in BEFORE_FOLDING_AND_FUSION.items():
        entry = programs.LIBRARY[name]
        if optracr.compile(entry.build(), entry.vocab, entry.max_seq_len).config.num_layers > layers:
            deeper.append(name)
    assert deeper == []
