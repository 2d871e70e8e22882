"""export: optracr models for other tools, as further backends of ``assemble.LayeredModel``.

- ``reference_model``: the reference compiler's interface (``model_config``, ``input_encoder``,
  ``output_encoder``, ``params`` with ``w`` and ``b``, ``apply``); numpy only.
- ``save`` / ``load``: a model as ``model.safetensors`` + ``model.json`` (which records the weights' SHA-256);
  ``load`` needs no RASP program, checks the digest, and names the file in every ``ModelFileError``.
- ``to_torch``: a plain ``torch.nn.Module`` (``TorchModel``) with the same forward and hook points at
  TransformerLens's names; needs only torch (the ``torch`` extra).
- ``to_transformer_lens``, ``state_dict``, ``bridge_config``, ``save_transformer_lens``,
  ``load_transformer_lens``: TransformerLens 4.x and PyTorch (the ``export`` extra).

Every function takes a ``CompiledModel`` or a ``LayeredModel``. torch, transformer_lens and safetensors are
imported only when a function that needs them runs.
"""

from __future__ import annotations

from typing import Any

from optracr.export.files import FORMAT_VERSION, load, save
from optracr.export.integrity import (
    DIGEST_FIELD,
    ModelFileError,
    read_document,
    read_tensors,
    require_files,
    write_tensors,
)
from optracr.export.reference import (
    CategoricalEncoder,
    NumericalEncoder,
    ReferenceCompatibleModel,
    TransformerConfig,
    reference_model,
)

__all__ = [
    "DIGEST_FIELD",
    "FORMAT_VERSION",
    "CategoricalEncoder",
    "ModelFileError",
    "NumericalEncoder",
    "ReferenceCompatibleModel",
    "TorchModel",
    "TransformerConfig",
    "bridge_config",
    "load",
    "load_transformer_lens",
    "read_document",
    "read_tensors",
    "reference_model",
    "require_files",
    "save",
    "save_transformer_lens",
    "state_dict",
    "to_torch",
    "to_transformer_lens",
    "write_tensors",
]

# torch (and for the bridge, transformer_lens) load here, on first use of one of these names
_LAZY_NAMES = {
    "TorchModel": "torch_module",
    "to_torch": "torch_module",
    "bridge_config": "tl_bridge",
    "load_transformer_lens": "tl_bridge",
    "save_transformer_lens": "tl_bridge",
    "state_dict": "tl_bridge",
    "to_transformer_lens": "tl_bridge",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_NAMES:
        import importlib

        return getattr(importlib.import_module(f"optracr.export.{_LAZY_NAMES[name]}"), name)
    raise AttributeError(f"module 'optracr.export' has no attribute {name!r}")
