"""Values as the compiler tells them apart: by type as well as by value.

Python calls ``True == 1 == 1.0`` and ``0 == 0.0 == -0.0`` equal (and hashes them alike), so a plain set or dict
keeps whichever came first, and a later function that tells them apart (``str``, ``type``, ``repr``) gets the
wrong one. A categorical s-op can keep them apart (one direction each), so value sets, one-hot directions and
lookup tables key every value by ``value_key``: its type and value, through tuples and frozensets, and the sign
of a float zero. A numerical s-op cannot (one direction holds one number): ``validate`` refuses a function that
tells apart equal numbers its numerical input may hold.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Iterator, Mapping, Set
from typing import Any


def value_key(value: Hashable) -> Hashable:
    """``value``'s identity to the compiler: equal only for values of one type that are equal (``True`` is not
    ``1``, ``1`` is not ``1.0``, ``0.0`` is not ``-0.0``), element by element in tuples and frozensets."""
    kind = type(value)
    if kind is float:
        return (kind, value, math.copysign(1.0, value)) if value == 0.0 else (kind, value)
    if kind in _PLAIN:
        return (kind, value)
    if isinstance(value, tuple):
        return (kind, tuple(value_key(item) for item in value))
    if isinstance(value, frozenset):
        return (kind, frozenset(value_key(item) for item in value))
    if isinstance(value, float) and value == 0.0:
        return (kind, value, math.copysign(1.0, value))
    return (kind, value)


_PLAIN = frozenset({int, bool, str, type(None)})  # types whose equal values are one value: the fast path
_INLINE = frozenset({int, bool, str, float})  # kinds ``value_keys`` keys inline (a float zero keeps its sign)


def value_keys(values: Iterable[Hashable]) -> list[Hashable]:
    """``value_key`` of each value, the common kinds keyed inline (for lists of thousands of values)."""
    inline = _INLINE
    return [(kind, value) if (kind := type(value)) in inline and not (kind is float and value == 0.0)
            else value_key(value) for value in values]


def same_value(first: Hashable, second: Hashable) -> bool:
    """Whether the two are one value to the compiler (``value_key`` equal)."""
    return value_key(first) == value_key(second)


class ValueSet(Set, Hashable):
    """A frozen set of values keyed by ``value_key``: ``True``, ``1`` and ``1.0`` are three members."""

    __slots__ = ("_members", "_hash")

    def __init__(self, values: Iterable[Hashable] = ()) -> None:
        members: dict[Hashable, Hashable] = {}
        for value in values:
            members.setdefault(value_key(value), value)
        self._members = members
        self._hash: int | None = None

    @classmethod
    def _from_iterable(cls, values: Iterable[Hashable]) -> ValueSet:
        return cls(values)

    def __contains__(self, value: object) -> bool:
        try:
            return value_key(value) in self._members  # type: ignore[arg-type]
        except TypeError:  # unhashable: never a member
            return False

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._members.values())

    def __len__(self) -> int:
        return len(self._members)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._members))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ValueSet):
            return self._members.keys() == other._members.keys()
        if isinstance(other, Set):
            return len(self) == len(other) and all(value in self for value in other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"ValueSet({sorted(self, key=repr)!r})"


class ValueTable(Mapping):
    """A frozen mapping keyed by ``value_key``: ``table[True]`` and ``table[1]`` are two entries."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Iterable[tuple[Hashable, Any]] | Mapping[Hashable, Any] = ()) -> None:
        pairs = entries.items() if isinstance(entries, Mapping) else entries
        self._entries: dict[Hashable, tuple[Hashable, Any]] = {value_key(key): (key, value) for key, value in pairs}

    def __getitem__(self, key: Hashable) -> Any:
        try:
            return self._entries[value_key(key)][1]
        except (KeyError, TypeError):
            raise KeyError(key) from None

    def __iter__(self) -> Iterator[Hashable]:
        return (key for key, _ in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"ValueTable({dict(self._entries.values())!r})"
