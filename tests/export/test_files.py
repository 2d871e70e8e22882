"""save -> load: bit-identical models without the RASP program; clear errors on damaged or newer files."""

from __future__ import annotations

import json
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
