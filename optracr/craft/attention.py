"""Attention heads for ``Aggregate(Select(keys, queries, predicate), sop)`` with categorical keys and queries.

``W_QK`` gives logit ``sharpness`` to every (query value, key value) pair the predicate selects, and the BOS
key a logit of ``bos_fraction * sharpness`` from every query (query ``one`` x key ``tokens:BOS``). With the
fraction 1/2 (Aggregate) BOS wins exactly when nothing else is selected; with 1 (selector width) BOS is
attended together with every selected key. A query at BOS has no value directions set, so it attends to
BOS. ``W_OV`` copies the aggregated s-op into the output s-op's directions; BOS holds no value there, so an
empty selection reads exactly zero (the default / None).

A conjunction of n Selects over different keys or queries (``SelectorAnd``, as the frontend's rewrite leaves
it) is one head with additive scores: each Select adds its own ``sharpness`` term over its own query and key
directions, so a key every part selects scores n s, any other key (n - 1) s at most (a None key or query,
the zero vector, adds nothing to its part), and BOS sits at (n - 1/2) s (Aggregate) or n s (selector
width). The gaps are those of one Select, so the sharpness and leak bounds are unchanged, and every selected
key scores the same, so means and widths stay exact.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Hashable, Sequence

import numpy as np

from optracr import errors
from optracr.craft import bases
from optracr.craft import blocks
from optracr.craft import conventions
from optracr.craft import operators

Label = str
Predicate = Callable[[Hashable, Hashable], object]
MAX_LEAK = 1e-7  # softmax mass allowed off the intended keys (the contract is 1e-6; this leaves margin)


def sharpness(max_seq_len: int, *, leak: float = MAX_LEAK) -> float:
    """The selected-pair logit that keeps the softmax mass off the intended keys below ``leak``.

    With up to N = max_seq_len non-BOS keys, selected logit s, BOS logit s/2 and the rest 0, the stray mass is
    at most N e^{-s/2} when nothing is selected and e^{-s/2} + N e^{-s} otherwise; both are at most
    (N + 1) e^{-s/2}, so s = 2 ln((N + 1) / leak). (With BOS at logit s, as in selector width, the stray mass
    is at most N e^{-s}, smaller still.)
    """
    if max_seq_len < 1 or not 0.0 < leak < 1.0:
        raise errors.OptracrBug(f"sharpness needs max_seq_len >= 1 and 0 < leak < 1, got {max_seq_len}, {leak}")
    return 2.0 * math.log((max_seq_len + 1) / leak)


def value_leak(value_scale: float) -> float:
    """The softmax mass an Aggregate of values up to ``value_scale`` in size leaves off the intended keys.

    Scaled down for large values, so the error on the mean, at most this mass times the spread of the
    values (0 included: BOS), stays near ``MAX_LEAK``.
    """
    return MAX_LEAK / max(1.0, value_scale)


def aggregate_logit(max_seq_len: int, value_scale: float = 1.0) -> float:
    """The selected-pair logit of an Aggregate's head: its stray softmax mass stays below ``value_leak``."""
    return sharpness(max_seq_len, leak=value_leak(value_scale))


def weight_change(logit: float, selector_error: float) -> float:
    """The largest relative change of any attention weight (stray mass included) when the query and key
    one-hots are off by ``selector_error`` together (L1): every logit moves by at most ``logit * selector_error``.
    """
    return math.expm1(min(2.0 * logit * selector_error, 700.0))  # beyond e^700: no useful bound (inf-like)


def _raise_predicate_error(label: Label, test: Predicate, keys: list[Hashable], query: Hashable) -> None:
    for key in keys:
        try:
            test(key, query)
        except Exception as error:
            raise errors.CompileError(
                label,
                f"the predicate raised {type(error).__name__} on key {key!r}, query {query!r}; it must answer for "
                "every key and query value",
            ) from error


