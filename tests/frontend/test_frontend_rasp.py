"""RASP expressions: the reference's public names and signatures, operators, Map fusion, selector algebra."""

from __future__ import annotations

import enum
import inspect
import pathlib

import pytest

from optracr import rasp
from optracr.errors import OptracrTypeError

_NAMES_FILE = pathlib.Path(__file__).with_name("reference_rasp_names.txt")

# Parameter names of the reference's tracr.rasp.rasp callables (tracr 1.0.0), in order.
REFERENCE_PARAMETERS: dict[str, tuple[str, ...]] = {
    "Map": ("f", "inner", "simplify"),
    "SequenceMap": ("f", "fst", "snd"),
    "LinearSequenceMap": ("fst", "snd", "fst_fac", "snd_fac"),
    "Full": ("fill",),
    "ConstantSOp": ("value", "check_length"),
    "ConstantSelector": ("value", "check_length"),
    "SelectorWidth": ("selector",),
    "Aggregate": ("selector", "sop", "default"),
    "Select": ("keys", "queries", "predicate"),
    "SelectorAnd": ("fst", "snd"),
    "SelectorOr": ("fst", "snd"),
    "SelectorNot": ("inner",),
    "selector_and": ("fst", "snd", "simplify"),
    "selector_or": ("fst", "snd", "simplify"),
    "selector_not": ("inner", "simplify"),
    "numerical": ("sop",),
    "categorical": ("sop",),
    "get_encoding": ("sop",),
    "is_numerical": ("sop",),
    "is_categorical": ("sop",),
    "annotate": ("expr", "annotations"),
    "evaluate": ("expr", "xs"),
}
REFERENCE_ENUM_MEMBERS = {
    "Comparison": {"EQ", "LT", "LEQ", "GT", "GEQ", "NEQ", "TRUE", "FALSE"},
    "Encoding": {"CATEGORICAL", "NUMERICAL"},
}


def _reference_names() -> list[str]:
    return [line.strip() for line in _NAMES_FILE.read_text().splitlines() if line.strip()]


def test_reference_names_file_lists_the_public_rasp_names() -> None:
    names = _reference_names()
    assert len(names) == len(set(names)) == 31
    assert set(REFERENCE_PARAMETERS) | set(REFERENCE_ENUM_MEMBERS) <= set(names)


@pytest.mark.parametrize("name", _reference_names())
def test_every_reference_name_exists_in_optracr_rasp(name: str) -> None:
    assert hasattr(rasp, name), f"optracr.rasp lacks the reference's {name!r}"


@pytest.mark.parametrize(("name", "expected"), sorted(REFERENCE_PARAMETERS.items()))
def test_callable_takes_the_reference_parameters_in_order(name: str, expected: tuple[str, ...]) -> None:
    parameters = list(inspect.signature(getattr(rasp, name)).parameters.values())
    assert tuple(p.name for p in parameters[: len(expected)]) == expected
    # Anything optracr adds (e.g. evaluate's causal flag) must be optional.
    assert all(p.default is not inspect.Parameter.empty for p in parameters[len(expected) :])


@pytest.mark.parametrize(("name", "members"), sorted(REFERENCE_ENUM_MEMBERS.items()))
def test_enum_has_the_reference_members(name: str, members: set[str]) -> None:
    enum_type = getattr(rasp, name)
    assert issubclass(enum_type, enum.Enum)
    assert {member.name for member in enum_type} == members


def test_comparison_is_called_with_key_then_query() -> None:
    assert list(inspect.signature(rasp.Comparison.LT.__call__).parameters) == ["key", "query"]
    assert rasp.Comparison.LT(0, 1) is True
    assert rasp.Comparison.LT(1, 0) is False


def test_inputs_and_base_classes_have_the_reference_roles() -> None:
    assert isinstance(rasp.tokens, rasp.SOp) and isinstance(rasp.indices, rasp.SOp)
    assert isinstance(rasp.length, rasp.SOp)
    assert issubclass(rasp.SOp, rasp.RASPExpr) and issubclass(rasp.Selector, rasp.RASPExpr)
    assert issubclass(rasp.LinearSequenceMap, rasp.SequenceMap)
    assert (rasp.tokens.label, rasp.indices.label, rasp.length.label) == ("tokens", "indices", "length")
    assert rasp.DEFAULT_ANNOTATORS["encoding"](rasp.Map(str, rasp.tokens)) == rasp.Encoding.CATEGORICAL


