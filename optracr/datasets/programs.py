"""``ProgramSpec``: a program as something a worker can rebuild.

A job names its program as a generator seed and options, a library name, or an importable ``module:function``
(or ``path/to/file.py:function``) with the vocabulary and length to compile it for: plain JSON, recorded next to
every compiled model, rebuilt the same anywhere. A RASP program held in hand (built in a notebook or a script,
its functions lambdas and closures) travels too, as ``ProgramSpec.rasp(program, vocab, max_seq_len)``: pickled
by value with cloudpickle (what Dask uses for its tasks), unpickled by the worker, and recorded by its label.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from optracr import user_programs
from optracr.errors import CompileError
from optracr.frontend import rasp

KINDS = ("random", "library", "function", "rasp")


@dataclasses.dataclass(frozen=True)
class ProgramSpec:
    """How to rebuild one program: ``kind`` "random" (``random_programs.generate(seed, **options)``), "library"
    (``programs.LIBRARY[target]``), "function" (``target`` = ``module:function`` or ``file.py:function``, called
    with ``options``, returning an s-op) or "rasp" (``ProgramSpec.rasp``: the program pickled in ``pickled``,
    ``target`` its label). ``vocab`` and ``max_seq_len`` override the program's own."""

    kind: str
    target: str | None = None
    seed: int | None = None
    options: tuple[tuple[str, Any], ...] = ()
    vocab: tuple[Hashable, ...] | None = None
    max_seq_len: int | None = None
    pickled: bytes | None = dataclasses.field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise CompileError(None, f"unknown program kind {self.kind!r}; use one of {', '.join(KINDS)}")
        if self.kind == "random" and not isinstance(self.seed, int):
            raise CompileError(None, f"a random program needs an integer seed, got {self.seed!r}")
        if self.kind != "random" and not self.target:
            raise CompileError(None, f"a {self.kind} program needs a target (a library name or module:function)")
        if self.kind in ("function", "rasp") and (self.vocab is None or self.max_seq_len is None):
            raise CompileError(None, f"{self.target}: a program from a {self.kind} needs vocab and max_seq_len")
        if (self.kind == "rasp") != isinstance(self.pickled, bytes):
            raise CompileError(None, f"{self.target}: only a rasp program carries pickled bytes "
                                     "(make one with ProgramSpec.rasp(program, vocab, max_seq_len))")
        if self.kind == "function" and ":" not in self.target:
            raise CompileError(None, f"{self.target!r}: write module:function or path/to/file.py:function")
        if self.vocab is not None:
            object.__setattr__(self, "vocab", tuple(sorted(self.vocab, key=repr)))
        object.__setattr__(self, "options", tuple(sorted(dict(self.options).items())))

    @classmethod
    def random(cls, seed: int, **options: Any) -> ProgramSpec:
        """``random_programs.generate(seed, **options)``; options must be JSON values (vocab a list)."""
        if "vocab" in options:
            options["vocab"] = sorted(options["vocab"], key=repr)
        return cls("random", seed=seed, options=tuple(options.items()))

    @classmethod
    def library(cls, name: str, *, vocab: Iterable[Hashable] | None = None, max_seq_len: int | None = None):
        """A program of the library (``optracr list``)."""
        return cls("library", target=name, vocab=None if vocab is None else tuple(vocab), max_seq_len=max_seq_len)

    @classmethod
    def function(cls, target: str, vocab: Iterable[Hashable], max_seq_len: int, **options: Any) -> ProgramSpec:
        """``target`` (``module:function`` or ``path/to/file.py:function``) called with ``options``."""
        return cls("function", target=target, options=tuple(options.items()), vocab=tuple(vocab),
                   max_seq_len=max_seq_len)

    @classmethod
    def rasp(cls, program: rasp.SOp, vocab: Iterable[Hashable], max_seq_len: int) -> ProgramSpec:
        """A RASP program in hand, its functions (lambdas and closures too) pickled by value with cloudpickle.

        Its record keeps the program's label, vocab and max_seq_len, not the pickle; functions defined in an
        importable module are pickled by reference, so the workers must be able to import that module.
        """
        if not isinstance(program, rasp.SOp):
            raise CompileError(getattr(program, "label", None), f"ProgramSpec.rasp takes an s-op (the program's "
                                                                f"output), got {type(program).__name__}")
        if isinstance(max_seq_len, bool) or not isinstance(max_seq_len, int) or max_seq_len < 1:
            raise CompileError(program.label, f"max_seq_len must be a positive integer, got {max_seq_len!r}")
        try:
            pickled = _cloudpickle().dumps(program)
        except Exception as error:  # noqa: BLE001 - whatever a function of the program holds that cannot pickle
            raise CompileError(program.label, f"the program cannot be sent to worker processes: cloudpickle cannot "
                                              f"pickle it ({type(error).__name__}: {error}); a function of one of its "
                                              "expressions holds something that does not pickle (an open file, a "
                                              "lock, a generator...)") from None
        return cls("rasp", target=program.label, vocab=tuple(vocab), max_seq_len=max_seq_len, pickled=pickled)

    def build(self) -> tuple[rasp.SOp, frozenset, int]:
        """The program, its vocabulary and max_seq_len (rebuilt here: fresh expressions and functions)."""
        if self.kind == "random":
            from optracr import generate

            generated = generate.generate(self.seed, **dict(self.options))
            program, vocab, max_seq_len = generated.program, generated.vocab, generated.max_seq_len
        elif self.kind == "library":
            from optracr import programs

            entry = programs.get_program(self.target)
            max_seq_len = self.max_seq_len if self.max_seq_len is not None else entry.max_seq_len
            program, vocab = entry.build(max_seq_len), entry.vocab
        elif self.kind == "rasp":
            _cloudpickle()  # the pickle's functions are rebuilt by cloudpickle's own code
            program, vocab, max_seq_len = pickle.loads(self.pickled), frozenset(self.vocab), None
        else:
            program, vocab, max_seq_len = _call(self.target, dict(self.options)), frozenset(self.vocab), None
        vocab = frozenset(self.vocab) if self.vocab is not None else frozenset(vocab)
        return program, vocab, self.max_seq_len if self.max_seq_len is not None else max_seq_len

    def to_json(self) -> dict[str, Any]:
        """The spec as JSON data (``from_json`` reads it back; for a rasp program, the label but not the pickle)."""
        data: dict[str, Any] = {"kind": self.kind}
        for name in ("target", "seed", "max_seq_len"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        if self.vocab is not None:
            data["vocab"] = list(self.vocab)
        if self.options:
            data["options"] = dict(self.options)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProgramSpec:
        """The spec ``to_json`` wrote."""
        if data.get("kind") == "rasp":
            raise CompileError(data.get("target"), "a record of a RASP program keeps its label, not the program: "
                                                   "rebuild the spec with ProgramSpec.rasp(program, vocab, max_seq_len)")
        options = dict(data.get("options", {}))
        vocab = data.get("vocab")
        return cls(data["kind"], target=data.get("target"), seed=data.get("seed"), options=tuple(options.items()),
                   vocab=None if vocab is None else tuple(vocab), max_seq_len=data.get("max_seq_len"))

    def __str__(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)


def as_spec(program: Any) -> ProgramSpec | None:
    """``program`` as a ``ProgramSpec``: itself, or ``ProgramSpec.rasp(*program)`` for a (RASP program, vocab,
    max_seq_len) triple; None for anything else."""
    if isinstance(program, ProgramSpec):
        return program
    if isinstance(program, tuple) and len(program) == 3 and isinstance(program[0], rasp.SOp):
        return ProgramSpec.rasp(*program)
    return None


def _cloudpickle() -> Any:
    try:
        import cloudpickle
    except ImportError:
        raise CompileError(None, "sending a RASP program to worker processes needs cloudpickle, which is not "
                                 "installed: pip install cloudpickle (or pip install 'optracr[dask]')") from None
    return cloudpickle


def _call(target: str, options: dict[str, Any]) -> rasp.SOp:
    """``module:function`` or ``path/to/file.py:function`` imported here and called with ``options``."""
    return user_programs.load_program(target, options, caller="the ProgramSpec calls it")
