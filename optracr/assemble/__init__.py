"""assemble: lay a scheduled block graph out as a ``LayeredModel``, and run it (Haiku is the first backend).

``lay_out(block_graph, allocation)`` is the stage's entry function. Its ``LayeredModel`` is frozen, labelled
and numpy only: the residual space (``one``, ``tokens:*`` (sorted vocabulary, then BOS and PAD),
``indices:0..N-1`` (the token at position p >= 1 has index p - 1; BOS has none), then every s-op's
subspace in block order (``label:value`` for a categorical s-op, ``label`` for a numerical one), each block's
private scratch directions right after its s-ops), the embeddings, per layer the heads and the combined MLP
as craft objects, the unembedding, ``causal``, the shape, and where every s-op is computed. Every backend
reads it. ``run_forward`` (module ``forward``) is the definition of what the model computes: each head and
MLP runs on its own residual rows (``LayeredModel.block_weights``), with ``craft.attention_mask`` the one mask
(BOS always attended, PAD never, later keys not when causal); ``CompiledModel.apply`` and ``apply_batch`` run
it. ``DenseWeights`` (``LayeredModel.dense()``) pads the model into plain arrays, built only for the
backends that need them: ``haiku_model`` turns those into Haiku parameters (the only place that knows Haiku's
names), and the exports read them.

``attend``, ``feed_forward``, ``attention_mask`` and ``AttentionWeights`` (module ``jax_forward``) are the pure
pieces of the padded JAX forward, exported for the compress stage, which runs the same layers on a projected
residual. They and ``make_forward`` load JAX and Haiku on first use.
"""

from __future__ import annotations

from typing import Any

from optracr.assemble.compiled import ApplyResult, CompiledModel, decode_batch
from optracr.assemble.blockwise import BlockWeights
from optracr.assemble.dense import DenseLayer, DenseWeights
from optracr.assemble.forward import ForwardTrace
from optracr.assemble.forward import run as run_forward
from optracr.assemble.layered import DECODE_THRESHOLD, Layer, LayeredModel, SopLocation
from optracr.assemble.layout import lay_out
from optracr.assemble.model_config import ModelConfig
from optracr.assemble.provenance import Provenance, StageRecord

__all__ = [
    "DECODE_THRESHOLD",
    "ApplyResult",
    "AttentionWeights",
    "BlockWeights",
    "CompiledModel",
    "DenseLayer",
    "DenseWeights",
    "ForwardTrace",
    "Layer",
    "LayeredModel",
    "ModelConfig",
    "Provenance",
    "SopLocation",
    "StageRecord",
    "attend",
    "attention_mask",
    "decode_batch",
    "feed_forward",
    "lay_out",
    "make_forward",
    "run_forward",
]

_JAX_NAMES = {
    "AttentionWeights": "jax_forward",
    "attend": "jax_forward",
    "attention_mask": "jax_forward",
    "feed_forward": "jax_forward",
    "make_forward": "haiku_model",
}


def __getattr__(name: str) -> Any:
    # JAX and Haiku load here, on first use: compiling and the numpy forward never need them.
    if name in _JAX_NAMES:
        import importlib

        return getattr(importlib.import_module(f"optracr.assemble.{_JAX_NAMES[name]}"), name)
    raise AttributeError(f"module 'optracr.assemble' has no attribute {name!r}")
