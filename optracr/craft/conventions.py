"""The residual conventions craft and assemble share (docs/artefacts.md, "Residual conventions").

- ``one``: 1 at every position, BOS included (plays the role of every bias).
- ``tokens:v`` for each vocab value, plus ``tokens:BOS`` and ``tokens:PAD`` (in that order, vocab sorted).
- ``indices:i`` for i in 0..max_seq_len-1; position p >= 1 holds ``indices:(p-1)``, BOS holds none.
- A categorical s-op ``L`` owns ``L:v`` per value (all zero = no value); a numerical one owns ``L``.
- Private directions start with ``_``: MLP hidden units ``_L_hidden:i`` (never in the residual) and
  selector width's scratch ``_L_selector_width_attn`` (in the residual, read only by its own MLP).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from optracr import frontend
from optracr.craft import bases

Label = str
ONE = "one"
TOKENS = "tokens"
INDICES = "indices"


def one_direction() -> bases.BasisDirection:
    """The direction that is 1 at every position."""
    return bases.BasisDirection(ONE)


def one_space() -> bases.VectorSpaceWithBasis:
    """The space of ``one``."""
    return bases.space([one_direction()])


def bos_direction(bos: Hashable) -> bases.BasisDirection:
    """``tokens:BOS``: 1 at position 0 only."""
    return bases.BasisDirection(TOKENS, bos)


def pad_direction(pad: Hashable) -> bases.BasisDirection:
    """``tokens:PAD``: 1 at padding positions."""
    return bases.BasisDirection(TOKENS, pad)


def tokens_space(vocab: Iterable[Hashable], bos: Hashable, pad: Hashable) -> bases.VectorSpaceWithBasis:
    """``tokens:v`` for the sorted vocab, then ``tokens:BOS``, ``tokens:PAD``."""
    return bases.space([*bases.space_of_values(TOKENS, vocab).basis, bos_direction(bos), pad_direction(pad)])


def indices_space(max_seq_len: int) -> bases.VectorSpaceWithBasis:
    """``indices:0`` .. ``indices:(max_seq_len-1)``."""
    return bases.space(bases.BasisDirection(INDICES, index) for index in range(max_seq_len))


def sop_space(label: Label, encoding: frontend.rasp.Encoding, values: Iterable[Hashable]) -> bases.VectorSpaceWithBasis:
    """An s-op's own subspace: ``label:v`` per value (categorical) or the single ``label`` (numerical)."""
    if encoding == frontend.rasp.Encoding.NUMERICAL:
        return bases.space([bases.BasisDirection(label)])
    return bases.space_of_values(label, values)


def hidden_space(label: Label, width: int) -> bases.VectorSpaceWithBasis:
    """The private hidden units ``_label_hidden:0..width-1`` of the MLP computing ``label``."""
    return bases.space(bases.BasisDirection(f"_{label}_hidden", unit) for unit in range(width))


def selector_width_scratch(label: Label) -> bases.BasisDirection:
    """Where selector width's head writes 1/(w+1) for its MLP to read."""
    return bases.BasisDirection(f"_{label}_selector_width_attn")