def add_selection(
    label: Label,
    matrix: np.ndarray,
    rows: Sequence[int],
    columns: Sequence[int],
    part: SelectPart,
    logit: float,
) -> None:
    """Adds ``logit`` to ``matrix[rows[q], columns[k]]`` where ``predicate(key k's value, query q's value)`` holds.

    Row by row into the one matrix: at real value sets (thousands of values a side) a separate selection
    matrix, or a list of lists, would cost several times the head's own size in memory.
    """
    keys = [direction.value for direction in part.key_space.basis]
    columns = np.asarray(columns, dtype=np.int64)
    for row, query in zip(rows, part.query_space.basis):
        try:
            selected = np.fromiter((bool(part.predicate(key, query.value)) for key in keys), dtype=bool, count=len(keys))
        except Exception:
            _raise_predicate_error(label, part.predicate, keys, query.value)
        matrix[row, columns[selected]] += logit


@dataclasses.dataclass(frozen=True)
class SelectPart:
    """One Select of a conjunction: its query and key directions and its predicate(key, query)."""

    query_space: bases.VectorSpaceWithBasis
    key_space: bases.VectorSpaceWithBasis
    predicate: Predicate


def select_bilinear(
    label: Label,
    query_space: bases.VectorSpaceWithBasis,
    key_space: bases.VectorSpaceWithBasis,
    predicate: Predicate,
    *,
    logit: float,
    bos_fraction: float,
    bos_direction: bases.BasisDirection,
) -> operators.Bilinear:
    """``W_QK`` on (query values + ``one``) x (key values + ``tokens:BOS``); ``predicate(key, query)``."""
    part = SelectPart(query_space, key_space, predicate)
    return conjunction_bilinear(label, (part,), logit=logit, bos_fraction=bos_fraction, bos_direction=bos_direction)


def conjunction_bilinear(
    label: Label,
    parts: Sequence[SelectPart],
    *,
    logit: float,
    bos_fraction: float,
    bos_direction: bases.BasisDirection,
) -> operators.Bilinear:
    """``W_QK`` of the conjunction of ``parts``: ``logit`` per part that selects, BOS at n - 1 + ``bos_fraction``.

    On (every part's query values + ``one``) x (every part's key values + ``tokens:BOS``).
    """
    if not parts:
        raise errors.OptracrBug("conjunction_bilinear needs at least one part")
    left = bases.join_vector_spaces(*(part.query_space for part in parts), conventions.one_space())
    right = bases.join_vector_spaces(*(part.key_space for part in parts), bases.space([bos_direction]))
    bos_logit = (len(parts) - 1 + bos_fraction) * logit
    matrix = np.zeros((left.num_dims, right.num_dims))
    matrix[left.index(conventions.one_direction()), right.index(bos_direction)] = bos_logit
    for part in parts:
        rows = [left.index(direction) for direction in part.query_space.basis]
        columns = [right.index(direction) for direction in part.key_space.basis]
        add_selection(label, matrix, rows, columns, part, logit)
    return operators.Bilinear(left, right, matrix)


def copy_values(
    value_space: bases.VectorSpaceWithBasis, output_space: bases.VectorSpaceWithBasis, output_label: Label
) -> operators.Linear:
    """``W_OV`` sending each value direction to the output direction of the same value (or the one numerical)."""

    def action(direction: bases.BasisDirection) -> bases.VectorInBasis | None:
        target = bases.BasisDirection(output_label, direction.value)
        return output_space.vector_from_basis_direction(target) if target in output_space else None

    return operators.Linear.from_action(value_space, output_space, action)


def aggregate_head(
    label: Label,
    query_space: bases.VectorSpaceWithBasis,
    key_space: bases.VectorSpaceWithBasis,
    predicate: Predicate,
    value_space: bases.VectorSpaceWithBasis,
    output_space: bases.VectorSpaceWithBasis,
    *,
    max_seq_len: int,
    bos_direction: bases.BasisDirection,
    value_scale: float = 1.0,
    more_parts: Sequence[SelectPart] = (),
) -> blocks.AttentionHead:
    """The head of an Aggregate: mean of the selected values (one-hot copy when one value is selected).

    ``value_scale`` (the largest |value| a numerical s-op takes) tightens the leak (``value_leak``);
    ``more_parts`` are further Selects the selector is the conjunction with (additive scores, module doc).
    """
    logit = aggregate_logit(max_seq_len, value_scale)
    parts = (SelectPart(query_space, key_space, predicate), *more_parts)
    w_qk = conjunction_bilinear(label, parts, logit=logit, bos_fraction=0.5, bos_direction=bos_direction)
    return blocks.AttentionHead(w_qk, copy_values(value_space, output_space, label))
