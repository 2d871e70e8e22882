"""The pure JAX pieces of the padded dense forward pass, shared by the Haiku backend and compress.

They compute module ``forward``'s function (the definition) on padded arrays: attention logits are
``(x W_Q)(x W_K)^T`` with no 1/sqrt(key size) factor, the mask is ``craft.attention_mask``'s, then a ReLU MLP.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from optracr import craft
from optracr.assemble import forward


ForwardTrace = forward.ForwardTrace  # the one trace type; a JAX pytree once this module is loaded
jax.tree_util.register_dataclass(
    ForwardTrace, data_fields=["output", "residuals", "sublayer_outputs", "attention"], meta_fields=[]
)


@dataclasses.dataclass(frozen=True)
class AttentionWeights:
    """One layer's attention: query/key (D x H*dk), value (D x H*dv), output (H*dv x D)."""

    query: jax.Array
    key: jax.Array
    value: jax.Array
    output: jax.Array


def attention_mask(token_ids: jax.Array, pad_id: int, causal: bool) -> jax.Array:
    """B x 1 x T x T: ``craft.attention_mask`` (the one mask) of the token ids, in JAX, broadcast over heads."""
    return craft.attention_mask(token_ids == pad_id, causal, xp=jnp)[:, None]


def attend(x: jax.Array, mask: jax.Array, weights: AttentionWeights, num_heads: int) -> tuple[jax.Array, jax.Array]:
    """Multi-head attention without scaling: returns (B x T x D output, B x H x T x T pattern)."""
    batch, length = x.shape[0], x.shape[1]
    query = (x @ weights.query).reshape(batch, length, num_heads, -1)
    key = (x @ weights.key).reshape(batch, length, num_heads, -1)
    value = (x @ weights.value).reshape(batch, length, num_heads, -1)
    logits = jnp.einsum("bqhd,bkhd->bhqk", query, key)
    logits = jnp.where(mask, logits, jnp.finfo(logits.dtype).min)
    pattern = jax.nn.softmax(logits, axis=-1)
    mixed = jnp.einsum("bhqk,bkhd->bqhd", pattern, value).reshape(batch, length, -1)
    return mixed @ weights.output, pattern


def feed_forward(x: jax.Array, w_in: jax.Array, w_out: jax.Array) -> jax.Array:
    """The ReLU MLP ``relu(x W_in) W_out``."""
    return jax.nn.relu(x @ w_in) @ w_out
