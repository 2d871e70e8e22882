"""The program library: the reference's example programs and the paper's, plus a registry to compile them.

The ``make_*`` functions, ``shift_by`` and ``detect_pattern`` have the names, signatures, labels and
encodings of the reference's ``tracr.compiler.lib``, so layer counts can be compared with it. The paper's
own examples coincide with them: ``frac_prevs`` (figure 2) is ``make_frac_prevs(tokens == "x")``,
``sort_unique`` (figure 5) is ``make_sort_unique``, the sort with duplicates (figure 10) is ``make_sort``,
``pair_balance`` (figure 11) is ``make_pair_balance`` and the dyck-n program of appendix D is
``make_shuffle_dyck`` (it checks every parenthesis type on its own, which is shuffle-dyck).

>>> from optracr import programs, rasp
>>> rasp.evaluate(programs.make_hist(), list("abac"))
[2, 1, 2, 1]
>>> entry = programs.get_program("sort")
>>> rasp.evaluate(entry.build(), [3, 1, 2])
[1, 2, 3]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

from optracr.frontend import rasp
from optracr.errors import CompileError

# -------------------------------------------------------------------- programs for non-causal evaluation


def make_length() -> rasp.SOp:
    """The input length at every position, as the width of an all-true selector."""
    all_true_selector = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE).named("all_true_selector")
    return rasp.SelectorWidth(all_true_selector).named("length")


def make_reverse(sop: rasp.SOp) -> rasp.SOp:
    """``sop`` read back to front: position i takes the value at position length - 1 - i."""
    opp_idx = (make_length() - rasp.indices).named("opp_idx")
    opp_idx = (opp_idx - 1).named("opp_idx-1")
    reverse_selector = rasp.Select(rasp.indices, opp_idx, rasp.Comparison.EQ).named("reverse_selector")
    return rasp.Aggregate(reverse_selector, sop).named("reverse")


def make_pair_balance(sop: rasp.SOp, open_token: str, close_token: str) -> rasp.SOp:
    """Fraction of ``open_token`` minus fraction of ``close_token`` among positions up to each one."""
    bools_open = rasp.numerical(sop == open_token).named("bools_open")
    opens = rasp.numerical(make_frac_prevs(bools_open)).named("opens")
    bools_close = rasp.numerical(sop == close_token).named("bools_close")
    closes = rasp.numerical(make_frac_prevs(bools_close)).named("closes")
    pair_balance = rasp.numerical(rasp.LinearSequenceMap(opens, closes, 1, -1))
    return pair_balance.named("pair_balance")


def make_shuffle_dyck(pairs: list[str]) -> rasp.SOp:
    """True at every position when each parenthesis type in ``pairs`` is balanced on its own, else False.

    A balance that dips below zero anywhere, or that is not zero at the last position, means unbalanced.
    """
    if not pairs or any(len(pair) != 2 for pair in pairs):
        raise CompileError(None, f"pairs must be a non-empty list of two-character strings like '()', got {pairs!r}")
    balances = [
        make_pair_balance(rasp.tokens, open_token=pair[0], close_token=pair[1]).named(f"balance_{pair}")
        for pair in pairs
    ]
    any_negative = balances[0] < 0
    for balance in balances[1:]:
        any_negative = any_negative | (balance < 0)
    any_negative = rasp.numerical(rasp.Map(lambda x: x, any_negative)).named("any_negative")
    select_all = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.TRUE).named("select_all")
    has_neg = rasp.numerical(rasp.Aggregate(select_all, any_negative, default=0)).named("has_neg")

    all_zero = balances[0] == 0
    for balance in balances[1:]:
        all_zero = all_zero & (balance == 0)
    select_last = rasp.Select(rasp.indices, make_length() - 1, rasp.Comparison.EQ).named("select_last")
    last_zero = rasp.Aggregate(select_last, all_zero).named("last_zero")

    not_has_neg = (~has_neg).named("not_has_neg")
    return (last_zero & not_has_neg).named("shuffle_dyck")


def make_shuffle_dyck2() -> rasp.SOp:
    """``make_shuffle_dyck`` for the pairs ``()`` and ``{}`` (the paper's dyck-2 of appendix D)."""
    return make_shuffle_dyck(pairs=["()", "{}"]).named("shuffle_dyck2")


def make_hist() -> rasp.SOp:
    """How often each position's token occurs in the whole input."""
    same_tok = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ).named("same_tok")
    return rasp.SelectorWidth(same_tok).named("hist")


