"""A selector width whose softmax scale is too small for its length is NOT PROVED, with the width it fails at, and the
counterexample the certificate reports is one the model really gets wrong."""

from __future__ import annotations

import re

import optracr
from optracr import frontend


def test_a_selector_width_with_too_small_a_scale_at_length_40_fails_at_a_named_width(library_model, perturb) -> None:
    model = library_model("hist", "default", 40)
    weak = perturb(model, "scale_qk", 0, 0, 0.1)
    certificate = optracr.certify(weak, search_seconds=5.0)
    assert not certificate.proved
    assert certificate.blamed is not None and certificate.blamed.kind == "pair" and certificate.blamed.heads == (0,)
    match = re.search(r"fails at width (\d+)", certificate.story)
    assert match, certificate.story
    assert 1 <= int(match.group(1)) <= 40
    assert certificate.largest_length < 40
    found = certificate.counterexample
    assert found is not None, str(certificate)
    expected = frontend.evaluate(model.program, list(found.input))
    got = weak.apply([weak.bos, *found.input]).decoded[1:]
    assert list(found.expected) == expected and list(found.got) == got and got != expected


def test_heads_so_weak_that_widths_overlap_are_blamed_on_the_head(library_model, perturb) -> None:
    weak = perturb(library_model("hist", "default", 40), "scale_qk", 0, 0, 0.08)
    certificate = optracr.certify(weak, search_seconds=0.0)
    assert "which overlap, so no MLP can tell them apart" in certificate.story


def test_the_same_selector_width_with_its_own_scale_is_proved_at_length_40(library_model) -> None:
    certificate = optracr.certify(library_model("hist", "default", 40))
    assert certificate.proved and certificate.largest_length == 40
