"""Seeded random RASP programs that the frontend accepts: for property tests and scaling benchmarks.

Every generated program has exactly ``num_sops`` s-ops besides ``tokens`` and ``indices``, all of them read
(directly or not) by the output, and passes ``frontend.analyse`` with its vocabulary and max_seq_len.
Validity holds by construction:

- categorical value sets stay small: maps and sequence maps output ``range(m)`` with ``m <= max_values``,
  so value sets are bounded by ``max(len(vocab), max_seq_len + 1, max_values)`` at any depth;
- a categorical Aggregate selects with keys that differ at every position (``indices`` or an injective map
  of them) and a predicate that picks at most one key value per query, so it never averages categories;
- a numerical Aggregate averages a numerical 0/1 s-op with default 0; numerical s-ops never hold None;
- with ``mixed_types``, lookup tables output equal values of different types (``0``, ``0.0``, ``False``;
  ``1``, ``1.0``, ``True``) and some categorical maps tell them apart (they key on ``repr``): the compiler must
  keep them apart in a categorical s-op; numerical s-ops stay 0/1 of one type per value, and a map reading a
  numerical s-op never tells equal numbers apart (both are refused or meaningless there). Some SequenceMaps
  relabel an s-op that differs at every position into ints made floats at some positions (``2`` here, ``2.0``
  there), so categorical Aggregates select with keys equal under ``==`` across types (one key to a Select);
- with ``partial``, some categorical lookup tables (not those keyed on ``repr``) raise ``KeyError`` on one of
  their input values: compile those with ``partial_functions="allow"``; the evaluator has no answer on inputs
  reaching such a value;
- selectors' predicates never raise. They never select a None key or query: no predicate is asked about
  None, and a SelectorNot / And / Or decides only where every Select it combines has a key and a query (the
  evaluator's rule, which a compiled head follows: None is the all-zero vector). Some combine s-ops that may
  be None, so the rule is exercised; some combine Selects over *different* s-ops (``&``, ``|``, ``~``), and
  some read numerical keys or queries (0/1 maps and their means: the compiler inserts categorical copies);
- some SequenceMaps multiply two numerical s-ops (a lookup over the joint grid of their values);
- with ``causal=True`` every selector is kept to earlier positions (``& Select(indices, indices, LEQ)``),
  so the program means the same with and without a causal mask and passes ``causal="strict"``, which refuses
  selectors that look ahead (any program compiles with ``causal=True``: the model computes its causal meaning).

>>> from optracr import frontend
>>> from optracr.generate import random_programs
>>> generated = random_programs.generate(7, num_sops=12)
>>> graph = frontend.analyse(generated.program, generated.vocab, generated.max_seq_len)
>>> graph.sink
'sop_11'
"""

from __future__ import annotations

import bisect
import dataclasses
import random
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from optracr.frontend import rasp
from optracr.errors import CompileError

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

OP_KINDS = ("map", "sequence_map", "numerical_aggregate", "categorical_aggregate", "selector_width")
DEFAULT_MIX: Mapping[str, float] = {
    "map": 4.0,
    "sequence_map": 2.0,
    "numerical_aggregate": 1.0,
    "categorical_aggregate": 2.0,
    "selector_width": 1.0,
}
DEFAULT_VOCAB = frozenset({"a", "b", "c"})
DEFAULT_MAX_SEQ_LEN = 5
# How often a selector for a width or a numerical mean is a SelectorAnd / Or / Not of same-input selects.
COMBINE_RATE = 0.15
COMBINE_RATE_WITH_NONE = 0.6
# A numerical s-op built from two others (LinearSequenceMap) may take at most this many values.
MAX_NUMERICAL_VALUES = 128
# How often a selector is combined with a Select over different s-ops, how often a Select may read a
# numerical s-op (one whose values are well apart: 0/1 maps and their means), and how often a SequenceMap
# of two numerical s-ops is their product rather than a LinearSequenceMap.
CROSS_COMBINE_RATE = 0.25
NUMERICAL_SELECT_RATE = 0.2
PRODUCT_RATE = 0.4
# With mixed_types, how often a SequenceMap is a typed relabelling of an s-op that differs at every position
# (ints at some positions, equal floats at others: keys equal under == across types).
TYPED_RELABEL_RATE = 0.3