def make_sort_unique(vals: rasp.SOp, keys: rasp.SOp) -> rasp.SOp:
    """``vals`` ordered by ascending ``keys``; the keys must be unique within an input."""
    smaller = rasp.Select(keys, keys, rasp.Comparison.LT).named("smaller")
    target_pos = rasp.SelectorWidth(smaller).named("target_pos")
    sel_new = rasp.Select(target_pos, rasp.indices, rasp.Comparison.EQ)
    return rasp.Aggregate(sel_new, vals).named("sort")


def make_sort(vals: rasp.SOp, keys: rasp.SOp, *, max_seq_len: int, min_key: float) -> rasp.SOp:
    """``vals`` ordered by ascending numeric ``keys``, duplicates allowed (ties keep input order).

    Each key gets ``min_key * index / max_seq_len`` added, which breaks ties without reordering distinct
    keys when ``min_key`` is at most the smallest gap between distinct keys.
    """
    keys = rasp.SequenceMap(lambda x, i: x + min_key * i / max_seq_len, keys, rasp.indices)
    return make_sort_unique(vals, keys)


def make_sort_freq(max_seq_len: int) -> rasp.SOp:
    """The tokens ordered by descending frequency in the input; ties keep input order."""
    hist = -1 * make_hist().named("hist")
    return make_sort(rasp.tokens, hist, max_seq_len=max_seq_len, min_key=1).named("sort_freq")


# ---------------------------------------------------------------------- optracr extensions of RASP


def numerical_sum(selector: rasp.Selector, sop: rasp.SOp, *, name: str = "sum") -> rasp.SOp:
    """The sum of numerical ``sop`` over the positions ``selector`` picks (0 where it picks none).

    *An optracr extension, not in the reference* (its issue #6,
    https://github.com/google-deepmind/tracr/issues/6, asks for a sum aggregate): RASP averages, so the
    sum is the mean times the selector's width, ``name_mean * name_width``, rounded to the nearest integer when
    within 1e-9 of it (so sums of integers are integers). Exact on every input: the compiler makes the product
    a lookup over the joint grid of the means and widths (the mean gets a categorical copy). Cost: the mean's
    head and the width's head and MLP share one layer, the product one MLP (fused with the copy): 2 layers;
    3 with ``fold=False, fuse=False``. Hidden units grow with |means| x (N + 1).

    >>> from optracr import programs, rasp
    >>> is_a = rasp.numerical(rasp.Map(lambda t: 1 if t == "a" else 0, rasp.tokens))
    >>> so_far = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    >>> rasp.evaluate(programs.numerical_sum(so_far, is_a), list("abaa"))
    [1, 1, 2, 3]
    """
    mean = rasp.numerical(rasp.Aggregate(selector, rasp.numerical(sop), default=0)).named(f"{name}_mean")
    width = rasp.SelectorWidth(selector).named(f"{name}_width")
    return rasp.numerical(rasp.SequenceMap(_product, mean, width)).named(name)


def _product(mean: float, width: int) -> float:
    total = mean * width
    nearest = round(total)
    return nearest if abs(total - nearest) < 1e-9 else total


# ------------------------------------------------------- programs for causal and non-causal evaluation


def make_frac_prevs(bools: rasp.SOp) -> rasp.SOp:
    """At each position, the fraction of positions up to and including it where ``bools`` is true."""
    bools = rasp.numerical(bools)
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    return rasp.numerical(rasp.Aggregate(prevs, bools, default=0)).named("frac_prevs")


def shift_by(offset: int, /, sop: rasp.SOp) -> rasp.SOp:
    """``sop`` moved ``offset`` positions later; the first ``offset`` positions are None."""
    select_off_by_offset = rasp.Select(rasp.indices, rasp.indices, lambda k, q: q == k + offset)
    out = rasp.Aggregate(select_off_by_offset, sop, default=None)
    return out.named(f"shift_by({offset})")


def detect_pattern(sop: rasp.SOp, pattern: Sequence[Any]) -> rasp.SOp:
    """True where ``pattern`` ends at this position of ``sop``; None for the first len(pattern) - 1."""
    if len(pattern) < 1:
        raise CompileError(None, f"detect_pattern needs a pattern of length at least 1, got {pattern!r}")
    # detectors[i]: at position j, whether the i-th element from the pattern's end sits at j - i.
    detectors = []
    for i, element in enumerate(reversed(pattern)):
        detector = sop == element
        if i != 0:
            detector = shift_by(i, detector)
        detectors.append(detector)
    pattern_detected = detectors.pop()
    while detectors:
        pattern_detected = pattern_detected & detectors.pop()
    return pattern_detected.named(f"detect_pattern({pattern})")


