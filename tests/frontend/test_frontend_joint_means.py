"""Two numerical means over the same positions: a SequenceMap of them reads only the pairs they take together."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optracr import rasp
from optracr.frontend import InputSpec, ProgramGraph, evaluate, infer_value_sets, joint_means, trace
from optracr.frontend.inputs import all_inputs


def _graph(program: rasp.SOp, vocab: set, max_seq_len: int) -> ProgramGraph:
    return infer_value_sets(trace(program), InputSpec(vocab, max_seq_len))


def _frac(bools: rasp.SOp, selector: rasp.Selector | None = None, name: str = "frac") -> rasp.SOp:
    selector = selector or rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    return rasp.numerical(rasp.Aggregate(selector, rasp.numerical(bools), default=0)).named(name)


def _balance(open_token: str = "(", close_token: str = ")") -> rasp.SOp:
    opens = _frac(rasp.numerical(rasp.tokens == open_token), name="opens")
    closes = _frac(rasp.numerical(rasp.tokens == close_token), name="closes")
    return rasp.numerical(rasp.LinearSequenceMap(opens, closes, 1, -1)).named("balance")


def _evaluated(expr: rasp.SOp, vocab: set, max_seq_len: int) -> set:
    found = set()
    for tokens in all_inputs(sorted(vocab), max_seq_len):
        found.update(evaluate(expr, list(tokens)))
    return found


def test_a_difference_of_fractions_of_one_prefix_takes_only_k_over_n() -> None:
    balance = _balance()
    graph = _graph(balance, {"(", ")", "x"}, 5)
    # k/n with |k| <= n <= 5, as floats the way the evaluator computes them: 27 floats (21 rationals, some
    # reached by two float roundings, e.g. 0.6 - 0.2 and 0.8 - 0.4); every difference of two fractions: 77
    assert len(graph.value_set("balance")) == 27
    assert graph.value_set("balance") == _evaluated(balance, {"(", ")", "x"}, 5)
    assert len(graph.input_pairs("balance")) < len(graph.value_set("opens")) * len(graph.value_set("closes"))


def test_means_over_different_selections_keep_every_pair() -> None:
    opens = _frac(rasp.numerical(rasp.tokens == "("), name="opens")
    later = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.GEQ)
    closes = _frac(rasp.numerical(rasp.tokens == ")"), later, name="closes")
    balance = rasp.numerical(rasp.LinearSequenceMap(opens, closes, 1, -1)).named("balance")
    graph = _graph(balance, {"(", ")"}, 4)
    assert graph.input_pairs("balance") is None
    products = {a - b for a in graph.value_set("opens") for b in graph.value_set("closes")}
    assert graph.value_set("balance") == products


def test_selects_with_one_callable_predicate_are_one_selection_and_two_lambdas_are_not() -> None:
    def before(key: int, query: int) -> bool:
        return key < query

    shared = [_frac(rasp.numerical(rasp.tokens == t), rasp.Select(rasp.indices, rasp.indices, before), name=n)
              for t, n in (("a", "fa"), ("b", "fb"))]
    lambdas = [_frac(rasp.numerical(rasp.tokens == t), rasp.Select(rasp.indices, rasp.indices, lambda k, q: k < q),
                     name=n) for t, n in (("a", "ga"), ("b", "gb"))]
    joint = _graph(rasp.numerical(rasp.LinearSequenceMap(*shared, 1, 1)).named("sum"), {"a", "b"}, 4)
    apart = _graph(rasp.numerical(rasp.LinearSequenceMap(*lambdas, 1, 1)).named("sum"), {"a", "b"}, 4)
    assert joint.input_pairs("sum") is not None
    assert apart.input_pairs("sum") is None
    # a + b over one selection is 1 wherever something is picked (every position is a or b), 0 where nothing is
    assert joint.value_set("sum") == {0.0, 1.0}
    assert len(apart.value_set("sum")) > 2


def test_too_many_pairs_of_sums_fall_back_to_every_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    balance = _balance()
    monkeypatch.setattr(joint_means, "MAX_SUM_PAIRS", 3)
    graph = _graph(balance, {"(", ")", "x"}, 5)
    assert graph.input_pairs("balance") is None
    assert len(graph.value_set("balance")) > 27


def test_a_mean_with_no_default_keeps_every_pair() -> None:
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LT)
    first = rasp.numerical(rasp.Aggregate(prevs, rasp.numerical(rasp.tokens == "a"), default=None)).named("first")
    second = rasp.numerical(rasp.Aggregate(prevs, rasp.numerical(rasp.tokens == "b"), default=None)).named("second")
    graph = _graph(rasp.numerical(rasp.LinearSequenceMap(first, second, 1, -1)).named("d"), {"a", "b"}, 3)
    assert graph.input_pairs("d") is None


_TOKENS = ("a", "b", "c")


@settings(max_examples=60, deadline=None)
@given(
    first=st.lists(st.integers(-2, 2), min_size=3, max_size=3),
    second=st.lists(st.integers(-2, 2), min_size=3, max_size=3),
    factors=st.tuples(st.sampled_from([1, -1, 2, 0.5]), st.sampled_from([1, -1, 3, 0.25])),
    comparison=st.sampled_from([rasp.Comparison.LEQ, rasp.Comparison.LT, rasp.Comparison.TRUE, rasp.Comparison.EQ]),
    default=st.sampled_from([0, 1, -0.5]),
    max_seq_len=st.integers(1, 4),
    same_select_object=st.booleans(),
)
def test_joint_value_sets_cover_every_value_the_evaluator_produces(
    first: list[int], second: list[int], factors: tuple, comparison: rasp.Comparison, default: float,
    max_seq_len: int, same_select_object: bool,
) -> None:
    table_first, table_second = dict(zip(_TOKENS, first)), dict(zip(_TOKENS, second))
    select = rasp.Select(rasp.indices, rasp.indices, comparison)
    other = select if same_select_object else rasp.Select(rasp.indices, rasp.indices, comparison)
    mean_first = rasp.numerical(rasp.Aggregate(select, rasp.numerical(rasp.Map(table_first.get, rasp.tokens)),
                                               default=default)).named("m1")
    mean_second = rasp.numerical(rasp.Aggregate(other, rasp.numerical(rasp.Map(table_second.get, rasp.tokens)),
                                                default=default)).named("m2")
    combined = rasp.numerical(rasp.LinearSequenceMap(mean_first, mean_second, *factors)).named("combined")
    graph = _graph(combined, set(_TOKENS), max_seq_len)
    assert graph.input_pairs("combined") is not None
    pairs_met = set()
    for tokens in all_inputs(_TOKENS, max_seq_len):
        pairs_met.update(zip(evaluate(mean_first, list(tokens)), evaluate(mean_second, list(tokens))))
        assert set(evaluate(combined, list(tokens))) <= graph.value_set("combined"), tokens
    assert pairs_met <= graph.input_pairs("combined")


def test_the_pairs_are_fewer_than_the_product_where_means_share_positions() -> None:
    balance = _balance()
    graph = _graph(balance, {"(", ")", "x"}, 4)
    pairs = graph.input_pairs("balance")
    product = set(itertools.product(graph.value_set("opens"), graph.value_set("closes")))
    assert pairs < product
    assert (0.5, 0.25) in pairs  # two opens and a close among four positions
    assert (0.5, 1 / 3) not in pairs  # a half and a third of one prefix need six positions


def test_maps_of_one_s_op_contribute_their_values_together() -> None:
    # with only '(' and ')' every position is one of them, so the two fractions of a prefix add up to 1
    graph = _graph(_balance(), {"(", ")"}, 4)
    assert {opens + closes for opens, closes in graph.input_pairs("balance")} == {0.0, 1.0}
    assert graph.value_set("balance") == _evaluated(_balance(), {"(", ")"}, 4) | {0.0}
