"""The RASP language: expressions, their encodings, and the selector merging both ``rasp`` and ``rewrite`` use.

Users reach it through ``optracr.rasp`` (``frontend/rasp.py``), which adds the evaluator; this module imports
nothing else of optracr, so the evaluator can import it without a cycle.

Every expression gets a label at construction (``map_7``, ``aggregate_12``...) from one global counter, so
two expressions never share a default label; ``copy()`` gives the copy a fresh default label unless the
label was chosen by the user. The tracer additionally keeps graph labels unique when users reuse a name.
"""

from __future__ import annotations

import abc
import enum
import itertools
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from optracr import errors

Value = Any
SelectorValue = list[list[bool]]
Predicate = Callable[[Value, Value], bool]

_ids = itertools.count(1)
_NAME = "name"
_ENCODING = "encoding"
_NAME_IS_DEFAULT = "_name_is_default"


class Encoding(enum.Enum):
    """How an s-op lives in the residual stream: one-hot over its values, or one magnitude."""

    CATEGORICAL = "categorical"
    NUMERICAL = "numerical"


Annotator = Callable[["RASPExpr"], Any]

# Annotations every expression has even when nobody set them; read through ``expr.annotations``.
DEFAULT_ANNOTATORS: dict[str, Annotator] = {_ENCODING: lambda expr: Encoding.CATEGORICAL}


# The evaluator (evaluator.py) imports this module and installs its ``evaluate`` here, so that ``expr(xs)`` can
# evaluate without this module importing the evaluator back.
_installed_evaluate: Callable[..., Any] | None = None


def install_evaluator(evaluate: Callable[..., Any]) -> None:
    """Makes ``expr(xs)`` call ``evaluate(expr, xs)`` (done once, by the evaluator module)."""
    global _installed_evaluate
    _installed_evaluate = evaluate


class RASPExpr(abc.ABC):
    """A node of a RASP program: an s-op or a selector."""

    def __call__(self, xs: Sequence[Value]) -> Any:
        """The expression evaluated on ``xs`` (no BOS), as the reference's ``expr(xs)``: ``rasp.evaluate``."""
        if _installed_evaluate is None:
            raise errors.OptracrBug("no RASP evaluator is installed; importing optracr.frontend installs it")
        return _installed_evaluate(self, xs)

    def __init__(self) -> None:
        self._unique_id = next(_ids)
        self._annotations: dict[str, Any] = {
            _NAME: f"{type(self).__name__.lower()}_{self._unique_id}",
            _NAME_IS_DEFAULT: True,
        }

    @property
    @abc.abstractmethod
    def children(self) -> tuple[RASPExpr, ...]:
        """The expressions this one reads, in order."""

    @property
    def unique_id(self) -> int:
        """An id no other expression object shares."""
        return self._unique_id

    @property
    def label(self) -> str:
        """The expression's name: set with ``named``, otherwise ``<type>_<unique id>``."""
        return self._annotations[_NAME]

    @property
    def name(self) -> str:
        """Same as ``label`` (the reference has both)."""
        return self.label

    @property
    def annotations(self) -> Mapping[str, Any]:
        """Read-only annotations, defaults from ``DEFAULT_ANNOTATORS`` filled in."""
        merged = {key: value for key, value in self._annotations.items() if key != _NAME_IS_DEFAULT}
        for key, annotator in DEFAULT_ANNOTATORS.items():
            if key not in merged:
                merged[key] = annotator(self)
        return MappingProxyType(merged)

    def copy(self) -> RASPExpr:
        """A shallow copy with its own unique id; a default label is renewed, a chosen one kept."""
        duplicate = object.__new__(type(self))
        duplicate.__dict__.update(self.__dict__)
        duplicate._unique_id = next(_ids)
        duplicate._annotations = dict(self._annotations)
        if self._annotations[_NAME_IS_DEFAULT]:
            duplicate._annotations[_NAME] = f"{type(self).__name__.lower()}_{duplicate._unique_id}"
        return duplicate

    def named(self, name: str) -> RASPExpr:
        """A copy of this expression labelled ``name``."""
        if not isinstance(name, str) or not name:
            raise errors.OptracrTypeError(
                self.label, f"a RASP label must be a non-empty string, got {name!r}; e.g. .named('is_x')"
            )
        return annotate(self, name=name)

    def annotated(self, **annotations: Any) -> RASPExpr:
        """A copy of this expression with ``annotations`` added."""
        return annotate(self, **annotations)

    def __hash__(self) -> int:
        return self._unique_id

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Unpickled (a program sent to a worker process), an expression takes a fresh id from this process's
        # counter: a carried-over id could equal a local expression's, and passes memoise by id. Labels stay.
        self.__dict__.update(state)
        self._unique_id = next(_ids)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label!r})"