@dataclasses.dataclass(frozen=True)
class GeneratedProgram:
    """A generated program with the vocabulary and longest input to compile (and evaluate) it with."""

    program: rasp.SOp
    vocab: frozenset
    max_seq_len: int
    seed: int
    num_sops: int
    causal: bool = False


@dataclasses.dataclass(frozen=True)
class _Node:
    """A generated s-op and what the generator knows of it (value set as the frontend infers it)."""

    index: int
    sop: rasp.SOp
    values: frozenset
    numerical: bool = False
    unique: bool = False  # distinct positions always hold distinct values
    maybe_none: bool = False
    zero_one: bool = False  # numerical with values in {0, 1}
    spread: bool = False  # numerical with values well apart (0/1, means of 0/1): fit for a categorical copy


def random_program(seed: int, **options: Any) -> rasp.SOp:
    """A random valid program; ``options`` are ``generate``'s (num_sops, vocab, max_seq_len, mix, ...)."""
    return generate(seed, **options).program


def generate(
    seed: int,
    *,
    num_sops: int = 10,
    vocab: Iterable[Hashable] = DEFAULT_VOCAB,
    max_seq_len: int = DEFAULT_MAX_SEQ_LEN,
    mix: Mapping[str, float] | None = None,
    max_fan_in: int = 3,
    frontier_bias: float = 0.7,
    max_values: int = 4,
    mixed_types: bool = False,
    partial: bool = False,
    causal: bool = False,
) -> GeneratedProgram:
    """A random valid program with the vocabulary and max_seq_len it is meant for.

    Args:
      seed: the same seed and options give the same program (same labels, same functions).
      num_sops: how many s-ops the program has besides tokens and indices (selectors not counted).
      vocab: the input tokens; max_seq_len: the longest input.
      mix: relative weights of the operation kinds in ``OP_KINDS`` (missing kinds weigh 0); where the
        chosen kind cannot be built from the s-ops at hand, another kind is built instead.
      max_fan_in: the most distinct s-ops one operation reads (1: a chain of single-input operations).
      frontier_bias: probability that an input is drawn from the s-ops nothing reads yet rather than from
        all s-ops; high values give deep, narrow programs, low values wide programs with fan-out.
      max_values: the largest output range of a generated map or sequence map.
      mixed_types: lookup tables output equal values of different types, and some maps tell them apart.
      partial: some lookup tables raise on one input value (compile with ``partial_functions="allow"``).
      causal: keep every selector to earlier positions, so the program compiles with causal="strict".
    """
    vocab = frozenset(vocab)
    weights = _check_options(num_sops, vocab, max_seq_len, mix, max_fan_in, frontier_bias, max_values)
    generator = _Generator(random.Random(seed), vocab, max_seq_len, weights, max_fan_in, frontier_bias, max_values)
    generator.mixed_types, generator.partial = mixed_types, partial
    generator.causal = causal
    program = generator.run(num_sops)
    return GeneratedProgram(
        program=program, vocab=vocab, max_seq_len=max_seq_len, seed=seed, num_sops=num_sops, causal=causal
    )


def programs(
    *,
    min_sops: int = 1,
    max_sops: int = 12,
    vocab: Iterable[Hashable] = DEFAULT_VOCAB,
    max_seq_len: int = DEFAULT_MAX_SEQ_LEN,
    mix: Mapping[str, float] | None = None,
    mixed_types: bool = False,
    partial: bool = False,
    causal: bool | None = False,
) -> SearchStrategy[GeneratedProgram]:
    """A hypothesis strategy of ``GeneratedProgram``s over seeds, sizes, fan-in and depth bias.

    ``causal``: True or False for every program, None to draw it.
    """
    from hypothesis import strategies as st  # a test dependency: imported only when asked for

    return st.builds(
        generate,
        st.integers(min_value=0, max_value=2**32 - 1),
        num_sops=st.integers(min_value=min_sops, max_value=max_sops),
        vocab=st.just(frozenset(vocab)),
        max_seq_len=st.just(max_seq_len),
        mix=st.just(mix),
        max_fan_in=st.integers(min_value=1, max_value=3),
        frontier_bias=st.sampled_from([0.0, 0.3, 0.7, 1.0]),
        mixed_types=st.just(mixed_types),
        partial=st.just(partial),
        causal=st.booleans() if causal is None else st.just(causal),
    )


