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


def writers(layered, residual: residual_lib.Residual) -> tuple[dict[str, int], list[tuple[findings.Block, str]]]:
    """The sublayer writing each label, and the labels written by more than one sublayer or by a block that may
    not write them (the embedding's labels)."""
    written_at: dict[str, int] = {}
    clashes = []
    space = layered.residual_space
    for number, layer in enumerate(layered.layers):
        parts = [(2 * number, findings.Block("head", number, heads=(i,)), head.w_ov.output_space,
                  head.w_ov.matrix.T) for i, head in enumerate(layer.heads)]
        if layer.mlp is not None:
            parts.append((2 * number + 1, findings.Block("mlp", number), layer.mlp.output_space,
                          layer.mlp.snd.matrix.T))
        for sublayer, block, output_space, matrix in parts:
            for name in residual_lib.split_rows(residual, output_space, matrix, space):
                if residual.labels[name].role in (residual_lib.Role.ONE, residual_lib.Role.TOKENS,
                                                  residual_lib.Role.INDICES):
                    clashes.append((block, f"writes into {name!r}, which only the embedding writes"))
                elif name in written_at and written_at[name] != sublayer:
                    clashes.append((block, f"writes into {name!r}, which sublayer {written_at[name]} writes too"))
                else:
                    written_at.setdefault(name, sublayer)
    return written_at, clashes


def analyse(
    layered,
    residual: residual_lib.Residual,
    meaning: meaning_lib.Meaning,
    *,
    arithmetic: arithmetic_lib.Arithmetic = arithmetic_lib.FLOAT64,
    max_length: int | None = None,
    tolerance: float = 1e-4,
    overrides: dict[str, tables_lib.Table] | None = None,
) -> Analysis:
    """The proof attempt for inputs of length at most ``max_length`` (default: the model's) in ``arithmetic``.

    ``overrides`` replaces what the named labels' blocks write with the given tables (blame's counterfactuals).
    """
    max_length = layered.max_seq_len if max_length is None else max_length
    embedding = embedding_lib.embedding_of(layered, residual, max_length)
    written_at, clashes = writers(layered, residual)
    context = context_lib.Context(
        layered=layered, residual=residual, meaning=meaning, arithmetic=arithmetic, max_length=max_length,
        embedding=embedding, tables=dict(embedding.tables), written_at=written_at, overrides=dict(overrides or {}),
    )
    for name, table in context.overrides.items():
        if name in embedding.tables:
            context.tables[name] = table
    for block, what in clashes:
        context.fail(block, what)
    for number, layer in enumerate(layered.layers):
        heads.analyse_layer_heads(context, number, layer.heads)
        if layer.mlp is not None:
            mlp.analyse_layer_mlp(context, number, layer.mlp)
    result = decoding.check_output(context, tolerance)
    return Analysis(context, result)
