"""Blocks and their numpy semantics against hand-computed values (optracr/craft/blocks.py)."""

from __future__ import annotations

import numpy as np
import pytest

from optracr.craft import bases, blocks, numpy_model, operators
from optracr.errors import CompileError

D = bases.BasisDirection
X, Y, H = D("x"), D("y"), D("_h", 0)
RESIDUAL = bases.space([D("one"), X, Y])


def _residual(rows: list[list[float]]) -> bases.VectorInBasis:
    return bases.VectorInBasis(RESIDUAL, np.array(rows))


def _relu_mlp() -> blocks.MLP:
    """y = ReLU(x - 1)."""
    hidden = bases.space([H])
    fst = operators.Linear(bases.space([D("one"), X]), hidden, np.array([[-1.0], [1.0]]))
    snd = operators.Linear(hidden, bases.space([Y]), np.array([[1.0]]))
    return blocks.MLP(fst, snd)


def test_mlp_applies_relu_between_its_layers() -> None:
    out = _relu_mlp().apply(_residual([[1.0, 0.0, 0.0], [1.0, 3.0, 0.0], [1.0, 0.5, 9.0]]))
    assert out.space == bases.space([Y])
    np.testing.assert_allclose(out.magnitudes, [[0.0], [2.0], [0.0]])


def test_mlp_requires_matching_hidden_spaces() -> None:
    mlp = _relu_mlp()
    with pytest.raises(CompileError, match="hidden space"):
        blocks.MLP(mlp.fst, operators.Linear(bases.space([D("_h", 1)]), bases.space([Y]), np.ones((1, 1))))


def _uniform_head() -> blocks.AttentionHead:
    """Every key logit 0 (uniform attention), value x copied to y."""
    w_qk = operators.Bilinear(bases.space([D("one")]), bases.space([D("one")]), np.zeros((1, 1)))
    w_ov = operators.Linear(bases.space([X]), bases.space([Y]), np.array([[1.0]]))
    return blocks.AttentionHead(w_qk, w_ov)


def test_head_averages_values_with_uniform_logits() -> None:
    out = _uniform_head().apply(_residual([[1.0, 0.0, 0.0], [1.0, 3.0, 0.0], [1.0, 6.0, 0.0]]))
    np.testing.assert_allclose(out.magnitudes[:, 0], [3.0, 3.0, 3.0])


def test_head_under_a_causal_mask_attends_only_to_earlier_keys() -> None:
    causal = numpy_model.attention_mask([False, False, False], causal=True)
    out = _uniform_head().apply(_residual([[1.0, 0.0, 0.0], [1.0, 3.0, 0.0], [1.0, 6.0, 0.0]]), causal)
    np.testing.assert_allclose(out.magnitudes[:, 0], [0.0, 1.5, 3.0])


def test_attention_mask_removes_pad_keys() -> None:
    residual = _residual([[1.0, 0.0, 0.0], [1.0, 3.0, 0.0], [1.0, 6.0, 0.0]])
    out = _uniform_head().apply(residual, numpy_model.attention_mask([False, False, True], causal=False))
    np.testing.assert_allclose(out.magnitudes[:, 0], [1.5, 1.5, 1.5])


def test_attention_mask_is_query_by_key_with_pad_keys_off_and_later_keys_off_when_causal() -> None:
    np.testing.assert_array_equal(
        numpy_model.attention_mask([False, False, True], causal=False),
        [[True, True, False], [True, True, False], [True, True, False]],
    )
    np.testing.assert_array_equal(
        numpy_model.attention_mask([False, False, True], causal=True),
        [[True, False, False], [True, True, False], [True, True, False]],
    )


