"""assemble: lay a scheduled block graph out as a ``LayeredModel``, and run it (Haiku is the first backend).

``lay_out(block_graph, allocation)`` is the stage's entry function. Its ``LayeredModel`` is frozen, labelled
and numpy only: the residual space (``one``, ``tokens:*`` (sorted vocabulary, then BOS and PAD),
``indices:0..N-1`` (the token at position p >= 1 has index p - 1; BOS has none), then every s-op's
subspace in block order (``label:value`` for a categorical s-op, ``label`` for a numerical one), each block's
private scratch directions right after its s-ops), the embeddings, per layer the heads and the combined MLP
as craft objects, the unembedding, ``causal``, the shape, and where every s-op is computed. Every backend
reads it: ``DenseWeights`` (``LayeredModel.dense()``) pads it into plain arrays, ``haiku_model`` turns those
into Haiku parameters (the only place that knows Haiku's names), and ``CompiledModel`` runs them.

``attend``, ``feed_forward``, ``attention_mask`` and ``AttentionWeights`` (module ``jax_forward``) are the pure
pieces of the forward pass, exported for the compress stage, which runs the same layers on a projected
residual.
"""

from __future__ import annotations

from optracr.assemble.compiled import ApplyResult, CompiledModel, decode_batch
from optracr.assemble.dense import DenseLayer, DenseWeights
from optracr.assemble.haiku_model import ModelConfig, make_forward
from optracr.assemble.jax_forward import AttentionWeights, ForwardTrace, attend, attention_mask, feed_forward
from optracr.assemble.layered import DECODE_THRESHOLD, Layer, LayeredModel, NumpyTrace, SopLocation
from optracr.assemble.layout import lay_out

__all__ = [
    "DECODE_THRESHOLD",
    "ApplyResult",
    "AttentionWeights",
    "CompiledModel",
    "DenseLayer",
    "DenseWeights",
    "ForwardTrace",
    "Layer",
    "LayeredModel",
    "ModelConfig",
    "NumpyTrace",
    "SopLocation",
    "attend",
    "attention_mask",
    "decode_batch",
    "feed_forward",
    "lay_out",
    "make_forward",
]
