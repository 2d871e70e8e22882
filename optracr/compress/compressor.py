"""``compress``: the entry point, with its options checked before any training starts."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from optracr import assemble
from optracr.compress import continuation as continuation_lib
from optracr.compress import model as model_lib
from optracr.compress import train
from optracr.errors import CompileError


def compress(
    model: assemble.CompiledModel,
    d: int,
    *,
    steps: int,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    final_learning_rate: float = 1e-6,
    weight_decay: float = 0.1,
    seed: int = 0,
    layer_loss_weight: float = 1.0,
    early_stop_patience: int | None = None,
    early_stop_tolerance: float = 0.01,
    log_every: int = 100,
    distinct_tokens: bool = False,
    initial_W: np.ndarray | None = None,  # noqa: N803 - the paper's name
    progress: bool = True,
) -> model_lib.CompressedModel:
    """Learns one D x d matrix ``W`` through which every layer reads and writes a d-dim residual stream.

    Only ``W`` is trained (AdamW, b1 0.9, b2 0.99): the output loss (cross-entropy against the compiled
    model's class, or squared error for a numerical output) plus ``layer_loss_weight`` times the squared
    error of every sublayer's output, on random inputs of 1..max_seq_len tokens. The learning rate falls
    linearly to ``final_learning_rate`` over the first half of ``steps``; with ``early_stop_patience``,
    training stops once the loss has not improved by ``early_stop_tolerance`` (relative) for that many steps.
    ``distinct_tokens`` draws inputs without repeated tokens (for programs such as ``sort_unique``);
    ``initial_W`` replaces the random start (orthonormal columns drawn from ``seed``).

    >>> import optracr
    >>> from optracr import programs
    >>> entry = programs.get_program("frac_prevs")
    >>> model = optracr.compile(entry.build(), entry.vocab, entry.max_seq_len, fold=False, fuse=False)  # the paper's
    >>> compressed = compress(model, 6, steps=300, progress=False)
    >>> compressed.W.shape
    (14, 6)
    >>> compressed.history.loss[-1] < compressed.history.loss[0]
    True
    """
    options = train.TrainOptions(
        steps=steps,
        batch_size=batch_size,
        learning_rate=learning_rate,
        final_learning_rate=final_learning_rate,
        weight_decay=weight_decay,
        layer_loss_weight=layer_loss_weight,
        early_stop_patience=early_stop_patience,
        early_stop_tolerance=early_stop_tolerance,
        log_every=log_every,
        distinct_tokens=distinct_tokens,
        progress=progress,
    )
    check_options(model, (d,), options)
    if initial_W is not None and np.shape(initial_W) != (model.config.d_model, d):
        raise CompileError(
            None,
            f"compress: initial_W must be D x d = {model.config.d_model} x {d}, got shape {np.shape(initial_W)}",
        )
    starts = None if initial_W is None else ((np.asarray(initial_W),),)
    grid = train.train_grid(model, (d,), (seed,), options, starts=starts)
    return model_lib.CompressedModel(
        model=model, W=grid.projections[0][0], history=grid.histories[0][0], options=options, seed=seed
    )


def compress_grid(
    model: assemble.CompiledModel,
    dims: Sequence[int],
    seeds: Sequence[int],
    *,
    steps: int,
    continuation: str = "none",
    continuation_steps: int = 1000,
    evaluation_inputs: int = 1024,
    **options: object,
) -> tuple[tuple[model_lib.CompressedModel, ...], ...]:
    """``compress`` for every (seed, d) pair, trained together; result ``[s][k]`` is seed s at width dims[k].

    Takes every keyword option of ``compress`` but ``seed`` and ``initial_W``. With ``continuation="none"``
    each W is trained ``steps`` steps from its own random start. ``"up"`` and ``"down_up"`` then train every
    width again, ``continuation_steps`` steps, from the neighbouring width's best W (``"down_up"``: first from
    the wider one minus its least useful direction, starting at ``W = I``; then from the narrower one plus a
    small random column), and keep for each (seed, d) the W with the lowest loss on a fixed batch of
    ``evaluation_inputs`` inputs of that seed (``history.evaluation_loss``; ``history.origin`` says which
    candidate it is). The narrower W padded with a zero column is always a candidate, so the evaluated loss
    never rises with d; dims must then increase. See ``optracr.compress.continuation``.
    """
    if not dims or not seeds:
        raise CompileError(None, "compress_grid: give at least one width in dims and one seed in seeds")
    unknown = sorted(set(options) - {f.name for f in _option_fields()})
    if unknown:
        valid = ", ".join(sorted(f.name for f in _option_fields() if f.name != "steps"))
        raise CompileError(None, f"compress_grid: unknown option(s) {', '.join(unknown)}; valid options: {valid}")
    train_options = train.TrainOptions(steps=steps, **options)  # type: ignore[arg-type]
    check_options(model, tuple(dims), train_options)
    warm = continuation_lib.ContinuationOptions(continuation, continuation_steps, evaluation_inputs)
    _check_continuation(tuple(dims), warm)
    grid = train.train_grid(model, tuple(dims), tuple(seeds), train_options)
    if warm.mode != "none":
        grid = continuation_lib.continue_grid(model, grid, train_options, warm)
    return tuple(
        tuple(
            model_lib.CompressedModel(
                model=model, W=grid.projections[s][k], history=grid.histories[s][k], options=train_options, seed=seed
            )
            for k in range(len(grid.dims))
        )
        for s, seed in enumerate(grid.seeds)
    )


def _check_continuation(dims: tuple[int, ...], options: continuation_lib.ContinuationOptions) -> None:
    if options.mode not in continuation_lib.MODES:
        valid = ", ".join(repr(mode) for mode in continuation_lib.MODES)
        raise CompileError(None, f"compress_grid: continuation must be one of {valid}, got {options.mode!r}")
    _at_least("continuation_steps", options.steps, 1)
    _at_least("evaluation_inputs", options.evaluation_inputs, 1)
    if options.mode != "none" and any(low >= high for low, high in zip(dims, dims[1:])):
        raise CompileError(
            None,
            f"compress_grid: continuation {options.mode!r} passes from each width to the next, so dims must "
            f"increase, got {list(dims)}; give them sorted without repeats, e.g. {sorted(set(dims))}",
        )


def _option_fields() -> tuple[dataclasses.Field, ...]:
    return dataclasses.fields(train.TrainOptions)


def check_options(model: assemble.CompiledModel, dims: tuple[int, ...], options: train.TrainOptions) -> None:
    """Raises ``CompileError`` naming the first option out of range, with the range that works."""
    width = model.config.d_model
    for d in dims:
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool) or not 1 <= d <= width:
            raise CompileError(
                None,
                f"compress: d must be an integer from 1 to the residual width D = {width} of the compiled model, "
                f"got {d!r}; pick d in 1..{width}",
            )
    _at_least("steps", options.steps, 1)
    _at_least("batch_size", options.batch_size, 1)
    _at_least("log_every", options.log_every, 1)
    if options.early_stop_patience is not None:
        _at_least("early_stop_patience", options.early_stop_patience, 1)
    for name in ("learning_rate", "final_learning_rate"):
        value = getattr(options, name)
        if not value > 0:
            raise CompileError(None, f"compress: {name} must be positive, got {value!r}")
    for name in ("weight_decay", "layer_loss_weight", "early_stop_tolerance"):
        value = getattr(options, name)
        if not value >= 0:
            raise CompileError(None, f"compress: {name} must be zero or positive, got {value!r}")


def _at_least(name: str, value: object, minimum: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise CompileError(None, f"compress: {name} must be an integer of at least {minimum}, got {value!r}")
