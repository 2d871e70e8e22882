"""The compressed forward pass: the compiled (frozen) layers run on a d-dimensional residual.

The residual ``h`` has d dimensions. The embedding is written through ``W`` (``h = embed(x) @ W``); every
sublayer reads ``x_hat = h @ W.T`` (back in the compiled model's D labelled directions), computes its output
with the compiled weights and writes it through ``W`` (``h += out @ W``); the unembedding reads ``h @ W.T``.
``W`` is D x d; the reference (uncompressed) pass is the compiled Haiku transformer itself.

By associativity the projections are folded into the small compiled matrices rather than applied to the
residual at every position: the embedding tables are projected once (``(E @ W)[ids]``), reading folds into
the input weights (``(h @ W.T) @ W_Q == h @ (W.T @ W_Q)``), and writing into the output weights, which emit
both the D-dim output (for the layer loss) and its d-dim write (``mixed @ [W_O, W_O @ W]``). A sublayer whose
compiled weights are all zero is skipped: it writes zero whatever it reads. None of this changes the result.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from optracr import assemble


@dataclasses.dataclass(frozen=True)
class FrozenLayer:
    """One compiled layer's weights; ``None`` where the layer has no heads or no MLP."""

    attention: tuple[jax.Array, jax.Array, jax.Array, jax.Array] | None  # query, key, value, output
    mlp_in: jax.Array | None
    mlp_out: jax.Array | None


@dataclasses.dataclass(frozen=True)
class FrozenWeights:
    """Every weight of a compiled model as float32 arrays, in the order the forward pass uses them."""

    token_embed: jax.Array  # vocab_size x D
    pos_embed: jax.Array  # (max_seq_len + 1) x D
    layers: tuple[FrozenLayer, ...]
    unembed: jax.Array  # D x output_size
    num_heads: int  # static: the head count splits the query/key/value columns


jax.tree_util.register_dataclass(FrozenLayer, data_fields=["attention", "mlp_in", "mlp_out"], meta_fields=[])
jax.tree_util.register_dataclass(
    FrozenWeights, data_fields=["token_embed", "pos_embed", "layers", "unembed"], meta_fields=["num_heads"]
)


# One compressed forward pass, as the compiled model's trace type: residuals are B x T x d (after the embedding and
# every sublayer), sublayer outputs B x T x D (what each sublayer computed before ``@ W``).
CompressedTrace = assemble.ForwardTrace
# Loading assemble's JAX pieces registers that trace type as a JAX pytree, which the jitted passes return.
_ATTENTION_WEIGHTS = assemble.AttentionWeights


Params = Mapping[str, Mapping[str, jax.Array]]


def float32_params(model: assemble.CompiledModel) -> dict[str, dict[str, jax.Array]]:
    """The compiled model's backend parameters as float32 JAX arrays (for its own forward pass)."""
    return jax.tree_util.tree_map(lambda array: jnp.asarray(array, dtype=jnp.float32), dict(model.params))


def frozen_weights(model: assemble.CompiledModel) -> FrozenWeights:
    """The compiled model's dense weights, per layer, as float32 arrays (all-zero sublayers dropped)."""
    return frozen_from_dense(model.layered.dense(), jnp.float32)


def frozen_from_dense(dense: assemble.DenseWeights, dtype: jnp.dtype) -> FrozenWeights:
    """Dense weights (of any residual width), per layer, as ``dtype`` arrays (all-zero sublayers dropped)."""
    as_jax = functools.partial(jnp.asarray, dtype=dtype)
    layers = []
    for layer in dense.layers:
        attention = (layer.query, layer.key, layer.value, layer.output)
        has_attention = dense.num_heads and any(np.any(array) for array in attention)
        has_mlp = dense.mlp_hidden_width and (np.any(layer.mlp_in) or np.any(layer.mlp_out))
        layers.append(FrozenLayer(
            attention=tuple(map(as_jax, attention)) if has_attention else None,
            mlp_in=as_jax(layer.mlp_in) if has_mlp else None,
            mlp_out=as_jax(layer.mlp_out) if has_mlp else None,
        ))
    return FrozenWeights(
        token_embed=as_jax(dense.token_embed),
        pos_embed=as_jax(dense.pos_embed),
        layers=tuple(layers),
        unembed=as_jax(dense.unembed),
        num_heads=dense.num_heads,
    )


def compressed_forward(
    weights: FrozenWeights, projection: jax.Array, token_ids: jax.Array, *, pad_id: int, causal: bool
) -> CompressedTrace:
    """Runs the compiled layers on the residual compressed by ``projection`` (D x d); token ids are B x T."""
    length = token_ids.shape[-1]
    # A one-hot product rather than a gather: its gradient is a matmul, not a slow scatter on CPU.
    one_hot = jax.nn.one_hot(token_ids, weights.token_embed.shape[0], dtype=projection.dtype)
    residual = one_hot @ (weights.token_embed @ projection) + (weights.pos_embed[:length] @ projection)[None]
    mask = assemble.attention_mask(token_ids, pad_id, causal)
    residuals, outputs, patterns = [residual], [], []
    for layer in weights.layers:
        attended, write, pattern = _attention_sublayer(residual, projection, mask, layer, weights.num_heads)
        residual = residual + write
        residuals.append(residual)
        outputs.append(attended)
        patterns.append(pattern)
        hidden, write = _mlp_sublayer(residual, projection, layer)
        residual = residual + write
        residuals.append(residual)
        outputs.append(hidden)
    output = residual @ (projection.T @ weights.unembed)
    return CompressedTrace(output, tuple(residuals), tuple(outputs), tuple(patterns))


def _attention_sublayer(
    residual: jax.Array, projection: jax.Array, mask: jax.Array, layer: FrozenLayer, num_heads: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One layer's heads on the compressed residual: their D-dim output, its d-dim write, the patterns."""
    batch, length = residual.shape[0], residual.shape[1]
    width = projection.shape[0]
    if layer.attention is None:  # all-zero weights: zero output, and uniform attention over the allowed keys
        logits = jnp.where(mask, 0.0, jnp.finfo(residual.dtype).min)
        pattern = jax.nn.softmax(jnp.broadcast_to(logits, (batch, num_heads, length, length)), axis=-1)
        return jnp.zeros((batch, length, width), residual.dtype), jnp.zeros_like(residual), pattern
    query, key, value, output = layer.attention
    read = projection.T
    folded = assemble.AttentionWeights(
        query=read @ query,
        key=read @ key,
        value=read @ value,
        output=jnp.concatenate([output, output @ projection], axis=1),
    )
    both, pattern = assemble.attend(residual, mask, folded, num_heads)
    return both[..., :width], both[..., width:], pattern


def _mlp_sublayer(residual: jax.Array, projection: jax.Array, layer: FrozenLayer) -> tuple[jax.Array, jax.Array]:
    """One layer's MLP on the compressed residual: its D-dim output and its d-dim write."""
    width = projection.shape[0]
    if layer.mlp_in is None or layer.mlp_out is None:
        return jnp.zeros((*residual.shape[:-1], width), residual.dtype), jnp.zeros_like(residual)
    w_out = jnp.concatenate([layer.mlp_out, layer.mlp_out @ projection], axis=1)
    both = assemble.feed_forward(residual, projection.T @ layer.mlp_in, w_out)
    return both[..., :width], both[..., width:]


def reference_forward(model: assemble.CompiledModel) -> Callable[[Params, jax.Array], assemble.ForwardTrace]:
    """The compiled model's own Haiku forward pass, as a pure function of (float32 params, token ids)."""
    return assemble.make_forward(model.config, model.input_tokens.index(model.pad)).apply
