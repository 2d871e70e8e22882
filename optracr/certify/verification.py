"""``verify``: a compiled model against the RASP evaluator: on every input where that is cheap, else by its
certificate (``optracr.certify``: a proof for every input), and on a seeded sample where the proof fails."""

from __future__ import annotations

import dataclasses
import itertools
import math
import sys
from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import Any

import tqdm

from optracr import assemble
from optracr.errors import CompileError, EvaluationError, InputError, OptracrBug
from optracr import frontend
from optracr.frontend import rasp

EXHAUSTIVE_LIMIT = 20_000
BATCH_SIZE = 512
DEFAULT_TOLERANCE = 1e-4  # numerical outputs: relative or absolute
PROGRESS_DELAY_S = 1.0  # the bar appears only once a run has taken this long


@dataclasses.dataclass(frozen=True)
class Undefined:
    """One input where the evaluator has no answer, and its reason (the ``EvaluationError``)."""

    input: tuple[Hashable, ...]
    reason: str


@dataclasses.dataclass(frozen=True)
class Mismatch:
    """One input where the model and the evaluator disagree."""

    input: tuple[Hashable, ...]
    expected: tuple[Any, ...]
    got: tuple[Any, ...]


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    """How a model fared against the evaluator; ``ok`` when nothing disagreed and every input was either proved
    (``certificate``) or at least one was checked."""

    num_checked: int  # inputs where the evaluator has an answer and the model was compared
    num_undefined: int  # inputs the evaluator rejects (e.g. a categorical aggregate of differing values)
    exhaustive: bool
    num_mismatches: int
    mismatches: tuple[Mismatch, ...]  # the first few
    tolerance: float
    undefined: tuple[Undefined, ...] = ()  # the first few undefined inputs, with the evaluator's reason
    certificate: Any = None  # the ``optracr.certify`` Certificate, where verify certified the model

    @property
    def proved(self) -> bool:
        """Whether the certificate proves the model on every input (not only on those checked)."""
        return self.certificate is not None and self.certificate.proved

    @property
    def num_inputs(self) -> int:
        """Every input run through the evaluator: checked plus undefined."""
        return self.num_checked + self.num_undefined

    @property
    def ok(self) -> bool:
        """No mismatch, and every input proved or at least one checked."""
        return self.num_mismatches == 0 and (self.num_checked > 0 or self.proved)

    def __str__(self) -> str:
        if self.proved and self.num_inputs == 0:
            return self.certificate.headline()
        lines = [self._checked()]
        if self.certificate is not None:
            lines.append(self.certificate.headline() if self.proved else "  " + self.certificate.headline())
        return "\n".join(lines)

    def _checked(self) -> str:
        scope = "every input" if self.exhaustive else "a seeded sample"
        why = "the evaluator has no answer there, so the model was not compared"
        if self.num_checked == 0:
            head = f"NOTHING CHECKED: all {self.num_inputs} inputs ({scope}) are UNDEFINED ({why})"
        else:
            if self.num_mismatches:
                head = f"FAILED: {self.num_mismatches} mismatches on {self.num_checked} checked inputs ({scope})"
            elif not self.exhaustive:
                head = f"OK: checked on {self.num_checked} inputs (a seeded sample, not every input), 0 mismatches"
            elif self.num_undefined:
                head = f"OK on {self.num_checked} of {self.num_inputs} inputs ({scope}), 0 mismatches"
            else:
                head = f"OK: {self.num_checked} inputs checked ({scope}), 0 mismatches"
            if self.num_undefined:
                head += f"; {self.num_undefined} inputs UNDEFINED ({why})"
        lines = [head] + [f"  undefined on input {u.input}: {u.reason}" for u in self.undefined[:1]]
        lines += [f"  input {m.input}: expected {list(m.expected)}, got {list(m.got)}" for m in self.mismatches]
        return "\n".join(lines)


