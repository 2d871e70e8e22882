"""Values keyed by type as well as value: ``value_key``, ``ValueSet``, ``ValueTable``."""

from __future__ import annotations

from optracr.frontend.typed_values import ValueSet, ValueTable, same_value, value_key, value_keys


def test_equal_values_of_different_types_have_different_keys() -> None:
    keys = {value_key(v) for v in (True, 1, 1.0, False, 0, 0.0, -0.0)}
    assert len(keys) == 7
    assert same_value((1, "a"), (1, "a")) and not same_value((1, "a"), (True, "a"))
    assert not same_value(frozenset({1}), frozenset({1.0}))


def test_a_value_set_keeps_true_one_and_one_point_zero_apart() -> None:
    values = ValueSet([True, 1, 1.0, 1])
    assert len(values) == 3 and 1 in values and 2 not in values and [] not in values
    assert ValueSet([1, True]) == ValueSet([True, 1]) != ValueSet([1])
    assert hash(ValueSet([1, True])) == hash(ValueSet([True, 1]))
    assert values - ValueSet([1]) == ValueSet([True, 1.0])


def test_a_value_table_has_one_entry_per_typed_key() -> None:
    table = ValueTable([(True, "True"), (1, "1")])
    assert table[True] == "True" and table[1] == "1" and table.get(1.0) is None and len(table) == 2
    assert list(table) == [True, 1]


def test_value_keys_are_each_values_key() -> None:
    values = [True, 1, 1.0, 0.0, -0.0, float("nan"), "a", None, (1, 1.0), frozenset({0, False}), 2**70, False]
    assert value_keys(values) == [value_key(value) for value in values]
