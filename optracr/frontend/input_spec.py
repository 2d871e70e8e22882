"""``InputSpec``: the inputs a compiled model takes (vocabulary, length, BOS and PAD tokens, causal) and how the
program may treat them (partial functions), checked once."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable

from optracr import options
from optracr.frontend import errors

STRICT_CAUSAL = options.STRICT_CAUSAL
CAUSAL_OPTIONS = options.CAUSAL_OPTIONS
ALLOW_PARTIAL = options.ALLOW_PARTIAL
PARTIAL_FUNCTIONS = options.PARTIAL_FUNCTIONS


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """The compile options every later stage reads; one is valid or cannot be built.

    Attributes:
      vocab: the input tokens (without BOS and PAD), hashable, never None.
      max_seq_len: the longest input, BOS excluded (an integer >= 1).
      bos: the token at position 0 of every input; outside the vocabulary.
      pad: the token filling positions after the input; outside the vocabulary, not BOS.
      causal: ``False`` (every position attends to every position), ``True`` (a position attends only to itself
        and the positions before it; the model computes the program's causal meaning, what ``evaluate(...,
        causal=True)`` gives, with a ``CausalMeaningWarning`` where a selector can pick a later position) or
        ``"strict"`` (the same mask, and a ``CompileError`` instead of that warning).
      partial_functions: ``"refuse"`` (the default): a Map or SequenceMap whose function raises on some of its
        input values is a ``CompileError``; ``"allow"``: it compiles, the model has no value there and
        ``verify`` counts those inputs as undefined.
    """

    vocab: frozenset[Hashable]
    max_seq_len: int
    bos: Hashable = options.CompileOptions.bos
    pad: Hashable = options.CompileOptions.pad
    causal: bool | str = options.CompileOptions.causal
    partial_functions: str = options.CompileOptions.partial_functions

    def __post_init__(self) -> None:
        object.__setattr__(self, "vocab", options.token_set(self.vocab))
        errors.raise_all(_problems(self))

    @property
    def masked(self) -> bool:
        """Whether a position attends only to itself and earlier positions (``causal`` True or ``"strict"``)."""
        return self.causal is not False

    @property
    def strict_causal(self) -> bool:
        """Whether a selector that can pick a later position is refused (``causal="strict"``)."""
        return self.causal == STRICT_CAUSAL


def _problems(spec: InputSpec) -> list[errors.CompileError]:
    found = []
    if not spec.vocab:
        found.append(errors.CompileError(None, "the vocabulary is empty; pass the input tokens, e.g. vocab={'a', 'b'}"))
    if None in spec.vocab:
        found.append(
            errors.CompileError(None, "the vocabulary contains None, which RASP uses for 'no value'; remove it")
        )
    for special, role in ((spec.bos, "BOS"), (spec.pad, "PAD")):
        if not options.is_hashable(special):
            message = f"the {role} token must be hashable (str, int, ...), got {special!r}"
            found.append(errors.CompileError(None, message))
        elif special in spec.vocab:
            found.append(
                errors.CompileError(
                    None, f"the {role} token {special!r} is also in the vocabulary; pick a {role} token outside it"
                )
            )
    if spec.bos == spec.pad:
        found.append(errors.CompileError(None, f"BOS and PAD are both {spec.bos!r}; they must differ"))
    max_seq_len = spec.max_seq_len
    if isinstance(max_seq_len, bool) or not isinstance(max_seq_len, int) or max_seq_len < 1:
        found.append(errors.CompileError(None, f"max_seq_len must be an integer >= 1, got {max_seq_len!r}"))
    if not is_causal_option(spec.causal):
        found.append(
            errors.CompileError(
                None,
                f"causal must be False, True or {STRICT_CAUSAL!r}, got {spec.causal!r}; True compiles the program's "
                f"causal meaning (a warning where a selector can pick a later position), {STRICT_CAUSAL!r} refuses "
                "such selectors",
            )
        )
    if not isinstance(spec.partial_functions, str) or spec.partial_functions not in PARTIAL_FUNCTIONS:
        valid = " or ".join(repr(option) for option in PARTIAL_FUNCTIONS)
        found.append(
            errors.CompileError(None, f"partial_functions must be {valid}, got {spec.partial_functions!r}")
        )
    return found


def is_causal_option(causal: object) -> bool:
    """Whether ``causal`` is one of ``CAUSAL_OPTIONS`` (a bool, or the string ``"strict"``)."""
    return isinstance(causal, bool) or (isinstance(causal, str) and causal == STRICT_CAUSAL)
