"""Training ``W`` with optax: a grid of compressions (seeds x widths d) trained together.

Each seed draws its own initial ``W`` and its own stream of batches; every width ``d`` of one seed sees the
same batches. All widths share one padded shape (D x max d, the columns past d held at zero), so the whole
grid is one ``vmap`` over seeds of a ``vmap`` over widths, and one ``jax.lax.scan`` runs ``log_every`` steps
per Python call.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from optracr import assemble
from optracr.compress import forward, inputs, losses
from optracr.compress import progress as progress_lib
from optracr.frontend import rasp
from optracr.errors import OptracrBug


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """How ``W`` is trained (AdamW with b1 0.9, b2 0.99; see ``compress`` for each option)."""

    steps: int
    batch_size: int = 256
    learning_rate: float = 1e-3
    final_learning_rate: float = 1e-6
    weight_decay: float = 0.1
    layer_loss_weight: float = 1.0
    early_stop_patience: int | None = None  # steps without a relative improvement of early_stop_tolerance
    early_stop_tolerance: float = 0.01
    log_every: int = 100
    distinct_tokens: bool = False  # draw inputs without repeated tokens (e.g. for sort_unique)
    progress: bool = True


@dataclasses.dataclass(frozen=True)
class TrainingHistory:
    """Losses of one compression, each the mean over ``log_every`` steps ending at ``steps[i]``."""

    steps: tuple[int, ...]
    loss: tuple[float, ...]
    output_loss: tuple[float, ...]
    layer_loss: tuple[float, ...]
    seconds: float  # wall time of the whole grid's training, compilation included
    stopped_early: bool
    # Set by a grid with warm starts (``continuation``): the returned W's loss on its seed's fixed evaluation
    # batch, and which candidate it is ("independent", "down_start", "down", "up_start" or "up").
    evaluation_loss: float | None = None
    origin: str = "independent"

    def __post_init__(self) -> None:
        lengths = {len(self.steps), len(self.loss), len(self.output_loss), len(self.layer_loss)}
        if len(lengths) != 1:
            raise OptracrBug("a training history needs one loss of each kind per logged step")


@dataclasses.dataclass(frozen=True, eq=False)
class GridResult:
    """Trained projections ``projections[s][k]`` (D x dims[k]) and their histories, per seed s and width k."""

    seeds: tuple[int, ...]
    dims: tuple[int, ...]
    projections: tuple[tuple[np.ndarray, ...], ...]
    histories: tuple[tuple[TrainingHistory, ...], ...]


def learning_rate_schedule(options: TrainOptions) -> optax.Schedule:
    """Linear from ``learning_rate`` to ``final_learning_rate`` over the first half of training, then constant."""
    return optax.linear_schedule(
        init_value=options.learning_rate,
        end_value=options.final_learning_rate,
        transition_steps=max(1, options.steps // 2),
    )


def optimizer(options: TrainOptions) -> optax.GradientTransformation:
    """AdamW with b1 0.9, b2 0.99 and the paper's learning-rate schedule."""
    return optax.adamw(learning_rate_schedule(options), b1=0.9, b2=0.99, weight_decay=options.weight_decay)


def initial_projection(seed: int, width: int, d: int) -> np.ndarray:
    """A random D x d matrix with orthonormal columns, drawn from ``seed``."""
    gaussian = jax.random.normal(jax.random.fold_in(jax.random.PRNGKey(seed), 0), (width, d), dtype=jnp.float32)
    q, r = jnp.linalg.qr(gaussian)
    return np.asarray(q * jnp.where(jnp.diagonal(r) < 0, -1.0, 1.0)[None, :], dtype=np.float32)


def train_grid(
    model: assemble.CompiledModel,
    dims: Sequence[int],
    seeds: Sequence[int],
    options: TrainOptions,
    *,
    starts: Sequence[Sequence[np.ndarray]] | None = None,
    padded_width: int | None = None,
) -> GridResult:
    """Trains one ``W`` per (seed, d) pair, from ``starts[s][k]`` (D x dims[k]) or random orthonormal columns.

    ``padded_width`` (at least every d) is the shared padded shape; grids of one padded shape compile once.
    """
    with jax.enable_x64(False):
        width = model.config.d_model
        if starts is None:
            starts = [[initial_projection(seed, width, d) for d in dims] for seed in seeds]
        widest = max(dims) if padded_width is None else padded_width
        padded = np.array([[pad_columns(start, widest) for start in row] for row in starts], dtype=np.float32)
        return _train_grid(model, tuple(dims), tuple(seeds), options, padded)


