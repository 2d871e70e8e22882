"""What a certificate says, in words and as JSON, and the errors ``certify`` gives when it cannot start."""

from __future__ import annotations

import json

import pytest

import optracr
from optracr import assemble
from optracr.certify import Certificate, CertifyError

rasp = optracr.rasp


def test_the_report_says_what_is_proved_and_under_which_assumptions(library_model) -> None:
    text = str(optracr.certify(library_model("sort")))
    assert text.startswith("PROVED for every input of length 1..5 over the 4-token vocabulary")
    assert "value-set inference" in text and "gamma_n" in text
    assert "float32: PROVED too" in text
    assert "'sort': inputs where a query picks several positions holding different values" in text  # undefined
    assert "target_pos" in text and "error" in text


def test_a_partial_function_is_reported_as_undefined_on_its_raising_inputs() -> None:
    inverse = rasp.Map(lambda t: 1 // t, rasp.tokens).named("inverse")
    model = optracr.compile(inverse, {0, 1, 2}, 2, partial_functions="allow")
    certificate = optracr.certify(model)
    assert certificate.proved
    assert [u.label for u in certificate.undefined] == ["inverse"]
    assert "raises on input values [0]" in certificate.undefined[0].reason


def test_a_certificate_survives_json(library_model, perturb) -> None:
    for model in (library_model("hist"), perturb(library_model("hist"), "scale_qk", 0, 0, 0.01)):
        certificate = optracr.certify(model, search_seconds=0.5)
        data = json.loads(json.dumps(certificate.to_json(), allow_nan=False))
        back = Certificate.from_json(data)
        assert back.proved == certificate.proved and back.failures == certificate.failures
        assert back.blamed == certificate.blamed and back.sops == certificate.sops
        assert str(back).splitlines()[0] == str(certificate).splitlines()[0]


def test_a_model_without_its_program_needs_the_program_passed(library_model) -> None:
    bare = assemble.CompiledModel(library_model("hist").layered)
    with pytest.raises(CertifyError, match=r"does not carry the program it was compiled from .*optracr.certify\(model, "
                                           r"program\)"):
        optracr.certify(bare)
    assert optracr.certify(bare, library_model("hist").program).proved


def test_a_program_the_model_was_not_compiled_from_is_refused(library_model) -> None:
    model = library_model("hist")
    with pytest.raises(CertifyError, match="the program's output is 'length' but the model computes 'hist'"):
        optracr.certify(model, optracr.programs.make_length())
    same_name = rasp.Map(lambda t: t, rasp.tokens).named("hist")
    with pytest.raises(CertifyError, match="the program has no s-op for"):
        optracr.certify(model, same_name)


def test_only_compiled_models_and_rasp_programs_are_certified(library_model) -> None:
    with pytest.raises(CertifyError, match="certify takes a compiled model"):
        optracr.certify("hist")
    with pytest.raises(CertifyError, match="certify needs the program as a RASP s-op"):
        optracr.certify(assemble.CompiledModel(library_model("hist").layered), "hist")


def test_the_same_program_built_again_is_aligned_with_the_models_labels(library_model) -> None:
    model = library_model("sort")
    rebuilt = optracr.programs.LIBRARY["sort"].build()  # its unnamed SequenceMap gets a fresh label
    assert optracr.certify(model, rebuilt).proved
    with pytest.raises(CertifyError, match=r"name them with .named\(...\)"):
        optracr.certify(assemble.CompiledModel(model.layered), rebuilt)
