"""The Haiku transformer the weights are loaded into: decoder-only, no layer norm, ReLU MLPs, no biases.

Attention logits are ``(x W_Q)(x W_K)^T`` with no 1/sqrt(key size) factor: the compiled ``W_QK`` already has
the sharpness it needs. Keys at PAD positions are masked for every query, and with ``causal`` keys after the
query are masked too, so PAD never changes a non-PAD position.
"""

from __future__ import annotations

import dataclasses

import haiku as hk
import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The shape of a compiled transformer."""

    num_layers: int
    num_heads: int
    key_size: int
    value_size: int
    mlp_hidden_size: int
    d_model: int
    vocab_size: int  # token embedding rows: vocab + BOS + PAD
    output_size: int  # unembedding columns: output classes, or 1 for a numerical output
    max_seq_len: int  # longest input, BOS excluded
    causal: bool


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


def compiled_transformer(token_ids: jax.Array, config: ModelConfig, pad_id: int) -> ForwardTrace:
    """Embeddings, ``num_layers`` attention + MLP blocks with residual connections, and an unembedding.

    Call inside ``hk.transform``. Parameters: ``token_embed/embeddings``, ``pos_embed/embeddings``,
    ``transformer/layer_{i}/attn/{query,key,value,output}/w``,
    ``transformer/layer_{i}/mlp/{linear_1,linear_2}/w`` and ``unembed/w``.
    """
    length = token_ids.shape[-1]
    x = hk.Embed(config.vocab_size, config.d_model, name="token_embed")(token_ids)
    x = x + hk.Embed(config.max_seq_len + 1, config.d_model, name="pos_embed")(jnp.arange(length))[None]
    mask = attention_mask(token_ids, pad_id, config.causal)
    residuals, outputs, patterns = [x], [], []
    with hk.name_scope("transformer"):
        for layer in range(config.num_layers):
            with hk.name_scope(f"layer_{layer}"):
                with hk.name_scope("attn"):
                    attended, pattern = _attention(x, mask, config)
                x = x + attended
                residuals.append(x)
                outputs.append(attended)
                patterns.append(pattern)
                with hk.name_scope("mlp"):
                    hidden = _mlp(x, config)
                x = x + hidden
                residuals.append(x)
                outputs.append(hidden)
    output = hk.Linear(config.output_size, with_bias=False, name="unembed")(x)
    return ForwardTrace(output, tuple(residuals), tuple(outputs), tuple(patterns))


def attention_mask(token_ids: jax.Array, pad_id: int, causal: bool) -> jax.Array:
    """B x 1 x T x T, True where query q may attend key k (PAD keys never, later keys not when causal)."""
    length = token_ids.shape[-1]
    keys_ok = (token_ids != pad_id)[:, None, None, :]
    mask = jnp.broadcast_to(keys_ok, (token_ids.shape[0], 1, length, length))
    if causal:
        mask = mask & jnp.tril(jnp.ones((length, length), dtype=bool))[None, None]
    return mask


def _weight(name: str, shape: tuple[int, int]) -> jax.Array:
    with hk.name_scope(name):
        return hk.get_parameter("w", shape, init=jnp.zeros)


def _attention(x: jax.Array, mask: jax.Array, config: ModelConfig) -> tuple[jax.Array, jax.Array]:
    heads, dk, dv, width = config.num_heads, config.key_size, config.value_size, config.d_model
    if heads == 0:  # a model without attention keeps the alternation with empty sublayers
        return jnp.zeros_like(x), jnp.zeros((x.shape[0], 0, x.shape[1], x.shape[1]), x.dtype)
    weights = AttentionWeights(
        query=_weight("query", (width, heads * dk)),
        key=_weight("key", (width, heads * dk)),
        value=_weight("value", (width, heads * dv)),
        output=_weight("output", (heads * dv, width)),
    )
    return attend(x, mask, weights, heads)


def _mlp(x: jax.Array, config: ModelConfig) -> jax.Array:
    if config.mlp_hidden_size == 0:
        return jnp.zeros_like(x)
    width, hidden = config.d_model, config.mlp_hidden_size
    return feed_forward(x, _weight("linear_1", (width, hidden)), _weight("linear_2", (hidden, width)))


@dataclasses.dataclass(frozen=True)
class AttentionWeights:
    """One layer's attention: query/key (D x H*dk), value (D x H*dv), output (H*dv x D)."""

    query: jax.Array
    key: jax.Array
    value: jax.Array
    output: jax.Array


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


def make_forward(config: ModelConfig, pad_id: int) -> hk.Transformed:
    """The transformer as a pure Haiku function of (params, token ids B x T)."""

    def forward(token_ids: jax.Array) -> ForwardTrace:
        return compiled_transformer(token_ids, config, pad_id)

    return hk.without_apply_rng(hk.transform(forward))
