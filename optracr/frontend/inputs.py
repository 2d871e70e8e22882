"""The inputs a program can be checked on: every sequence of a vocabulary up to a length, or a seeded sample.

``optracr.verify`` and compress's variant check share them, so both count and order inputs the same way.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Hashable, Iterator, Sequence


def all_inputs(vocab: Sequence[Hashable], max_seq_len: int) -> Iterator[tuple]:
    """Every sequence of ``vocab`` tokens of length 1..max_seq_len, shorter first."""
    for length in range(1, max_seq_len + 1):
        yield from itertools.product(vocab, repeat=length)


def sampled_inputs(vocab: Sequence[Hashable], max_seq_len: int, num_samples: int, seed: int) -> Iterator[tuple]:
    """Every single token, then ``num_samples`` sequences of random length and tokens drawn from ``seed``."""
    yield from ((token,) for token in vocab)
    rng = random.Random(seed)
    for _ in range(num_samples):
        length = rng.randint(1, max_seq_len)
        yield tuple(rng.choice(vocab) for _ in range(length))

