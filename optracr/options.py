"""``CompileOptions``: every choice ``optracr.compile`` makes, in one frozen, checked, serialisable value.

This module is where each compile option's default and valid values are written, once: the stages read their
defaults from here (``CompileOptions.time_limit_s`` ...), the CLI derives its compile flags from the fields,
datasets and the save format carry the options as ``to_json``. It imports nothing of the stages, so every
stage may import it (as it imports ``errors``).

>>> from optracr.options import CompileOptions, FuseOptions
>>> options = CompileOptions(vocab={"a", "b"}, max_seq_len=4, passes=(FuseOptions(width_cap=300),))
>>> CompileOptions.from_json(options.to_json()) == options
True
>>> CompileOptions(allocator="fast")
Traceback (most recent call last):
...
optracr.errors.CompileError: option allocator: unknown allocator 'fast'; use one of 'solver', 'heuristic'
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Hashable, Iterable, Mapping
from typing import Any, ClassVar

from optracr.errors import CompileError

ALLOCATORS = ("solver", "heuristic")
STRICT_CAUSAL = "strict"
CAUSAL_OPTIONS = (False, True, STRICT_CAUSAL)
REFUSE_PARTIAL = "refuse"
ALLOW_PARTIAL = "allow"
PARTIAL_FUNCTIONS = (REFUSE_PARTIAL, ALLOW_PARTIAL)
MAX_SEED = 2**31


@dataclasses.dataclass(frozen=True)
class FoldOptions:
    """The fold pass (no options): s-ops linear in residual directions already written get no block."""

    name: ClassVar[str] = "fold"


@dataclasses.dataclass(frozen=True)
class FuseOptions:
    """The fuse pass: chains of MLP blocks may share one MLP sublayer, each fused MLP at most ``width_cap``
    hidden units wide (None: 4 x the widest unfused MLP, at least 256)."""

    name: ClassVar[str] = "fuse"
    width_cap: int | None = None

    def __post_init__(self) -> None:
        cap = self.width_cap
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise CompileError(
                None, f"option fused_width_cap (the fuse pass's width_cap): must be a positive int or None "
                f"(4 x the widest unfused MLP, at least 256), got {cap!r}"
            )


PassOptions = FoldOptions | FuseOptions
PASS_OPTIONS: Mapping[str, type] = {cls.name: cls for cls in (FoldOptions, FuseOptions)}  # in the order they run


def _default_passes() -> tuple[PassOptions, ...]:
    return (FoldOptions(), FuseOptions())


@dataclasses.dataclass(frozen=True)
class CompileOptions:
    """Every compile option; ``optracr.compile(program, options)`` reads nothing else.

    Attributes:
      vocab: the input tokens (without BOS and PAD); None only in a template the program's own fills in
        (a dataset job, the CLI before it reads the program). ``compile`` needs it.
      max_seq_len: the longest input, BOS excluded; None as for ``vocab``.
      bos, pad: the token at position 0 of every input and the token filling positions after it.
      causal: False, True (a position attends to itself and earlier ones: the program's causal meaning, with a
        warning per selector that can pick a later position) or "strict" (such selectors refused).
      allocator: "solver" (CP-SAT, seeded by and falling back to the heuristics) or "heuristic".
      time_limit_s, workers, seed: the solver's time limit in seconds, threads, and seed.
      passes: the block-graph passes to run, as their option objects, in the order of ``PASS_OPTIONS``;
        () keeps the reference's structure (one block per s-op, every s-op in the residual).
      partial_functions: "refuse" a Map or SequenceMap whose function raises on some input values, or
        "allow" it (the model has no value there; ``verify`` counts those inputs as undefined).
    """

    vocab: frozenset[Hashable] | None = None
    max_seq_len: int | None = None
    bos: Hashable = "BOS"
    pad: Hashable = "PAD"
    causal: bool | str = False
    allocator: str = "solver"
    time_limit_s: float = 5.0
    workers: int = 1
    seed: int = 0
    passes: tuple[PassOptions, ...] = dataclasses.field(default_factory=_default_passes)
    partial_functions: str = REFUSE_PARTIAL

    def __post_init__(self) -> None:
        if self.vocab is not None:
            object.__setattr__(self, "vocab", token_set(self.vocab))
        object.__setattr__(self, "passes", _passes(self.passes))
        for name, problem in _problems(self):
            raise CompileError(None, f"option {name}: {problem}")

    # ------------------------------------------------------------------------------ derived
    def pass_options(self, name: str) -> PassOptions | None:
        """The options of pass ``name`` if it runs, else None."""
        return next((chosen for chosen in self.passes if chosen.name == name), None)

    def replace(self, **changes: Any) -> CompileOptions:
        """A copy with ``changes`` (checked again); the pass keywords ``fold``, ``fuse`` and
        ``fused_width_cap`` edit ``passes``."""
        return from_keywords(self, changes)

    # ------------------------------------------------------------------------------ JSON
    def to_json(self) -> dict[str, Any]:
        """The options as plain JSON, tokens with their types (``from_json`` gives them back equal)."""
        values = _values()
        data: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "vocab":
                value = None if value is None else [values.to_json(token) for token in sorted(value, key=repr)]
            elif field.name in ("bos", "pad"):
                value = values.to_json(value)
            elif field.name == "passes":
                value = [{"name": chosen.name, **dataclasses.asdict(chosen)} for chosen in value]
            data[field.name] = value
        return data

    @classmethod
    def from_json(cls, data: Any) -> CompileOptions:
        """The options ``to_json`` wrote; a ``CompileError`` naming the field that is wrong otherwise."""
        if not isinstance(data, Mapping):
            raise CompileError(None, f"compile options are a JSON object, got {data!r}")
        names = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise CompileError(None, f"option {unknown[0]}: unknown; the options are {', '.join(names)}")
        fields = dict(data)
        values = _values()
        try:
            if fields.get("vocab") is not None:
                fields["vocab"] = frozenset(values.from_json(token) for token in fields["vocab"])
            for name in ("bos", "pad"):
                if name in fields:
                    fields[name] = values.from_json(fields[name])
        except (values.ValueFormatError, TypeError) as error:
            raise CompileError(None, f"compile options: a token is malformed: {error}") from None
        if "passes" in fields:
            fields["passes"] = tuple(_pass_from_json(entry) for entry in _listed(fields["passes"], "passes"))
        return cls(**fields)


def from_keywords(base: CompileOptions | None = None, keywords: Mapping[str, Any] | None = None) -> CompileOptions:
    """``base`` (default: the defaults) with ``keywords`` applied: any field of ``CompileOptions``, and
    ``fold``, ``fuse``, ``fused_width_cap``, which add or drop the fold and fuse passes (``fold=False,
    fuse=False``: no passes, the reference's structure)."""
    base = CompileOptions() if base is None else base
    changes = dict(keywords or {})
    fold, fuse, cap = changes.pop("fold", None), changes.pop("fuse", None), changes.pop("fused_width_cap", None)
    names = [field.name for field in dataclasses.fields(CompileOptions)]
    unknown = sorted(set(changes) - set(names))
    if unknown:
        raise CompileError(
            None, f"option {unknown[0]}: unknown; the options are {', '.join(names)}, fold, fuse and fused_width_cap"
        )
    if fold is not None or fuse is not None or cap is not None:
        changes["passes"] = _edited_passes(changes.get("passes", base.passes), fold, fuse, cap)
    return dataclasses.replace(base, **changes)


def _edited_passes(passes: Any, fold: Any, fuse: Any, cap: Any) -> tuple[PassOptions, ...]:
    """``passes`` with the fold pass on or off (``fold``), the fuse pass on or off (``fuse``) at ``cap``."""
    for name, value in (("fold", fold), ("fuse", fuse)):
        if value is not None and not isinstance(value, bool):
            raise CompileError(None, f"option {name}: must be True or False, got {value!r}")
    chosen = {entry.name: entry for entry in _passes(passes)}
    if fold is not None:
        chosen.pop("fold", None)
        if fold:
            chosen["fold"] = FoldOptions()
    fuse_on = ("fuse" in chosen) if fuse is None else fuse
    if cap is not None and not fuse_on:
        raise CompileError(None, f"option fused_width_cap: {cap!r} caps fusion, which fuse=False turns off; drop one")
    chosen.pop("fuse", None)
    if fuse_on:
        chosen["fuse"] = FuseOptions(width_cap=cap)
    return tuple(chosen[name] for name in PASS_OPTIONS if name in chosen)


# ------------------------------------------------------------------------------------------ checks
def _problems(options: CompileOptions) -> Iterable[tuple[str, str]]:
    """(option, what is wrong and what would work) for every invalid field."""
    length = options.max_seq_len
    if length is not None and (isinstance(length, bool) or not isinstance(length, int) or length < 1):
        yield "max_seq_len", f"must be an integer >= 1 (the longest input, BOS excluded), got {length!r}"
    for name in ("bos", "pad"):
        if not is_hashable(getattr(options, name)):
            yield name, f"the {name.upper()} token must be hashable (str, int, ...), got {getattr(options, name)!r}"
    if not (isinstance(options.causal, bool) or options.causal == STRICT_CAUSAL):
        yield "causal", (f"must be False, True or {STRICT_CAUSAL!r}, got {options.causal!r}; True compiles the "
                         f"program's causal meaning, {STRICT_CAUSAL!r} also refuses selectors that can look ahead")
    if not isinstance(options.allocator, str) or options.allocator not in ALLOCATORS:
        yield "allocator", f"unknown allocator {options.allocator!r}; use one of {_listing(ALLOCATORS)}"
    limit = options.time_limit_s
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not math.isfinite(limit) or limit < 0:
        yield "time_limit_s", f"must be a finite number of seconds >= 0, got {limit!r}; e.g. 5.0"
    if isinstance(options.workers, bool) or not isinstance(options.workers, int) or options.workers < 1:
        yield "workers", f"must be an int >= 1 (solver threads; 1 is deterministic), got {options.workers!r}"
    if isinstance(options.seed, bool) or not isinstance(options.seed, int) or not 0 <= options.seed < MAX_SEED:
        yield "seed", f"must be an int in [0, 2**31), got {options.seed!r}"
    if not isinstance(options.partial_functions, str) or options.partial_functions not in PARTIAL_FUNCTIONS:
        yield "partial_functions", f"must be {_listing(PARTIAL_FUNCTIONS, ' or ')}, got {options.partial_functions!r}"


def token_set(vocab: Iterable[Hashable]) -> frozenset[Hashable]:
    """``vocab`` as a set of tokens; refused (naming them) when it is no collection, holds unhashable tokens, or
    tokens equal under == but of different types, which a model could not tell apart."""
    if not isinstance(vocab, Iterable):
        raise CompileError(
            None, f"the vocabulary must be a collection of input tokens, e.g. vocab={{'a', 'b'}}, got {vocab!r}"
        )
    tokens = list(vocab)
    try:
        merged = frozenset(tokens)
    except TypeError as error:
        raise CompileError(None, f"vocabulary tokens must be hashable (str, int, ...): {error}") from None
    _refuse_equal_tokens(tokens, merged)
    return merged


def _refuse_equal_tokens(tokens: list[Hashable], merged: frozenset[Hashable]) -> None:
    """Tokens of different types that ``==`` cannot tell apart (``1``, ``1.0``, ``True``) are one token to a model."""
    typed: dict[Hashable, list[Hashable]] = {}
    for token in tokens:
        kinds = typed.setdefault(token, [])
        if not any(type(seen) is type(token) for seen in kinds):
            kinds.append(token)
    clashes = [kinds for kinds in typed.values() if len(kinds) > 1]
    if clashes:
        shown = "; ".join(", ".join(f"{token!r} ({type(token).__name__})" for token in kinds) for kinds in clashes)
        raise CompileError(
            None,
            f"the vocabulary holds tokens that are equal under == but of different types: {shown}; RASP compares "
            f"tokens with ==, so a model cannot tell them apart and would decode them as one; keep one of each "
            f"(the vocabulary has {len(merged)} distinct tokens)",
        )


def _passes(passes: Any) -> tuple[PassOptions, ...]:
    chosen = tuple(_listed(passes, "passes"))
    for entry in chosen:
        if type(entry) not in PASS_OPTIONS.values():
            raise CompileError(
                None, f"option passes: {entry!r} is no pass; use FoldOptions() and FuseOptions(width_cap=...) "
                "(optracr.options), or () for the reference's structure"
            )
    names = [entry.name for entry in chosen]
    if names != [name for name in PASS_OPTIONS if name in names]:
        raise CompileError(
            None, f"option passes: {names} must be distinct passes in the order they run: {', '.join(PASS_OPTIONS)}"
        )
    return chosen


def _listed(value: Any, name: str) -> list[Any]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise CompileError(None, f"option {name}: must be a sequence, got {value!r}")
    return list(value)


def _pass_from_json(entry: Any) -> PassOptions:
    if not isinstance(entry, Mapping) or entry.get("name") not in PASS_OPTIONS:
        raise CompileError(None, f"option passes: each is an object named one of {_listing(PASS_OPTIONS)}, got {entry!r}")
    cls = PASS_OPTIONS[entry["name"]]
    fields = [field.name for field in dataclasses.fields(cls)]
    settings = {key: value for key, value in entry.items() if key != "name"}
    unknown = sorted(set(settings) - set(fields))
    if unknown:
        raise CompileError(
            None, f"option passes: pass {entry['name']!r} has no setting {unknown[0]!r}; its settings: "
            f"{', '.join(fields) or 'none'}"
        )
    return cls(**settings)


def _listing(values: Iterable[Any], last: str = ", ") -> str:
    shown = [repr(value) for value in values]
    return ", ".join(shown[:-1]) + last + shown[-1] if len(shown) > 1 else ", ".join(shown)


def is_hashable(value: object) -> bool:
    """Whether ``value`` can be a token (``hash`` takes it)."""
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _values() -> Any:
    from optracr import typed_json as values  # typed token JSON, loaded only when options meet JSON

    return values
