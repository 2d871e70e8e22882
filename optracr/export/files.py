"""``save`` and ``load``: a compiled model as ``model.safetensors`` (every matrix) and ``model.json`` (the rest).

What is saved is the ``assemble.LayeredModel`` itself, labelled: the residual space's directions, the
embeddings, per layer each attention head (``W_QK`` between its query and key spaces, ``W_OV`` between its
input and output spaces) and the layer's MLP (two linear maps through its hidden units), the unembedding,
the input tokens and output classes, the allocation and where every s-op is computed (``locations``). Loading
rebuilds the same ``LayeredModel``, so the loaded model's weights and ``apply`` are bit-identical and it
needs no RASP program. No pickle: token and direction values go through ``values`` (JSON with their types).

Format version 2 records the SHA-256 of ``model.safetensors`` in ``model.json`` (``weights_sha256``) and ``load``
checks it (``integrity``); version-1 directories, written before, load without that check. Every load error
is a ``ModelFileError`` naming the file at fault.
A compiled model's ``provenance`` (its ``CompileOptions`` and each compile stage's time and output) is recorded
in ``model.json`` under ``provenance``; a file without it (saved before, or from a bare ``LayeredModel``) loads
with none.
A model saved with its certificate (``optracr.certify``) also holds ``certificate.json``: the certificate's JSON
and the SHA-256 of ``model.safetensors``, which ``load`` checks before handing it back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from optracr import assemble, craft, schedule
from optracr.export import integrity
from optracr.export import source
from optracr import typed_json as values
from optracr.errors import CompileError
from optracr.frontend import rasp

FORMAT = "optracr-model"
FORMAT_VERSION = 2  # 2: model.json records the SHA-256 of model.safetensors
JSON_NAME = "model.json"
WEIGHTS_NAME = "model.safetensors"
CERTIFICATE_NAME = "certificate.json"
CERTIFICATE_FORMAT = "optracr-certificate"
PROVENANCE_FIELD = "provenance"
ModelFileError = integrity.ModelFileError

def save(model: Any, path: str | Path, *, certificate: Any = None) -> Path:
    """Writes ``model`` (a ``CompiledModel`` or ``LayeredModel``) into the directory ``path``; returns it.

    ``certificate`` (an ``optracr.certify`` Certificate of this model; default: the one the model carries) is
    written beside the weights as ``certificate.json``, tied to them by their SHA-256; ``load`` reads it back and
    ``optracr.certify`` of the loaded model returns it.

    >>> import tempfile, optracr
    >>> from optracr import rasp
    >>> model = optracr.compile(rasp.Map(lambda t: t == "a", rasp.tokens), {"a", "b"}, 3)
    >>> directory = optracr.save(model, tempfile.mkdtemp())
    >>> sorted(path.name for path in directory.iterdir())
    ['model.json', 'model.safetensors']
    >>> optracr.load(directory).apply(["BOS", "a", "b"]).decoded
    ['BOS', True, False]
    """
    layered = source.as_layered(model)
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    writer = _Writer()
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "optracr_version": integrity.optracr_version(),
        **_describe(layered, writer),
    }
    document["directions"] = writer.directions
    provenance = getattr(model, "provenance", None)
    if provenance is not None:
        document[PROVENANCE_FIELD] = provenance.to_json()
    # the weights first: model.json records their digest, and a directory without it is not a saved model
    document[integrity.DIGEST_FIELD] = integrity.write_tensors(writer.tensors, directory / WEIGHTS_NAME, FORMAT)
    (directory / JSON_NAME).write_text(json.dumps(document, indent=1) + "\n")
    certificate = certificate if certificate is not None else getattr(model, "certificate", None)
    if certificate is not None:
        saved = {"format": CERTIFICATE_FORMAT, "weights_sha256": document[integrity.DIGEST_FIELD],
                 "certificate": certificate.to_json()}
        (directory / CERTIFICATE_NAME).write_text(json.dumps(saved, indent=1, allow_nan=False) + "\n")
    elif (directory / CERTIFICATE_NAME).exists():
        (directory / CERTIFICATE_NAME).unlink()  # an older model's certificate does not belong to these weights
    return directory


def load(path: str | Path) -> assemble.CompiledModel:
    """The model saved in the directory ``path``, ready to ``apply``, with no RASP program needed.

    Raises:
      ModelFileError: naming the file at fault: a file is missing, damaged or truncated (its SHA-256 differs
        from the one ``model.json`` records), a field is missing or malformed (named), the JSON is not a saved
        optracr model, or it was written by a newer optracr whose format this version cannot read.
    """
    directory = Path(path)
    integrity.require_files(directory, (JSON_NAME, WEIGHTS_NAME), "a saved model", "")
    json_path, weights_path = directory / JSON_NAME, directory / WEIGHTS_NAME
    document, _ = integrity.read_document(json_path, FORMAT, FORMAT_VERSION, "a saved optracr model")
    reader = _Reader(document, integrity.read_tensors(weights_path, document, json_path), json_path, weights_path)
    try:
        layered = _rebuild(reader)
    except (ValueError, TypeError) as error:
        if isinstance(error, ModelFileError):
            raise
        raise ModelFileError(f"{directory}: the saved parts do not fit together: {error}", path=directory) from None
    return assemble.CompiledModel(layered, loaded_from=str(directory), certificate=_certificate(directory, document),
                                  provenance=_provenance(document, json_path))


def _provenance(document: dict[str, Any], json_path: Path) -> assemble.Provenance | None:
    """The compile options and stages ``model.json`` records, or None in a file that has none."""
    if PROVENANCE_FIELD not in document:
        return None
    try:
        return assemble.Provenance.from_json(document[PROVENANCE_FIELD])
    except CompileError as error:
        raise ModelFileError(f"{json_path}: field {PROVENANCE_FIELD!r} is malformed: {error}", path=json_path) from None


def _certificate(directory: Path, document: dict[str, Any]) -> Any:
    """The certificate saved beside the weights, or None; refused when it was made for other weights."""
    path = directory / CERTIFICATE_NAME
    if not path.is_file():
        return None
    from optracr.certify import Certificate  # only a model saved with its certificate needs it

    weights = document.get(integrity.DIGEST_FIELD) or integrity.sha256_of(directory / WEIGHTS_NAME)
    try:
        saved = json.loads(path.read_text())
        if saved.get("format") != CERTIFICATE_FORMAT:
            raise ModelFileError(f"{path}: field 'format' must be {CERTIFICATE_FORMAT!r}", path=path)
        if saved.get("weights_sha256") != weights:
            raise ModelFileError(
                f"{path} was made for other weights than {directory / WEIGHTS_NAME} (their SHA-256 differs); "
                "certify the model again (optracr.certify(model, program)) or delete the stale certificate",
                path=path,
            )
        return Certificate.from_json(saved["certificate"])
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
        raise ModelFileError(f"{path} is not a certificate optracr can read: {error}", path=path) from None


# ------------------------------------------------------------------------------------------ writing
class _Writer:
    """Collects the tensors and the table of basis directions that spaces refer to by index."""

    def __init__(self) -> None:
        self.tensors: dict[str, np.ndarray] = {}
        self.directions: list[list[Any]] = []
        self._index: dict[craft.BasisDirection, int] = {}

    def space(self, space: craft.VectorSpaceWithBasis) -> list[int]:
        return [self._direction(direction) for direction in space.basis]

    def _direction(self, direction: craft.BasisDirection) -> int:
        if direction not in self._index:
            self._index[direction] = len(self.directions)
            self.directions.append([direction.name, values.to_json(direction.value)])
        return self._index[direction]

    def tensor(self, name: str, array: np.ndarray) -> str:
        self.tensors[name] = np.ascontiguousarray(array, dtype=np.float64)
        return name

    def linear(self, name: str, linear: craft.Linear) -> dict[str, Any]:
        return {"input_space": self.space(linear.input_space), "output_space": self.space(linear.output_space),
                "matrix": self.tensor(name, linear.matrix)}

    def bilinear(self, name: str, bilinear: craft.Bilinear) -> dict[str, Any]:
        return {"left_space": self.space(bilinear.left_space), "right_space": self.space(bilinear.right_space),
                "matrix": self.tensor(name, bilinear.matrix)}


def _describe(layered: assemble.LayeredModel, writer: _Writer) -> dict[str, Any]:
    layers = []
    for number, layer in enumerate(layered.layers):
        heads = [
            {"w_qk": writer.bilinear(f"layers.{number}.heads.{h}.w_qk", head.w_qk),
             "w_ov": writer.linear(f"layers.{number}.heads.{h}.w_ov", head.w_ov)}
            for h, head in enumerate(layer.heads)
        ]
        mlp = None if layer.mlp is None else {
            "fst": writer.linear(f"layers.{number}.mlp.fst", layer.mlp.fst),
            "snd": writer.linear(f"layers.{number}.mlp.snd", layer.mlp.snd),
        }
        layers.append({"heads": heads, "mlp": mlp})
    return {
        "residual_space": writer.space(layered.residual_space),
        "input_tokens": [values.to_json(token) for token in layered.input_tokens],
        "bos": values.to_json(layered.bos),
        "pad": values.to_json(layered.pad),
        "max_seq_len": layered.max_seq_len,
        "causal": layered.causal,
        "output_label": layered.output_label,
        "output_encoding": layered.output_encoding.name,
        "output_classes": [values.to_json(value) for value in layered.output_classes],
        "token_embedding": writer.tensor("token_embedding", layered.token_embedding),
        "position_embedding": writer.tensor("position_embedding", layered.position_embedding),
        "layers": layers,
        "unembedding": writer.linear("unembedding", layered.unembedding),
        "shape": _shape_json(layered.shape),
        "allocation": _allocation_json(layered.allocation),
        "locations": {label: location.to_json() for label, location in layered.locations.items()},
        "sublayer_contents": [list(labels) for labels in layered.sublayer_contents],
    }


def _shape_json(shape: schedule.ModelShape) -> dict[str, int]:
    return {name: getattr(shape, name) for name in _SHAPE_FIELDS}


_SHAPE_FIELDS = ("num_layers", "num_heads", "key_size", "value_size", "mlp_hidden_width")


def _allocation_json(allocation: schedule.Allocation) -> dict[str, Any]:
    return {
        "sublayer_of": dict(allocation.sublayer_of),
        "parameter_count": allocation.parameter_count,
        "status": allocation.status.name,
        "gap": allocation.gap,
        "reason": allocation.reason,
        "seconds": allocation.seconds,
        "depth_lower_bound": allocation.depth_lower_bound,
        "fusion_groups": list(allocation.fusion_groups),
    }


# ------------------------------------------------------------------------------------------ reading
class _Reader:
    """Reads fields of the JSON document and the tensors they name, with errors that name the field."""

    def __init__(self, document: dict[str, Any], tensors: dict[str, np.ndarray], json_path: Path,
                 weights_path: Path) -> None:
        self.document, self.tensors = document, tensors
        self.json_path, self.weights_path = json_path, weights_path
        table = self.field(document, "directions", list, "directions")
        self.directions = [self._direction(entry, f"directions[{i}]") for i, entry in enumerate(table)]

    def field(self, obj: Any, name: str, kind: type | tuple[type, ...], where: str) -> Any:
        if not isinstance(obj, dict) or name not in obj:
            raise self.error(f"field {where!r} is missing")
        value = obj[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            expected = " or ".join(k.__name__ if k is not type(None) else "null" for k in kinds)
            raise self.error(f"field {where!r} must be {expected}, got {value!r}")
        return value

    def value(self, obj: Any, name: str, where: str) -> Any:
        return self.convert(lambda: values.from_json(self.field(obj, name, dict, where)), where)

    def values(self, obj: Any, name: str, where: str) -> tuple[Any, ...]:
        return tuple(self.convert(lambda e=e: values.from_json(e), f"{where}[{i}]")
                     for i, e in enumerate(self.field(obj, name, list, where)))

    def error(self, message: str) -> ModelFileError:
        """An error about ``model.json``, naming it."""
        return ModelFileError(f"{self.json_path}: {message}", path=self.json_path)

    def convert(self, make: Callable[[], Any], where: str) -> Any:
        try:
            return make()
        except (values.ValueFormatError, KeyError, TypeError, ValueError) as error:
            if isinstance(error, ModelFileError):
                raise
            raise self.error(f"field {where!r} is malformed: {error}") from None

    def space(self, obj: Any, name: str, where: str) -> craft.VectorSpaceWithBasis:
        indices = self.field(obj, name, list, where)
        if not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(self.directions) for i in indices):
            raise self.error(f"field {where!r} must list indices into 'directions', got {indices!r}")
        return self.convert(lambda: craft.space(self.directions[i] for i in indices), where)

    def tensor(self, obj: Any, name: str, where: str) -> np.ndarray:
        key = self.field(obj, name, str, where)
        if key not in self.tensors:
            raise ModelFileError(f"{self.weights_path}: tensor {key!r} (named by field {where!r} of {JSON_NAME}) is "
                                 "missing", path=self.weights_path)
        return np.array(self.tensors[key], dtype=np.float64)

    def linear(self, obj: Any, where: str) -> craft.Linear:
        spaces = [self.space(obj, name, f"{where}.{name}") for name in ("input_space", "output_space")]
        return self.convert(lambda: craft.Linear(*spaces, self.tensor(obj, "matrix", f"{where}.matrix")), where)

    def bilinear(self, obj: Any, where: str) -> craft.Bilinear:
        spaces = [self.space(obj, name, f"{where}.{name}") for name in ("left_space", "right_space")]
        return self.convert(lambda: craft.Bilinear(*spaces, self.tensor(obj, "matrix", f"{where}.matrix")), where)

    def linear_field(self, obj: Any, name: str, where: str) -> craft.Linear:
        return self.linear(self.field(obj, name, dict, f"{where}.{name}"), f"{where}.{name}")

    def _direction(self, entry: Any, where: str) -> craft.BasisDirection:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
            raise self.error(f"field {where!r} must be [name, value], got {entry!r}")
        return self.convert(lambda: craft.BasisDirection(entry[0], values.from_json(entry[1])), where)


def _rebuild(reader: _Reader) -> assemble.LayeredModel:
    doc = reader.document
    field = reader.field
    return assemble.LayeredModel(
        residual_space=reader.space(doc, "residual_space", "residual_space"),
        input_tokens=reader.values(doc, "input_tokens", "input_tokens"),
        token_embedding=reader.tensor(doc, "token_embedding", "token_embedding"),
        position_embedding=reader.tensor(doc, "position_embedding", "position_embedding"),
        layers=tuple(_layer(reader, layer, f"layers[{n}]")
                     for n, layer in enumerate(field(doc, "layers", list, "layers"))),
        unembedding=reader.linear(field(doc, "unembedding", dict, "unembedding"), "unembedding"),
        output_label=field(doc, "output_label", str, "output_label"),
        output_encoding=reader.convert(lambda: rasp.Encoding[field(doc, "output_encoding", str, "output_encoding")],
                                       "output_encoding"),
        bos=reader.value(doc, "bos", "bos"),
        pad=reader.value(doc, "pad", "pad"),
        max_seq_len=field(doc, "max_seq_len", int, "max_seq_len"),
        causal=field(doc, "causal", bool, "causal"),
        shape=_shape(reader),
        allocation=_allocation(reader),
        locations=_locations(reader),
    )


def _layer(reader: _Reader, obj: Any, where: str) -> assemble.Layer:
    heads = tuple(
        _head(reader, head, f"{where}.heads[{h}]")
        for h, head in enumerate(reader.field(obj, "heads", list, f"{where}.heads"))
    )
    mlp = reader.field(obj, "mlp", (dict, type(None)), f"{where}.mlp")
    if mlp is not None:
        fst, snd = (reader.linear_field(mlp, name, f"{where}.mlp") for name in ("fst", "snd"))
        mlp = reader.convert(lambda: craft.MLP(fst, snd), f"{where}.mlp")
    return assemble.Layer(heads, mlp)


def _head(reader: _Reader, obj: Any, where: str) -> craft.AttentionHead:
    w_qk = reader.bilinear(reader.field(obj, "w_qk", dict, f"{where}.w_qk"), f"{where}.w_qk")
    w_ov = reader.linear_field(obj, "w_ov", where)
    return reader.convert(lambda: craft.AttentionHead(w_qk, w_ov), where)


def _shape(reader: _Reader) -> schedule.ModelShape:
    shape = reader.field(reader.document, "shape", dict, "shape")
    sizes = {name: reader.field(shape, name, int, f"shape.{name}") for name in _SHAPE_FIELDS}
    return reader.convert(lambda: schedule.ModelShape(**sizes), "shape")


def _allocation(reader: _Reader) -> schedule.Allocation:
    obj = reader.field(reader.document, "allocation", dict, "allocation")
    where = "allocation"
    return reader.convert(lambda: schedule.Allocation(
        sublayer_of=reader.field(obj, "sublayer_of", dict, f"{where}.sublayer_of"),
        shape=_shape(reader),
        parameter_count=reader.field(obj, "parameter_count", int, f"{where}.parameter_count"),
        status=schedule.AllocationStatus[reader.field(obj, "status", str, f"{where}.status")],
        gap=reader.field(obj, "gap", (float, int, type(None)), f"{where}.gap"),
        reason=reader.field(obj, "reason", (str, type(None)), f"{where}.reason"),
        seconds=reader.field(obj, "seconds", (float, int), f"{where}.seconds"),
        depth_lower_bound=reader.field(obj, "depth_lower_bound", int, f"{where}.depth_lower_bound"),
        fusion_groups=tuple(reader.field(obj, "fusion_groups", list, f"{where}.fusion_groups")),
    ), where)


def _locations(reader: _Reader) -> dict[str, assemble.SopLocation]:
    locations = reader.field(reader.document, "locations", dict, "locations")
    return {
        label: reader.convert(lambda entry=entry: assemble.SopLocation(
            **{key: tuple(v) if isinstance(v, list) else v for key, v in entry.items()}), f"locations.{label}")
        for label, entry in locations.items()
    }