# ------------------------------------------------------------------------------------------ operators
@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda x: x < 2, [True, False, False]),
        (lambda x: x <= 2, [True, True, False]),
        (lambda x: x == 2, [False, True, False]),
        (lambda x: x != 2, [True, False, True]),
        (lambda x: x > 2, [False, False, True]),
        (lambda x: x >= 2, [False, True, True]),
    ],
    ids=["lt", "le", "eq", "ne", "gt", "ge"],
)
def test_comparison_with_a_constant_builds_a_map(build, expected: list[bool]) -> None:
    sop = build(rasp.tokens)
    assert type(sop) is rasp.Map and sop.inner is rasp.tokens
    assert rasp.evaluate(sop, [1, 2, 3]) == expected


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda x, y: x + y, [1, 3, 6]),
        (lambda x, y: x - y, [-1, -1, -2]),
        (lambda x, y: x * y, [0, 2, 8]),
        (lambda x, y: x / y, [0.0, 0.5, 0.5]),
    ],
    ids=["add", "sub", "mul", "div"],
)
def test_arithmetic_with_an_sop_builds_a_sequence_map(build, expected: list[float]) -> None:
    sop = build(rasp.indices, rasp.tokens)
    assert type(sop) is rasp.SequenceMap and sop.fst is rasp.indices and sop.snd is rasp.tokens
    assert rasp.evaluate(sop, [1, 2, 4]) == expected


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda x: x + 10, [11, 12]),
        (lambda x: 10 + x, [11, 12]),
        (lambda x: x - 10, [-9, -8]),
        (lambda x: 10 - x, [9, 8]),
        (lambda x: x * 3, [3, 6]),
        (lambda x: 3 * x, [3, 6]),
        (lambda x: x / 4, [0.25, 0.5]),
        (lambda x: 4 / x, [4.0, 2.0]),
    ],
    ids=["add", "radd", "sub", "rsub", "mul", "rmul", "div", "rdiv"],
)
def test_arithmetic_with_a_constant_builds_a_map(build, expected: list[float]) -> None:
    sop = build(rasp.tokens)
    assert type(sop) is rasp.Map and sop.inner is rasp.tokens
    assert rasp.evaluate(sop, [1, 2]) == expected


def test_logical_operators_on_sops() -> None:
    a, b = rasp.tokens == "a", rasp.indices == 1
    assert type(~a) is rasp.Map and rasp.evaluate(~a, list("ab")) == [False, True]
    both, either = a & b, a | b
    assert type(both) is rasp.SequenceMap and type(either) is rasp.SequenceMap
    assert rasp.evaluate(both, list("aab")) == [False, True, False]
    assert rasp.evaluate(either, list("bba")) == [False, True, True]
    assert type(a & True) is rasp.Map and rasp.evaluate(a & True, list("ab")) == [True, False]
    assert type(a | True) is rasp.Map and rasp.evaluate(a | True, list("ab")) == [True, True]
    assert type(True & a) is rasp.Map and rasp.evaluate(False | a, list("ab")) == [True, False]


# ------------------------------------------------------------------------------------------ Map fusion
def test_map_of_a_map_fuses_into_one_map() -> None:
    inner = rasp.Map(lambda x: x + 1, rasp.indices)
    outer = rasp.Map(lambda x: x * 10, inner)
    assert outer.inner is rasp.indices
    assert rasp.evaluate(outer, "abc") == [10, 20, 30]


def test_map_without_simplify_keeps_the_inner_map() -> None:
    inner = rasp.Map(lambda x: x + 1, rasp.indices)
    outer = rasp.Map(lambda x: x * 10, inner, simplify=False)
    assert outer.inner is inner
    assert rasp.evaluate(outer, "abc") == [10, 20, 30]


