"""One pass over the model, sublayer by sublayer: the embedding's tables, each head's, each MLP group's, then the
decoding check. ``analyse`` is the whole proof attempt for one arithmetic and one length bound."""

from __future__ import annotations

import dataclasses

import numpy as np

from optracr.certify import arithmetic as arithmetic_lib
from optracr.certify import context as context_lib
from optracr.certify import decoding
from optracr.certify import embedding as embedding_lib
from optracr.certify import findings
from optracr.certify import heads
from optracr.certify import meaning as meaning_lib
from optracr.certify import mlp
from optracr.certify import residual as residual_lib
from optracr.certify import tables as tables_lib
from optracr.certify import weights as weights_lib


@dataclasses.dataclass(frozen=True)
class Analysis:
    """The outcome of one pass: the tables, what failed, what is undefined by design, and the output check."""

    context: context_lib.Context
    decoding: decoding.Decoding

    @property
    def proved(self) -> bool:
        """Whether every bound held."""
        return not self.context.failures

    @property
    def failures(self) -> list[findings.Failure]:
        """Every bound that failed, in the order found."""
        return self.context.failures


def analyse(
    layered,
    residual: residual_lib.Residual,
    meaning: meaning_lib.Meaning,
    *,
    arithmetic: arithmetic_lib.Arithmetic = arithmetic_lib.FLOAT64,
    max_length: int | None = None,
    tolerance: float = 1e-4,
    overrides: dict[str, tables_lib.Table] | None = None,
    weights: weights_lib.ModelWeights | None = None,
) -> Analysis:
    """The proof attempt for inputs of length at most ``max_length`` (default: the model's) in ``arithmetic``.

    ``overrides`` replaces what the named labels' blocks write with the given tables (blame's counterfactuals);
    ``weights`` (``weights.ModelWeights`` of the same model) is reused across passes when given.
    """
    max_length = layered.max_seq_len if max_length is None else max_length
    weights = weights_lib.ModelWeights(layered, residual) if weights is None else weights
    memo_key = ("embedding", max_length)
    if memo_key not in weights.memo:  # the same for every arithmetic
        weights.memo[memo_key] = embedding_lib.embedding_of(layered, residual, max_length)
    embedding = weights.memo[memo_key]
    context = context_lib.Context(
        layered=layered, residual=residual, meaning=meaning, arithmetic=arithmetic, max_length=max_length,
        embedding=embedding, tables=dict(embedding.tables), weights=weights, overrides=dict(overrides or {}),
    )
    for name, table in context.overrides.items():
        if name in embedding.tables:
            context.tables[name] = table
    with np.errstate(all="ignore"):  # infinite bounds are a result (nothing proved there), not an accident
        return _run(context, weights, tolerance)


def _run(context: context_lib.Context, weights: weights_lib.ModelWeights, tolerance: float) -> Analysis:
    layered = context.layered
    for block, what in weights.clashes:
        context.fail(block, what)
    for number in range(len(layered.layers)):
        for part, analyse_part in [*((head, heads.analyse_head) for head in weights.heads[number]),
                                   *((group, mlp.analyse_group) for group in weights.groups[number])]:
            overrides = context.overrides  # blame's counterfactuals (none in a proof attempt)
            if overrides and part.block.writes and all(name in overrides for name in part.block.writes):
                for name in part.block.writes:
                    context.store(name, context.overrides[name])
            else:
                analyse_part(context, part)
    result = decoding.check_output(context, tolerance)
    return Analysis(context, result)