def test_head_logits_follow_query_w_qk_key() -> None:
    """Logit 10 x_q x_k: a query with x = 1 attends mostly to the key with the larger x."""
    w_qk = operators.Bilinear(bases.space([X]), bases.space([X]), np.array([[10.0]]))
    head = blocks.AttentionHead(w_qk, operators.Linear(bases.space([X]), bases.space([Y]), np.eye(1)))
    weights = head.attention(_residual([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
    np.testing.assert_allclose(weights[0], np.exp([10.0, 0.0]) / np.exp([10.0, 0.0]).sum())
    np.testing.assert_allclose(weights[1], [0.5, 0.5])


def test_head_sizes_are_min_of_their_spaces() -> None:
    three = bases.space([D("q", i) for i in range(3)])
    w_qk = operators.Bilinear(three, bases.space([X]), np.zeros((3, 1)))
    w_ov = operators.Linear(bases.space([X]), three, np.zeros((1, 3)))
    head = blocks.AttentionHead(w_qk, w_ov)
    assert (head.key_size, head.value_size) == (1, 1)


def test_multi_head_sums_heads_each_under_the_mask() -> None:
    residual = _residual([[1.0, 0.0, 0.0], [1.0, 3.0, 0.0], [1.0, 6.0, 0.0]])
    multi = blocks.MultiAttentionHead((_uniform_head(), _uniform_head()))
    np.testing.assert_allclose(multi.apply(residual).magnitudes[:, 0], [6.0, 6.0, 6.0])
    causal = numpy_model.attention_mask([False, False, False], causal=True)
    np.testing.assert_allclose(multi.apply(residual, causal).magnitudes[:, 0], [0.0, 3.0, 6.0])


def test_series_adds_each_output_before_the_next_block() -> None:
    """The head writes mean(x) = 3 into y; the MLP then reads that y and writes 2y into x."""
    hidden = bases.space([H])
    double_y = blocks.MLP(
        operators.Linear(bases.space([Y]), hidden, np.array([[1.0]])),
        operators.Linear(hidden, bases.space([X]), np.array([[2.0]])),
    )
    series = blocks.SeriesWithResiduals((_uniform_head(), double_y))
    out = series.apply(_residual([[1.0, 0.0, 0.0], [1.0, 3.0, 0.0], [1.0, 6.0, 0.0]]))
    assert set(out.space.basis) == {X, Y}
    np.testing.assert_allclose(out.project(bases.space([Y, X])).magnitudes, [[3.0, 6.0]] * 3)


def test_blocks_reject_a_residual_lacking_their_inputs() -> None:
    with pytest.raises(CompileError, match="lacks the block's input directions"):
        _relu_mlp().apply(bases.VectorInBasis(bases.space([Y]), np.zeros((2, 1))))



def test_mlps_combined_in_parallel_add_up_and_keep_every_hidden_unit() -> None:
    def mlp(name: str, reads: str, writes: str, weight: float) -> blocks.MLP:
        hidden = bases.space([D(f"_{name}_hidden", 0), D(f"_{name}_hidden", 1)])
        return blocks.MLP(
            operators.Linear(bases.space([D(reads)]), hidden, np.array([[weight, -weight]])),
            operators.Linear(hidden, bases.space([D(writes)]), np.array([[1.0], [-1.0]])),
        )

    first, second = mlp("f", "x", "y", 2.0), mlp("g", "x", "z", -3.0)
    combined = blocks.combine_in_parallel((first, second))
    assert combined.hidden_width == 4
    residual = bases.VectorInBasis(bases.space([D("x"), D("y"), D("z")]), np.array([[1.5], [-0.5]]) * [1, 0, 0])
    expected = first.apply(residual).project(combined.output_space) + second.apply(residual).project(
        combined.output_space
    )
    np.testing.assert_allclose(combined.apply(residual).magnitudes, expected.magnitudes)
    np.testing.assert_allclose(combined.apply(residual).project(bases.space([D("y")])).magnitudes[:, 0], [3.0, -1.0])
    with pytest.raises(CompileError, match="disjoint"):
        blocks.combine_in_parallel((first, first))