def _check_options(
    num_sops: int,
    vocab: frozenset,
    max_seq_len: int,
    mix: Mapping[str, float] | None,
    max_fan_in: int,
    frontier_bias: float,
    max_values: int,
) -> dict[str, float]:
    """The operation weights; a ``CompileError`` for any option out of range."""
    if not isinstance(num_sops, int) or num_sops < 1:
        raise CompileError(None, f"num_sops must be an integer >= 1, got {num_sops!r}")
    if not vocab or None in vocab:
        raise CompileError(None, f"vocab must be non-empty and without None, got {sorted(vocab, key=repr)!r}")
    if not isinstance(max_seq_len, int) or max_seq_len < 1:
        raise CompileError(None, f"max_seq_len must be an integer >= 1, got {max_seq_len!r}")
    if max_fan_in not in (1, 2, 3):
        raise CompileError(None, f"max_fan_in must be 1, 2 or 3, got {max_fan_in!r}")
    if not 0.0 <= frontier_bias <= 1.0:
        raise CompileError(None, f"frontier_bias must lie in [0, 1], got {frontier_bias!r}")
    if not isinstance(max_values, int) or max_values < 2:
        raise CompileError(None, f"max_values must be an integer >= 2, got {max_values!r}")
    weights = dict(DEFAULT_MIX if mix is None else mix)
    unknown = sorted(set(weights) - set(OP_KINDS))
    if unknown:
        raise CompileError(None, f"unknown operation kinds {unknown} in mix; valid kinds: {', '.join(OP_KINDS)}")
    if any(weight < 0 for weight in weights.values()) or not any(weight > 0 for weight in weights.values()):
        raise CompileError(None, f"mix weights must be >= 0 with at least one > 0, got {dict(weights)!r}")
    return {kind: float(weights.get(kind, 0.0)) for kind in OP_KINDS}


def _is_int(value: Any) -> bool:
    return isinstance(value, int)


_INT_COMPARISONS: tuple[Callable[[Any, Any], bool], ...] = (
    lambda key, query: key == query,
    lambda key, query: key != query,
    lambda key, query: key < query,
    lambda key, query: key <= query,
    lambda key, query: key > query,
    lambda key, query: key >= query,
    lambda key, query: True,
)


