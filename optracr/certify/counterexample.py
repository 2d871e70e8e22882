"""A concrete input on which the model decodes wrong, looked for where the proof fails, and confirmed by running
the model against the evaluator.

The search starts from inputs shaped like the worst cases the proof meets (every position the same token, which
gives the widest selections; the tokens the failing case names; random inputs) at the failing length and at
the longest, then improves the most promising ones token by token, keeping a change when the model's decoding
margin (how far its output is from decoding differently, worst position) does not grow.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from optracr import frontend
from optracr.certify import decoding
from optracr.errors import EvaluationError

rasp = frontend.rasp


@dataclasses.dataclass(frozen=True)
class Counterexample:
    """An input the model gets wrong: the evaluator's answer and the model's, confirmed by running both."""

    input: tuple[Hashable, ...]
    expected: tuple[Any, ...]
    got: tuple[Any, ...]

    def to_json(self) -> dict[str, Any]:
        """As plain data (values shown with repr)."""
        return {"input": [repr(v) for v in self.input], "expected": [repr(v) for v in self.expected],
                "got": [repr(v) for v in self.got]}


@dataclasses.dataclass(frozen=True)
class Search:
    """How the search went: the counterexample (or None), how many inputs it ran, and for how long."""

    found: Counterexample | None
    inputs: int
    seconds: float


def search(model, program: rasp.SOp, *, lengths: Sequence[int], hints: Sequence[Hashable] = (),
           seconds: float = 2.0, tolerance: float = 1e-4, seed: int = 0) -> Search:
    """Looks for an input of one of ``lengths`` that the model decodes wrong (``hints``: tokens to favour)."""
    start = time.perf_counter()
    vocab = sorted(model.input_tokens[:-2], key=repr)
    rng = random.Random(seed)
    causal = model.layered.causal
    numerical = model.output_encoding == rasp.Encoding.NUMERICAL
    tried = 0
    seeds: list[tuple[Hashable, ...]] = []
    for length in dict.fromkeys(lengths):
        if length < 1:
            continue
        seeds += [tuple([token] * length) for token in [*hints, *vocab]]
        seeds += [tuple(rng.choice(vocab) for _ in range(length)) for _ in range(8)]
    scored = []
    for tokens in dict.fromkeys(seeds):
        if time.perf_counter() - start > seconds:
            break
        tried += 1
        found, margin = _judge(model, program, tokens, causal, numerical, tolerance)
        if found is not None:
            return Search(found, tried, time.perf_counter() - start)
        if margin is not None:
            scored.append((margin, tokens))
    scored.sort(key=lambda pair: pair[0])
    for margin, tokens in scored[:4]:
        current, best = list(tokens), margin
        while time.perf_counter() - start < seconds:
            position = rng.randrange(len(current))
            candidate = list(current)
            candidate[position] = rng.choice(vocab)
            tried += 1
            found, score = _judge(model, program, tuple(candidate), causal, numerical, tolerance)
            if found is not None:
                return Search(found, tried, time.perf_counter() - start)
            if score is not None and score <= best:
                current, best = candidate, score
            if rng.random() < 0.02:
                break
    return Search(None, tried, time.perf_counter() - start)


def _judge(model, program, tokens: tuple, causal: bool, numerical: bool,
           tolerance: float) -> tuple[Counterexample | None, float | None]:
    """(a confirmed counterexample, or None; the model's worst decoding margin on ``tokens``, None if undefined)."""
    try:
        expected = frontend.evaluate(program, list(tokens), causal=causal)
    except EvaluationError:
        return None, None
    result = model.apply([model.bos, *tokens])
    got = result.decoded[1:]
    outputs = np.asarray(result.output)[1:]
    if _differs(expected, got, numerical, tolerance):
        return Counterexample(tuple(tokens), tuple(expected), tuple(got)), float("-inf")
    classes = {frontend.value_key(value): column for column, value in enumerate(model.output_classes)}
    margins = []
    for want, row in zip(expected, outputs):
        if numerical:
            margins.append(tolerance * max(1.0, abs(float(want))) - abs(float(row[0]) - float(want)))
        else:
            column = None if want is None else classes.get(frontend.value_key(want))
            if want is None:
                margins.append(decoding.THRESHOLD - float(row.max()))
            elif column is not None:
                others = np.delete(row, column)
                margins.append(min(float(row[column]) - decoding.THRESHOLD,
                                   decoding.THRESHOLD - float(others.max(initial=-np.inf))))
    return None, min(margins, default=None)


def _differs(expected: list, got: list, numerical: bool, tolerance: float) -> bool:
    """Whether the model's decoded output is not the evaluator's (``verify``'s comparison)."""
    for want, have in zip(expected, got):
        if numerical:
            if want is None or have is None:
                if (want is None) != (have is None):
                    return True
                continue
            if abs(float(want) - float(have)) > max(tolerance * max(abs(float(want)), abs(float(have))), tolerance):
                return True
        elif want != have or (want is None) != (have is None):
            return True
    return False
