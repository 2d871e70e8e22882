"""Reading and writing the files of a saved model so that damage is found and every error names its file.

Each save writes its tensors with safetensors and records the file's SHA-256 in its JSON document; each load
checks that digest before trusting a byte of the weights (a flipped bit is refused, not decoded as NaN), and
turns every failure (a missing or truncated file, JSON that is not JSON or not ours, a format version from a
newer optracr) into a ``ModelFileError`` that names the path. Files written before digests were recorded
(format version 1) load without the digest check; every load still refuses weights that are not finite.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from optracr.errors import CompileError, ModelFileError

DIGEST_FIELD = "weights_sha256"
_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    """The SHA-256 of the file at ``path``, as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def require_files(directory: Path, names: tuple[str, ...], what: str, hint: str) -> None:
    """Refuses a ``directory`` that is not a directory holding every file in ``names``."""
    if directory.is_file():
        raise ModelFileError(f"{directory} is a file; {what} is the directory holding {', '.join(names)} "
                             f"(here: {directory.parent})", path=directory)
    for name in names:
        if not (directory / name).is_file():
            raise ModelFileError(f"{directory}: no {name}; {what} is a directory holding {', '.join(names)}"
                                 f"{hint}", path=directory / name)


def read_document(path: Path, file_format: str, max_version: int, what: str) -> tuple[dict[str, Any], int]:
    """The JSON document at ``path`` and its format version, refused by name if it is not ``file_format`` or is
    of a format version newer than ``max_version``."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(f"{path} is not JSON ({error}); is this {what}?", path=path) from None
    if not isinstance(document, dict) or document.get("format") != file_format:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise ModelFileError(f"{path}: field 'format' must be {file_format!r}, got {found!r}; this is not {what}",
                             path=path)
    version = document.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{path}: field 'format_version' must be a positive int, got {version!r}", path=path)
    if version > max_version:
        raise ModelFileError(
            f"{path}: format_version {version} was written by a newer optracr "
            f"({document.get('optracr_version', 'unknown')}); this optracr ({optracr_version()}) reads format "
            f"versions up to {max_version}: upgrade optracr to load it", path=path)
    return document, version


def optracr_version() -> str:
    """The installed optracr's version, recorded in every saved file ("unknown" in a bare checkout)."""
    try:
        return metadata.version("optracr")
    except metadata.PackageNotFoundError:
        return "unknown"


def write_tensors(tensors: Mapping[str, np.ndarray], path: Path, file_format: str) -> str:
    """Writes ``tensors`` as a safetensors file at ``path``; returns the file's SHA-256 to record beside it."""
    safetensors_numpy = _safetensors_numpy()
    contiguous = {name: np.ascontiguousarray(array) for name, array in tensors.items()}
    safetensors_numpy.save_file(contiguous, str(path), metadata={"format": file_format})
    return sha256_of(path)


def read_tensors(path: Path, document: Mapping[str, Any], document_path: Path) -> dict[str, np.ndarray]:
    """The tensors of the safetensors file at ``path``, after checking the SHA-256 that ``document`` (read from
    ``document_path``) records for it, if it records one; refuses a damaged file or non-finite weights by name."""
    recorded = document.get(DIGEST_FIELD)
    if recorded is not None or document.get("format_version", 1) >= 2:
        if not (isinstance(recorded, str) and len(recorded) == 64):
            raise ModelFileError(f"{document_path}: field {DIGEST_FIELD!r} must be 64 hex digits, got {recorded!r}",
                                 path=document_path)
        found = sha256_of(path)
        if found != recorded.lower():
            raise ModelFileError(
                f"{path} is damaged or was changed after saving: its SHA-256 is {found}, but {document_path.name} "
                f"records {recorded}; save the model again (or restore both files from the same save)", path=path)
    try:
        tensors = _safetensors_numpy().load_file(str(path))
    except Exception as error:  # noqa: BLE001 - safetensors' SafetensorError, and OSError
        raise ModelFileError(f"{path} is not a readable safetensors file ({type(error).__name__}: {error}); "
                             "it is damaged or truncated: save the model again", path=path) from None
    for name, array in tensors.items():
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            raise ModelFileError(f"{path}: tensor {name!r} holds NaN or infinite values; compiled weights are "
                                 "always finite, so the file is damaged: save the model again", path=path)
    return tensors


def _safetensors_numpy() -> Any:
    try:
        from safetensors import numpy as safetensors_numpy
    except ImportError:
        raise CompileError(None, "saved models are safetensors files, and safetensors is not installed: "
                                 "pip install safetensors (or pip install 'optracr[export]')") from None
    return safetensors_numpy
