"""The compression loss of any projection on one fixed batch of inputs per seed.

A grid with warm starts (``continuation``) compares candidate projections of one seed on the same inputs, so a
padded projection and the one it pads get the same loss. Every call evaluates one D x width projection per
seed, in one shape, so equal projections get bitwise equal losses.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from optracr import assemble
from optracr.compress import forward, inputs, losses
from optracr.frontend import rasp


@dataclasses.dataclass(frozen=True, eq=False)
class Evaluator:
    """Per seed a fixed batch of ``num_inputs`` inputs and the compiled model's trace on it."""

    model: assemble.CompiledModel
    seeds: tuple[int, ...]
    layer_loss_weight: float
    weights: forward.FrozenWeights
    token_ids: jax.Array  # seeds x num_inputs x (max_seq_len + 1)
    reference: assemble.ForwardTrace  # every array seeds x ...

    @classmethod
    def build(
        cls, model: assemble.CompiledModel, seeds: Sequence[int], *, num_inputs: int, layer_loss_weight: float,
        distinct_tokens: bool = False,
    ) -> Evaluator:
        """Draws each seed's batch from ``inputs.SELECTION_STREAM`` and runs the compiled model on it."""
        ids = inputs.TokenIds.of(model)
        batches = [
            inputs.held_out_batch(seed, ids, num_inputs, distinct=distinct_tokens, stream=inputs.SELECTION_STREAM)
            for seed in seeds
        ]
        with jax.enable_x64(False):
            token_ids = jnp.asarray(np.stack(batches))
            reference = jax.vmap(forward.reference_forward(model), in_axes=(None, 0))(
                forward.float32_params(model), token_ids
            )
            weights = forward.frozen_weights(model)
        return cls(model, tuple(seeds), layer_loss_weight, weights, token_ids, reference)

    def losses(self, projections: np.ndarray) -> np.ndarray:
        """seeds x D x width projections (zero-padded past each one's d) -> each seed's loss, float64."""
        categorical = self.model.output_encoding != rasp.Encoding.NUMERICAL
        loss = _loss_function(self.model.config, inputs.TokenIds.of(self.model), categorical, self.layer_loss_weight)
        with jax.enable_x64(False):
            values = loss(self.weights, jnp.asarray(projections, dtype=jnp.float32), self.token_ids, self.reference)
        return np.asarray(values, dtype=np.float64)


@functools.lru_cache(maxsize=8)
def _loss_function(
    config: assemble.ModelConfig, ids: inputs.TokenIds, categorical: bool, layer_loss_weight: float
) -> Callable[..., Any]:
    """The jitted loss of one projection per seed on that seed's batch (cached, so it compiles once)."""

    def one_seed(weights: forward.FrozenWeights, projection: jax.Array, token_ids: jax.Array,
                 reference: assemble.ForwardTrace) -> jax.Array:
        return losses.compression_loss(
            weights, projection, token_ids, reference, pad_id=ids.pad_id, causal=config.causal,
            categorical=categorical, layer_loss_weight=layer_loss_weight,
        ).total

    return jax.jit(jax.vmap(one_seed, in_axes=(None, 0, 0, 0)))
