"""TransformerLens 4.x: an optracr model as a ``TransformerBridge`` built with ``boot_native``, every weight loaded.

The bridge's native model divides attention scores by sqrt(d_head), as the reference does, so it is filled
from the reference-style weights (``reference.reference_params``: queries scaled by sqrt(d_head), one head
width, zero biases). The unembedding is optracr's own (categorical classes or the one numerical column).
Needs the ``export`` extra (torch, transformer-lens); nothing here is imported by ``import optracr``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformer_lens.config import TransformerBridgeConfig
from transformer_lens.model_bridge import TransformerBridge
from transformer_lens.model_bridge.sources import native as _native  # noqa: F401 - attaches boot_native

from optracr.export import integrity
from optracr.export import reference
from optracr.export import source
from optracr import typed_json as values


def bridge_config(model: Any, *, dtype: torch.dtype = torch.float64) -> TransformerBridgeConfig:
    """The bridge's config: no layer norm, ReLU MLPs, ``d_head`` = the reference's one head width."""
    layered = source.as_layered(model)
    config = reference.reference_config(layered)
    dense = layered.dense()
    return TransformerBridgeConfig(
        d_model=len(layered.residual_labels),
        d_head=config.key_size,
        n_layers=config.num_layers,
        n_ctx=layered.max_seq_len + 1,
        n_heads=config.num_heads,
        d_vocab=len(layered.input_tokens),
        d_vocab_out=dense.unembed.shape[1],
        d_mlp=config.mlp_hidden_size,
        act_fn="relu",
        normalization_type=None,
        attention_dir="causal" if layered.causal else "bidirectional",
        default_prepend_bos=False,  # inputs are token ids that already start with BOS
        init_weights=False,  # every weight is loaded
        dtype=dtype,
        model_name="optracr",
    )


def state_dict(model: Any, *, dtype: torch.dtype = torch.float64) -> dict[str, torch.Tensor]:
    """The bridge's state dict, keyed as ``TransformerBridge.state_dict()`` keys it (``nn.Linear``: out x in)."""
    layered = source.as_layered(model)
    params = reference.reference_params(layered)
    unembed = layered.dense().unembed

    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.tensor(np.ascontiguousarray(array), dtype=dtype)

    weights = {
        "embed.weight": tensor(params["token_embed"]["embeddings"]),
        "pos_embed.weight": tensor(params["pos_embed"]["embeddings"]),
        "unembed.weight": tensor(unembed.T),
        "unembed.bias": tensor(np.zeros(unembed.shape[1])),
    }
    for layer in range(layered.shape.num_layers):
        modules = reference.layer_modules(params, layer)
        for bridge_name, reference_name in _MODULES.items():
            module = modules[reference_name]
            weights[f"blocks.{layer}.{bridge_name}.weight"] = tensor(module["w"].T)
            weights[f"blocks.{layer}.{bridge_name}.bias"] = tensor(module["b"])
    return weights


_MODULES = {  # bridge module -> the reference-style module (reference.layer_modules)
    "attn.q": "query",
    "attn.k": "key",
    "attn.v": "value",
    "attn.o": "linear",
    "mlp.in": "linear_1",
    "mlp.out": "linear_2",
}


def to_transformer_lens(model: Any, *, dtype: torch.dtype = torch.float64) -> TransformerBridge:
    """A TransformerBridge computing ``model``, loaded strictly, with ``residual_labels`` and encoders attached.

    Feed it token ids ``[BOS, *tokens]`` (``bridge.input_encoder.encode``); pass
    ``attention_mask=(ids != bridge.input_encoder.pad_encoding)`` for inputs padded with PAD.
    """
    layered = source.as_layered(model)
    bridge = TransformerBridge.boot_native(bridge_config(layered, dtype=dtype), dtype=dtype)
    bridge.load_state_dict(state_dict(layered, dtype=dtype), strict=True)
    interface = reference.reference_model(layered)
    _attach(
        bridge,
        residual_labels=list(layered.residual_labels),
        input_encoder=interface.input_encoder,
        output_encoder=interface.output_encoder,
        output_label=layered.output_label,
    )
    return bridge