def annotate(expr: RASPExpr, **annotations: Any) -> RASPExpr:
    """A copy of ``expr`` with ``annotations`` added (``name=`` renames it)."""
    annotated_expr = expr.copy()
    if _NAME in annotations:
        annotated_expr._annotations[_NAME_IS_DEFAULT] = False
    annotated_expr._annotations.update(annotations)
    return annotated_expr


# --------------------------------------------------------------------------------------------- s-ops
class SOp(RASPExpr):
    """A sequence operation: evaluates to one value per position."""

    def __lt__(self, other: Value) -> SOp:
        return Map(lambda x: x < other, self)

    def __le__(self, other: Value) -> SOp:
        return Map(lambda x: x <= other, self)

    def __gt__(self, other: Value) -> SOp:
        return Map(lambda x: x > other, self)

    def __ge__(self, other: Value) -> SOp:
        return Map(lambda x: x >= other, self)

    def __eq__(self, other: object) -> SOp:  # type: ignore[override]
        return Map(lambda x: x == other, self)

    def __ne__(self, other: object) -> SOp:  # type: ignore[override]
        return Map(lambda x: x != other, self)

    def __hash__(self) -> int:
        return self._unique_id

    def __add__(self, other: SOp | Value) -> SOp:
        return _binary(self, other, lambda x, y: x + y)

    def __radd__(self, other: Value) -> SOp:
        return Map(lambda x: other + x, self)

    def __sub__(self, other: SOp | Value) -> SOp:
        return _binary(self, other, lambda x, y: x - y)

    def __rsub__(self, other: Value) -> SOp:
        return Map(lambda x: other - x, self)

    def __mul__(self, other: SOp | Value) -> SOp:
        return _binary(self, other, lambda x, y: x * y)

    def __rmul__(self, other: Value) -> SOp:
        return Map(lambda x: other * x, self)

    def __truediv__(self, other: SOp | Value) -> SOp:
        return _binary(self, other, lambda x, y: x / y)

    def __rtruediv__(self, other: Value) -> SOp:
        return Map(lambda x: other / x, self)

    def __invert__(self) -> SOp:
        return Map(lambda x: not x, self)

    def __and__(self, other: SOp | Value) -> SOp:
        return _binary(self, other, lambda x, y: x and y)

    def __rand__(self, other: Value) -> SOp:
        return Map(lambda x: other and x, self)

    def __or__(self, other: SOp | Value) -> SOp:
        return _binary(self, other, lambda x, y: x or y)

    def __ror__(self, other: Value) -> SOp:
        return Map(lambda x: other or x, self)


def _binary(sop: SOp, other: SOp | Value, f: Callable[[Value, Value], Value]) -> SOp:
    """SequenceMap with another s-op, Map with a constant."""
    if isinstance(other, SOp):
        return SequenceMap(f, sop, other)
    return Map(lambda x: f(x, other), sop)


class TokensType(SOp):
    """The input tokens."""

    @property
    def children(self) -> tuple[RASPExpr, ...]:
        return ()


class IndicesType(SOp):
    """The position of each token, from 0."""

    @property
    def children(self) -> tuple[RASPExpr, ...]:
        return ()


class LengthType(SOp):
    """The input length, at every position."""

    @property
    def children(self) -> tuple[RASPExpr, ...]:
        return ()


tokens = TokensType().named("tokens")
indices = IndicesType().named("indices")
length = LengthType().named("length")


class Map(SOp):
    """Applies ``f`` to every value of ``inner``; nested Maps fuse into one when ``simplify``."""

    def __init__(self, f: Callable[[Value], Value], inner: SOp, simplify: bool = True) -> None:
        super().__init__()
        _require_sop(inner, "Map", "inner")
        if not callable(f):
            raise errors.OptracrTypeError(
                None, f"Map needs a callable, got {f!r}; e.g. rasp.Map(lambda x: x + 1, rasp.tokens)"
            )
        if simplify and isinstance(inner, Map):
            inner_f, outer_f = inner.f, f
            f = lambda x: outer_f(inner_f(x))  # noqa: E731
            inner = inner.inner
        self.f = f
        self.inner = inner

    @property
    def children(self) -> tuple[RASPExpr, ...]:
        return (self.inner,)


