"""Issue 14's constructs compile exactly: selectors combined over different s-ops, numerical arithmetic and
numerical keys (with inserted categorical copies), the sum helper, and causal safety."""

from __future__ import annotations

import re
import warnings

import pytest

import optracr
from optracr import craft, frontend, programs, rasp
from optracr.errors import CausalMeaningWarning, CompileError

VOCAB = frozenset({"a", "b", "c"})
MAX_SEQ_LEN = 4
MODES = ({}, {"fold": False, "fuse": False})

_A = rasp.Map(lambda t: {"a": 0, "b": 1, "c": 2}[t], rasp.tokens).named("a")
_D = rasp.Map(lambda i: "a" if i % 2 else "b", rasp.indices).named("d")
_X = rasp.numerical(rasp.Map(lambda t: 1 if t == "a" else 0, rasp.tokens)).named("x")


def _lt_and_eq() -> rasp.Selector:
    return rasp.Select(_A, rasp.indices, rasp.Comparison.LT) & rasp.Select(rasp.tokens, _D, rasp.Comparison.EQ)


def _lt_or_eq() -> rasp.Selector:
    return rasp.Select(_A, rasp.indices, rasp.Comparison.LT) | rasp.Select(rasp.tokens, _D, rasp.Comparison.EQ)


def _not_lt_and_eq() -> rasp.Selector:
    return ~_lt_and_eq()


SELECTORS = {"and": _lt_and_eq, "or": _lt_or_eq, "not": _not_lt_and_eq}
USES = {
    "numerical_aggregate": lambda selector: rasp.numerical(rasp.Aggregate(selector, _X, default=0)),
    # every selected key holds the token its query asks for, so the copied token is one value
    "categorical_aggregate": lambda selector: rasp.Aggregate(
        selector & rasp.Select(rasp.tokens, _D, rasp.Comparison.EQ), rasp.tokens
    ),
    "selector_width": rasp.SelectorWidth,
}


def _exact(program: rasp.SOp, **options: object) -> optracr.CompiledModel:
    model = optracr.compile(program, VOCAB, MAX_SEQ_LEN, allocator="heuristic", **options)
    report = optracr.verify(model, program)
    assert report.exhaustive and report.ok, str(report)
    return model


@pytest.mark.parametrize(
    "mode", [MODES[0], pytest.param(MODES[1], marks=pytest.mark.slow)], ids=["default", "reference_structure"]
)
@pytest.mark.parametrize("use", sorted(USES))
@pytest.mark.parametrize("combination", sorted(SELECTORS))
def test_selectors_combined_over_different_sops_compile_exactly(combination: str, use: str, mode: dict) -> None:
    _exact(USES[use](SELECTORS[combination]()).named("out"), **mode)


def test_a_conjunction_is_one_head_whose_key_size_adds_the_parts() -> None:
    program = rasp.SelectorWidth(_lt_and_eq()).named("width")
    block_graph = craft.lower(frontend.analyse(program, VOCAB, MAX_SEQ_LEN), fold=False, fuse=False)
    head = block_graph.block_by_label["width"]
    assert head.num_heads == 1 and set(head.reads) == {"a", "indices", "tokens", "d"}
    # queries: indices (4) + d (2) + one; keys: a (3) + tokens (3) + BOS
    assert head.key_size == min(4 + 2 + 1, 3 + 3 + 1)


def test_a_disjunction_over_different_sops_compares_pairs() -> None:
    program = rasp.SelectorWidth(_lt_or_eq().named("either")).named("width")
    graph = frontend.analyse(program, VOCAB, MAX_SEQ_LEN)
    select = graph.expr("either")
    assert isinstance(select, rasp.Select)
    assert (select.keys.label, select.queries.label) == ("either_keys", "either_queries")
    assert graph.value_set("either_keys") == {(v, t) for v in range(3) for t in VOCAB}


@pytest.mark.parametrize("mode", MODES, ids=["default", "reference_structure"])
def test_a_product_of_two_numerical_sops_is_exact(mode: dict) -> None:
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    frac = rasp.numerical(rasp.Aggregate(prevs, _X, default=0)).named("frac")
    weight = rasp.numerical(rasp.Map(lambda t: {"a": 1, "b": 2, "c": 3}[t], rasp.tokens)).named("weight")
    model = _exact(rasp.numerical(rasp.SequenceMap(lambda p, q: p * q, frac, weight)).named("product"), **mode)
    assert "frac_as_categorical" in model.layered.locations


