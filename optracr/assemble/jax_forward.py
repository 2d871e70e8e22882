"""The pure JAX pieces of the forward pass, shared by the Haiku backend and compress.

Attention logits are ``(x W_Q)(x W_K)^T`` with no 1/sqrt(key size) factor: the compiled ``W_QK`` already has
the sharpness it needs. Keys at PAD positions are masked for every query, and with ``causal`` keys after the
query are masked too, so PAD never changes a non-PAD position.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class ForwardTrace:
    """Everything one forward pass computes; arrays are batch-first."""

    output: jax.Array  # B x T x output_size, the unembedded logits (or value)
    residuals: tuple[jax.Array, ...]  # the residual after the embedding and after every sublayer
    sublayer_outputs: tuple[jax.Array, ...]  # what each sublayer added to the residual
    attention: tuple[jax.Array, ...]  # per layer, B x H x T x T


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
    """B x 1 x T x T, True where query q may attend key k (PAD keys never, later keys not when causal)."""
    length = token_ids.shape[-1]
    keys_ok = (token_ids != pad_id)[:, None, None, :]
    mask = jnp.broadcast_to(keys_ok, (token_ids.shape[0], 1, length, length))
    if causal:
        mask = mask & jnp.tril(jnp.ones((length, length), dtype=bool))[None, None]
    return mask


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
