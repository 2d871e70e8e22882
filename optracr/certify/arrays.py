"""Tests and lookups on small arrays without numpy's Python-level wrappers (``ndarray.any()`` and
``np.flatnonzero`` cost a microsecond each, several times the work on the few entries a block's tables hold)."""

from __future__ import annotations

import numpy as np

try:  # numpy's C count itself: ``np.count_nonzero`` wraps it in Python, which costs several times the count
    from numpy._core.multiarray import count_nonzero as _count_nonzero
except ImportError:  # another numpy layout: its public function counts alike
    _count_nonzero = np.count_nonzero

# numpy's C functions themselves, called without the Python dispatch (``__array_function__``) that wraps each,
# which costs more than the work on a few dozen entries; the public functions where numpy has no such attribute
where = getattr(np.where, "_implementation", np.where)
concatenate = getattr(np.concatenate, "_implementation", np.concatenate)
unravel_index = getattr(np.unravel_index, "_implementation", np.unravel_index)

SMALL_ENTRIES = 4096  # up to this many entries ``some`` counts them; past it ``any()`` is the cheaper


def count_nonzero(values: np.ndarray) -> int:
    """How many entries are nonzero (``np.count_nonzero`` over the whole array; NaN counts as nonzero)."""
    return _count_nonzero(values)


def some(values: np.ndarray) -> bool:
    """Whether any entry is nonzero (``values.any()``: NaN counts as nonzero there too)."""
    return bool(_count_nonzero(values) if values.size <= SMALL_ENTRIES else values.any())


def every(values: np.ndarray) -> bool:
    """Whether every entry is nonzero (``values.all()``)."""
    return _count_nonzero(values) == values.size


def positions(mask: np.ndarray) -> np.ndarray:
    """The indices of a 1-D array's nonzero entries (``np.flatnonzero``)."""
    return mask.nonzero()[0]


def filled(shape: int | tuple[int, ...], value: float, dtype: type = np.float64) -> np.ndarray:
    """A new array of ``shape`` holding ``value`` everywhere (``np.full``)."""
    found = np.empty(shape, dtype=dtype)
    found.fill(value)
    return found
