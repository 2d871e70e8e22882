"""SelectorWidth as one attention head plus one MLP (paper, appendix A.2), exact for every width 0..N.

The head attends to BOS and to every selected key with equal logits and copies ``tokens:BOS`` into a private
scratch direction ``_L_selector_width_attn``: each query position reads x = 1/(w+1). The MLP maps the known
values {1/(w+1) : w = 0..N} to w (one-hot or numerical) with the discretising construction, whose slopes
come from the gaps between those values (the smallest is 1/(N(N+1))), so it is exact for every width with
no tuning knob; it is silent at BOS. The scratch direction holds 1 at BOS (BOS attends only to itself) and
is read by nothing else. The head's error on 1/(w+1) is its stray softmax mass, at most N e^{-s} for logit s,
plus the relative weight change c that noisy query and key one-hots cause (``attention.weight_change``),
which grows the stray mass by 1 + c and moves 1/(w+1) <= 1/2 by at most c/2; the MLP checks that error
against a quarter of its smallest gap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from optracr import errors
from optracr.craft import attention
from optracr.craft import bases
from optracr.craft import blocks
from optracr.craft import conventions
from optracr.craft import numerical_mlp
from optracr.craft import operators

Label = str


def scratch_value(width: int) -> float:
    """What the head writes to the scratch direction at a query selecting ``width`` keys: 1/(width + 1)."""
    return 1.0 / (width + 1)


def scratch_error(max_seq_len: int, selector_error: float) -> float:
    """How far the scratch value may be from 1/(w+1): stray softmax mass, grown by the selector's input error."""
    logit = attention.sharpness(max_seq_len)
    change = attention.weight_change(logit, selector_error)
    return max_seq_len * math.exp(-logit) * (1.0 + change) + change / 2.0


def selector_width_block(
    label: Label,
    query_space: bases.VectorSpaceWithBasis,
    key_space: bases.VectorSpaceWithBasis,
    predicate: attention.Predicate,
    output_space: bases.VectorSpaceWithBasis,
    *,
    numerical_output: bool,
    max_seq_len: int,
    bos_direction: bases.BasisDirection,
    selector_error: float = 0.0,
    more_parts: Sequence[attention.SelectPart] = (),
) -> blocks.SeriesWithResiduals:
    """``SeriesWithResiduals([head, mlp])`` writing the width of the selection into ``output_space``.

    ``selector_error`` bounds how far the query and key one-hots are off, together (L1); ``more_parts`` are
    further Selects the selector is the conjunction with (one head, additive scores: ``attention``).
    """
    scratch = bases.space([conventions.selector_width_scratch(label)])
    logit = attention.sharpness(max_seq_len)
    parts = (attention.SelectPart(query_space, key_space, predicate), *more_parts)
    w_qk = attention.conjunction_bilinear(label, parts, logit=logit, bos_fraction=1.0, bos_direction=bos_direction)
    bos_space = bases.space([bos_direction])
    to_scratch = scratch.vector_from_basis_direction(scratch.basis[0])
    w_ov = operators.Linear.from_action(bos_space, scratch, lambda _: to_scratch)
    head = blocks.AttentionHead(w_qk, w_ov)
    table = {scratch_value(width): width for width in range(max_seq_len + 1)}
    error = scratch_error(max_seq_len, selector_error)
    if numerical_output:
        mlp = numerical_mlp.map_numerical_mlp(
            label, scratch.basis[0], output_space, table, bos_direction=bos_direction, input_error=error
        )
    else:
        missing = [w for w in table.values() if bases.BasisDirection(label, w) not in output_space]
        if missing:
            raise errors.CompileError(label, f"selector width can be {missing[:4]}, missing from its value set")
        mlp = numerical_mlp.map_numerical_to_categorical_mlp(
            label, scratch.basis[0], output_space, table, bos_direction=bos_direction, input_error=error
        )
    return blocks.SeriesWithResiduals((head, mlp))
