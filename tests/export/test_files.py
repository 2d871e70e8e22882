"""save -> load: bit-identical models without the RASP program; clear errors on damaged or newer files."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import optracr
from optracr import export, rasp


def test_save_load_apply_is_bit_identical(case, compiled, every_input, tmp_path: Path) -> None:
    model = compiled(*case)
    loaded = optracr.load(optracr.save(model, tmp_path))
    for tokens in every_input(model)[::11]:
        want, got = model.apply(tokens), loaded.apply(tokens)
        assert got.decoded == want.decoded
        assert all(np.array_equal(a, b) for a, b in zip(got.residuals, want.residuals))
        assert np.array_equal(got.output, want.output)
    for name, array in model.layered.dense().arrays().items():
        assert np.array_equal(loaded.layered.dense().arrays()[name], array), name
    assert loaded.layered.locations == model.layered.locations
    assert loaded.allocation == model.allocation and loaded.sublayer_contents == model.sublayer_contents


def test_loaded_model_exports_like_the_original(compiled, tmp_path: Path) -> None:
    model = compiled("sort", False)
    loaded = optracr.load(optracr.save(model, tmp_path))
    original, again = export.reference_model(model).params, export.reference_model(loaded).params
    assert all(np.array_equal(original[m][p], again[m][p]) for m in original for p in original[m])


def test_values_of_every_type_survive(tmp_path: Path) -> None:
    program = rasp.Map(lambda t: (t, 1.5) if t in (1, True) else None, rasp.tokens)
    model = optracr.compile(program, {1, 2.5, "1", (0, "a")}, 2, bos=None, pad=False)
    loaded = optracr.load(optracr.save(model, tmp_path))
    assert loaded.input_tokens == model.input_tokens and loaded.output_classes == model.output_classes
    assert [type(t) for t in loaded.input_tokens] == [type(t) for t in model.input_tokens]
    tokens = [None, 1, (0, "a")]
    assert loaded.apply(tokens).decoded == model.apply(tokens).decoded


def test_the_json_says_which_s_op_is_computed_where(compiled, tmp_path: Path) -> None:
    model = compiled("sort", False)
    document = json.loads((optracr.save(model, tmp_path) / "model.json").read_text())
    assert document["format_version"] == export.FORMAT_VERSION
    assert document["sublayer_contents"] == [list(labels) for labels in model.sublayer_contents]
    assert set(document["locations"]) == set(model.layered.locations)


def _damage(directory: Path, change) -> None:
    path = directory / "model.json"
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("max_seq_len"), "field 'max_seq_len' is missing"),
        (lambda d: d.update(causal="yes"), "field 'causal' must be bool"),
        (lambda d: d["allocation"].pop("status"), "field 'allocation.status' is missing"),
        (lambda d: d.update(bos={"complex": 1}), "field 'bos' is malformed"),
        (lambda d: d.update(output_encoding="ORDINAL"), "field 'output_encoding' is malformed"),
        (lambda d: d["layers"][1]["mlp"].pop("fst"), r"field 'layers\[1\].mlp.fst' is missing"),
        (lambda d: d.update(residual_space=[0, 10**6]), "field 'residual_space' must list indices"),
        (lambda d: d.update(format="something"), "not a saved optracr model"),
        (lambda d: d.update(format_version=99), "newer optracr"),
        (lambda d: d["shape"].update(num_layers=7), "do not fit together"),
    ],
)
def test_a_damaged_or_newer_file_is_refused_naming_the_field(compiled, tmp_path: Path, change, message: str) -> None:
    directory = optracr.save(compiled("sort", False), tmp_path)
    _damage(directory, change)
    with pytest.raises(export.ModelFileError, match=message):
        optracr.load(directory)


def test_a_missing_tensor_is_named(compiled, tmp_path: Path) -> None:
    directory = optracr.save(compiled("sort", False), tmp_path)
    _damage(directory, lambda d: d.update(token_embedding="no_such_tensor"))
    with pytest.raises(export.ModelFileError, match="tensor 'no_such_tensor'"):
        optracr.load(directory)


def test_a_directory_without_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(export.ModelFileError, match="no model.json"):
        optracr.load(tmp_path)


# ------------------------------------------------------------------------------------------ integrity
FIXTURES = Path(__file__).parent / "fixtures"


def test_saved_json_records_the_sha256_of_the_weights_file(compiled, tmp_path: Path) -> None:
    directory = optracr.save(compiled("sort", False), tmp_path)
    document = json.loads((directory / "model.json").read_text())
    assert document["format_version"] == 2
    assert document["weights_sha256"] == hashlib.sha256((directory / "model.safetensors").read_bytes()).hexdigest()


@pytest.mark.parametrize("offset", [-1, -200, 9])  # in the last tensor's data, in the middle, in the header
def test_flipped_bytes_in_the_weights_are_refused_naming_the_file(compiled, tmp_path: Path, offset: int) -> None:
    directory = optracr.save(compiled("sort", False), tmp_path)
    weights = directory / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[offset] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(export.ModelFileError, match=rf"{re.escape(str(weights))} is damaged or was changed after "
                                                    r"saving: its SHA-256 is [0-9a-f]{64}, but model.json records"):
        optracr.load(directory)


def test_a_truncated_weights_file_is_refused_naming_its_path(compiled, tmp_path: Path) -> None:
    directory = optracr.save(compiled("sort", False), tmp_path)
    weights = directory / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(export.ModelFileError, match=f"{re.escape(str(weights))} is damaged"):
        optracr.load(directory)


def test_a_truncated_version_1_file_is_refused_naming_its_path(tmp_path: Path) -> None:
    directory = shutil.copytree(FIXTURES / "frac_prevs_v1", tmp_path / "v1")
    weights = directory / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8])
    with pytest.raises(export.ModelFileError, match=f"{re.escape(str(weights))} is not a readable safetensors file "
                                                    r"\(SafetensorError: .*incomplete metadata.*\); it is damaged"):
        optracr.load(directory)


def test_non_finite_weights_of_a_version_1_file_are_refused(tmp_path: Path) -> None:
    from safetensors import numpy as safetensors_numpy

    directory = shutil.copytree(FIXTURES / "frac_prevs_v1", tmp_path / "v1")
    weights = directory / "model.safetensors"
    tensors = safetensors_numpy.load_file(str(weights))
    tensors["token_embedding"][0, 0] = np.nan
    safetensors_numpy.save_file(tensors, str(weights))
    with pytest.raises(export.ModelFileError, match=f"{re.escape(str(weights))}: tensor 'token_embedding' holds NaN"):
        optracr.load(directory)


def test_the_committed_version_1_model_loads_and_applies_bit_for_bit() -> None:
    directory = FIXTURES / "frac_prevs_v1"
    assert json.loads((directory / "model.json").read_text())["format_version"] == 1
    expected = json.loads((directory / "expected.json").read_text())
    loaded = optracr.load(directory)
    for tokens, output, decoded in zip(expected["inputs"], expected["outputs"], expected["decoded"]):
        result = loaded.apply(tokens)
        assert [[float(value).hex() for value in row] for row in result.output] == output, tokens
        assert result.decoded == decoded


def test_a_version_1_model_saved_again_is_version_2_with_the_same_weights(tmp_path: Path) -> None:
    loaded = optracr.load(FIXTURES / "frac_prevs_v1")
    again = optracr.load(optracr.save(loaded, tmp_path))
    assert json.loads((tmp_path / "model.json").read_text())["format_version"] == 2
    for name, array in loaded.layered.dense().arrays().items():
        assert np.array_equal(again.layered.dense().arrays()[name], array), name


def _write_json(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.safetensors").write_bytes(b"")
    (directory / "model.json").write_text(text)
    return directory / "model.json"


@pytest.mark.parametrize(("text", "message"), [
    ('{"format": "something-else"}', "field 'format' must be 'optracr-model', got 'something-else'; this is not a "
                                     "saved optracr model"),
    ("[1, 2]", "field 'format' must be 'optracr-model', got 'list'; this is not a saved optracr model"),
    ("{not json", r"\(Expecting property name.*\); is this a saved optracr model\?"),
    ('{"format": "optracr-model", "format_version": 0}', "field 'format_version' must be a positive int, got 0"),
    ('{"format": "optracr-model", "format_version": "2"}', "field 'format_version' must be a positive int, got '2'"),
    ('{"format": "optracr-model", "format_version": 3, "optracr_version": "9.0"}',
     r"format_version 3 was written by a newer optracr \(9.0\); this optracr \(.*\) reads format versions up to 2"),
    ('{"format": "optracr-model", "format_version": 2, "weights_sha256": "abc"}',
     "field 'weights_sha256' must be 64 hex digits, got 'abc'"),
])
def test_a_json_file_that_is_not_a_model_of_ours_is_refused_naming_its_path(tmp_path: Path, text, message) -> None:
    path = _write_json(tmp_path / "model", text)
    with pytest.raises(export.ModelFileError, match=f"{re.escape(str(path))}(:| is not JSON).*{message}") as raised:
        optracr.load(tmp_path / "model")
    assert raised.value.path == path


def test_missing_files_and_a_file_for_a_directory_are_refused_naming_the_path(compiled, tmp_path: Path) -> None:
    directory = optracr.save(compiled("sort", False), tmp_path / "model")
    with pytest.raises(export.ModelFileError, match=f"{re.escape(str(directory / 'model.json'))} is a file; a saved "
                                                    f"model is the directory holding model.json, model.safetensors "
                                                    rf"\(here: {re.escape(str(directory))}\)"):
        optracr.load(directory / "model.json")
    (directory / "model.safetensors").unlink()
    with pytest.raises(export.ModelFileError, match=f"{re.escape(str(directory))}: no model.safetensors"):
        optracr.load(directory)
    with pytest.raises(export.ModelFileError, match=f"{re.escape(str(tmp_path / 'nowhere'))}: no model.json"):
        optracr.load(tmp_path / "nowhere")


def test_every_field_error_names_the_json_path(compiled, tmp_path: Path) -> None:
    directory = optracr.save(compiled("sort", False), tmp_path)
    _damage(directory, lambda d: d.pop("max_seq_len"))
    with pytest.raises(export.ModelFileError, match=f"{re.escape(str(directory / 'model.json'))}: field 'max_seq_len'"):
        optracr.load(directory)


def test_load_errors_belong_to_optracrs_error_family() -> None:
    assert issubclass(export.ModelFileError, optracr.OptracrError) and issubclass(export.ModelFileError, ValueError)
    assert export.ModelFileError is optracr.ModelFileError
