"""The Haiku backend: a decoder-only transformer (no layer norm, ReLU MLPs, no biases) and its parameters.

This is the only module that knows Haiku's parameter names (``transformer/layer_{i}/attn/query/w`` ...):
``haiku_params`` writes a ``LayeredModel``'s dense weights under them and ``model_config`` reads the Haiku
module's static shape off the model (``ModelConfig`` lives in the numpy-only ``model_config``). The forward
semantics are ``jax_forward``'s.
"""

from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from optracr.assemble import dense as dense_lib
from optracr.assemble import jax_forward
from optracr.assemble.model_config import ModelConfig, model_config  # noqa: F401 - kept importable here


def compiled_transformer(token_ids: jax.Array, config: ModelConfig, pad_id: int) -> jax_forward.ForwardTrace:
    """Embeddings, ``num_layers`` attention + MLP blocks with residual connections, and an unembedding.

    Call inside ``hk.transform``. Parameters: ``token_embed/embeddings``, ``pos_embed/embeddings``,
    ``transformer/layer_{i}/attn/{query,key,value,output}/w``,
    ``transformer/layer_{i}/mlp/{linear_1,linear_2}/w`` and ``unembed/w``.
    """
    length = token_ids.shape[-1]
    x = hk.Embed(config.vocab_size, config.d_model, name="token_embed")(token_ids)
    x = x + hk.Embed(config.max_seq_len + 1, config.d_model, name="pos_embed")(jnp.arange(length))[None]
    mask = jax_forward.attention_mask(token_ids, pad_id, config.causal)
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
    return jax_forward.ForwardTrace(output, tuple(residuals), tuple(outputs), tuple(patterns))


def _weight(name: str, shape: tuple[int, int]) -> jax.Array:
    with hk.name_scope(name):
        return hk.get_parameter("w", shape, init=jnp.zeros)


def _attention(x: jax.Array, mask: jax.Array, config: ModelConfig) -> tuple[jax.Array, jax.Array]:
    heads, dk, dv, width = config.num_heads, config.key_size, config.value_size, config.d_model
    if heads == 0:  # a model without attention keeps the alternation with empty sublayers
        return jnp.zeros_like(x), jnp.zeros((x.shape[0], 0, x.shape[1], x.shape[1]), x.dtype)
    weights = jax_forward.AttentionWeights(
        query=_weight("query", (width, heads * dk)),
        key=_weight("key", (width, heads * dk)),
        value=_weight("value", (width, heads * dv)),
        output=_weight("output", (heads * dv, width)),
    )
    return jax_forward.attend(x, mask, weights, heads)


def _mlp(x: jax.Array, config: ModelConfig) -> jax.Array:
    if config.mlp_hidden_size == 0:
        return jnp.zeros_like(x)
    width, hidden = config.d_model, config.mlp_hidden_size
    return jax_forward.feed_forward(x, _weight("linear_1", (width, hidden)), _weight("linear_2", (hidden, width)))


def make_forward(config: ModelConfig, pad_id: int) -> hk.Transformed:
    """The transformer as a pure Haiku function of (params, token ids B x T)."""

    def forward(token_ids: jax.Array) -> jax_forward.ForwardTrace:
        return compiled_transformer(token_ids, config, pad_id)

    return hk.without_apply_rng(hk.transform(forward))


def haiku_params(weights: dense_lib.DenseWeights) -> dict[str, dict[str, np.ndarray]]:
    """The dense weights under Haiku's module names (a layer's attention or MLP only where the model has it)."""
    params: dict[str, dict[str, np.ndarray]] = {
        "token_embed": {"embeddings": weights.token_embed},
        "pos_embed": {"embeddings": weights.pos_embed},
    }
    for number, layer in enumerate(weights.layers):
        prefix = f"transformer/layer_{number}"
        if weights.num_heads:
            for name in ("query", "key", "value", "output"):
                params[f"{prefix}/attn/{name}"] = {"w": getattr(layer, name)}
        if weights.mlp_hidden_width:
            params[f"{prefix}/mlp/linear_1"] = {"w": layer.mlp_in}
            params[f"{prefix}/mlp/linear_2"] = {"w": layer.mlp_out}
    params["unembed"] = {"w": weights.unembed}
    return params