class _Generator:
    """Builds one program step by step; ``frontier`` holds the s-ops nothing reads yet."""

    def __init__(
        self,
        rng: random.Random,
        vocab: frozenset,
        max_seq_len: int,
        weights: dict[str, float],
        max_fan_in: int,
        frontier_bias: float,
        max_values: int,
    ) -> None:
        self.rng = rng
        self.max_seq_len = max_seq_len
        self.weights = weights
        self.max_fan_in = max_fan_in
        self.frontier_bias = frontier_bias
        self.max_values = max_values
        self.tokens = _Node(0, rasp.tokens, vocab)
        self.indices = _Node(1, rasp.indices, frozenset(range(max_seq_len)), unique=True)
        self.nodes: list[_Node] = [self.tokens, self.indices]
        self.frontier: dict[int, _Node] = {}
        self.step = 0
        self.mixed_types = False
        self.partial = False
        self.causal = False

    # ------------------------------------------------------------------------------------- the loop
    def run(self, num_sops: int) -> rasp.SOp:
        """Adds ``num_sops`` s-ops and returns the last, which reads every other one."""
        for self.step in range(num_sops):
            # A free step raises the debt by at most 3 (a numerical s-op next to a numerical frontier s-op),
            # so with less slack than that every step must read the frontier.
            slack = num_sops - self.step - 1 - self._debt()
            if self.step == 0:
                node = self._build_any(required=self.tokens)
            elif (self.max_fan_in == 1 or slack < 3) and len(self.frontier) <= 1:
                node = self._build_any(required=self._only_frontier_node())
            elif slack < 3:
                node = self._merge_frontier()
            else:
                node = self._build_any(required=None)
            self._add(node)
        (sink,) = self.frontier.values()
        return sink.sop

    def _debt(self) -> int:
        """An upper bound on the operations needed to merge the frontier into one s-op."""
        if len(self.frontier) <= 1:
            return 0
        numerical = sum(node.numerical for node in self.frontier.values())
        return len(self.frontier) - 1 + numerical

    def _only_frontier_node(self) -> _Node | None:
        return next(iter(self.frontier.values()), None)

    def _add(self, node: _Node) -> None:
        self.nodes.append(node)
        self.frontier[node.index] = node

    def _use(self, *inputs: _Node) -> None:
        for node in inputs:
            self.frontier.pop(node.index, None)

    def _label(self) -> str:
        return f"sop_{self.step}"

    def _merge_frontier(self) -> _Node:
        """One step towards a single frontier s-op: convert a numerical s-op, or join two."""
        frontier = list(self.frontier.values())
        numerical = [node for node in frontier if node.numerical]
        if len(numerical) >= 2:
            node = self._linear_sequence_map(numerical[0], numerical[1])
            if node is not None:
                return node
        if numerical:
            return self._bucket_map(numerical[0])
        first, second = self.rng.sample(frontier, 2)
        return self._categorical_sequence_map(first, second)

    def _build_any(self, required: _Node | None) -> _Node:
        """An operation of a kind drawn from the mix that reads ``required`` (when given)."""
        kinds = [kind for kind in OP_KINDS if self.weights[kind] > 0]
        ordered: list[str] = []
        while kinds:
            kind = self.rng.choices(kinds, weights=[self.weights[k] for k in kinds])[0]
            ordered.append(kind)
            kinds.remove(kind)
        builders = {
            "map": self._map,
            "sequence_map": self._sequence_map,
            "numerical_aggregate": self._numerical_aggregate,
            "categorical_aggregate": self._categorical_aggregate,
            "selector_width": self._selector_width,
        }
        for kind in ordered:
            node = builders[kind](required)
            if node is not None:
                return node
        # A map reads anything; make it 0/1 when a numerical Aggregate was wanted but had nothing to average.
        return self._map(required, zero_one=ordered[0] == "numerical_aggregate")

    # ------------------------------------------------------------------------------------ choosing inputs
    def _pick(self, eligible: Callable[[_Node], bool], exclude: Iterable[_Node] = ()) -> _Node | None:
        """An eligible s-op, from the frontier with probability ``frontier_bias`` (when it has one)."""
        excluded = {node.index for node in exclude}
        if self.rng.random() < self.frontier_bias:
            candidates = [n for n in self.frontier.values() if n.index not in excluded and eligible(n)]
            if candidates:
                return self.rng.choice(candidates)
        candidates = [n for n in self.nodes if n.index not in excluded and eligible(n)]
        return self.rng.choice(candidates) if candidates else None

    def _fits(self, *inputs: _Node) -> bool:
        return len({node.index for node in inputs}) <= self.max_fan_in

    # ----------------------------------------------------------------------------------------- maps
    def _map(self, required: _Node | None, zero_one: bool = False) -> _Node:
        source = required or self._pick(lambda node: True)
        assert source is not None  # tokens and indices are always there
        if source.numerical:
            if self.rng.random() < 0.3:
                return self._scale_map(source)
            return self._bucket_map(source)
        if not source.maybe_none and (zero_one or self.rng.random() < 0.25):
            return self._table_map(source, numerical_zero_one=True)
        if source.unique and self.rng.random() < 0.5:
            return self._relabel_map(source)
        return self._table_map(source)

    def _table_map(self, source: _Node, numerical_zero_one: bool = False) -> _Node:
        """A categorical lookup table into range(m), or into {0, 1} with a numerical output.

        With ``mixed_types`` a categorical table's outputs take equal values of different types and may be keyed
        on ``repr`` (telling ``1`` from ``True``); with ``partial`` it may raise ``KeyError`` on one input value.
        """
        size = 2 if numerical_zero_one else self.rng.randint(2, self.max_values)
        ordered = sorted(source.values, key=repr)
        outputs = [self.rng.randrange(size) for _ in ordered]
        if self.mixed_types and not numerical_zero_one:
            outputs = [self.rng.choice(_EQUAL_VARIANTS.get(out, (out,))) for out in outputs]
        typed = self.mixed_types and not numerical_zero_one and self.rng.random() < 0.5
        key_of = repr if typed else (lambda x: x)
        table = {key_of(value): out for value, out in zip(ordered, outputs)}
        partial = self.partial and not numerical_zero_one and len(table) > 1 and self.rng.random() < 0.3
        victim = self.rng.choice(ordered) if partial else None
        # A table keyed on repr sees only the types the generator knows of its input (a set keeps one of 1 and
        # 1.0): it is never made partial, or it could raise on every value the input actually takes. The victim is
        # drawn all the same, so that every other program stays as it was.
        if partial and not typed:
            del table[key_of(victim)]
            sop = rasp.Map(lambda x: table[key_of(x)], source.sop, simplify=False)  # raises KeyError there
        else:
            fallback = 0
            sop = rasp.Map(lambda x: table.get(key_of(x), fallback), source.sop, simplify=False)
        values = frozenset(table.values())
        self._use(source)
        if numerical_zero_one:
            sop = rasp.numerical(sop)
        return _Node(
            len(self.nodes), sop.named(self._label()), values,
            numerical=numerical_zero_one, zero_one=numerical_zero_one, spread=numerical_zero_one,
            maybe_none=source.maybe_none,
        )

    def _relabel_map(self, source: _Node) -> _Node:
        """An injective relabelling, so the result still differs at every position."""
        ordered = sorted(source.values, key=repr)
        targets = list(range(len(ordered)))
        self.rng.shuffle(targets)
        table = dict(zip(ordered, targets))
        sop = rasp.Map(lambda x: table.get(x, -1), source.sop, simplify=False).named(self._label())
        self._use(source)
        return _Node(len(self.nodes), sop, frozenset(targets), unique=True, maybe_none=source.maybe_none)

    def _bucket_map(self, source: _Node) -> _Node:
        """A numerical s-op cut into ranges at midpoints between its values: categorical output."""
        midpoints = _midpoints(source.values)
        count = min(self.rng.randint(1, self.max_values - 1), len(midpoints))
        cuts = sorted(self.rng.sample(midpoints, count))
        sop = rasp.Map(lambda x: bisect.bisect_right(cuts, x), source.sop, simplify=False).named(self._label())
        values = frozenset(bisect.bisect_right(cuts, value) for value in source.values)
        self._use(source)
        return _Node(len(self.nodes), sop, values)

    def _scale_map(self, source: _Node) -> _Node:
        """A numerical s-op times a constant (keeping magnitudes within [1/64, 64]): numerical output."""
        largest = max(abs(value) for value in source.values)
        smallest = min((abs(value) for value in source.values if value != 0), default=1)
        factors = [f for f in (2, 3, -1, 0.5) if largest * abs(f) <= 64 and smallest * abs(f) >= 1 / 64]
        factor = self.rng.choice(factors or [-1])
        sop = rasp.numerical(rasp.Map(lambda x: factor * x, source.sop, simplify=False)).named(self._label())
        self._use(source)
        return _Node(len(self.nodes), sop, frozenset(factor * value for value in source.values), numerical=True)

    # -------------------------------------------------------------------------------- sequence maps
    def _sequence_map(self, required: _Node | None) -> _Node | None:
        if self.max_fan_in < 2:
            return None
        if required is not None and required.numerical:
            other = self._pick(lambda node: node.numerical, exclude=[required])
            return self._linear_sequence_map(required, other) if other is not None else None
        if self.mixed_types and self.rng.random() < TYPED_RELABEL_RATE:
            unique = required or self._pick(lambda node: node.unique)
            other = self._pick(lambda node: not node.numerical, exclude=[unique]) if unique is not None else None
            if unique is not None and unique.unique and other is not None:
                return self._typed_relabel_map(unique, other)
        first = required or self._pick(lambda node: not node.numerical)
        second = self._pick(lambda node: not node.numerical, exclude=[first])
        if first is None or second is None:
            return None
        return self._categorical_sequence_map(first, second)

    def _categorical_sequence_map(self, first: _Node, second: _Node) -> _Node:
        """A lookup table over pairs of values into range(m)."""
        size = self.rng.randint(2, self.max_values)
        pairs = [(x, y) for x in sorted(first.values, key=repr) for y in sorted(second.values, key=repr)]
        table = {pair: self.rng.randrange(size) for pair in pairs}
        sop = rasp.SequenceMap(lambda x, y: table.get((x, y), 0), first.sop, second.sop).named(self._label())
        self._use(first, second)
        maybe_none = first.maybe_none or second.maybe_none
        return _Node(len(self.nodes), sop, frozenset(table.values()), maybe_none=maybe_none)

    def _typed_relabel_map(self, unique: _Node, other: _Node) -> _Node:
        """An injective relabelling of ``unique`` into ints, each made a float where a table of ``other`` says so:
        ``2`` at one position, ``2.0`` at another. Distinct positions still hold values unequal under ``==``, so
        it stays fit for the keys of a categorical Aggregate (a Select sees ``2`` and ``2.0`` as one key)."""
        ordered = sorted(unique.values, key=repr)
        targets = list(range(len(ordered)))
        self.rng.shuffle(targets)
        relabel = dict(zip(ordered, targets))
        as_float = {value: self.rng.random() < 0.5 for value in sorted(other.values, key=repr)}
        sop = rasp.SequenceMap(
            lambda x, y: float(relabel.get(x, -1)) if as_float.get(y, False) else relabel.get(x, -1),
            unique.sop, other.sop,
        ).named(self._label())
        self._use(unique, other)
        values = frozenset(targets) | frozenset(float(target) for target in targets if any(as_float.values()))
        return _Node(len(self.nodes), sop, values, unique=True, maybe_none=unique.maybe_none or other.maybe_none)

    def _linear_sequence_map(self, first: _Node, second: _Node) -> _Node | None:
        """``a * first + b * second`` of two numerical s-ops (or, sometimes, their product), when small."""
        if len(first.values) * len(second.values) > MAX_NUMERICAL_VALUES:
            return None
        if first.index != second.index and self.rng.random() < PRODUCT_RATE:
            sop = rasp.numerical(rasp.SequenceMap(lambda x, y: x * y, first.sop, second.sop)).named(self._label())
            self._use(first, second)
            values = frozenset(x * y for x in first.values for y in second.values)
            return _Node(len(self.nodes), sop, values, numerical=True)
        fst_fac, snd_fac = self.rng.choice([(1, 1), (1, -1), (2, 1), (0.5, 0.5)])
        sop = rasp.numerical(rasp.LinearSequenceMap(first.sop, second.sop, fst_fac, snd_fac)).named(self._label())
        values = frozenset(fst_fac * x + snd_fac * y for x in first.values for y in second.values)
        self._use(first, second)
        return _Node(len(self.nodes), sop, values, numerical=True)

    # ------------------------------------------------------------------------------------ selectors
    def _select(self, keys: _Node, queries: _Node) -> rasp.Selector:
        """A selector over two s-ops with any pattern (for widths and numerical means)."""
        selector = self._cross_combined(self._same_input_select(keys, queries), keys, queries)
        return self._kept_to_earlier(selector)

    def _cross_combined(self, selector: rasp.Selector, keys: _Node, queries: _Node) -> rasp.Selector:
        """Sometimes ``selector`` & / | / ~ with a Select over the same s-ops in swapped roles (different
        (keys, queries), so the compiler adds scores or pairs inputs; no further s-op is read)."""
        if keys.index == queries.index or self.rng.random() >= CROSS_COMBINE_RATE:
            return selector
        other = rasp.Select(queries.sop, keys.sop, self._predicate(queries, keys))
        combine = self.rng.choice(["and", "or", "not_and", "not_or"])
        if combine == "and":
            return (selector & other).named(f"select_{self.step}_and")
        if combine == "or":
            return (selector | other).named(f"select_{self.step}_or")
        inner = selector & other if combine == "not_and" else selector | other
        return (~inner).named(f"select_{self.step}_not")

    def _kept_to_earlier(self, selector: rasp.Selector) -> rasp.Selector:
        """With ``causal``, the selector & a Select of the earlier positions (causal="strict" refuses look-ahead)."""
        if not self.causal:
            return selector
        earlier = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
        return (selector & earlier).named(f"select_{self.step}_so_far")

    def _same_input_select(self, keys: _Node, queries: _Node) -> rasp.Selector:
        select = rasp.Select(keys.sop, queries.sop, self._predicate(keys, queries))
        # Same-input combinations exercise the frontend's rewrite into one Select; more often over s-ops that
        # may be None, where a combination must keep None unselected (above all a SelectorNot).
        over_none = keys.maybe_none or queries.maybe_none
        if self.rng.random() < (COMBINE_RATE_WITH_NONE if over_none else COMBINE_RATE):
            combinations = [rasp.SelectorAnd, rasp.SelectorOr, rasp.SelectorNot] + [rasp.SelectorNot] * over_none
            combine = self.rng.choice(combinations)
            other = rasp.Select(keys.sop, queries.sop, self._predicate(keys, queries))
            if combine is rasp.SelectorNot:
                return rasp.SelectorNot(other).named(f"select_{self.step}")
            return combine(select, other).named(f"select_{self.step}")
        return select.named(f"select_{self.step}")

    def _predicate(self, keys: _Node, queries: _Node) -> rasp.Predicate:
        if all(map(_is_int, keys.values | queries.values)) and self.rng.random() < 0.7:
            return self.rng.choice(_INT_COMPARISONS)
        pairs = frozenset(
            (key, query)
            for key in sorted(keys.values, key=repr)
            for query in sorted(queries.values, key=repr)
            if self.rng.random() < 0.5
        )
        return lambda key, query: (key, query) in pairs

    def _unique_select(self, keys: _Node, queries: _Node) -> rasp.Selector:
        """A selector picking at most one key value per query value; ``keys`` differ at every position."""
        key_values = sorted(keys.values, key=repr)
        if all(map(_is_int, keys.values | queries.values)) and self.rng.random() < 0.5:
            offset = self.rng.randint(-2, 2)
            predicate = lambda key, query: key == query + offset  # noqa: E731
        else:
            target = {
                query: self.rng.choice(key_values)
                for query in sorted(queries.values, key=repr)
                if self.rng.random() < 0.85
            }
            predicate = lambda key, query: query in target and target[query] == key  # noqa: E731
        select = rasp.Select(keys.sop, queries.sop, predicate)
        roll = self.rng.random()
        if roll < 0.15:
            other = rasp.Select(keys.sop, queries.sop, self._predicate(keys, queries))
            select = rasp.SelectorAnd(select, other)
        elif roll < 0.15 + CROSS_COMBINE_RATE and keys.index != queries.index:
            # & a Select with the roles swapped (different keys): still one key value per query
            select = select & rasp.Select(queries.sop, keys.sop, self._predicate(queries, keys))
        return self._kept_to_earlier(select.named(f"select_{self.step}"))

    def _selector_inputs(self, required: _Node | None) -> tuple[_Node, _Node] | None:
        """Keys and queries (categorical); ``required`` takes one of the two roles."""
        numerical_too = self.rng.random() < NUMERICAL_SELECT_RATE  # a spread numerical s-op gets a categorical copy
        categorical = lambda node: not node.numerical or (numerical_too and node.spread)  # noqa: E731
        if required is not None and not categorical(required):
            return None
        first = required or self._pick(categorical)
        second = first if self.max_fan_in < 2 else self._pick(categorical)
        if first is None or second is None:
            return None
        return (first, second) if self.rng.random() < 0.5 else (second, first)

    # ---------------------------------------------------------------------------- select-aggregates
    def _selector_width(self, required: _Node | None) -> _Node | None:
        inputs = self._selector_inputs(required)
        if inputs is None:
            return None
        keys, queries = inputs
        sop = rasp.SelectorWidth(self._select(keys, queries))
        numerical = self.rng.random() < 0.2
        if numerical:
            sop = rasp.numerical(sop)
        self._use(keys, queries)
        values = frozenset(range(self.max_seq_len + 1))
        return _Node(len(self.nodes), sop.named(self._label()), values, numerical=numerical)

    def _numerical_aggregate(self, required: _Node | None) -> _Node | None:
        if required is not None and required.numerical:
            if not required.zero_one:
                return None
            averaged = required
            inputs = self._selector_inputs(None)
        else:
            averaged = self._pick(lambda node: node.zero_one)
            inputs = self._selector_inputs(required)
        if averaged is None or inputs is None:
            return None
        keys, queries = inputs
        if not self._fits(keys, queries, averaged):
            # Read one s-op as both keys and queries (the required one, where it is categorical).
            keys = queries = required if required is not None and not required.numerical else keys
            if not self._fits(keys, queries, averaged):
                return None
        selector = self._select(keys, queries)
        sop = rasp.numerical(rasp.Aggregate(selector, averaged.sop, default=0)).named(self._label())
        self._use(keys, queries, averaged)
        means = _means_of_zero_one(averaged.values, self.max_seq_len)
        return _Node(len(self.nodes), sop, means, numerical=True, spread=True)

    def _categorical_aggregate(self, required: _Node | None) -> _Node | None:
        if required is not None and required.numerical:
            return None
        roles = ["keys", "queries", "sop"] if required is not None and required.unique else ["queries", "sop"]
        role = self.rng.choice(roles) if required is not None else None
        categorical = lambda node: not node.numerical  # noqa: E731
        keys = required if role == "keys" else self._pick(lambda node: node.unique)
        queries = required if role == "queries" else self._pick(categorical)
        averaged = required if role == "sop" else self._pick(categorical)
        if keys is None or queries is None or averaged is None:
            return None
        if not self._fits(keys, queries, averaged):
            # Collapse roles onto the keys, keeping the required s-op in its role.
            if self.max_fan_in == 1 and role not in ("keys", None):
                return None
            queries = keys if role != "queries" else queries
            averaged = queries if role != "sop" else averaged
            if not self._fits(keys, queries, averaged):
                return None
        selector = self._unique_select(keys, queries)
        sop = rasp.Aggregate(selector, averaged.sop).named(self._label())
        self._use(keys, queries, averaged)
        return _Node(len(self.nodes), sop, averaged.values, maybe_none=True)


# Equal values of different types a mixed-type table may output in place of 0 or 1.
_EQUAL_VARIANTS: Mapping[int, tuple] = {0: (0, 0.0, False), 1: (1, 1.0, True)}


def _midpoints(values: Iterable[float]) -> list[float]:
    """Midpoints between consecutive distinct values; values closer than 1e-9 count as one (float noise)."""
    ordered = sorted(values)
    clusters = [ordered[0]]
    for value in ordered[1:]:
        if value - clusters[-1] > 1e-9:
            clusters.append(value)
    midpoints = [(low + high) / 2 for low, high in zip(clusters, clusters[1:])]
    return midpoints or [clusters[0] + 0.5]


def _means_of_zero_one(values: frozenset, max_seq_len: int) -> frozenset:
    """Every mean of 1..max_seq_len values drawn from ``values`` (a subset of {0, 1}), plus 0."""
    means = {0}
    for count in range(1, max_seq_len + 1):
        low = 0 if 0 in values else count
        high = count if 1 in values else 0
        means.update(total / count for total in range(low, high + 1))
    return frozenset(means)