class SequenceMap(SOp):
    """Applies ``f`` position-wise to the values of two s-ops."""

    def __init__(self, f: Callable[[Value, Value], Value], fst: SOp, snd: SOp) -> None:
        super().__init__()
        _require_sop(fst, "SequenceMap", "fst")
        _require_sop(snd, "SequenceMap", "snd")
        if not callable(f):
            raise errors.OptracrTypeError(
                None, f"SequenceMap needs a callable, got {f!r}; e.g. rasp.SequenceMap(lambda x, y: x + y, a, b)"
            )
        self.f = f
        self.fst = fst
        self.snd = snd

    @property
    def children(self) -> tuple[RASPExpr, ...]:
        return (self.fst, self.snd)


class LinearSequenceMap(SequenceMap):
    """``fst_fac * fst + snd_fac * snd``, position-wise."""

    def __init__(self, fst: SOp, snd: SOp, fst_fac: float, snd_fac: float) -> None:
        super().__init__(lambda x, y: fst_fac * x + snd_fac * y, fst, snd)
        self.fst_fac = fst_fac
        self.snd_fac = snd_fac


class Full(SOp):
    """The constant ``fill`` at every position."""

    def __init__(self, fill: Value) -> None:
        super().__init__()
        self.fill = fill

    @property
    def children(self) -> tuple[RASPExpr, ...]:
        return ()


class ConstantSOp(SOp):
    """A fixed sequence of values; its length must match the input when ``check_length``."""

    def __init__(self, value: Sequence[Value], check_length: bool = True) -> None:
        super().__init__()
        self.value = list(value)
        self.check_length = check_length

    @property
    def children(self) -> tuple[RASPExpr, ...]:
        return ()


class SelectorWidth(SOp):
    """How many positions ``selector`` picks for each query position."""

    def __init__(self, selector: Selector) -> None:
        super().__init__()
        _require_selector(selector, "SelectorWidth", "selector")
        self.selector = selector

    @property
    def children(self) -> tuple[RASPExpr, ...]:
        return (self.selector,)


class Aggregate(SOp):
    """Per query position: the mean of ``sop`` over the picked positions, ``default`` if none."""

    def __init__(self, selector: Selector, sop: SOp, default: Value = None) -> None:
        super().__init__()
        _require_selector(selector, "Aggregate", "selector")
        _require_sop(sop, "Aggregate", "sop")
        self.selector = selector
        self.sop = sop
        self.default = default

    @property
    def children(self) -> tuple[RASPExpr, ...]:
        return (self.selector, self.sop)


# ------------------------------------------------------------------------------------------ selectors
class Comparison(enum.Enum):
    """A predicate on (key, query); called as ``predicate(key, query)``."""

    EQ = "EQ"
    LT = "LT"
    LEQ = "LEQ"
    GT = "GT"
    GEQ = "GEQ"
    NEQ = "NEQ"
    TRUE = "TRUE"
    FALSE = "FALSE"

    def __call__(self, key: Value, query: Value) -> bool:
        if key is None:
            raise errors.EvaluationError(
                None, f"Comparison.{self.name}: key is None; a selector compares values, never None"
            )
        if query is None:
            raise errors.EvaluationError(
                None, f"Comparison.{self.name}: query is None; a selector compares values, never None"
            )
        return _COMPARISONS[self](key, query)


_COMPARISONS: dict[Comparison, Predicate] = {
    Comparison.EQ: lambda key, query: key == query,
    Comparison.LT: lambda key, query: key < query,
    Comparison.LEQ: lambda key, query: key <= query,
    Comparison.GT: lambda key, query: key > query,
    Comparison.GEQ: lambda key, query: key >= query,
    Comparison.NEQ: lambda key, query: key != query,
    Comparison.TRUE: lambda key, query: True,
    Comparison.FALSE: lambda key, query: False,
}