@pytest.mark.parametrize("mode", MODES, ids=["default", "reference_structure"])
def test_a_select_on_numerical_keys_and_queries_is_exact(mode: dict) -> None:
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    frac = rasp.numerical(rasp.Aggregate(prevs, _X, default=0)).named("frac")
    program = rasp.numerical(rasp.Aggregate(rasp.Select(frac, frac, rasp.Comparison.LT), _X, default=0))
    model = _exact(program.named("below"), **mode)
    assert "frac_as_categorical" in model.summary()


@pytest.mark.parametrize("mode", MODES, ids=["default", "reference_structure"])
def test_numerical_sum_is_exact_in_two_layers(mode: dict) -> None:
    weight = rasp.numerical(rasp.Map(lambda t: {"a": 1, "b": 2, "c": -1}[t], rasp.tokens)).named("weight")
    selector = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LEQ) & rasp.Select(
        rasp.indices, rasp.indices, rasp.Comparison.GEQ
    )
    model = _exact(programs.numerical_sum(selector, weight), **mode)
    assert model.config.num_layers == (2 if not mode else 3)  # the docstring's cost


# make_reverse's length: where its selector looks ahead and how the output reads it (both messages say so).
_REVERSE_LOOKS_AHEAD = (
    "'all_true_selector' can pick a later position (key 'a' for query 'a', wherever they stand), and the output "
    "reads it along length -> opp_idx -> opp_idx-1 -> reverse_selector -> reverse; "
)


def test_strict_causal_compilation_names_the_path_from_a_selector_that_looks_ahead() -> None:
    reverse = programs.make_reverse(rasp.tokens)
    message = (
        "'length': under causal='strict' every selector must keep to its query's own and earlier positions, but its "
        f"selector {_REVERSE_LOOKS_AHEAD}keep the selector to earlier positions with "
        "`selector & rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)`, compile with causal=True"
    )
    with pytest.raises(CompileError, match=re.escape(message)):
        optracr.compile(reverse, VOCAB, MAX_SEQ_LEN, causal="strict")


def test_causal_compilation_warns_naming_the_path_from_a_selector_that_looks_ahead() -> None:
    reverse = programs.make_reverse(rasp.tokens)
    message = (
        f"'length': under causal=True a position sees only itself and earlier ones, but its selector "
        f"{_REVERSE_LOOKS_AHEAD}the model computes the program's causal meaning, what optracr.causal_eval.evaluate "
        "(rasp.evaluate(..., causal=True)) gives, which can differ from rasp.evaluate without causal"
    )
    with pytest.warns(CausalMeaningWarning, match="under causal=True") as caught:
        model = optracr.compile(reverse, VOCAB, MAX_SEQ_LEN, causal=True, allocator="heuristic")
    assert [warning.message.label for warning in caught] == ["length", "reverse"]  # one per expression
    assert str(caught[0].message).startswith(message)
    assert all(warning.filename == __file__ for warning in caught)  # pointed at the caller's line
    assert optracr.verify(model, reverse).ok


def test_causal_compilation_accepts_a_selector_kept_to_earlier_positions() -> None:
    earlier = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    same = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)
    program = rasp.SelectorWidth(same & earlier).named("seen")
    _exact(program, causal="strict")
    _exact(program, causal=True)  # no warning: pytest turns one into an error
    later = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.GEQ)
    ahead = rasp.SelectorWidth(later & same).named("seen")
    with pytest.raises(CompileError, match=r"'seen': under causal='strict' .* \(key position 1 for query position 0\)"):
        optracr.compile(ahead, VOCAB, MAX_SEQ_LEN, causal="strict")
    witness = r"\(key position 1 for query position 0\)"
    with pytest.warns(CausalMeaningWarning, match=rf"'seen': under causal=True .* {witness}"):
        _exact(ahead, causal=True)


@pytest.mark.parametrize("name", sorted(programs.LIBRARY))
def test_strict_causal_compilation_accepts_exactly_the_library_programs_that_only_look_back(name: str) -> None:
    entry = programs.LIBRARY[name]
    reads_selectors = any(
        isinstance(expr, rasp.Selector) for expr in frontend.trace(entry.build()).exprs.values()
    )
    try:
        frontend.analyse(entry.build(), entry.vocab, entry.max_seq_len, causal="strict")
        accepted = True
    except CompileError:
        accepted = False
    assert accepted == (entry.causal or not reads_selectors)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frontend.analyse(entry.build(), entry.vocab, entry.max_seq_len, causal=True)
        except CompileError as error:  # only `length`, which no causal model can compute
            assert "`length` is the whole input's length" in str(error)
    assert all(issubclass(warning.category, CausalMeaningWarning) for warning in caught)
    assert (not caught) == (entry.causal or not reads_selectors)
