"""The random program generator: valid, exactly sized, reproducible, controllable, and fast at scale."""

from __future__ import annotations

import collections
import itertools
import os
import subprocess
import sys

import networkx as nx
import pytest

from optracr import rasp
from optracr.generate import random_programs
from optracr.errors import CompileError
from optracr.frontend import ProgramGraph, analyse, evaluate, rewrite

_INPUTS = [list(xs) for n in range(1, 4) for xs in itertools.product("abc", repeat=n)]


def _analysed(generated: random_programs.GeneratedProgram) -> ProgramGraph:
    return analyse(generated.program, generated.vocab, generated.max_seq_len)


_INSERTED = ("_as_categorical", "_keys", "_queries")  # s-ops the frontend's rewrite adds (categorical copies, pairs)


def _sop_labels(graph: ProgramGraph) -> list[str]:
    return [
        label
        for label in graph.graph
        if graph.encoding(label) is not None and label not in graph.sources and not label.endswith(_INSERTED)
    ]


def _sop_inputs(graph: ProgramGraph, label: str) -> set[str]:
    """The s-ops one s-op reads, through its selectors and through the s-ops the rewrite inserted."""
    inputs = set()
    for child in graph.graph.predecessors(label):
        if graph.encoding(child) is None or child.endswith(_INSERTED):
            inputs.update(_sop_inputs(graph, child))
        else:
            inputs.add(child)
    return inputs


def _fingerprint(generated: random_programs.GeneratedProgram) -> list:
    return [evaluate(generated.program, xs, causal=causal) for xs in _INPUTS for causal in (False, True)]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"max_fan_in": 1},
        {"max_fan_in": 2, "frontier_bias": 0.0},
        {"frontier_bias": 1.0, "num_sops": 40},
        {"num_sops": 1},
        {"vocab": {1, 2, 3}, "max_seq_len": 3, "num_sops": 25},
    ],
    ids=["default", "chain", "wide", "deep", "single", "integer_tokens"],
)
def test_generated_programs_pass_analysis_with_exactly_num_sops(options: dict) -> None:
    for seed in range(40):
        generated = random_programs.generate(seed, **options)
        graph = _analysed(generated)
        assert len(_sop_labels(graph)) == generated.num_sops
        assert nx.has_path(graph.graph, "tokens", graph.sink)
        # Every generated s-op feeds the output.
        assert all(nx.has_path(graph.graph, label, graph.sink) for label in _sop_labels(graph))


def _select_leaf(selector: rasp.Selector) -> rasp.Select:
    while not isinstance(selector, rasp.Select):
        selector = selector.children[0]
    return selector


def _selectors(program: rasp.SOp) -> list[rasp.Selector]:
    """Every selector of ``program`` as written, before rewriting (combinations included)."""
    found, stack, seen = [], [program], set()
    while stack:
        expr = stack.pop()
        if expr.unique_id in seen:
            continue
        seen.add(expr.unique_id)
        if isinstance(expr, rasp.Selector):
            found.append(expr)
        stack.extend(expr.children)
    return found


def test_selectors_never_select_a_none_key_or_query() -> None:
    # A compiled head cannot: None is the all-zero vector, which matches nothing. Checked on the program as
    # generated, so SelectorNot / And / Or over s-ops that may be None are checked too.
    checked_combinations = 0
    for seed in range(60):
        generated = random_programs.generate(seed, num_sops=12)
        for selector, xs in itertools.product(_selectors(generated.program), _INPUTS):
            leaf = _select_leaf(selector)  # generated combinations share their keys and queries
            keys, queries = evaluate(leaf.keys, xs), evaluate(leaf.queries, xs)
            matrix = evaluate(selector, xs)
            for q, k in itertools.product(range(len(xs)), repeat=2):
                if keys[k] is None or queries[q] is None:
                    checked_combinations += not isinstance(selector, rasp.Select)
                    assert not matrix[q][k], (seed, selector.label, xs)
    assert checked_combinations > 100


def test_rewriting_keeps_the_meaning_of_generated_programs() -> None:
    # The rewrite merges same-input combinations into one Select, as the compiled model computes them.
    for seed in range(60):
        generated = random_programs.generate(seed, num_sops=12)
        rewritten = rewrite(generated.program)
        for xs, causal in itertools.product(_INPUTS, (False, True)):
            assert evaluate(rewritten, xs, causal=causal) == evaluate(generated.program, xs, causal=causal), (
                seed, xs, causal,
            )


