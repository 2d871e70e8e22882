"""Training W: the loss falls, a seed fixes the result, the grid trains (seed, d) pairs together."""

from __future__ import annotations

import io

import numpy as np

from optracr.compress import compress, compress_grid
from optracr.compress import losses, progress, train

# One set of options throughout, so the jitted training step compiles once per grid shape.
FAST = dict(steps=200, batch_size=32, learning_rate=1e-2, log_every=50, progress=False)


def test_loss_falls_over_a_few_hundred_steps(frac_prevs_model):
    compressed = compress(frac_prevs_model, 6, **FAST)
    history = compressed.history
    assert history.steps == (50, 100, 150, 200)
    assert history.loss[-1] < 0.5 * history.loss[0]
    np.testing.assert_allclose(
        np.array(history.output_loss) + np.array(history.layer_loss), history.loss, rtol=1e-5
    )
    assert compressed.W.shape == (frac_prevs_model.config.d_model, 6) and compressed.d == 6


def test_categorical_output_loss_falls(echo_model):
    compressed = compress(echo_model, 4, **FAST)
    assert compressed.history.output_loss[-1] < compressed.history.output_loss[0]


def test_a_fixed_seed_gives_the_same_W_twice(frac_prevs_model):
    first = compress(frac_prevs_model, 6, seed=3, **FAST)
    second = compress(frac_prevs_model, 6, seed=3, **FAST)
    other = compress(frac_prevs_model, 6, seed=4, **FAST)
    np.testing.assert_array_equal(first.W, second.W)
    assert first.history.loss == second.history.loss
    assert not np.array_equal(first.W, other.W)


def test_grid_trains_every_seed_and_width_and_keeps_padding_out(frac_prevs_model):
    grid = compress_grid(frac_prevs_model, (2, 5), (0, 1), **FAST)
    assert [[m.d for m in row] for row in grid] == [[2, 5], [2, 5]]
    assert [[m.seed for m in row] for row in grid] == [[0, 0], [1, 1]]
    assert not np.array_equal(grid[0][1].W, grid[1][1].W)
    alone = compress(frac_prevs_model, 2, seed=1, **FAST)
    np.testing.assert_allclose(grid[1][0].W, alone.W, atol=1e-4)


def test_initial_projection_has_orthonormal_columns():
    start = train.initial_projection(7, 10, 4)
    np.testing.assert_allclose(start.T @ start, np.eye(4), atol=1e-5)


def test_early_stopping_ends_a_run_that_stops_improving(frac_prevs_model):
    # A tolerance of 100 % asks for a negative loss: after the first chunk (step 50) nothing improves, so the
    # run stops once 100 more steps have passed.
    compressed = compress(frac_prevs_model, 6, early_stop_patience=100, early_stop_tolerance=1.0, **FAST)
    assert compressed.history.stopped_early
    assert compressed.history.steps == (50, 100, 150)


def test_plateau_needs_every_run_to_stop_improving_for_the_patience():
    tracker = train.LossTracker(1, 2, train.TrainOptions(steps=1000, early_stop_patience=200))
    # Run 0 improves by 1 % last at step 200; run 1 at step 400 (0.995 and 0.99 are not 1 % below 1.0).
    chunks = [(100, (1.0, 1.0)), (200, (0.5, 0.995)), (300, (0.499, 0.99)), (400, (0.498, 0.9)), (500, (0.497, 0.9))]
    for step, chunk_losses in chunks:
        tracker.record(step, losses.LossTerms(*(np.array([[chunk_losses]]),) * 3))
        assert not tracker.plateaued(step)
    tracker.record(600, losses.LossTerms(*(np.array([[(0.496, 0.899)]]),) * 3))
    assert tracker.plateaued(600)


def test_learning_rate_falls_linearly_over_the_first_half_then_stays():
    options = train.TrainOptions(steps=100, learning_rate=1e-3, final_learning_rate=1e-6)
    state = train.optimizer(options).init(np.zeros((2, 2), dtype=np.float32))
    assert state is not None
    schedule = train.learning_rate_schedule(options)
    np.testing.assert_allclose([schedule(0), schedule(25), schedule(50), schedule(99)],
                               [1e-3, (1e-3 + 1e-6) / 2, 1e-6, 1e-6], rtol=1e-5)


def test_progress_bar_reports_steps_and_loss():
    stream = io.StringIO()
    bar = progress.ProgressBar("compress demo", 100, stream=stream)
    for step in range(10, 101, 10):
        bar.update(step, 0.5)
    bar.close("done")
    text = stream.getvalue()
    assert "compress demo:" in text and "10/100" in text and "loss 5.000e-01" in text  # a tqdm bar
    assert "100/100" in text and text.splitlines()[-1] == "compress demo done"


def test_disabled_progress_bar_writes_nothing():
    stream = io.StringIO()
    bar = progress.ProgressBar("compress demo", 100, enabled=False, stream=stream)
    bar.update(50, 0.5)
    bar.close("done")
    assert stream.getvalue() == ""