TL_JSON_NAME = "transformer_lens.json"
TL_WEIGHTS_NAME = "transformer_lens.safetensors"


def save_transformer_lens(model: Any, path: str | Path) -> Path:
    """Writes the bridge's state dict (``transformer_lens.safetensors``) and its config, residual labels and
    encoders (``transformer_lens.json``) into the directory ``path``; ``load_transformer_lens`` reads them."""
    layered = source.as_layered(model)
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    config = bridge_config(layered)
    weights = {name: tensor.numpy() for name, tensor in state_dict(layered).items()}
    document = {
        "format": TL_FORMAT,
        "format_version": TL_FORMAT_VERSION,
        integrity.DIGEST_FIELD: integrity.write_tensors(weights, directory / TL_WEIGHTS_NAME, TL_FORMAT),
        "config": {name: getattr(config, name) for name in _CONFIG_FIELDS},
        "residual_labels": list(layered.residual_labels),
        "input_tokens": [values.to_json(token) for token in layered.input_tokens],
        "bos": values.to_json(layered.bos),
        "pad": values.to_json(layered.pad),
        "output_label": layered.output_label,
        "output_encoding": layered.output_encoding.name,
        "output_classes": [values.to_json(value) for value in layered.output_classes],
    }
    (directory / TL_JSON_NAME).write_text(json.dumps(document, indent=1) + "\n")
    return directory


def load_transformer_lens(path: str | Path) -> TransformerBridge:
    """The bridge ``save_transformer_lens`` wrote into ``path``, loaded strictly, labels and encoders attached."""
    directory = Path(path)
    integrity.require_files(directory, (TL_JSON_NAME, TL_WEIGHTS_NAME), "a TransformerLens export",
                            " (write one with export.save_transformer_lens or `optracr export --format tl`)")
    json_path = directory / TL_JSON_NAME
    document, _ = integrity.read_document(json_path, TL_FORMAT, TL_FORMAT_VERSION, "a TransformerLens export of optracr")
    weights = integrity.read_tensors(directory / TL_WEIGHTS_NAME, document, json_path)
    try:
        return _rebuild_bridge(document, weights)
    except (KeyError, TypeError, ValueError, RuntimeError) as error:  # a field missing or malformed, or a shape
        if isinstance(error, integrity.ModelFileError):
            raise
        raise integrity.ModelFileError(f"{json_path}: a field is missing or does not fit the weights "
                                       f"({type(error).__name__}: {error})", path=json_path) from None


def _rebuild_bridge(document: dict[str, Any], weights: dict[str, np.ndarray]) -> TransformerBridge:
    config = TransformerBridgeConfig(**document["config"], dtype=torch.float64, init_weights=False, model_name="optracr")
    bridge = TransformerBridge.boot_native(config, dtype=torch.float64)
    bridge.load_state_dict({name: torch.tensor(array) for name, array in weights.items()}, strict=True)
    numerical = document["output_encoding"] == "NUMERICAL"
    tokens = [values.from_json(token) for token in document["input_tokens"]]
    _attach(
        bridge,
        residual_labels=document["residual_labels"],
        input_encoder=reference.CategoricalEncoder(
            tokens, bos_token=values.from_json(document["bos"]), pad_token=values.from_json(document["pad"]),
            max_seq_len=config.n_ctx,
        ),
        output_encoder=reference.NumericalEncoder() if numerical else reference.CategoricalEncoder(
            [values.from_json(value) for value in document["output_classes"]]
        ),
        output_label=document["output_label"],
    )
    return bridge


TL_FORMAT = "optracr-transformer-lens"
TL_FORMAT_VERSION = 2  # 2: transformer_lens.json records the SHA-256 of transformer_lens.safetensors
_CONFIG_FIELDS = ("d_model", "d_head", "n_layers", "n_ctx", "n_heads", "d_vocab", "d_vocab_out", "d_mlp", "act_fn",
                  "normalization_type", "attention_dir", "default_prepend_bos")


def _attach(bridge: TransformerBridge, **attributes: Any) -> None:
    for name, value in attributes.items():
        setattr(bridge, name, value)