def make_count_less_freq(n: int) -> rasp.SOp:
    """At every position, how many positions hold a token that occurs at most ``n`` times."""
    hist = make_hist().named("hist")
    select_less = rasp.Select(hist, hist, lambda x, y: x <= n).named("select_less")
    return rasp.SelectorWidth(select_less).named("count_less_freq")


def make_count(sop: rasp.SOp, token: Hashable) -> rasp.SOp:
    """At every position, how many positions of ``sop`` hold ``token``."""
    return rasp.SelectorWidth(rasp.Select(sop, sop, lambda k, q: k == token)).named(f"count_{token}")


def make_nary_sequencemap(f: Callable[..., Any], *sops: rasp.SOp) -> rasp.SOp:
    """``f`` applied position-wise to n s-ops: binary SequenceMaps build tuples, one Map applies ``f``.

    The tuple-valued s-ops are categorical, so their value sets (and the compiled MLPs) grow as the
    product of the inputs' value sets.
    """
    values, *rest = sops
    for sop in rest:
        # The first step pairs two plain values; later steps extend a tuple.
        values = rasp.SequenceMap(lambda x, y: (*x, y) if isinstance(x, tuple) else (x, y), values, sop)
    return rasp.Map(lambda args: f(*args), values)


# ------------------------------------------------------------------------------------------- registry


@dataclasses.dataclass(frozen=True)
class LibraryProgram:
    """A library program with the vocabulary and longest input it is meant to be compiled for.

    Attributes:
      name: the registry key.
      make: makes a fresh program (new expressions) for a given max_seq_len; most programs ignore it, the
        sorts use it to break ties between equal keys. Call ``build`` instead.
      vocab: the input tokens (BOS and PAD excluded).
      max_seq_len: the longest input, BOS excluded.
      causal: whether the program also means what it should under causal evaluation.
      description: one line on what the program computes.
    """

    name: str
    make: Callable[[int], rasp.SOp]
    vocab: frozenset
    max_seq_len: int
    causal: bool
    description: str

    def __post_init__(self) -> None:
        if not self.name:
            raise CompileError(None, "a library program needs a non-empty name")
        if not isinstance(self.vocab, frozenset) or not self.vocab:
            raise CompileError(self.name, f"vocab must be a non-empty frozenset, got {self.vocab!r}")
        if isinstance(self.max_seq_len, bool) or not isinstance(self.max_seq_len, int) or self.max_seq_len < 1:
            raise CompileError(self.name, f"max_seq_len must be an integer >= 1, got {self.max_seq_len!r}")
        if not callable(self.make):
            raise CompileError(self.name, f"make must be a callable returning an s-op, got {self.make!r}")

    def build(self, max_seq_len: int | None = None) -> rasp.SOp:
        """A fresh program for inputs up to ``max_seq_len`` (default: the entry's own)."""
        return self.make(self.max_seq_len if max_seq_len is None else max_seq_len)


def _is_x_frac_prevs() -> rasp.SOp:
    """The paper's figure 2: the fraction of "x" tokens so far."""
    is_x = (rasp.tokens == "x").named("is_x")
    return make_frac_prevs(is_x)


def _double_frac_prevs() -> rasp.SOp:
    """Twice the fraction of "x" tokens so far: a numerical Map of a numerical mean."""
    return rasp.numerical(rasp.Map(lambda x: 2 * x, _is_x_frac_prevs())).named("double_frac_prevs")


def _nary_sequencemap() -> rasp.SOp:
    """tokens + tokens - indices through tuple-valued SequenceMaps (the reference's test case)."""
    sum_minus_index = make_nary_sequencemap(lambda x, y, z: x + y - z, rasp.tokens, rasp.tokens, rasp.indices)
    return sum_minus_index.named("nary_sequencemap")


