"""Every library program, in the default mode and the reference's structure, is proved exact on every input."""

from __future__ import annotations

import pytest

import optracr
from optracr import assemble, programs


@pytest.mark.parametrize("mode", ["default", "reference"])
@pytest.mark.parametrize("name", sorted(programs.LIBRARY))
def test_library_program_is_proved_for_every_input_up_to_its_length(name: str, mode: str, library_model) -> None:
    model = library_model(name, mode)
    certificate = optracr.certify(model)
    assert certificate.proved, str(certificate)
    assert certificate.failures == ()
    assert certificate.largest_length == model.layered.max_seq_len
    assert certificate.output_margin > 0.0
    # every stored s-op keeps room before it could read as another value, by the float64 bounds (the float32
    # bounds, which a certificate proved in float32 reports, may leave an intermediate none and still decode)
    in_float64 = optracr.certify(model, float32=False) if certificate.float32 else certificate
    stored = [sop for sop in in_float64.sops if sop.error is not None]
    assert stored and all(sop.margin > 0.0 for sop in stored), str(in_float64)


@pytest.mark.parametrize("name", sorted(programs.LIBRARY))
def test_a_float32_verdict_holds_when_the_model_runs_in_float32(name: str, library_model) -> None:
    model = library_model(name)
    certificate = optracr.certify(model)
    if not certificate.float32:
        pytest.skip(f"{name}: not proved in float32 ({certificate.float32_failure})")
    single = assemble.CompiledModel(model.layered, float64=False)
    report = optracr.verify(single, model.program, num_samples=500)
    assert report.ok, str(report)


def test_most_library_programs_are_exact_in_float32_too(library_model) -> None:
    unproved = {name for name in programs.LIBRARY if not optracr.certify(library_model(name)).float32}
    # sort_freq's fused MLP: its large gate weights lose too much in float32 ahead of a selector width that needs
    # 1e-4 (enumeration in float32 finds it exact)
    assert unproved == {"sort_freq"}