def test_same_seed_gives_the_same_program_and_another_seed_another() -> None:
    first, again = random_programs.generate(3, num_sops=15), random_programs.generate(3, num_sops=15)
    assert set(_analysed(first).graph) == set(_analysed(again).graph)
    assert _fingerprint(first) == _fingerprint(again)
    others = [_fingerprint(random_programs.generate(seed, num_sops=15)) for seed in range(4, 8)]
    assert any(other != _fingerprint(first) for other in others)


def test_program_does_not_depend_on_the_hash_seed() -> None:
    script = (
        "from optracr import rasp\nfrom optracr.generate import random_programs\n"
        "import itertools\n"
        "g = random_programs.generate(11, num_sops=30)\n"
        "print([rasp.evaluate(g.program, list(xs)) for n in (1, 2, 3) for xs in itertools.product('abc', repeat=n)])\n"
    )
    outputs = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
        outputs.add(result.stdout)
    assert len(outputs) == 1


@pytest.mark.parametrize("max_fan_in", [1, 2, 3])
def test_no_sop_reads_more_than_max_fan_in_sops(max_fan_in: int) -> None:
    for seed in range(30):
        graph = _analysed(random_programs.generate(seed, num_sops=20, max_fan_in=max_fan_in))
        assert max(len(_sop_inputs(graph, label)) for label in _sop_labels(graph)) <= max_fan_in


def test_fan_in_one_gives_a_chain() -> None:
    graph = _analysed(random_programs.generate(5, num_sops=12, max_fan_in=1))
    sops = [graph.sink]
    while (inputs := _sop_inputs(graph, sops[-1]) - {"tokens", "indices"}):
        (previous,) = inputs
        sops.append(previous)
    assert len(sops) == 12


def test_frontier_bias_trades_width_for_depth() -> None:
    def mean_depth(bias: float) -> float:
        depths = []
        for seed in range(10):
            graph = _analysed(random_programs.generate(seed, num_sops=60, frontier_bias=bias))
            depths.append(nx.dag_longest_path_length(graph.graph))
        return sum(depths) / len(depths)

    assert mean_depth(1.0) > 1.5 * mean_depth(0.0)


@pytest.mark.parametrize(
    ("kind", "expression_type"),
    [
        ("map", rasp.Map),
        ("sequence_map", rasp.SequenceMap),
        ("categorical_aggregate", rasp.Aggregate),
        ("selector_width", rasp.SelectorWidth),
    ],
)
def test_mix_of_one_kind_builds_mostly_that_kind(kind: str, expression_type: type) -> None:
    # The rest are the merges that join the frontier into one output, and maps that convert numbers.
    counts = collections.Counter()
    for seed in range(10):
        graph = _analysed(random_programs.generate(seed, num_sops=20, mix={kind: 1.0}))
        counts.update(type(graph.expr(label)) for label in _sop_labels(graph))
    assert counts[expression_type] >= 0.6 * sum(counts.values())


def test_numerical_aggregates_average_zero_one_sops_with_default_zero() -> None:
    graph = _analysed(random_programs.generate(4, num_sops=60, mix={"numerical_aggregate": 3, "map": 1}))
    means = [
        graph.expr(label)
        for label in _sop_labels(graph)
        if isinstance(graph.expr(label), rasp.Aggregate) and rasp.is_numerical(graph.expr(label))
    ]
    assert len(means) >= 5
    for mean in means:
        assert mean.default == 0 and graph.value_set(graph.label_of(mean.sop)) <= {0, 1}


def test_thousand_sops_are_generated_and_analysed_with_bounded_value_sets() -> None:
    # Bounded value sets bound the work: inference applies each function to every input value (pair) once.
    generated = random_programs.generate(0, num_sops=1000, max_seq_len=5)
    graph = _analysed(generated)
    assert len(_sop_labels(graph)) == 1000
    for label in _sop_labels(graph):
        bound = 6 if graph.encoding(label) is rasp.Encoding.CATEGORICAL else random_programs.MAX_NUMERICAL_VALUES
        assert len(graph.value_set(label)) <= bound, label
    assert evaluate(generated.program, list("abcab")) is not None


