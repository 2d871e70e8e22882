"""``ModelConfig``: the static shape of a compiled transformer, read off a ``LayeredModel`` (numpy only).

It lives apart from the Haiku backend so that describing a model (``CompiledModel.config``, ``summary``)
and running it with the numpy forward never import JAX or Haiku.
"""

from __future__ import annotations

import dataclasses

from optracr.assemble import layered


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


def model_config(model: layered.LayeredModel) -> ModelConfig:
    """The static shape of the transformer that runs ``model``."""
    shape = model.shape
    return ModelConfig(
        num_layers=shape.num_layers,
        num_heads=shape.num_heads,
        key_size=shape.key_size,
        value_size=shape.value_size,
        mlp_hidden_size=shape.mlp_hidden_width,
        d_model=model.residual_space.num_dims,
        vocab_size=len(model.input_tokens),
        output_size=model.output_size,
        max_seq_len=model.max_seq_len,
        causal=model.causal,
    )
