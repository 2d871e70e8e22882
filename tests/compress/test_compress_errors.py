"""Bad arguments to compress raise CompileError naming the option and what would work."""

from __future__ import annotations

import numpy as np
import pytest

from optracr.compress import CompressedModel, compress, compress_grid, pca_projection
from optracr.errors import CompileError


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(d=0, steps=10), r"d must be an integer from 1 to the residual width D = 11 .*got 0; pick d in 1\.\.11"),
        (dict(d=12, steps=10), r"d must be .* D = 11 .*got 12"),
        (dict(d=2.5, steps=10), r"d must be an integer"),
        (dict(d=2, steps=0), r"steps must be an integer of at least 1, got 0"),
        (dict(d=2, steps=10, batch_size=0), r"batch_size must be an integer of at least 1"),
        (dict(d=2, steps=10, learning_rate=0.0), r"learning_rate must be positive"),
        (dict(d=2, steps=10, final_learning_rate=-1.0), r"final_learning_rate must be positive"),
        (dict(d=2, steps=10, weight_decay=-0.1), r"weight_decay must be zero or positive"),
        (dict(d=2, steps=10, early_stop_patience=0), r"early_stop_patience must be an integer of at least 1"),
        (dict(d=2, steps=10, initial_W=np.eye(3)), r"initial_W must be D x d = 11 x 2, got shape \(3, 3\)"),
    ],
)
def test_bad_arguments_raise_compile_error(frac_prevs_model, arguments, message):
    d = arguments.pop("d")
    with pytest.raises(CompileError, match=message):
        compress(frac_prevs_model, d, progress=False, **arguments)


def test_grid_rejects_unknown_options_and_empty_grids(frac_prevs_model):
    with pytest.raises(CompileError, match=r"unknown option\(s\) lr; valid options: batch_size"):
        compress_grid(frac_prevs_model, (2,), (0,), steps=10, lr=0.1)
    with pytest.raises(CompileError, match="at least one width"):
        compress_grid(frac_prevs_model, (), (0,), steps=10)
    with pytest.raises(CompileError, match="pick d in 1..11"):
        compress_grid(frac_prevs_model, (2, 40), (0,), steps=10)


@pytest.mark.parametrize(
    ("dims", "options", "message"),
    [
        ((2, 4), dict(continuation="sideways"), r"continuation must be one of 'none', 'up', 'down_up', got 'sideways'"),
        ((2, 4), dict(continuation="up", continuation_steps=0), r"continuation_steps must be an integer of at least 1"),
        ((2, 4), dict(continuation="up", evaluation_inputs=0), r"evaluation_inputs must be an integer of at least 1"),
        ((4, 2, 2), dict(continuation="down_up"), r"dims must increase, got \[4, 2, 2\]; .* e\.g\. \[2, 4\]"),
    ],
)
def test_grid_rejects_bad_continuation_options(frac_prevs_model, dims, options, message):
    with pytest.raises(CompileError, match=message):
        compress_grid(frac_prevs_model, dims, (0,), steps=10, progress=False, **options)


def test_pca_rejects_a_width_out_of_range(frac_prevs_model):
    with pytest.raises(CompileError, match="d must be from 1 to the residual width D = 11, got 0"):
        pca_projection(frac_prevs_model, 0)


def test_a_compressed_model_rejects_a_W_of_the_wrong_shape(frac_prevs_model):
    from optracr.compress import train

    history = train.TrainingHistory((), (), (), (), seconds=0.0, stopped_early=False)
    with pytest.raises(CompileError, match=r"W must be D x d with D = 11 and 1 <= d <= D, got shape \(11, 12\)"):
        CompressedModel(model=frac_prevs_model, W=np.zeros((11, 12)), history=history)
