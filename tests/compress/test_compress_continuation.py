"""Warm starts across widths: padding is exact, truncation drops unused directions, losses never rise with d."""

from __future__ import annotations

import numpy as np
import pytest

from optracr.compress import compress_grid, continuation, evaluation, train

SEEDS = (0, 1)
DIMS = (1, 2, 3, 4)
# Short runs: the properties below hold by construction, whatever the training reaches.
INDEPENDENT = dict(steps=50, batch_size=32, learning_rate=1e-2, log_every=25, progress=False)
WARM = dict(INDEPENDENT, continuation_steps=25, evaluation_inputs=64)
ORIGINS = {"independent", "down_start", "down", "up_start", "up"}


@pytest.fixture(scope="module")
def evaluator(frac_prevs_model) -> evaluation.Evaluator:
    return evaluation.Evaluator.build(frac_prevs_model, SEEDS, num_inputs=64, layer_loss_weight=1.0)


@pytest.fixture(scope="module")
def down_up_grid(frac_prevs_model):
    return compress_grid(frac_prevs_model, DIMS, SEEDS, continuation="down_up", **WARM)


def test_a_zero_column_gives_the_identical_loss_at_step_0(frac_prevs_model):
    width = frac_prevs_model.config.d_model
    narrow = train.initial_projection(5, width, 3)
    options = train.TrainOptions(steps=1, batch_size=16, log_every=1, progress=False)
    grid = train.train_grid(frac_prevs_model, (3, 4), (0,), options, starts=[[narrow, train.pad_columns(narrow, 4)]])
    first, second = grid.histories[0]
    assert first.loss[0] == second.loss[0]
    assert first.output_loss[0] == second.output_loss[0] and first.layer_loss[0] == second.layer_loss[0]


def test_a_zero_column_computes_the_same_model_at_any_width(frac_prevs_model, evaluator):
    # Evaluated at its own shape, a padded projection differs only by float32 rounding (the matrix products
    # change shape); the grid therefore compares every candidate padded to D x D, where they are bitwise equal.
    width = frac_prevs_model.config.d_model
    narrow = np.stack([train.initial_projection(seed, width, 3) for seed in SEEDS])
    losses = [evaluator.losses(np.stack([train.pad_columns(w, columns) for w in narrow])) for columns in (3, 4, width)]
    assert np.all(losses[0] > 0.1)
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-6)
    np.testing.assert_allclose(losses[2], losses[0], rtol=1e-6)
    grown = np.stack([continuation.with_new_columns(train.pad_columns(w, 4), 3, 4, seed, 1.0) for seed, w in
                      zip(SEEDS, narrow)])
    assert np.all(np.abs(evaluator.losses(grown) - losses[0]) > 1e-3)


def test_identity_is_exact_and_truncation_drops_the_directions_nothing_reads(frac_prevs_model, evaluator):
    # The hand-built model never reads tokens:a or tokens:PAD (its MLP reads tokens:x, its head indices, one,
    # BOS and is_x), so two directions can go at no loss, and the rest cannot.
    width = frac_prevs_model.config.d_model
    identity = np.stack([np.eye(width, dtype=np.float32)] * len(SEEDS))
    np.testing.assert_array_equal(evaluator.losses(identity), [0.0, 0.0])
    kept, losses = continuation.truncate(evaluator, identity, width, width - 2)
    np.testing.assert_array_equal(losses, [0.0, 0.0])
    labels = frac_prevs_model.residual_labels
    for projection in kept:
        read_back = np.diag(projection @ projection.T)
        dropped = {labels[i] for i in np.flatnonzero(read_back < 0.5)}
        assert dropped == {"tokens:a", "tokens:PAD"}
        assert np.all(projection[:, width - 2 :] == 0)
    _, lossy = continuation.truncate(evaluator, identity, width, width - 3)
    assert np.all(lossy > 1e-3)


@pytest.mark.parametrize("mode", ["up", "down_up"])
def test_warm_started_losses_never_rise_with_d(frac_prevs_model, down_up_grid, mode):
    if mode == "down_up":
        grid = down_up_grid
    else:
        grid = compress_grid(frac_prevs_model, DIMS, SEEDS, continuation=mode, **WARM)
    for row in grid:
        losses = [run.history.evaluation_loss for run in row]
        assert all(wider <= narrower for narrower, wider in zip(losses, losses[1:])), losses
        assert [run.d for run in row] == list(DIMS)


def test_evaluation_loss_is_the_loss_of_the_returned_W(frac_prevs_model, down_up_grid):
    evaluator = evaluation.Evaluator.build(frac_prevs_model, SEEDS, num_inputs=64, layer_loss_weight=1.0)
    width = frac_prevs_model.config.d_model
    for k in range(len(DIMS)):
        projections = np.stack([train.pad_columns(row[k].W, width) for row in down_up_grid])
        expected = [row[k].history.evaluation_loss for row in down_up_grid]
        np.testing.assert_array_equal(evaluator.losses(projections), expected)
        assert {row[k].history.origin for row in down_up_grid} <= ORIGINS


def test_down_up_beats_or_matches_the_independent_runs(frac_prevs_model, down_up_grid, evaluator):
    # The same seeds and options train the same independent W's, which the warm-started grid starts from.
    independent = compress_grid(frac_prevs_model, DIMS, SEEDS, **INDEPENDENT)
    width = frac_prevs_model.config.d_model
    for k in range(len(DIMS)):
        alone = evaluator.losses(np.stack([train.pad_columns(row[k].W, width) for row in independent]))
        warm = np.array([row[k].history.evaluation_loss for row in down_up_grid])
        assert np.all(warm <= alone)
        assert independent[0][k].history.evaluation_loss is None and independent[0][k].history.origin == "independent"


def test_history_holds_the_independent_run_then_every_pass_in_order(down_up_grid):
    history = down_up_grid[0][1].history  # d = 2: independent 50 steps, then a down and an up pass of 25
    assert history.steps == (25, 50, 75, 100)
    assert len(history.loss) == len(history.output_loss) == len(history.layer_loss) == 4
    smallest = down_up_grid[0][0].history  # d = 1: no narrower width, so no upward pass
    assert smallest.steps == (25, 50, 75)


def test_new_columns_are_seeded_and_leave_the_old_ones_alone():
    projection = train.pad_columns(np.arange(12, dtype=np.float32).reshape(6, 2), 5)
    grown = continuation.with_new_columns(projection, 2, 4, seed=3, scale=1e-3)
    np.testing.assert_array_equal(grown[:, :2], projection[:, :2])
    assert np.all(grown[:, 4] == 0) and 0 < np.abs(grown[:, 2:4]).max() < 1e-2
    np.testing.assert_array_equal(grown, continuation.with_new_columns(projection, 2, 4, seed=3, scale=1e-3))
    assert not np.array_equal(grown, continuation.with_new_columns(projection, 2, 4, seed=4, scale=1e-3))


def test_concatenated_histories_count_steps_on():
    first = train.TrainingHistory((10, 20), (3.0, 2.0), (2.0, 1.0), (1.0, 1.0), seconds=1.5, stopped_early=False)
    second = train.TrainingHistory((5,), (1.0,), (0.5,), (0.5,), seconds=0.5, stopped_early=True)
    joined = continuation.concatenate([first, second])
    assert joined.steps == (10, 20, 25) and joined.loss == (3.0, 2.0, 1.0) and joined.layer_loss == (1.0, 1.0, 0.5)
    assert joined.seconds == 2.0 and joined.stopped_early
