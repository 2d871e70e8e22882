"""A user function tabulated over the values its inputs can take; where it raised, no output (None).

Tables are ``frontend.ValueTable``s, keyed by type as well as value: ``True`` and ``1`` are two rows, as they
are two directions of a categorical s-op.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Hashable, Iterable
from typing import Any

from optracr import frontend

Table = frontend.ValueTable


def call(f: Callable[..., Any], *args: Hashable) -> Any:
    """``f(*args)``, or None where it raises (the frontend dropped that input too)."""
    try:
        return f(*args)
    except Exception:  # the function does not apply here: the frontend dropped this input too
        return None


def map_table(f: Callable[[Hashable], Any], values: Iterable[Hashable], dropped: Collection[Hashable]) -> Table:
    """``value -> f(value)`` for every input value; None where ``f`` raised (``dropped``) or gave None."""
    dropped = frontend.ValueSet(dropped)
    return Table((value, None if value in dropped else call(f, value)) for value in values)


def sequence_map_table(
    f: Callable[[Hashable, Hashable], Any],
    fst_values: Iterable[Hashable],
    snd_values: Iterable[Hashable],
    dropped: Collection[tuple[Hashable, Hashable]],
) -> Table:
    """``(x, y) -> f(x, y)`` for every pair of input values; None where ``f`` raised or gave None."""
    dropped = frontend.ValueSet(dropped)
    return Table(
        ((x, y), None if (x, y) in dropped else call(f, x, y))
        for x, y in itertools.product(list(fst_values), list(snd_values))
    )


def diagonal_table(
    f: Callable[[Hashable, Hashable], Any], values: Iterable[Hashable], dropped: Collection[tuple[Hashable, Hashable]]
) -> Table:
    """``x -> f(x, x)``: a SequenceMap reading the same s-op twice is a Map."""
    dropped = frontend.ValueSet(dropped)
    return Table((value, None if (value, value) in dropped else call(f, value, value)) for value in values)