def test_map_of_a_sequence_map_is_not_fused() -> None:
    pair = rasp.SequenceMap(lambda x, y: x + y, rasp.indices, rasp.indices)
    assert rasp.Map(lambda x: -x, pair).inner is pair


def test_constructors_reject_wrong_argument_types() -> None:
    with pytest.raises(OptracrTypeError, match="Map: `inner` must be an s-op"):
        rasp.Map(lambda x: x, rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ))
    with pytest.raises(OptracrTypeError, match="Aggregate: `selector` must be a Selector"):
        rasp.Aggregate(rasp.tokens, rasp.tokens)
    with pytest.raises(OptracrTypeError, match="Select needs a Comparison or a callable predicate"):
        rasp.Select(rasp.tokens, rasp.tokens, "==")


# ------------------------------------------------------------------------------------- selector algebra
_LT = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LT)
_NEQ = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.NEQ)
_SAME_TOKEN = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)


def _matrix(rows: str) -> list[list[bool]]:
    return [[c == "1" for c in row] for row in rows.split("/")]


def test_selector_operators_on_the_same_inputs_simplify_to_one_select() -> None:
    assert type(_LT & _NEQ) is rasp.Select and type(_LT | _NEQ) is rasp.Select and type(~_LT) is rasp.Select
    assert rasp.evaluate(_LT & _NEQ, "abc") == _matrix("000/100/110")
    assert rasp.evaluate(_LT | _SAME_TOKEN, "aba") == _matrix("101/110/111")
    assert rasp.evaluate(~_LT, "abc") == _matrix("111/011/001")


def test_selector_operators_on_different_inputs_build_combinators() -> None:
    both, either, neither = _LT & _SAME_TOKEN, _LT | _SAME_TOKEN, rasp.selector_not(_LT | _SAME_TOKEN)
    assert (type(both), type(either), type(neither)) == (rasp.SelectorAnd, rasp.SelectorOr, rasp.SelectorNot)
    assert rasp.evaluate(both, "aba") == _matrix("000/000/100")
    assert rasp.evaluate(either, "aba") == _matrix("101/110/111")
    assert rasp.evaluate(neither, "aba") == _matrix("010/001/000")


def test_selector_functions_without_simplify_keep_the_combinators() -> None:
    assert type(rasp.selector_and(_LT, _NEQ, simplify=False)) is rasp.SelectorAnd
    assert type(rasp.selector_or(_LT, _NEQ, simplify=False)) is rasp.SelectorOr
    assert type(rasp.selector_not(_LT, simplify=False)) is rasp.SelectorNot
    assert rasp.evaluate(rasp.selector_and(_LT, _NEQ, simplify=False), "abc") == _matrix("000/100/110")


def test_select_on_full_merges_with_any_sop_in_that_role() -> None:
    at_least_one = rasp.Select(rasp.Full(1), rasp.indices, rasp.Comparison.LEQ)
    merged = at_least_one & _LT
    assert type(merged) is rasp.Select and merged.keys is rasp.indices
    assert rasp.evaluate(merged, "abc") == rasp.evaluate(rasp.SelectorAnd(at_least_one, _LT), "abc")
    assert rasp.evaluate(merged, "abc") == _matrix("000/100/110")


# ------------------------------------------------------------------------------------------ encodings
def test_encoding_annotations_are_copies() -> None:
    sop = rasp.Map(lambda x: x, rasp.tokens)
    as_number = rasp.numerical(sop)
    assert rasp.is_categorical(sop) and rasp.get_encoding(sop) is rasp.Encoding.CATEGORICAL
    assert rasp.is_numerical(as_number) and not rasp.is_categorical(as_number)
    assert rasp.is_categorical(rasp.categorical(as_number))
    assert as_number.unique_id != sop.unique_id


def test_annotate_adds_annotations_and_keeps_the_rest() -> None:
    sop = rasp.numerical(rasp.Map(lambda x: x, rasp.tokens)).named("doubled")
    tagged = rasp.annotate(sop, note="x")
    assert tagged.annotations["note"] == "x"
    assert tagged.label == "doubled" and rasp.is_numerical(tagged)
    with pytest.raises(TypeError):
        tagged.annotations["note"] = "y"  # read-only
