"""Warm starts across widths: after the independent grid, every width trained again from a neighbour's solution.

Two exact facts make neighbours good starts: a width-d projection with zero columns appended computes the same
compressed model at a larger width, and ``W = I`` (D x D) computes the compiled model itself. After the
independent grid (random starts), for every seed:

- the downward pass (mode ``"down_up"``) visits the widths from the largest down; each starts from the next
  wider width's best projection (``W = I`` above the largest) minus its least useful directions: of that W's
  right-singular directions, the one whose removal costs least on the evaluation batch, one at a time;
- the upward pass (modes ``"up"`` and ``"down_up"``) visits the widths from the smallest up; each starts from
  the next narrower width's best projection with small random columns appended (zero columns would stay
  zero: their gradient vanishes).

Every start is trained ``steps`` steps (all seeds of one width together), unless every seed's start already
has zero loss. Each (seed, d) keeps, of the projections it has seen, the one with the lowest loss on its
seed's fixed evaluation batch: its own, each untrained start, each trained one, and in the upward pass the
narrower best padded with zero columns, whose loss equals the narrower one's. So after the upward pass the
evaluated loss never rises with d, for every seed.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from optracr import assemble
from optracr.compress import evaluation, train

MODES = ("none", "up", "down_up")
# The random stream of the columns the upward pass appends (the data uses 1, evaluation batches 2 and 3).
NEW_COLUMN_STREAM = 4


@dataclasses.dataclass(frozen=True)
class ContinuationOptions:
    """Which passes run after the independent grid, how long each width trains, the evaluation batch's size."""

    mode: str = "none"  # one of MODES
    steps: int = 1000  # training steps of every width in every pass
    evaluation_inputs: int = 1024
    new_column_scale: float = 1e-3  # the spread of the columns the upward pass appends


@dataclasses.dataclass(eq=False)
class _Best:
    """The working state: per seed and width the best projection (zero-padded to D x D), its loss and origin."""

    dims: tuple[int, ...]
    projections: np.ndarray  # seeds x dims x D x D, float32
    losses: np.ndarray  # seeds x dims, float64
    origins: list[list[str]]
    segments: list[list[list[train.TrainingHistory]]]  # every training a (seed, width) went through, in order

    def offer(self, k: int, projections: np.ndarray, losses: np.ndarray, origin: str) -> None:
        """Keeps ``projections[s]`` (seeds x D x D) for width k of each seed where its loss is lower."""
        for s, better in enumerate(losses < self.losses[:, k]):
            if better:
                self.projections[s, k], self.losses[s, k], self.origins[s][k] = projections[s], losses[s], origin


def continue_grid(
    model: assemble.CompiledModel,
    grid: train.GridResult,
    options: train.TrainOptions,
    continuation: ContinuationOptions,
) -> train.GridResult:
    """The grid after the passes of ``continuation.mode``: each (seed, d)'s best projection on its evaluation batch."""
    width = model.config.d_model
    evaluator = evaluation.Evaluator.build(
        model, grid.seeds, num_inputs=continuation.evaluation_inputs, layer_loss_weight=options.layer_loss_weight,
        distinct_tokens=options.distinct_tokens,
    )
    padded = np.array([[train.pad_columns(w, width) for w in row] for row in grid.projections], dtype=np.float32)
    best = _Best(
        dims=grid.dims,
        projections=padded,
        losses=np.stack([evaluator.losses(padded[:, k]) for k in range(len(grid.dims))], axis=1),
        origins=[["independent"] * len(grid.dims) for _ in grid.seeds],
        segments=[[[history] for history in row] for row in grid.histories],
    )
    stage_options = dataclasses.replace(options, steps=continuation.steps)
    if continuation.mode == "down_up":
        _downward(model, grid.seeds, best, evaluator, stage_options)
    if continuation.mode in ("up", "down_up"):
        _upward(model, grid.seeds, best, evaluator, stage_options, continuation.new_column_scale)
    return _result(grid.seeds, best)


def _downward(
    model: assemble.CompiledModel, seeds: tuple[int, ...], best: _Best, evaluator: evaluation.Evaluator,
    options: train.TrainOptions,
) -> None:
    width = model.config.d_model
    wider, wider_d = np.broadcast_to(np.eye(width, dtype=np.float32), (len(seeds), width, width)), width
    for k in reversed(range(len(best.dims))):
        start, start_losses = truncate(evaluator, wider, wider_d, best.dims[k])
        best.offer(k, start, start_losses, "down_start")
        _train_and_offer(model, seeds, best, evaluator, options, k, start, start_losses, "down")
        wider, wider_d = best.projections[:, k], best.dims[k]


