"""Saving and loading a ``ScrambledModel``: the original in optracr's save format, the variant beside it.

A variant directory holds ``original/`` (``optracr.save`` of the original compiled model: labels, weights and
the ground truth of where every s-op is computed), ``scrambled.safetensors`` (the scrambled dense weights under
``weights.*``, named as ``DenseWeights.arrays()``, and the scrambling under ``scrambling.*``: the residual map
D x d, per layer the head maps, MLP permutation and scales) and ``scrambled.json`` (kind, widths, provenance,
and the check against the original when one was run). ``optracr.load`` of the directory itself is refused
(there is no ``model.json`` there), so a variant is never mistaken for its original. Format version 2 records
the SHA-256 of ``scrambled.safetensors`` in ``scrambled.json``, checked on load (version 1: not recorded); every
load error names the file at fault.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from optracr import export
from optracr.compress import checking, variants
from optracr.errors import OptracrBug

FORMAT = "optracr-scrambled"
FORMAT_VERSION = 2  # 2: scrambled.json records the SHA-256 of scrambled.safetensors
JSON_NAME = "scrambled.json"
WEIGHTS_NAME = "scrambled.safetensors"
ORIGINAL_DIR = "original"
# Loaded weights must equal the scrambling re-applied to the loaded original to within this.
RELOAD_TOLERANCE = 1e-9
_LAYER_PARTS = ("query_key", "value_output", "mlp_permutation", "mlp_scale")


def save_variant(
    variant: variants.ScrambledModel, path: str | Path, *, check: checking.VariantCheck | None = None
) -> Path:
    """Writes ``variant`` (and its original, under ``original/``) into the directory ``path``; returns it."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    export.save(variant.model, directory / ORIGINAL_DIR)
    scrambling, weights = variant.scrambling, variant.weights
    tensors = {f"weights.{name}": array for name, array in weights.arrays().items()}
    tensors["scrambling.residual"] = scrambling.residual
    for number, parts in enumerate(scrambling.layer_parts()):
        tensors.update({f"scrambling.layers.{number}.{name}": part for name, part in zip(_LAYER_PARTS, parts)})
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        export.DIGEST_FIELD: export.write_tensors(tensors, directory / WEIGHTS_NAME, FORMAT),
        "kind": scrambling.kind,
        "exact": variant.exact,
        "original": ORIGINAL_DIR,
        "original_width": int(scrambling.residual.shape[0]),
        "d": variant.d,
        "num_layers": len(weights.layers),
        "num_heads": weights.num_heads,
        "key_size": weights.key_size,
        "value_size": weights.value_size,
        "mlp_hidden_width": weights.mlp_hidden_width,
        "provenance": dict(scrambling.provenance),
        "check": check.to_json() if check is not None else None,
    }
    (directory / JSON_NAME).write_text(json.dumps(document, indent=1, default=_json_default) + "\n")
    return directory


def load_variant(path: str | Path) -> variants.ScrambledModel:
    """The variant saved in ``path``: its original loaded, the scrambling re-applied and checked against the file.

    Raises:
      export.ModelFileError: a file or field is missing, the format is newer, or the saved weights are not
        the saved scrambling applied to the saved original.
    """
    directory = Path(path)
    export.require_files(
        directory, (JSON_NAME, WEIGHTS_NAME), "a saved variant",
        f" and {ORIGINAL_DIR}/ (write one with compress.save_variant or `optracr scramble`)",
    )
    json_path = directory / JSON_NAME
    document, _ = export.read_document(json_path, FORMAT, FORMAT_VERSION, "a saved variant")
    tensors = _Tensors(export.read_tensors(directory / WEIGHTS_NAME, document, json_path), directory / WEIGHTS_NAME)
    original = export.load(directory / document.get("original", ORIGINAL_DIR))
    layers = range(_field(document, "num_layers", json_path))
    scrambling = variants.Scrambling(
        kind=_field(document, "kind", json_path),
        residual=tensors["scrambling.residual"],
        **{name: tuple(tensors[f"scrambling.layers.{n}.{name}"] for n in layers) for name in _LAYER_PARTS},
        provenance=document.get("provenance") or {},
    )
    variant = variants.ScrambledModel(original, scrambling)
    for name, array in variant.weights.arrays().items():
        saved = tensors[f"weights.{name}"]
        if saved.shape != array.shape or not np.allclose(saved, array, rtol=RELOAD_TOLERANCE, atol=RELOAD_TOLERANCE):
            raise export.ModelFileError(
                f"{directory / WEIGHTS_NAME}: weights.{name} is not the saved scrambling applied to the saved "
                "original; the files were changed or come from different variants", path=directory / WEIGHTS_NAME
            )
    return variant


def _field(document: dict[str, Any], name: str, json_path: Path) -> Any:
    if name not in document:
        raise export.ModelFileError(f"{json_path}: field {name!r} is missing", path=json_path)
    return document[name]


class _Tensors:
    """The tensors of ``scrambled.safetensors``; a missing one is refused naming the file."""

    def __init__(self, tensors: dict[str, np.ndarray], path: Path) -> None:
        self._tensors, self._path = tensors, path

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._tensors:
            raise export.ModelFileError(f"{self._path}: tensor {name!r} is missing", path=self._path)
        return self._tensors[name]


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (tuple, np.ndarray)):
        return list(value)
    raise OptracrBug(f"a compressed variant's field is not JSON-ready: {type(value).__name__}")
