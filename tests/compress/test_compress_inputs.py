"""Random training inputs: BOS first, 1..max_seq_len vocabulary tokens, PAD after; distinct when asked."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from optracr.compress import inputs

IDS = inputs.TokenIds(vocab_size=4, bos_id=4, pad_id=5, max_seq_len=6)


def _check(batch: np.ndarray, longest: int, distinct: bool) -> None:
    assert batch.shape == (500, IDS.max_seq_len + 1) and batch.dtype == np.int32
    assert (batch[:, 0] == IDS.bos_id).all()
    lengths = (batch[:, 1:] != IDS.pad_id).sum(axis=1)
    assert set(lengths) == set(range(1, longest + 1))
    for row, length in zip(batch, lengths):
        assert (row[1 : length + 1] < IDS.vocab_size).all()
        assert (row[length + 1 :] == IDS.pad_id).all()
        if distinct:
            assert len(set(row[1 : length + 1])) == length


@pytest.mark.parametrize("distinct", [False, True])
def test_training_and_held_out_batches_follow_the_same_layout(distinct):
    longest = 4 if distinct else 6  # distinct tokens stop at the vocabulary size
    _check(np.asarray(inputs.sample_batch(jax.random.PRNGKey(0), IDS, 500, distinct=distinct)), longest, distinct)
    _check(inputs.held_out_batch(0, IDS, 500, distinct=distinct), longest, distinct)


def test_held_out_inputs_differ_from_the_training_stream_of_the_same_seed():
    training = np.asarray(inputs.sample_batch(jax.random.fold_in(jax.random.PRNGKey(0), 1), IDS, 500))
    assert not np.array_equal(inputs.held_out_batch(0, IDS, 500), training)


def test_token_ids_of_a_compiled_model(frac_prevs_model):
    assert inputs.TokenIds.of(frac_prevs_model) == inputs.TokenIds(vocab_size=2, bos_id=2, pad_id=3, max_seq_len=4)
