"""The program library: every entry passes the frontend and computes hand-checked outputs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from optracr import frontend, programs, rasp
from optracr.errors import CompileError

# Hand-checked (input, output) pairs for every library entry.
EXAMPLES: dict[str, list[tuple[list, list]]] = {
    "length": [(list("abc"), [3, 3, 3]), (["d"], [1])],
    "length_numerical": [(list("ab"), [2, 2])],
    "length_long": [(list("ab") * 6, [12] * 12), (list("aab"), [3, 3, 3])],
    "reverse": [(list("abcd"), list("dcba")), (list("abc"), list("cba")), (["c"], ["c"])],
    # Opens minus closes so far, each divided by the position + 1.
    "pair_balance": [(list("a()b(c))"), [0, 1 / 2, 0, 0, 1 / 5, 1 / 6, 0, -1 / 8])],
    "shuffle_dyck": [(list("(())"), [True] * 4), (list("())("), [False] * 4), (list("(()"), [False] * 3)],
    "shuffle_dyck2": [(list("({)}"), [True] * 4), (list("(){)}"), [False] * 5), (list("{}("), [False] * 3)],
    "shuffle_dyck3": [(list("({)[}]"), [True] * 6), (list("{}[(]"), [False] * 5)],
    "hist": [(list("abac"), [2, 1, 2, 1]), (list("dddb"), [3, 3, 3, 1])],
    # A repeated token: both 2s have one smaller key, so position 1 takes them (equal values) and 2 has none.
    "sort_unique": [([3, 1, 2], [1, 2, 3]), ([2, 4, 3, 1], [1, 2, 3, 4]), ([2, 2, 1], [1, 2, None])],
    "sort": [([3, 1, 2], [1, 2, 3]), ([2, 4, 1, 2], [1, 2, 2, 4]), ([4, 4, 4], [4, 4, 4])],
    "sort_by_reversed_index": [(list("abcd"), list("dcba"))],
    # Keys are -count + index / 5: more frequent first, ties in input order.
    "sort_freq": [([2, 4, 2, 1], [2, 2, 4, 1]), ([1, 3, 3, 3], [3, 3, 3, 1])],
    "frac_prevs": [(list("xacx"), [1, 1 / 2, 1 / 3, 1 / 2]), (list("axxb"), [0, 1 / 2, 2 / 3, 1 / 2])],
    "double_frac_prevs": [(list("xacx"), [2, 1, 2 / 3, 1])],
    "shift_by": [(list("abcd"), [None, "a", "b", "c"])],
    "detect_pattern": [
        (list("abcabc"), [None, None, True, False, False, True]),
        (list("aabc"), [None, None, False, True]),
    ],
    "count_less_freq": [(list("aaabbc"), [3] * 6), (list("aacbbc"), [6] * 6)],
    "count": [(list("aaabbc"), [3] * 6), (list("bbc"), [0] * 3)],
    "nary_sequencemap": [([1, 2, 3], [2, 3, 4])],
}

# Labels the reference gives (layer counts are compared against the reference, so the structure matches).
REFERENCE_LABELS: dict[str, set[str]] = {
    "reverse": {
        "tokens", "indices", "all_true_selector", "length", "opp_idx", "opp_idx-1", "reverse_selector", "reverse",
    },
    "hist": {"tokens", "same_tok", "hist"},
    "frac_prevs": {"is_x", "frac_prevs"},
    "pair_balance": {"bools_open", "opens", "bools_close", "closes", "pair_balance"},
    "sort_unique": {"smaller", "target_pos", "sort"},
    "sort_freq": {"hist", "smaller", "target_pos", "sort_freq"},
    "shuffle_dyck2": {
        "balance_()", "balance_{}", "any_negative", "select_all", "has_neg", "select_last", "last_zero",
        "not_has_neg", "shuffle_dyck2",
    },
    "count_less_freq": {"hist", "select_less", "count_less_freq"},
    "count": {"count_a"},
    "shift_by": {"shift_by(1)"},
    "detect_pattern": {"shift_by(1)", "shift_by(2)", "detect_pattern(abc)"},
}
NUMERICAL_OUTPUTS = {"length_numerical", "pair_balance", "frac_prevs", "double_frac_prevs"}


def _close(actual: list, expected: list) -> bool:
    return len(actual) == len(expected) and all(
        a == pytest.approx(e) if isinstance(e, float) else a == e for a, e in zip(actual, expected)
    )


def test_examples_cover_the_whole_library() -> None:
    assert set(EXAMPLES) == set(programs.LIBRARY)
    assert 19 <= len(programs.LIBRARY) <= 21


@pytest.mark.parametrize("name", sorted(programs.LIBRARY))
def test_library_program_passes_the_frontend(name: str) -> None:
    entry = programs.LIBRARY[name]
    graph = frontend.analyse(entry.build(), entry.vocab, entry.max_seq_len)
    expected_encoding = rasp.Encoding.NUMERICAL if name in NUMERICAL_OUTPUTS else rasp.Encoding.CATEGORICAL
    assert graph.encoding(graph.sink) is expected_encoding


@pytest.mark.parametrize("name", sorted(programs.LIBRARY))
def test_library_program_computes_the_hand_checked_outputs(name: str) -> None:
    entry = programs.LIBRARY[name]
    program = entry.build()
    for xs, expected in EXAMPLES[name]:
        assert set(xs) <= entry.vocab and len(xs) <= entry.max_seq_len
        actual = rasp.evaluate(program, xs)
        assert _close(actual, expected), (xs, actual, expected)


@pytest.mark.parametrize("name", sorted(name for name, entry in programs.LIBRARY.items() if entry.causal))
def test_causal_library_program_means_the_same_under_causal_evaluation(name: str) -> None:
    entry = programs.LIBRARY[name]
    program = entry.build()
    for xs, expected in EXAMPLES[name]:
        assert _close(rasp.evaluate(program, xs, causal=True), expected)


def test_causal_entries_are_those_that_only_look_back() -> None:
    causal = {name for name, entry in programs.LIBRARY.items() if entry.causal}
    assert causal == {"frac_prevs", "double_frac_prevs", "pair_balance", "shift_by", "detect_pattern"}
    # hist looks ahead: under a causal mask it counts earlier equal tokens only.
    assert rasp.evaluate(programs.make_hist(), list("abac"), causal=True) == [1, 1, 2, 1]


@pytest.mark.parametrize(("name", "labels"), sorted(REFERENCE_LABELS.items()))
def test_library_program_carries_the_reference_labels(name: str, labels: set[str]) -> None:
    entry = programs.LIBRARY[name]
    graph = frontend.trace(entry.build())
    assert labels <= set(graph.graph)
    if name == "reverse":
        assert set(graph.graph) == labels


def test_pair_balance_reads_numerical_fractions_and_combines_them_linearly() -> None:
    graph = frontend.analyse(programs.make_pair_balance(rasp.tokens, "(", ")"), set("()a"), 4)
    for label in ("bools_open", "opens", "bools_close", "closes", "pair_balance"):
        assert graph.encoding(label) is rasp.Encoding.NUMERICAL
    assert isinstance(graph.expr("pair_balance"), rasp.LinearSequenceMap)


def test_build_makes_a_fresh_program_each_call() -> None:
    for entry in programs.LIBRARY.values():
        first, second = entry.build(), entry.build()
        assert first is not second and first.unique_id != second.unique_id


def test_get_program_returns_the_entry() -> None:
    entry = programs.get_program("frac_prevs")
    assert entry is programs.LIBRARY["frac_prevs"]
    assert (entry.vocab, entry.max_seq_len, entry.causal) == (frozenset("abcx"), 5, True)


def test_get_program_lists_the_valid_names_for_an_unknown_name() -> None:
    with pytest.raises(CompileError, match=re.escape("no library program called 'sorted'; valid names: ")) as caught:
        programs.get_program("sorted")
    assert all(name in str(caught.value) for name in programs.LIBRARY)


def test_reference_configurations_of_the_compared_programs() -> None:
    configurations = {
        name: (programs.LIBRARY[name].vocab, programs.LIBRARY[name].max_seq_len)
        for name in ("reverse", "sort", "sort_freq", "hist", "shuffle_dyck2", "frac_prevs")
    }
    assert configurations == {
        "reverse": (frozenset("abcd"), 5),
        "sort": (frozenset({1, 2, 3, 4}), 5),
        "sort_freq": (frozenset({1, 2, 3, 4}), 5),
        "hist": (frozenset("abcd"), 5),
        "shuffle_dyck2": (frozenset("(){}"), 5),
        "frac_prevs": (frozenset("abcx"), 5),
    }


def test_library_entry_checks_its_fields() -> None:
    with pytest.raises(CompileError, match=re.escape("'bad': vocab must be a non-empty frozenset, got frozenset()")):
        programs.LibraryProgram("bad", programs.make_hist, frozenset(), 5, False, "")
    with pytest.raises(CompileError, match=re.escape("'bad': max_seq_len must be an integer >= 1, got 0")):
        programs.LibraryProgram("bad", programs.make_hist, frozenset("a"), 0, False, "")


def test_library_functions_reject_bad_arguments() -> None:
    with pytest.raises(CompileError, match="detect_pattern needs a pattern of length at least 1"):
        programs.detect_pattern(rasp.tokens, "")
    with pytest.raises(CompileError, match="pairs must be a non-empty list of two-character strings"):
        programs.make_shuffle_dyck(["(]]"])


def test_nary_sequencemap_applies_f_to_three_sops() -> None:
    program = programs.make_nary_sequencemap(lambda x, y, z: x * y / z, rasp.indices, rasp.indices, rasp.tokens)
    assert rasp.evaluate(program, [1, 2, 3]) == [0, 1 / 2, 4 / 3]


@pytest.mark.parametrize("name", sorted(programs.LIBRARY))
def test_the_description_names_the_values_the_model_decodes(name: str) -> None:
    """`optracr list` shows these: True/False where the model decodes booleans, None where it decodes None."""
    import optracr

    entry = programs.LIBRARY[name]
    model = optracr.compile(entry.build(), entry.vocab, entry.max_seq_len, allocator="heuristic")
    decoded = [value for tokens, _ in EXAMPLES[name] for value in model.apply(["BOS", *tokens]).decoded[1:]]
    kinds = {type(value) for value in decoded}
    if bool in kinds:
        assert "True" in entry.description and "False" in entry.description
        assert not re.search(r"\b1 if\b|\belse 0\b", entry.description)
    assert ("None" in entry.description) == (type(None) in kinds)
    if kinds == {float} and all(float(value).is_integer() for value in decoded):
        assert "float" in entry.description  # e.g. length_numerical decodes 3.0, not 3


# The reference's tracr/compiler/lib.py: every public name and its parameters (None: not a function).
REFERENCE_LIB = {
    "make_length": [], "length": None, "make_reverse": ["sop"],
    "make_pair_balance": ["sop", "open_token", "close_token"], "make_shuffle_dyck": ["pairs"],
    "make_shuffle_dyck2": [], "make_hist": [], "make_sort_unique": ["vals", "keys"],
    "make_sort": ["vals", "keys", "max_seq_len", "min_key"], "make_sort_freq": ["max_seq_len"],
    "make_frac_prevs": ["bools"], "shift_by": ["offset", "sop"], "detect_pattern": ["sop", "pattern"],
    "make_count_less_freq": ["n"], "make_count": ["sop", "token"], "make_nary_sequencemap": ["f", "sops"],
}
README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_maps_every_function_of_the_references_lib_to_optracr_programs() -> None:
    import inspect

    text = README.read_text()
    table = text[text.index("| `tracr.compiler.lib` | `optracr.programs` |"):]
    body = "\n".join(table.split("\n\n")[0].splitlines()[2:])  # below the header and its rule
    rows = re.findall(r"^\| `(\w+)[^`]*`[^|]*\| (.*) \|$", body, re.MULTILINE)
    assert [name for name, _ in rows] == list(REFERENCE_LIB)
    for name, ours in rows:
        provided = re.match(r"`(\w+)\(", ours)
        if provided is None:  # not provided: the cell names what to use instead, which exists
            assert ours.startswith("not provided") and all(hasattr(programs, n) for n in re.findall(r"`(\w+)\(", ours))
            continue
        assert provided.group(1) == name
        parameters = list(inspect.signature(getattr(programs, name)).parameters)
        assert parameters == REFERENCE_LIB[name], name
