"""Verification built on the certificate, the commands that print it, and models saved with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import optracr
from optracr import cli
from optracr.export import files


def test_verify_proves_where_enumeration_would_be_too_big(library_model) -> None:
    model = library_model("sort")
    report = optracr.verify(model, exhaustive_limit=100)
    assert report.proved and report.ok and report.num_inputs == 0
    assert str(report).startswith("PROVED for every input of length 1..5")


def test_verify_enumerates_where_that_is_cheap_and_says_so(library_model) -> None:
    report = optracr.verify(library_model("sort"))
    assert report.exhaustive and report.certificate is None
    assert str(report).startswith("OK: 1364 inputs checked (every input)")
    both = optracr.verify(library_model("sort"), certify=True)
    assert both.exhaustive and both.proved and str(both).splitlines()[1].startswith("PROVED")


def test_verify_samples_where_it_may_not_certify_and_says_only_that(library_model) -> None:
    report = optracr.verify(library_model("sort"), certify=False, exhaustive_limit=100, num_samples=50)
    assert not report.proved and report.num_checked == 54
    assert str(report) == "OK: checked on 54 inputs (a seeded sample, not every input), 0 mismatches"


def test_where_the_proof_fails_verify_samples_and_counts_the_confirmed_counterexample(library_model,
                                                                                   perturb) -> None:
    weak = perturb(library_model("hist", "default", 40), "scale_qk", 0, 0, 0.1)
    report = optracr.verify(weak, num_samples=20)
    assert not report.exhaustive and not report.proved and not report.ok
    assert report.certificate.counterexample is not None
    assert report.num_mismatches >= 1
    assert "NOT PROVED" in str(report)


def test_verify_of_a_loaded_model_needs_its_program(tmp_path: Path, library_model) -> None:
    loaded = optracr.load(optracr.save(library_model("hist"), tmp_path / "hist"))
    with pytest.raises(optracr.CompileError, match=r"pass it: optracr.verify\(model, program\)"):
        optracr.verify(loaded)


def test_the_certify_command_prints_the_certificate_and_writes_json(tmp_path: Path, capsys) -> None:
    out = tmp_path / "hist.json"
    assert cli.main(["certify", "hist", "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith("PROVED for every input of length 1..5")
    assert json.loads(out.read_text())["proved"] is True
    assert cli.main(["certify", "hist", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["output_label"] == "hist"


def test_verify_command_certifies_samples_and_enumerates_as_asked(capsys) -> None:
    assert cli.main(["verify", "hist", "--certify"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("OK: 1364 inputs checked (every input)") and lines[1].startswith("PROVED")
    assert cli.main(["verify", "hist", "--exhaustive-limit", "10"]) == 0
    assert capsys.readouterr().out.startswith("PROVED for every input")
    assert cli.main(["verify", "hist", "--exhaustive-limit", "10", "--samples", "7"]) == 0
    capsys.readouterr()
    assert cli.main(["verify", "hist", "--samples", "0"]) == 2
    assert "--samples: '0' is not a positive integer" in capsys.readouterr().err


def test_a_saved_model_carries_its_certificate(tmp_path: Path, library_model) -> None:
    model = library_model("hist")
    certificate = optracr.certify(model)
    directory = optracr.save(model, tmp_path / "hist", certificate=certificate)
    loaded = optracr.load(directory)
    assert loaded.certificate is not None and loaded.certificate.proved
    assert optracr.certify(loaded) is loaded.certificate  # no program needed: the saved proof
    assert str(loaded.certificate) == str(certificate)
    optracr.save(model, directory)  # saved again without one: the old certificate goes
    assert optracr.load(directory).certificate is None


def test_a_certificate_for_other_weights_is_refused(tmp_path: Path, library_model) -> None:
    directory = optracr.save(library_model("hist"), tmp_path / "hist",
                             certificate=optracr.certify(library_model("hist")))
    other = optracr.save(library_model("length"), tmp_path / "length")
    (other / files.CERTIFICATE_NAME).write_text((directory / files.CERTIFICATE_NAME).read_text())
    with pytest.raises(files.ModelFileError, match="was made for other weights"):
        optracr.load(other)
    (other / files.CERTIFICATE_NAME).write_text("{}")
    with pytest.raises(files.ModelFileError, match="field 'format' must be 'optracr-certificate'"):
        optracr.load(other)