def _entry(
    name: str, build: Callable[[], rasp.SOp] | Callable[[int], rasp.SOp], vocab: Iterable[Hashable],
    max_seq_len: int, description: str, *, causal: bool = False, sized: bool = False,
) -> LibraryProgram:
    """A registry entry; a string ``vocab`` stands for its characters; ``sized`` builders take max_seq_len."""
    make = build if sized else (lambda _max_seq_len: build())
    return LibraryProgram(name, make, frozenset(vocab), max_seq_len, causal, description)


def _entries() -> tuple[LibraryProgram, ...]:
    letters, digits = "abcd", {1, 2, 3, 4}
    return (
        _entry("length", make_length, letters, 3, "the input length at every position"),
        _entry(
            "length_numerical", lambda: rasp.numerical(make_length()), letters, 3,
            "the input length at every position, numerically encoded (decoded as a float, e.g. 3.0)",
        ),
        _entry(
            "length_long", make_length, "ab", 12,
            "the input length up to 12 (the reference's selector width fails from 10 on)",
        ),
        _entry("reverse", lambda: make_reverse(rasp.tokens), letters, 5, "the tokens back to front"),
        _entry(
            "pair_balance", lambda: make_pair_balance(rasp.tokens, "(", ")"), "abc()", 10,
            "fraction of '(' minus fraction of ')' up to each position (paper figure 11)", causal=True,
        ),
        _entry(
            "shuffle_dyck", lambda: make_shuffle_dyck(["()"]), "()", 5, "True at every position if the parentheses are balanced, else False"
        ),
        _entry(
            "shuffle_dyck2", make_shuffle_dyck2, "(){}", 5,
            "True at every position if () and {} are each balanced, else False (paper appendix D, dyck-2)",
        ),
        _entry(
            "shuffle_dyck3", lambda: make_shuffle_dyck(["()", "{}", "[]"]), "(){}[]", 6,
            "True at every position if (), {} and [] are each balanced, else False",
        ),
        _entry("hist", make_hist, letters, 5, "at every position, how often its token occurs in the input"),
        _entry(
            "sort_unique", lambda: make_sort_unique(rasp.tokens, rasp.tokens), digits, 5,
            "the tokens sorted ascending, for inputs without repeats (paper figure 5); a repeated token leaves None where its copies would go",
        ),
        _entry(
            "sort", lambda n: make_sort(rasp.tokens, rasp.tokens, max_seq_len=n, min_key=1), digits, 5,
            "the tokens sorted ascending, duplicates allowed (paper figure 10)", sized=True,
        ),
        _entry(
            "sort_by_reversed_index", lambda n: make_sort(rasp.tokens, 1 - rasp.indices, max_seq_len=n, min_key=1),
            letters, 5, "the tokens sorted by descending index, i.e. reversed", sized=True,
        ),
        _entry(
            "sort_freq", lambda n: make_sort_freq(max_seq_len=n), digits, 5,
            "the tokens sorted by descending frequency, ties in input order", sized=True,
        ),
        _entry(
            "frac_prevs", _is_x_frac_prevs, "abcx", 5, "fraction of 'x' tokens up to each position (paper figure 2)", causal=True
        ),
        _entry(
            "double_frac_prevs", _double_frac_prevs, "abcx", 5,
            "twice the fraction of 'x' tokens up to each position (numerical map of a mean)", causal=True,
        ),
        _entry(
            "shift_by", lambda: shift_by(1, rasp.tokens), letters, 5, "the tokens moved one position later; None at the first position",
            causal=True,
        ),
        _entry(
            "detect_pattern", lambda: detect_pattern(rasp.tokens, "abc"), "abc", 6,
            "True where the pattern 'abc' ends, else False; None at the first two positions", causal=True,
        ),
        _entry(
            "count_less_freq", lambda: make_count_less_freq(2), letters, 6,
            "at every position, how many positions hold a token occurring at most twice",
        ),
        _entry("count", lambda: make_count(rasp.tokens, "a"), "abc", 8, "at every position, how many 'a' tokens the input holds"),
        _entry(
            "nary_sequencemap", _nary_sequencemap, {1, 2, 3}, 5, "token + token - index via a 3-ary sequence map"
        ),
    )


LIBRARY: dict[str, LibraryProgram] = {entry.name: entry for entry in _entries()}


def get_program(name: str) -> LibraryProgram:
    """The library entry called ``name``; a ``CompileError`` listing the valid names otherwise."""
    if name not in LIBRARY:
        raise CompileError(
            None, f"no library program called {name!r}; valid names: {', '.join(sorted(LIBRARY))}"
        )
    return LIBRARY[name]
