"""Token and class values survive JSON with their types."""

from __future__ import annotations

import json
import math

import pytest

from optracr import typed_json as values


@pytest.mark.parametrize("value", ["a", "", 0, -3, 2**70, 1.5, -0.0, math.inf, True, False, None, (1, "a", (None, 2.5)), ()])
def test_values_round_trip_through_json_with_their_types(value) -> None:
    back = values.from_json(json.loads(json.dumps(values.to_json(value))))
    assert back == value and type(back) is type(value)
    if isinstance(value, float):
        assert math.copysign(1.0, back) == math.copysign(1.0, value)


def test_nan_round_trips() -> None:
    assert math.isnan(values.from_json(values.to_json(math.nan)))


def test_one_true_and_one_point_zero_stay_apart() -> None:
    assert [values.to_json(v) for v in (1, True, 1.0, "1")] == [{"int": 1}, {"bool": True}, {"float": "0x1.0000000000000p+0"}, {"str": "1"}]


def test_a_value_of_another_type_cannot_be_saved() -> None:
    with pytest.raises(values.ValueFormatError, match="frozenset cannot be saved"):
        values.to_json(frozenset({1}))


@pytest.mark.parametrize(("encoded", "message"), [({"complex": 1}, "unknown value type"), ([1], "one-key object"),
                                                   ({"int": "3"}, "malformed"), ({"float": "zz"}, "malformed float")])
def test_malformed_json_values_are_rejected(encoded, message: str) -> None:
    with pytest.raises(values.ValueFormatError, match=message):
        values.from_json(encoded)
