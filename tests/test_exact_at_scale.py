"""Exact at sizes where the reference fails: counts of 10 and more, vocabularies of 16-32, lengths 20-40."""

from __future__ import annotations

import pytest

import optracr
from optracr import programs

LETTERS = list("abcdefghijklmnop")

CASES = [
    ("length", LETTERS[:4], 40),  # the reference answers 9 for a length of 10 and more
    ("reverse", LETTERS, 20),
    ("sort", list(range(1, 17)), 20),
    ("sort_freq", list(range(1, 9)), 16),
]
SLOW_CASES = [
    ("reverse", LETTERS, 40),
    ("sort", list(range(1, 33)), 40),
    ("sort_freq", list(range(1, 17)), 40),
]


def _check(name: str, vocab: list, max_seq_len: int, num_samples: int) -> None:
    entry = programs.LIBRARY[name]
    model = optracr.compile(entry.build(max_seq_len), vocab, max_seq_len)
    report = optracr.verify(model, entry.build(max_seq_len), vocab=vocab, max_seq_len=max_seq_len,
                            num_samples=num_samples, seed=1)
    assert report.ok and report.num_undefined == 0, str(report)


@pytest.mark.parametrize(("name", "vocab", "max_seq_len"), CASES)
def test_library_program_is_exact_at_large_sizes(name: str, vocab: list, max_seq_len: int) -> None:
    _check(name, vocab, max_seq_len, num_samples=150)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "vocab", "max_seq_len"), SLOW_CASES)
def test_library_program_is_exact_at_length_40(name: str, vocab: list, max_seq_len: int) -> None:
    _check(name, vocab, max_seq_len, num_samples=2_000)


def test_every_length_up_to_40_is_counted_exactly() -> None:
    model = optracr.compile(programs.make_length(), ["a"], 40)
    outputs = model.apply_batch([["BOS", *["a"] * n] for n in range(1, 41)])
    assert outputs == [[n] * n for n in range(1, 41)]