def test_random_program_returns_the_generated_program() -> None:
    sop = random_programs.random_program(9, num_sops=7)
    assert isinstance(sop, rasp.SOp)
    assert _fingerprint(random_programs.GeneratedProgram(sop, frozenset("abc"), 5, 9, 7)) == _fingerprint(
        random_programs.generate(9, num_sops=7)
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"num_sops": 0}, "num_sops must be an integer >= 1, got 0"),
        ({"vocab": set()}, "vocab must be non-empty and without None, got []"),
        ({"max_seq_len": 0}, "max_seq_len must be an integer >= 1, got 0"),
        ({"max_fan_in": 4}, "max_fan_in must be 1, 2 or 3, got 4"),
        ({"frontier_bias": 1.5}, "frontier_bias must lie in [0, 1], got 1.5"),
        ({"max_values": 1}, "max_values must be an integer >= 2, got 1"),
        (
            {"mix": {"maps": 1.0}},
            "unknown operation kinds ['maps'] in mix; valid kinds: map, sequence_map, numerical_aggregate, "
            "categorical_aggregate, selector_width",
        ),
        ({"mix": {"map": 0.0}}, "mix weights must be >= 0 with at least one > 0, got {'map': 0.0}"),
    ],
    ids=["num_sops", "vocab", "max_seq_len", "fan_in", "bias", "max_values", "unknown_kind", "zero_mix"],
)
def test_bad_options_are_reported(options: dict, message: str) -> None:
    with pytest.raises(CompileError) as caught:
        random_programs.generate(0, **options)
    assert str(caught.value) == message


def test_generated_programs_hold_issue_14s_constructs_and_causal_ones_pass_causal_analysis() -> None:
    seen = collections.Counter()
    for seed in range(120):
        causal = seed % 2 == 1
        generated = random_programs.generate(seed, num_sops=8, causal=causal)
        strict = "strict" if causal else False  # causal programs keep to earlier positions: strict accepts them
        graph = analyse(generated.program, generated.vocab, generated.max_seq_len, causal=strict)
        for label in graph.topological_labels():
            expr = graph.expr(label)
            seen["conjunction"] += isinstance(expr, rasp.SelectorAnd)
            seen["paired"] += label.endswith("_keys")
            seen["categorical copy"] += label.endswith("_as_categorical")
            seen["product"] += type(expr) is rasp.SequenceMap and rasp.is_numerical(expr)
    assert min(seen[name] for name in ("conjunction", "paired", "categorical copy", "product")) > 0, seen


def _typed_apart_but_equal(values) -> bool:
    """Whether a value set holds two values equal under == of different types (``2`` and ``2.0``)."""
    return len(set(values)) < len(values)


def test_mixed_type_programs_select_keys_equal_across_types_in_categorical_aggregates() -> None:
    # One key to a Select: the uniqueness check counts 2 and 2.0 as one key, so these programs analyse.
    found = 0
    for seed in range(150):
        generated = random_programs.generate(seed, num_sops=8, mixed_types=True)
        graph = analyse(generated.program, generated.vocab, generated.max_seq_len)
        for label in graph.topological_labels():
            expr = graph.expr(label)
            if isinstance(expr, rasp.Aggregate) and not rasp.is_numerical(expr):
                keys = {graph.label_of(select.keys) for select in _select_leaves(expr.selector)}
                found += any(_typed_apart_but_equal(graph.value_set(key)) for key in keys)
    assert found >= 8, found


def _select_leaves(selector: rasp.Selector) -> list[rasp.Select]:
    if isinstance(selector, rasp.Select):
        return [selector]
    return [leaf for child in selector.children for leaf in _select_leaves(child)]


@pytest.mark.parametrize(("max_fan_in", "frontier_bias"), [(2, 0.3), (2, 0.7), (3, 0.3), (3, 0.7)])
def test_a_partial_table_never_raises_on_every_value_its_input_takes(max_fan_in: int, frontier_bias: float) -> None:
    """A table keyed on repr over an s-op whose values the generator keeps as 1 where they are 1.0 (seed 569481
    once deleted its only reachable key): partial tables are keyed on values, which such an s-op does match."""
    generated = random_programs.generate(569481, num_sops=8, vocab=frozenset("abc"), max_seq_len=4,
                                         max_fan_in=max_fan_in, frontier_bias=frontier_bias, mixed_types=True,
                                         partial=True)
    graph = analyse(generated.program, generated.vocab, generated.max_seq_len, partial_functions="allow")
    assert all(graph.value_set(label) for label in _sop_labels(graph))