class Selector(RASPExpr):
    """A query-by-key boolean matrix."""

    def __and__(self, other: Selector) -> Selector:
        return selector_and(self, other)

    def __rand__(self, other: Selector) -> Selector:
        return selector_and(other, self)

    def __or__(self, other: Selector) -> Selector:
        return selector_or(self, other)

    def __ror__(self, other: Selector) -> Selector:
        return selector_or(other, self)

    def __invert__(self) -> Selector:
        return selector_not(self)


class Select(Selector):
    """Picks key position k for query position q when ``predicate(keys[k], queries[q])``."""

    def __init__(self, keys: SOp, queries: SOp, predicate: Predicate) -> None:
        super().__init__()
        _require_sop(keys, "Select", "keys")
        _require_sop(queries, "Select", "queries")
        if not callable(predicate):
            raise errors.OptracrTypeError(
                None, f"Select needs a Comparison or a callable predicate, got {predicate!r}; e.g. rasp.Comparison.EQ"
            )
        self.keys = keys
        self.queries = queries
        self.predicate = predicate

    @property
    def children(self) -> tuple[RASPExpr, ...]:
        return (self.keys, self.queries)


class ConstantSelector(Selector):
    """A fixed boolean matrix (rows are queries)."""

    def __init__(self, value: Sequence[Sequence[bool]], check_length: bool = True) -> None:
        super().__init__()
        self.value = [list(row) for row in value]
        self.check_length = check_length

    @property
    def children(self) -> tuple[RASPExpr, ...]:
        return ()


class SelectorNot(Selector):
    """The complement of a selector."""

    def __init__(self, inner: Selector) -> None:
        super().__init__()
        _require_selector(inner, "SelectorNot", "inner")
        self.inner = inner

    @property
    def children(self) -> tuple[RASPExpr, ...]:
        return (self.inner,)


class SelectorAnd(Selector):
    """Both selectors pick the position."""

    def __init__(self, fst: Selector, snd: Selector) -> None:
        super().__init__()
        _require_selector(fst, "SelectorAnd", "fst")
        _require_selector(snd, "SelectorAnd", "snd")
        self.fst = fst
        self.snd = snd

    @property
    def children(self) -> tuple[RASPExpr, ...]:
        return (self.fst, self.snd)


class SelectorOr(Selector):
    """Either selector picks the position."""

    def __init__(self, fst: Selector, snd: Selector) -> None:
        super().__init__()
        _require_selector(fst, "SelectorOr", "fst")
        _require_selector(snd, "SelectorOr", "snd")
        self.fst = fst
        self.snd = snd

    @property
    def children(self) -> tuple[RASPExpr, ...]:
        return (self.fst, self.snd)


def selector_not(inner: Selector, simplify: bool = True) -> Selector:
    """The complement of ``inner``; one Select with the negated predicate when ``simplify`` allows."""
    merged = merged_select(SelectorNot, (inner,)) if simplify and isinstance(inner, Select) else None
    return merged if merged is not None else SelectorNot(inner)


def selector_and(fst: Selector, snd: Selector, simplify: bool = True) -> Selector:
    """Positions both selectors pick; one Select when ``simplify`` and both read the same s-ops."""
    merged = merged_select(SelectorAnd, (fst, snd)) if simplify and _both_selects(fst, snd) else None
    return merged if merged is not None else SelectorAnd(fst, snd)


def selector_or(fst: Selector, snd: Selector, simplify: bool = True) -> Selector:
    """Positions either selector picks; one Select when ``simplify`` and both read the same s-ops."""
    merged = merged_select(SelectorOr, (fst, snd)) if simplify and _both_selects(fst, snd) else None
    return merged if merged is not None else SelectorOr(fst, snd)


def _both_selects(fst: Selector, snd: Selector) -> bool:
    # The reference merges two Selects only; nested combinations are merged by the compiler's rewrite.
    return isinstance(fst, Select) and isinstance(snd, Select)


_COMBINATORS: dict[type, Callable[..., bool]] = {
    SelectorAnd: lambda fst, snd: fst and snd,
    SelectorOr: lambda fst, snd: fst or snd,
    SelectorNot: lambda inner: not inner,
}