def _upward(
    model: assemble.CompiledModel, seeds: tuple[int, ...], best: _Best, evaluator: evaluation.Evaluator,
    options: train.TrainOptions, scale: float,
) -> None:
    for k in range(1, len(best.dims)):
        narrower = best.projections[:, k - 1].copy()
        narrower_losses = evaluator.losses(narrower)
        best.offer(k, narrower, narrower_losses, "up_start")
        start = np.stack([
            with_new_columns(projection, best.dims[k - 1], best.dims[k], seed, scale)
            for projection, seed in zip(narrower, seeds)
        ])
        _train_and_offer(model, seeds, best, evaluator, options, k, start, narrower_losses, "up")


def _train_and_offer(
    model: assemble.CompiledModel, seeds: tuple[int, ...], best: _Best, evaluator: evaluation.Evaluator,
    options: train.TrainOptions, k: int, start: np.ndarray, source_losses: np.ndarray, origin: str,
) -> None:
    """Trains width k from ``start`` (seeds x D x D) and offers the result; skipped when every seed's source
    (the truncated or the narrower projection) already has zero loss, which no training can beat."""
    if np.all(source_losses == 0.0):
        return
    d, width = best.dims[k], start.shape[-1]
    grid = train.train_grid(model, (d,), seeds, options, starts=[[projection[:, :d]] for projection in start],
                            padded_width=width)
    trained = np.stack([train.pad_columns(row[0], width) for row in grid.projections])
    best.offer(k, trained, evaluator.losses(trained), origin)
    for s, row in enumerate(grid.histories):
        best.segments[s][k].append(row[0])


def truncate(
    evaluator: evaluation.Evaluator, projections: np.ndarray, current: int, d: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each seed's D x ``current`` projection cut to d columns, dropping its least useful direction at a time.

    The candidates at each cut are the projection's right-singular directions (``W V``, the same compressed
    model as ``W``); the one dropped is the one whose removal gives the lowest loss. Returns the projections
    (zero-padded, seeds x D x D) and their losses (``current == d`` gives the projections as they are).
    """
    width = projections.shape[-1]
    kept = np.array(projections, dtype=np.float32)
    losses = evaluator.losses(kept)
    for columns in range(current, d, -1):
        rotated = [_singular_columns(projection[:, :columns]) for projection in kept]
        candidates = [
            np.stack([train.pad_columns(np.delete(w, j, axis=1), width) for w in rotated]) for j in range(columns)
        ]
        candidate_losses = np.stack([evaluator.losses(candidate) for candidate in candidates], axis=1)
        chosen = np.argmin(candidate_losses, axis=1)
        kept = np.stack([candidates[j][s] for s, j in enumerate(chosen)])
        losses = candidate_losses[np.arange(len(kept)), chosen]
    return kept, losses


def _singular_columns(projection: np.ndarray) -> np.ndarray:
    """``W V`` for the SVD ``W = U S V^T``: columns along W's singular directions, the same compressed model."""
    left, singular, _ = np.linalg.svd(projection.astype(np.float64), full_matrices=False)
    return (left * singular).astype(np.float32)


def with_new_columns(projection: np.ndarray, d: int, new_d: int, seed: int, scale: float) -> np.ndarray:
    """``projection`` (zero past column d) with columns d..new_d-1 drawn from N(0, scale^2), seeded by (seed, new_d)."""
    rng = np.random.default_rng((seed, new_d, NEW_COLUMN_STREAM))
    grown = np.array(projection, dtype=np.float32)
    grown[:, d:new_d] = scale * rng.standard_normal((grown.shape[0], new_d - d))
    return grown


def concatenate(histories: list[train.TrainingHistory]) -> train.TrainingHistory:
    """One history of several trainings in order, the steps of each counted on from the end of the one before."""
    steps: list[int] = []
    for history in histories:
        offset = steps[-1] if steps else 0
        steps.extend(offset + step for step in history.steps)
    return train.TrainingHistory(
        steps=tuple(steps),
        loss=tuple(value for history in histories for value in history.loss),
        output_loss=tuple(value for history in histories for value in history.output_loss),
        layer_loss=tuple(value for history in histories for value in history.layer_loss),
        seconds=sum(history.seconds for history in histories),
        stopped_early=any(history.stopped_early for history in histories),
    )


def _result(seeds: tuple[int, ...], best: _Best) -> train.GridResult:
    histories = tuple(
        tuple(
            dataclasses.replace(
                concatenate(best.segments[s][k]), evaluation_loss=float(best.losses[s, k]), origin=best.origins[s][k]
            )
            for k in range(len(best.dims))
        )
        for s in range(len(seeds))
    )
    projections = tuple(
        tuple(best.projections[s, k, :, :d].copy() for k, d in enumerate(best.dims)) for s in range(len(seeds))
    )
    return train.GridResult(seeds=seeds, dims=best.dims, projections=projections, histories=histories)
