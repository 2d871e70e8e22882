"""Token and class values in JSON, losslessly and with their types (``1``, ``1.0``, ``True`` and ``"1"`` stay apart).

A value becomes a one-key object naming its type: ``{"str": "a"}``, ``{"int": 3}``, ``{"float": "0x1.8p+0"}``
(``float.hex``, so every float, NaN and infinities included, comes back bit for bit), ``{"bool": true}``,
``{"none": null}`` and ``{"tuple": [...]}`` with encoded items.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from optracr.errors import ExportError

TYPE_NAMES = ("str", "int", "float", "bool", "none", "tuple")


class ValueFormatError(ExportError):
    """A value that has no JSON form here, or a JSON form that is not one of ours."""


def to_json(value: Hashable) -> dict[str, Any]:
    """The tagged JSON form of ``value``; raises ``ValueFormatError`` for types other than those listed above."""
    if value is None:
        return {"none": None}
    if isinstance(value, bool):  # before int: bool is an int subclass
        return {"bool": value}
    if isinstance(value, int):
        return {"int": int(value)}
    if isinstance(value, float):
        return {"float": float(value).hex()}
    if isinstance(value, str):
        return {"str": value}
    if isinstance(value, tuple):
        return {"tuple": [to_json(item) for item in value]}
    raise ValueFormatError(
        f"value {value!r} of type {type(value).__name__} cannot be saved; token and class values may be "
        f"{', '.join(TYPE_NAMES)} (tuples of those too)"
    )


def from_json(encoded: Any) -> Hashable:
    """The value ``to_json`` encoded; raises ``ValueFormatError`` on anything else."""
    if not isinstance(encoded, dict) or len(encoded) != 1:
        raise ValueFormatError(f"expected a one-key object such as {{\"str\": \"a\"}}, got {encoded!r}")
    ((kind, payload),) = encoded.items()
    readers = {
        "none": lambda p: _check(p, p is None, None),
        "bool": lambda p: _check(p, isinstance(p, bool), p),
        "int": lambda p: _check(p, isinstance(p, int) and not isinstance(p, bool), p),
        "float": lambda p: float.fromhex(_check(p, isinstance(p, str), p)),
        "str": lambda p: _check(p, isinstance(p, str), p),
        "tuple": lambda p: tuple(from_json(item) for item in _check(p, isinstance(p, list), p)),
    }
    if kind not in readers:
        raise ValueFormatError(f"unknown value type {kind!r}; expected one of {', '.join(TYPE_NAMES)}")
    try:
        return readers[kind](payload)
    except ValueError as error:  # float.fromhex on a malformed string
        raise ValueFormatError(f"malformed {kind} value {payload!r}: {error}") from None


def _check(payload: Any, ok: bool, result: Any) -> Any:
    if not ok:
        raise ValueFormatError(f"malformed value payload {payload!r}")
    return result
