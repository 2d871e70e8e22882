"""The compression loss: output loss + ``layer_loss_weight`` x the sum over sublayers of squared errors.

The output loss compares the compressed model with the compiled model's output on the same input, at the
positions after BOS that are not PAD: softmax cross-entropy against the compiled model's decoded class for
a categorical output (positions where the compiled output has no value are left out; the layer loss still
holds them at zero), mean squared error for a numerical one. The layer loss compares, in the D-dimensional
labelled space, what each compressed sublayer computed (before it is written through ``W``) with what the
compiled sublayer wrote, summed over directions, averaged over non-PAD positions (BOS included), summed
over sublayers.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import optax

from optracr import assemble
from optracr.compress import forward


@dataclasses.dataclass(frozen=True)
class LossTerms:
    """The loss and its two parts, as scalars."""

    total: jax.Array
    output: jax.Array
    layer: jax.Array


jax.tree_util.register_dataclass(LossTerms, data_fields=["total", "output", "layer"], meta_fields=[])


def non_pad(token_ids: jax.Array, pad_id: int) -> jax.Array:
    """B x T, True at every position that is not PAD (BOS included)."""
    return token_ids != pad_id


def readout_positions(token_ids: jax.Array, pad_id: int) -> jax.Array:
    """B x T, True where the program has an output: after BOS and not PAD."""
    after_bos = jnp.arange(token_ids.shape[-1])[None, :] > 0
    return non_pad(token_ids, pad_id) & after_bos


def masked_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
    """The mean of ``values`` where ``mask`` holds (zero when it holds nowhere)."""
    mask = mask.astype(values.dtype)
    return jnp.sum(values * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def categorical_output_loss(logits: jax.Array, reference: jax.Array, readout: jax.Array) -> jax.Array:
    """Cross-entropy against the compiled model's class, where the compiled output has a value."""
    targets = jnp.argmax(reference, axis=-1)
    has_value = jnp.max(reference, axis=-1) > assemble.DECODE_THRESHOLD
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
    return masked_mean(losses, readout & has_value)


def numerical_output_loss(output: jax.Array, reference: jax.Array, readout: jax.Array) -> jax.Array:
    """Squared error against the compiled model's value, averaged over the readout positions."""
    return masked_mean(jnp.sum((output - reference) ** 2, axis=-1), readout)


def layer_loss(
    compressed: tuple[jax.Array, ...], reference: tuple[jax.Array, ...], positions: jax.Array
) -> jax.Array:
    """Sum over sublayers of the squared error (summed over D) averaged over ``positions``."""
    errors = [
        masked_mean(jnp.sum((ours - theirs) ** 2, axis=-1), positions) for ours, theirs in zip(compressed, reference)
    ]
    return jnp.sum(jnp.stack(errors)) if errors else jnp.zeros(())


def compression_loss(
    weights: forward.FrozenWeights,
    projection: jax.Array,
    token_ids: jax.Array,
    reference: assemble.ForwardTrace,
    *,
    pad_id: int,
    causal: bool,
    categorical: bool,
    layer_loss_weight: float,
) -> LossTerms:
    """The loss of the model compressed by ``projection`` against the compiled model's ``reference`` trace."""
    trace = forward.compressed_forward(weights, projection, token_ids, pad_id=pad_id, causal=causal)
    readout = readout_positions(token_ids, pad_id)
    if categorical:
        output = categorical_output_loss(trace.output, reference.output, readout)
    else:
        output = numerical_output_loss(trace.output, reference.output, readout)
    layer = layer_loss(trace.sublayer_outputs, reference.sublayer_outputs, non_pad(token_ids, pad_id))
    return LossTerms(total=output + layer_loss_weight * layer, output=output, layer=layer)
