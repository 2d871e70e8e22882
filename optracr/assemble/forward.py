"""The forward pass, block by block: the one definition of what a compiled model computes.

The residual (B x T x D, one row per position, BOS first) starts as token plus position embedding. Per layer,
every head reads the residual rows of its own query, key and value spaces, scores ``query W_QK key^T`` (no
1/sqrt(key size) factor: the compiled ``W_QK`` has the sharpness it needs), takes a softmax over the keys
``craft.attention_mask`` allows (BOS always, PAD never, later keys not when causal; masked keys get exactly
zero weight), mixes ``value W_OV`` and adds it at its output rows; then the layer's MLP reads its input rows,
computes ``ReLU(x W_in) W_out`` and adds it at its output rows. The unembedding reads the output s-op's rows.

Every backend computes the same function on padded dense arrays (Haiku, TransformerLens, the reference
interface, ``export.to_torch``, compress) and is tested equal to this one. The trace's attention has the
model's padded head count per layer, as the dense backends have: a head the layer lacks has zero logits, so
its pattern is uniform over the allowed keys, and it writes nothing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from optracr import craft
from optracr.assemble import blockwise
from optracr.errors import OptracrBug


@dataclasses.dataclass(frozen=True)
class ForwardTrace:
    """Everything one forward pass computes; arrays are batch-first (numpy here, JAX in the Haiku backend)."""

    output: Any  # B x T x output_size, the unembedded logits (or value)
    residuals: tuple[Any, ...]  # B x T x D after the embedding and after every sublayer
    sublayer_outputs: tuple[Any, ...]  # B x T x D, what each sublayer added to the residual
    attention: tuple[Any, ...]  # per layer, B x H x T x T


def run(weights: blockwise.BlockWeights, token_ids: np.ndarray, *, trace: bool = True) -> ForwardTrace:
    """Runs the model on token ids (B x T, each row BOS first) in the dtype of ``weights``.

    ``trace=False`` keeps only the output (``residuals``, ``sublayer_outputs`` and ``attention`` are empty) and
    updates one residual in place.
    """
    token_ids = np.asarray(token_ids)
    if token_ids.ndim != 2:
        raise OptracrBug(f"the forward takes B x T token ids, got shape {token_ids.shape}")
    length = token_ids.shape[1]
    x = weights.token_embed[token_ids] + weights.pos_embed[:length][None]
    mask = craft.attention_mask(token_ids == weights.pad_id, weights.causal)  # B x T x T
    residuals, outputs, patterns = [x.copy()] if trace else [], [], []
    for layer in weights.layers:
        attended, pattern = _attention_sublayer(x, mask, layer.heads, weights.num_heads, trace)
        x += attended
        if trace:
            residuals.append(x.copy()), outputs.append(attended), patterns.append(pattern)
        written = _mlp_sublayer(x, layer.mlp)
        x += written
        if trace:
            residuals.append(x.copy()), outputs.append(written)
    output = x[..., weights.unembed_rows] @ weights.unembed
    return ForwardTrace(output, tuple(residuals), tuple(outputs), tuple(patterns))


def _attention_sublayer(
    x: np.ndarray, mask: np.ndarray, heads: tuple[blockwise.HeadWeights, ...], num_heads: int, trace: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """What the layer's heads add (B x T x D) and, when tracing, every padded head's pattern (B x H x T x T)."""
    written = np.zeros_like(x)
    patterns = []
    for head in heads:
        pattern = _pattern(x, mask, head)
        values = _times(x[..., head.value_rows], head.w_ov)
        written[..., head.output_rows] += pattern @ values
        patterns.append(pattern)
    if not trace:
        return written, None
    uniform = mask / mask.sum(axis=-1, keepdims=True)  # a missing head: zero logits over the allowed keys
    patterns += [uniform.astype(x.dtype)] * (num_heads - len(heads))
    batch, length = x.shape[0], x.shape[1]
    stacked = np.stack(patterns, axis=1) if patterns else np.zeros((batch, 0, length, length), x.dtype)
    return written, stacked


def _pattern(x: np.ndarray, mask: np.ndarray, head: blockwise.HeadWeights) -> np.ndarray:
    """One head's attention weights, B x T (query) x T (key); exactly zero at masked keys."""
    query, key = x[..., head.query_rows], x[..., head.key_rows]
    query_used, key_used = _used(query), _used(key)
    if query_used is None or key_used is None:
        logits = _times(query, head.w_qk) @ np.swapaxes(key, -1, -2)
    else:  # only the directions some position holds: a categorical s-op is one-hot
        w_qk = head.w_qk[np.ix_(query_used, key_used)]
        logits = (query[..., query_used] @ w_qk) @ np.swapaxes(key[..., key_used], -1, -2)
    logits = np.where(mask, logits, -np.inf)  # BOS is always allowed, so no row is all -inf
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True)


def _mlp_sublayer(x: np.ndarray, mlp: blockwise.MLPWeights | None) -> np.ndarray:
    """What the layer's MLP adds (B x T x D)."""
    written = np.zeros_like(x)
    if mlp is not None:
        hidden = np.maximum(_times(x[..., mlp.input_rows], mlp.w_in), 0)
        written[..., mlp.output_rows] = _times(hidden, mlp.w_out)
    return written


def _used(values: np.ndarray) -> np.ndarray | None:
    """The columns of ``values`` non-zero at some position, or None when that is most of them."""
    used = np.flatnonzero(values.any(axis=tuple(range(values.ndim - 1))))
    return None if 2 * used.size > values.shape[-1] else used


def _times(values: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``values @ matrix``, skipping the rows of ``matrix`` whose column of ``values`` is zero everywhere.

    A categorical s-op is one-hot and most hidden units are off after the ReLU, so at real sizes this
    multiplies a few rows rather than thousands; the skipped terms are exact zeros.
    """
    used = _used(values)
    return values @ matrix if used is None else values[..., used] @ matrix[used]
