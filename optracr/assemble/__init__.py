"""assemble: the residual layout, each layer's blocks combined, and the Haiku transformer's parameters.

Residual layout (``CompiledModel.residual_labels``), in this order: ``one`` (1 at every position), ``tokens:*``
(sorted vocabulary, then BOS and PAD), ``indices:0..N-1`` (the token at position p >= 1 has index p - 1; BOS
has none), then every s-op's subspace in block order (``label:value`` for a categorical s-op, ``label`` for a
numerical one), each block's private scratch directions right after its s-op. The embedding tables and the
token order are craft's (``craft.token_embedding``, ``craft.position_embedding``, ``craft.input_tokens``).

``attend``, ``feed_forward``, ``attention_mask`` and ``AttentionWeights`` are the pure pieces of the forward
pass, exported for the compress stage, which runs the same layers on a projected residual.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from optracr import craft
from optracr import schedule
from optracr.assemble import layers as layers_lib
from optracr.assemble import model as model_lib
from optracr.assemble.compiled import ApplyResult, CompiledModel
from optracr.assemble.model import (
    AttentionWeights,
    ForwardTrace,
    ModelConfig,
    attend,
    attention_mask,
    feed_forward,
    make_forward,
)
from optracr.frontend import rasp

__all__ = [
    "ApplyResult",
    "AttentionWeights",
    "CompiledModel",
    "ForwardTrace",
    "ModelConfig",
    "assemble",
    "attend",
    "attention_mask",
    "feed_forward",
    "make_forward",
    "scheduling_problem",
]


def scheduling_problem(block_graph: craft.BlockGraph) -> schedule.Problem:
    """The allocation problem of ``block_graph``: kinds, widths and dependencies, nothing of RASP."""
    writers = {lowered.label for lowered in block_graph.blocks}
    blocks = tuple(
        schedule.Block(
            id=lowered.label,
            kind=schedule.BlockKind[lowered.kind],
            num_heads=lowered.num_heads,
            mlp_hidden_width=lowered.mlp_hidden_width,
            key_size=lowered.key_size,
            value_size=lowered.value_size,
            depends_on=tuple(sorted({label for label in lowered.reads if label in writers})),
        )
        for lowered in block_graph.blocks
    )
    width = block_graph.residual_space().num_dims
    return schedule.Problem(blocks=blocks, residual_width=width, fixed_parameters=_fixed_parameters(block_graph, width))


def _output_classes(block_graph: craft.BlockGraph) -> tuple:
    if block_graph.output_encoding == rasp.Encoding.NUMERICAL:
        return ()
    return tuple(direction.value for direction in block_graph.output_space.basis)


def _fixed_parameters(block_graph: craft.BlockGraph, width: int) -> int:
    outputs = max(1, len(_output_classes(block_graph)))
    return (len(craft.input_tokens(block_graph)) + block_graph.max_seq_len + 1 + outputs) * width


def assemble(
    block_graph: craft.BlockGraph,
    allocation: schedule.Allocation,
    *,
    compile_seconds: Mapping[str, float] | None = None,
) -> CompiledModel:
    """The transformer that runs ``block_graph`` laid out as ``allocation`` says."""
    residual_space = block_graph.residual_space()
    index = layers_lib.ResidualIndex(residual_space)
    layers = layers_lib.build_layers(block_graph, allocation, index)
    classes = _output_classes(block_graph)
    tokens = craft.input_tokens(block_graph)
    config = model_lib.ModelConfig(
        num_layers=allocation.num_layers,
        num_heads=allocation.num_heads,
        key_size=allocation.key_size,
        value_size=allocation.value_size,
        mlp_hidden_size=allocation.mlp_hidden_width,
        d_model=index.width,
        vocab_size=len(tokens),
        output_size=max(1, len(classes)),
        max_seq_len=block_graph.max_seq_len,
        causal=block_graph.causal,
    )
    params = {
        "token_embed": {"embeddings": craft.token_embedding(block_graph).magnitudes},
        "pos_embed": {"embeddings": craft.position_embedding(block_graph).magnitudes},
        **_layer_params(layers, config),
        "unembed": {"w": _unembedding(block_graph, classes, index)},
    }
    contents = []
    for layer in layers:
        contents.append(tuple(label for label in layer.head_labels if label))
        contents.append(layer.mlp_labels)
    return CompiledModel(
        config=config,
        params=params,
        residual_labels=tuple(str(direction) for direction in index.directions),
        allocation=allocation,
        sublayer_contents=tuple(contents),
        input_tokens=tokens,
        output_label=block_graph.output_label,
        output_encoding=block_graph.output_encoding,
        output_classes=classes,
        bos=block_graph.bos,
        pad=block_graph.pad,
        compile_seconds=dict(compile_seconds or {}),
    )


def _unembedding(block_graph: craft.BlockGraph, classes: tuple, index: layers_lib.ResidualIndex) -> np.ndarray:
    rows = index.rows(block_graph.output_space)
    unembed = np.zeros((index.width, max(1, len(classes))))
    unembed[rows, np.arange(len(rows))] = 1.0
    return unembed


def _layer_params(layers: tuple[layers_lib.LayerWeights, ...], config: ModelConfig) -> dict[str, dict[str, np.ndarray]]:
    params: dict[str, dict[str, np.ndarray]] = {}
    for number, layer in enumerate(layers):
        prefix = f"transformer/layer_{number}"
        if config.num_heads:
            projections = (("query", layer.query), ("key", layer.key), ("value", layer.value), ("output", layer.output))
            for name, weights in projections:
                params[f"{prefix}/attn/{name}"] = {"w": weights}
        if config.mlp_hidden_size:
            params[f"{prefix}/mlp/linear_1"] = {"w": layer.mlp_in}
            params[f"{prefix}/mlp/linear_2"] = {"w": layer.mlp_out}
    return params