def _train_grid(
    model: assemble.CompiledModel,
    dims: tuple[int, ...],
    seeds: tuple[int, ...],
    options: TrainOptions,
    starts: np.ndarray,
) -> GridResult:
    start = time.perf_counter()
    widest = starts.shape[-1]
    columns = column_masks(dims, widest)
    projections = jnp.asarray(starts)
    ids = inputs.TokenIds.of(model)
    tx, run_chunk = _chunk_runner(model.config, ids, model.output_encoding != rasp.Encoding.NUMERICAL, _static(options))
    opt_states = jax.vmap(jax.vmap(tx.init))(projections)
    data_keys = jnp.stack([jax.random.fold_in(jax.random.PRNGKey(seed), 1) for seed in seeds])
    frozen = (forward.frozen_weights(model), forward.float32_params(model))
    tracker = LossTracker(len(seeds), len(dims), options)
    label = f"compress {model.output_label} d={','.join(map(str, dims))} seeds={len(seeds)}"
    bar = progress_lib.ProgressBar(label, options.steps, enabled=options.progress)
    done = 0
    while done < options.steps and not tracker.plateaued(done):
        # Every chunk has log_every steps (one compilation); steps past the end change nothing.
        projections, opt_states, terms = run_chunk(
            projections, opt_states, frozen, data_keys, columns, done, options.steps, options.log_every
        )
        length = min(options.log_every, options.steps - done)
        done += length
        tracker.record(done, jax.tree_util.tree_map(lambda t: t[:length], jax.device_get(terms)))
        bar.update(done, tracker.last_mean_loss())
    stopped_early = done < options.steps
    bar.close(f"stopped early at step {done}: the loss has plateaued" if stopped_early else "")
    seconds = time.perf_counter() - start
    trained = np.asarray(projections * columns[None, :, None, :])
    return GridResult(
        seeds=seeds,
        dims=dims,
        projections=tuple(tuple(trained[s, k, :, :d] for k, d in enumerate(dims)) for s in range(len(seeds))),
        histories=tracker.histories(seconds, stopped_early),
    )


def pad_columns(projection: np.ndarray, widest: int) -> np.ndarray:
    """``projection`` (D x d) with zero columns appended up to ``widest``: the same compressed model."""
    projection = np.asarray(projection, dtype=np.float32)
    return np.pad(projection, ((0, 0), (0, widest - projection.shape[1])))


def column_masks(dims: Sequence[int], widest: int) -> jax.Array:
    """len(dims) x widest: 1 in the first d columns of each width d, 0 in its padding."""
    return jnp.asarray(np.arange(widest)[None, :] < np.array(dims)[:, None], dtype=jnp.float32)


def _static(options: TrainOptions) -> TrainOptions:
    """The options the compiled step depends on (the rest only steer the Python loop), for caching."""
    return dataclasses.replace(options, early_stop_patience=None, early_stop_tolerance=0.0, log_every=1, progress=False)