def merged_select(combinator: type[Selector], operands: Sequence[Selector]) -> Select | None:
    """One Select equal to ``combinator(*operands)``, or None when the Selects under it read different s-ops.

    ``combinator`` is ``SelectorAnd``, ``SelectorOr`` or ``SelectorNot``; each operand is a Select or such a
    combination of Selects. They must all read the same keys and the same queries, except that a ``Full``
    keys (queries) s-op matches any other: its fill is baked into the predicate, so the merged Select reads the
    other side's s-op (as the reference does).
    """
    leaves = [_select_leaves(operand) for operand in operands]
    if any(found is None for found in leaves):
        return None
    selects = [select for found in leaves for select in found]
    keys = _common_input([select.keys for select in selects])
    queries = _common_input([select.queries for select in selects])
    if keys is None or queries is None:
        return None
    return Select(keys, queries, _combined_predicate(combinator, operands, keys, queries))


def _combinator_of(selector: Selector) -> type[Selector] | None:
    return next((kind for kind in _COMBINATORS if isinstance(selector, kind)), None)


def _combine_function(combinator: type[Selector]) -> Callable[..., bool]:
    for kind, combine in _COMBINATORS.items():
        if issubclass(combinator, kind):
            return combine
    raise errors.OptracrBug(f"merged_select combines with SelectorAnd, SelectorOr or SelectorNot, got {combinator!r}")


def _select_leaves(selector: Selector) -> list[Select] | None:
    """The Selects a combination of Selects reads; None when it holds anything else."""
    if isinstance(selector, Select):
        return [selector]
    if _combinator_of(selector) is None:
        return None
    found = [_select_leaves(child) for child in selector.children]
    return None if any(leaves is None for leaves in found) else [select for leaves in found for select in leaves]


def _common_input(sops: list[SOp]) -> SOp | None:
    """The one s-op every entry is (a Full matches any); the first Full when all are Full; else None."""
    others = [sop for sop in sops if not isinstance(sop, Full)]
    common = others[0] if others else sops[0]
    return common if all(sop is common or isinstance(sop, Full) for sop in sops) else None


def _combined_predicate(
    combinator: type[Selector], operands: Sequence[Selector], keys: SOp, queries: SOp
) -> Predicate:
    parts = [_leaf_predicate(operand, keys, queries) for operand in operands]
    combine = _combine_function(combinator)
    return lambda key, query: combine(*[part(key, query) for part in parts])  # every part, as the evaluator does


def _leaf_predicate(selector: Selector, keys: SOp, queries: SOp) -> Predicate:
    if not isinstance(selector, Select):
        return _combined_predicate(_combinator_of(selector), selector.children, keys, queries)
    predicate = selector.predicate
    if selector.keys is not keys:  # a Full: its fill stands for every key
        predicate = _with_key(predicate, selector.keys.fill)
    if selector.queries is not queries:
        predicate = _with_query(predicate, selector.queries.fill)
    return predicate


def _with_key(predicate: Predicate, fill: Value) -> Predicate:
    return lambda key, query: predicate(fill, query)


def _with_query(predicate: Predicate, fill: Value) -> Predicate:
    return lambda key, query: predicate(key, fill)


def _require_sop(value: object, op: str, argument: str) -> None:
    if not isinstance(value, SOp):
        raise errors.OptracrTypeError(
            None, f"{op}: `{argument}` must be an s-op (SOp) such as rasp.tokens, got {value!r}"
        )


def _require_selector(value: object, op: str, argument: str) -> None:
    if not isinstance(value, Selector):
        raise errors.OptracrTypeError(
            None, f"{op}: `{argument}` must be a Selector such as rasp.Select(...), got {value!r}"
        )


# ---------------------------------------------------------------------------------------- encodings
def numerical(sop: SOp) -> SOp:
    """``sop`` annotated as numerical: one residual direction holding its value."""
    return annotate(sop, encoding=Encoding.NUMERICAL)


def categorical(sop: SOp) -> SOp:
    """``sop`` annotated as categorical: one residual direction per value (the default)."""
    return annotate(sop, encoding=Encoding.CATEGORICAL)


def get_encoding(sop: RASPExpr) -> Encoding:
    """The encoding annotation of ``sop``."""
    return sop.annotations[_ENCODING]


def is_numerical(sop: RASPExpr) -> bool:
    """Whether ``sop`` is numerically encoded."""
    return get_encoding(sop) == Encoding.NUMERICAL


def is_categorical(sop: RASPExpr) -> bool:
    """Whether ``sop`` is categorically encoded."""
    return get_encoding(sop) == Encoding.CATEGORICAL
