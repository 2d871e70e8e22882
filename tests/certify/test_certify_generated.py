"""2,000 generated programs (slow; also ``python benchmarks/certify.py --sections generated``): certify never says
PROVED where enumeration finds a wrong output, as compiled or with one weight perturbed, and proves at least 99 %
of the models enumeration finds exact."""

from __future__ import annotations

import pytest

import certify as certify_benchmark  # benchmarks/certify.py


@pytest.mark.slow
def test_two_thousand_generated_programs_are_soundly_and_almost_all_proved() -> None:
    found = certify_benchmark.generated(2000)
    tally = found["tally"]
    assert tally["programs"] >= 2000 - tally["refused"] and tally["programs"] > 1900
    assert tally["proved_wrong"] == 0 and tally["perturbed_wrong_proved"] == 0, tally
    assert tally["perturbed_wrong"] > 100, tally
    assert found["completeness"] >= 0.99, found["misses"]


def test_a_few_generated_programs_with_perturbed_weights_are_never_proved_where_wrong() -> None:
    found = certify_benchmark.generated(40, first_seed=10_000)
    tally = found["tally"]
    assert tally["proved_wrong"] == 0 and tally["perturbed_wrong_proved"] == 0, tally
    assert tally["perturbed_wrong"] >= 3 and found["completeness"] >= 0.9, found
