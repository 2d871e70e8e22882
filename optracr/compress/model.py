"""``CompressedModel``: a compiled model running on a residual compressed by a trained ``W``."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Hashable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from optracr import assemble
from optracr.compress import forward, inputs, losses, train
from optracr.errors import CompileError
from optracr.frontend import rasp

EVAL_BATCH = 512
# A sublayer "writes" at a position when its compiled output there has at least this norm.
WRITE_THRESHOLD = 1e-6


@dataclasses.dataclass(frozen=True)
class PairedRun:
    """The compressed and the compiled model on the same inputs; arrays are float32 numpy, batch-first."""

    token_ids: np.ndarray  # B x T
    output: np.ndarray  # B x T x output_size, compressed
    reference_output: np.ndarray  # B x T x output_size, compiled
    sublayer_outputs: np.ndarray  # sublayers x B x T x D, compressed (before being written through W)
    reference_sublayer_outputs: np.ndarray  # sublayers x B x T x D, compiled
    non_pad: np.ndarray  # B x T
    readout: np.ndarray  # B x T: after BOS and not PAD


@dataclasses.dataclass(frozen=True)
class CompressionMetrics:
    """How closely a compressed model follows its compiled model on held-out random inputs."""

    num_inputs: int
    accuracy: float | None  # categorical: decoded outputs agree, over positions where the compiled one has a value
    mse: float | None  # numerical: mean squared error of the output over positions after BOS
    cosine_similarity: tuple[float, ...]  # per sublayer, over non-PAD positions where the compiled one writes
    layer_squared_error: tuple[float, ...]  # per sublayer, summed over D, averaged over non-PAD positions
    sublayer_names: tuple[str, ...]  # "layer 0 attn", "layer 0 mlp", ...


@dataclasses.dataclass(frozen=True, eq=False)
class CompressedModel:
    """A compiled model whose residual stream is squeezed to ``d`` dimensions by ``W`` (D x d).

    The compressed residual is ``h = embed(x) @ W``; every sublayer reads ``h @ W.T`` and writes ``out @ W``;
    the unembedding reads ``h @ W.T``. ``W @ W.T`` (D x D, labelled by ``model.residual_labels``) shows how the
    compiled features share the d dimensions (the paper's ``W^T W``, written for column vectors).
    """

    model: assemble.CompiledModel
    W: np.ndarray  # noqa: N815 - the paper's name
    history: train.TrainingHistory
    options: train.TrainOptions | None = None  # how W was trained (None for a W given by hand)
    seed: int = 0

    def __post_init__(self) -> None:
        projection = np.array(self.W, dtype=np.float32)
        width = self.model.config.d_model
        if projection.ndim != 2 or projection.shape[0] != width or not 1 <= projection.shape[1] <= width:
            raise CompileError(
                None, f"CompressedModel: W must be D x d with D = {width} and 1 <= d <= D, got shape {projection.shape}"
            )
        projection.setflags(write=False)
        object.__setattr__(self, "W", projection)

    @property
    def d(self) -> int:
        """The width of the compressed residual stream."""
        return int(self.W.shape[1])

    @property
    def wtw(self) -> np.ndarray:
        """``W @ W.T``: D x D, entry (i, j) is how much writing direction j is read back as direction i."""
        return self.W @ self.W.T

    # ------------------------------------------------------------------------------ running
    def apply(self, tokens: Sequence[Hashable]) -> assemble.ApplyResult:
        """Runs on ``["BOS", *tokens]``; residuals are the d-dim residual read back (``h @ W.T``, T x D)."""
        trace = self._run(self.model.encode(tokens)[None, :])
        output = np.asarray(trace.output[0])
        return assemble.ApplyResult(
            decoded=[self.model.bos, *self.model.decode(output[1:])],
            output=output,
            residuals=tuple(np.asarray(r[0]) @ self.W.T for r in trace.residuals),
            sublayer_outputs=tuple(np.asarray(o[0]) for o in trace.sublayer_outputs),
            attention=tuple(np.asarray(a[0]) for a in trace.attention),
            residual_labels=self.model.residual_labels,
        )

    def apply_batch(self, batch: Sequence[Sequence[Hashable]]) -> list[list[Any]]:
        """Decoded outputs (without BOS) for many inputs at once, padded with PAD to one length."""
        return assemble.decode_batch(self.model.layered, batch, lambda token_ids: self._run(token_ids).output)

    def paired_run(self, *, num_inputs: int = 1024, seed: int = 1, distinct_tokens: bool | None = None) -> PairedRun:
        """Both models on ``num_inputs`` random inputs drawn from ``seed`` (training's distribution, new draws)."""
        ids = inputs.TokenIds.of(self.model)
        distinct = self._distinct_tokens if distinct_tokens is None else distinct_tokens
        token_ids = inputs.held_out_batch(seed, ids, num_inputs, distinct=distinct)
        parts = [self._paired(token_ids[start : start + EVAL_BATCH]) for start in range(0, num_inputs, EVAL_BATCH)]
        stacked = [np.concatenate(arrays, axis=axis) for arrays, axis in zip(zip(*parts), (0, 0, 1, 1))]
        readout = np.asarray(losses.readout_positions(jnp.asarray(token_ids), ids.pad_id))
        return PairedRun(token_ids, *stacked, non_pad=token_ids != ids.pad_id, readout=readout)

    def metrics(
        self, *, num_inputs: int = 1024, seed: int = 1, distinct_tokens: bool | None = None
    ) -> CompressionMetrics:
        """Output accuracy (categorical) or MSE (numerical) and per-sublayer fidelity on held-out inputs."""
        run = self.paired_run(num_inputs=num_inputs, seed=seed, distinct_tokens=distinct_tokens)
        categorical = self.model.output_encoding != rasp.Encoding.NUMERICAL
        return CompressionMetrics(
            num_inputs=num_inputs,
            accuracy=_accuracy(run) if categorical else None,
            mse=None if categorical else float(np.mean(((run.output - run.reference_output) ** 2)[run.readout])),
            cosine_similarity=tuple(
                _cosine_similarity(ours, theirs, run.non_pad) for ours, theirs in sublayer_pairs(run)
            ),
            layer_squared_error=tuple(
                float(np.sum((ours - theirs) ** 2, axis=-1)[run.non_pad].mean()) for ours, theirs in sublayer_pairs(run)
            ),
            sublayer_names=sublayer_names(self.model.config.num_layers),
        )

    def _run(self, token_ids: np.ndarray) -> forward.CompressedTrace:
        with jax.enable_x64(False):
            return self._forward(self._weights, jnp.asarray(self.W), jnp.asarray(token_ids))

    def _paired(self, token_ids: np.ndarray) -> tuple[np.ndarray, ...]:
        ours = self._run(token_ids)
        with jax.enable_x64(False):
            theirs = self._reference(self._params, jnp.asarray(token_ids))
        return (
            np.asarray(ours.output),
            np.asarray(theirs.output),
            np.stack([np.asarray(o) for o in ours.sublayer_outputs]),
            np.stack([np.asarray(o) for o in theirs.sublayer_outputs]),
        )

    @property
    def _distinct_tokens(self) -> bool:
        return self.options.distinct_tokens if self.options is not None else False

    @functools.cached_property
    def _weights(self) -> forward.FrozenWeights:
        with jax.enable_x64(False):
            return forward.frozen_weights(self.model)

    @functools.cached_property
    def _params(self) -> forward.Params:
        with jax.enable_x64(False):
            return forward.float32_params(self.model)

    @property
    def _forward(self) -> Any:
        return _jitted_forward(inputs.TokenIds.of(self.model).pad_id, self.model.config.causal)

    @property
    def _reference(self) -> Any:
        return _jitted_reference(self.model.config, inputs.TokenIds.of(self.model).pad_id)


# Shared by every CompressedModel of one shape, so a grid's many models compile their passes once per width.
@functools.lru_cache(maxsize=16)
def _jitted_forward(pad_id: int, causal: bool) -> Any:
    return jax.jit(functools.partial(forward.compressed_forward, pad_id=pad_id, causal=causal))


@functools.lru_cache(maxsize=16)
def _jitted_reference(config: assemble.ModelConfig, pad_id: int) -> Any:
    return jax.jit(assemble.make_forward(config, pad_id).apply)


def sublayer_names(num_layers: int) -> tuple[str, ...]:
    """``("layer 0 attn", "layer 0 mlp", ...)`` for ``num_layers`` layers."""
    return tuple(f"layer {layer} {kind}" for layer in range(num_layers) for kind in ("attn", "mlp"))


def sublayer_pairs(run: PairedRun) -> list[tuple[np.ndarray, np.ndarray]]:
    """(compressed, compiled) outputs of every sublayer, each sublayers' arrays B x T x D."""
    return list(zip(run.sublayer_outputs, run.reference_sublayer_outputs))


def _accuracy(run: PairedRun) -> float:
    has_value = run.readout & (run.reference_output.max(axis=-1) > assemble.DECODE_THRESHOLD)
    if not has_value.any():
        return float("nan")
    agree = (run.output.argmax(axis=-1) == run.reference_output.argmax(axis=-1)) & (
        run.output.max(axis=-1) > assemble.DECODE_THRESHOLD
    )
    return float(agree[has_value].mean())


def _cosine_similarity(ours: np.ndarray, theirs: np.ndarray, non_pad: np.ndarray) -> float:
    their_norm = np.linalg.norm(theirs, axis=-1)
    writes = non_pad & (their_norm > WRITE_THRESHOLD)
    if not writes.any():
        return float("nan")
    our_norm = np.linalg.norm(ours, axis=-1)
    cosine = np.sum(ours * theirs, axis=-1) / np.maximum(our_norm * their_norm, 1e-30)
    return float(cosine[writes].mean())