@functools.lru_cache(maxsize=8)
def _chunk_runner(
    config: assemble.ModelConfig, ids: inputs.TokenIds, categorical: bool, options: TrainOptions
) -> tuple[optax.GradientTransformation, Callable[..., Any]]:
    """The optimiser, and a jitted function running ``length`` steps of the whole grid in one ``lax.scan``.

    Cached on what it depends on, so compressing the same program again does not compile again.
    """
    tx = optimizer(options)
    reference_forward = assemble.make_forward(config, ids.pad_id).apply

    def job_loss(projection: jax.Array, column_mask: jax.Array, batch: _Batch) -> tuple[jax.Array, losses.LossTerms]:
        terms = losses.compression_loss(
            batch.weights, projection * column_mask, batch.token_ids, batch.reference,
            pad_id=ids.pad_id, causal=config.causal, categorical=categorical,
            layer_loss_weight=options.layer_loss_weight,
        )
        return terms.total, terms

    gradient = jax.value_and_grad(job_loss, has_aux=True)

    def job_step(projection: jax.Array, opt_state: Any, column_mask: jax.Array, batch: _Batch) -> tuple:
        (_, terms), grads = gradient(projection, column_mask, batch)
        updates, opt_state = tx.update(grads, opt_state, projection)
        return optax.apply_updates(projection, updates), opt_state, terms

    def seed_step(projections: jax.Array, opt_states: Any, data_key: jax.Array, frozen: tuple, columns: jax.Array,
                  step: jax.Array, active: jax.Array) -> tuple:
        weights, params = frozen
        key = jax.random.fold_in(data_key, step)
        token_ids = inputs.sample_batch(key, ids, options.batch_size, distinct=options.distinct_tokens)
        reference = jax.lax.stop_gradient(reference_forward(params, token_ids))
        batch = _Batch(weights, token_ids, reference)
        new_projections, new_states, terms = jax.vmap(job_step, in_axes=(0, 0, 0, None))(
            projections, opt_states, columns, batch
        )
        keep = functools.partial(jnp.where, active)
        return keep(new_projections, projections), jax.tree_util.tree_map(keep, new_states, opt_states), terms

    @functools.partial(jax.jit, static_argnames="length")
    def run_chunk(projections: jax.Array, opt_states: Any, frozen: tuple, data_keys: jax.Array, columns: jax.Array,
                  first_step: int, total_steps: int, length: int) -> tuple:
        def step(carry: tuple, step_index: jax.Array) -> tuple:
            over_seeds = jax.vmap(seed_step, in_axes=(0, 0, 0, None, None, None, None))
            active = step_index < total_steps
            new_projections, new_states, terms = over_seeds(*carry, data_keys, frozen, columns, step_index, active)
            return (new_projections, new_states), terms

        steps = first_step + jnp.arange(length)
        (projections, opt_states), terms = jax.lax.scan(step, (projections, opt_states), steps)
        return projections, opt_states, terms

    return tx, run_chunk


@dataclasses.dataclass(frozen=True)
class _Batch:
    """What every width of one seed shares in a step: the frozen weights, the inputs, the compiled trace."""

    weights: forward.FrozenWeights
    token_ids: jax.Array
    reference: assemble.ForwardTrace


jax.tree_util.register_dataclass(_Batch, data_fields=["weights", "token_ids", "reference"], meta_fields=[])


class LossTracker:
    """Chunk-mean losses per (seed, d), and whether every run has stopped improving."""

    def __init__(self, num_seeds: int, num_dims: int, options: TrainOptions) -> None:
        self.options = options
        self.steps: list[int] = []
        self.means: list[np.ndarray] = []  # per chunk: 3 x seeds x dims (total, output, layer)
        self.best = np.full((num_seeds, num_dims), np.inf)
        self.improved_at = np.zeros((num_seeds, num_dims), dtype=int)

    def record(self, step: int, terms: losses.LossTerms) -> None:
        parts = (terms.total, terms.output, terms.layer)
        means = np.stack([np.asarray(part, dtype=np.float64).mean(axis=0) for part in parts])
        self.steps.append(step)
        self.means.append(means)
        finite = np.isfinite(self.best)
        scale = 1.0 - self.options.early_stop_tolerance
        threshold = np.where(finite, np.where(finite, self.best, 0.0) * scale, np.inf)
        improved = means[0] < threshold
        self.best = np.where(improved, means[0], self.best)  # the loss at the last real improvement
        self.improved_at = np.where(improved, step, self.improved_at)

    def plateaued(self, step: int) -> bool:
        patience = self.options.early_stop_patience
        return patience is not None and bool(self.steps) and bool(np.all(step - self.improved_at >= patience))

    def last_mean_loss(self) -> float:
        return float(self.means[-1][0].mean())

    def histories(self, seconds: float, stopped_early: bool) -> tuple[tuple[TrainingHistory, ...], ...]:
        means = np.stack(self.means) if self.means else np.zeros((0, 3) + self.best.shape)
        return tuple(
            tuple(
                TrainingHistory(
                    steps=tuple(self.steps),
                    loss=tuple(float(v) for v in means[:, 0, s, k]),
                    output_loss=tuple(float(v) for v in means[:, 1, s, k]),
                    layer_loss=tuple(float(v) for v in means[:, 2, s, k]),
                    seconds=seconds,
                    stopped_early=stopped_early,
                )
                for k in range(self.best.shape[1])
            )
            for s in range(self.best.shape[0])
        )