def verify(
    model: assemble.CompiledModel,
    program: rasp.SOp | None = None,
    *,
    vocab: Sequence[Hashable] | None = None,
    max_seq_len: int | None = None,
    num_samples: int = 2_000,
    seed: int = 0,
    tolerance: float = DEFAULT_TOLERANCE,
    max_reported: int = 10,
    progress: bool | None = None,
    certify: bool | None = None,
    exhaustive_limit: int = EXHAUSTIVE_LIMIT,
) -> VerifyReport:
    """Checks ``model`` against the evaluator: on every input when there are at most ``exhaustive_limit`` of
    them, else by proof (``optracr.certify``), falling back to ``num_samples`` seeded inputs plus every length-1
    input where the proof fails (a counterexample it confirms counts as a mismatch).

    ``program`` defaults to the one the model was compiled from. ``certify``: None (the default) certifies only
    where enumeration is too big; True certifies as well; False never certifies (enumerate or sample).
    Categorical outputs must match exactly, type included (``1``, ``1.0`` and ``True`` are three values, as they
    are three directions); numerical ones within ``tolerance`` (relative or absolute). Inputs
    where the evaluator raises ``EvaluationError`` are counted as undefined, not compared. ``progress`` shows
    a tqdm bar on stderr once the run has taken a second; None (the default) shows it when stderr is a terminal.
    The model runs its numpy forward (no JIT compile), in batches of ``BATCH_SIZE`` inputs.
    """
    program = _program(model, program)
    _check_options(vocab=vocab, max_seq_len=max_seq_len, num_samples=num_samples, tolerance=tolerance,
                   max_reported=max_reported, exhaustive_limit=exhaustive_limit)
    vocab = sorted(vocab if vocab is not None else model.input_tokens[:-2], key=repr)
    max_seq_len = max_seq_len if max_seq_len is not None else model.layered.max_seq_len
    num_exhaustive = sum(len(vocab) ** n for n in range(1, max_seq_len + 1))
    exhaustive = num_exhaustive <= exhaustive_limit
    certificate = None
    if certify or (certify is None and not exhaustive):
        from optracr.certify import certifier  # the package's own prover (verify is part of the package)

        certificate = certifier.certify(model, program, tolerance=tolerance)
        if certificate.proved and not exhaustive:
            return VerifyReport(0, 0, False, 0, (), tolerance, (), certificate)
    inputs = frontend.all_inputs(vocab, max_seq_len) if exhaustive else frontend.sampled_inputs(
        vocab, max_seq_len, num_samples, seed
    )
    num_inputs = num_exhaustive if exhaustive else len(vocab) + num_samples
    numerical = model.output_encoding == rasp.Encoding.NUMERICAL
    checked = mismatching = 0
    mismatches: list[Mismatch] = []
    undefined: list[Undefined] = []
    num_undefined = 0
    with _progress_bar(num_inputs, progress) as bar:
        for batch in _batches(inputs, BATCH_SIZE):
            expected_batch, defined = [], []
            for tokens, expected in zip(batch, frontend.evaluate_batch(program, batch, causal=model.layered.causal)):
                if expected is not None:
                    expected_batch.append(expected)
                    defined.append(tokens)
                    continue
                num_undefined += 1
                if len(undefined) < max_reported:
                    undefined.append(Undefined(tuple(tokens), _undefined_reason(program, tokens, model.layered.causal)))
            outputs = model.apply_batch([[model.bos, *tokens] for tokens in defined], backend="numpy")
            for tokens, expected, got in zip(defined, expected_batch, outputs):
                checked += 1
                if not _matches(expected, got, numerical, tolerance):
                    mismatching += 1
                    if len(mismatches) < max_reported:
                        mismatches.append(Mismatch(tuple(tokens), tuple(expected), tuple(got)))
            bar.update(len(batch))
    if certificate is not None and certificate.counterexample is not None:  # confirmed by running the model
        found = certificate.counterexample
        if all(m.input != found.input for m in mismatches):
            mismatching += 1
            mismatches.append(Mismatch(found.input, found.expected, found.got))
    return VerifyReport(
        checked, num_undefined, exhaustive, mismatching, tuple(mismatches), tolerance, tuple(undefined), certificate
    )


def _check_options(*, vocab: Any, max_seq_len: Any, **counts: Any) -> None:
    """Refuses, by name, a ``verify`` option that cannot work (a negative count, a vocabulary that is no collection)."""
    if vocab is not None and (isinstance(vocab, str) or not isinstance(vocab, Iterable)):
        raise InputError(f"verify: vocab must be a collection of input tokens such as ['a', 'b'], got {vocab!r}")
    limits = {"max_seq_len": (max_seq_len, 1)} if max_seq_len is not None else {}
    limits.update({name: (value, 0) for name, value in counts.items()})
    for name, (value, least) in limits.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not number or value < least or (name != "tolerance" and not isinstance(value, int)):
            kind = "a finite number" if name == "tolerance" else "an int"
            raise InputError(f"verify: {name} must be {kind} >= {least}, got {value!r}")


def _program(model: assemble.CompiledModel, program: rasp.SOp | None) -> rasp.SOp:
    """The program to check against: the one given, or the one the model was compiled from."""
    if program is not None:
        return program
    carried = getattr(model, "program", None)
    if carried is None:
        raise CompileError(None, "this model does not carry the program it was compiled from (a loaded model does "
                           "not); pass it: optracr.verify(model, program)")
    return carried


def _undefined_reason(program: rasp.SOp, tokens: tuple, causal: bool) -> str:
    """The evaluator's own words for why it has no answer on ``tokens``."""
    try:
        rasp.evaluate(program, list(tokens), causal=causal)
    except EvaluationError as error:
        return str(error)
    raise OptracrBug(
        f"frontend.evaluate_batch has no answer on input {list(tokens)} but rasp.evaluate has one; "
        "please report it with the program (verify cannot be trusted on this program until then)"
    )


def _progress_bar(total: int, progress: bool | None) -> tqdm.tqdm:
    """A tqdm bar on stderr that appears after ``PROGRESS_DELAY_S``; disabled unless asked or on a terminal."""
    show = progress if progress is not None else sys.stderr.isatty()
    return tqdm.tqdm(
        total=total, desc="verify", unit=" inputs", delay=PROGRESS_DELAY_S, disable=not show, file=sys.stderr
    )


def _batches(items: Iterator[tuple], size: int) -> Iterator[list[tuple]]:
    while batch := list(itertools.islice(items, size)):
        yield batch


def _matches(expected: list, got: list, numerical: bool, tolerance: float) -> bool:
    """Numerical outputs within ``tolerance``; categorical ones the same typed value (``1`` is not ``True``)."""
    if len(expected) != len(got):
        return False
    return all(value_matches(want, have, numerical=numerical, tolerance=tolerance) for want, have in zip(expected, got))


def value_matches(expected: Any, got: Any, *, numerical: bool, tolerance: float = DEFAULT_TOLERANCE) -> bool:
    """Whether the model's value at one position is the evaluator's: within ``tolerance``, relative or absolute
    (numerical; None matches nothing), or the same typed value (categorical; ``1`` is not ``True``)."""
    if numerical:
        if expected is None or got is None:
            return False
        return math.isclose(float(expected), float(got), rel_tol=tolerance, abs_tol=tolerance)
    return frontend.same_value(expected, got)
