"""The one error family of optracr.

Every error a user can meet is an ``OptracrError``; its message names what is at fault (the RASP expression's
label, the file, the option), says what is wrong and what would work. The kinds:

- ``CompileError``: a program, an option or an artefact optracr cannot compile (``EvaluationError``: the RASP
  evaluator has no value for an expression on some input);
- ``InputError``: an input a compiled model cannot take (``apply``, ``verify``, the exports' encoders);
- ``ModelFileError``: a saved file that cannot be loaded;
- ``ExportError``: a model an export cannot write;
- ``OptracrTypeError``: an argument of the wrong kind given to a public constructor or function.

Each of them is also a ``ValueError`` (``OptracrTypeError``: a ``TypeError``), as they were before this family
had a base, so ``except ValueError`` keeps working. A broken internal invariant is no user error: it raises
``OptracrBug``, an ``AssertionError`` whose message starts "optracr bug:".
"""

from __future__ import annotations

from pathlib import Path


class OptracrError(Exception):
    """Base of every error optracr raises on purpose; ``label`` names the RASP expression at fault, if any."""

    def __init__(self, label: str | None, message: str) -> None:
        self.label = label
        self.message = message
        super().__init__(f"{label!r}: {message}" if label is not None else message)


class CompileError(OptracrError, ValueError):
    """A program, option or artefact optracr cannot compile; ``label`` names the expression at fault."""


class EvaluationError(CompileError):
    """The RASP evaluator has no value for an expression on some input."""


class InputError(OptracrError, ValueError):
    """An input a compiled model cannot take (missing BOS, unknown token, too long)."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


class ModelFileError(OptracrError, ValueError):
    """A saved file that cannot be loaded; the message names the file and what is wrong with it."""

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        super().__init__(None, message)


class ExportError(OptracrError, ValueError):
    """A model that an export cannot write (a value with no file form, a model that is no compiled model)."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


class OptracrTypeError(OptracrError, TypeError):
    """An argument of the wrong kind for a public constructor or function (also a ``TypeError``)."""


class OptracrBug(AssertionError):
    """An internal invariant that does not hold: a bug in optracr, never the user's input; please report it."""

    def __init__(self, message: str) -> None:
        super().__init__(f"optracr bug: {message}")


class CausalMeaningWarning(UserWarning):
    """A program compiled with ``causal=True`` whose selector can pick a later position: the model computes the
    program's causal meaning (``optracr.causal_eval``), which may differ from its plain one; ``label`` names the
    expression. ``causal="strict"`` refuses such programs instead."""

    def __init__(self, label: str, message: str) -> None:
        self.label = label
        self.message = message
        super().__init__(f"{label!r}: {message}")
