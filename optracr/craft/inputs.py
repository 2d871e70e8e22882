"""The one check of a model input: BOS first, known tokens, PAD only at the end, not too long.

Both runners use it: craft's numpy run of a block graph and the assembled model's ``token_ids``.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Sequence

from optracr.errors import InputError


def check_tokens(
    tokens: Sequence[Hashable], vocab: Collection[Hashable], *, bos: Hashable, pad: Hashable, max_seq_len: int
) -> list[Hashable]:
    """``tokens`` as a list if it is ``[BOS, *vocab tokens, *PADs]`` of at most max_seq_len after BOS.

    Raises:
      InputError: naming what is wrong (missing BOS, too long, unknown or misplaced tokens) and what works.
    """
    if isinstance(tokens, str) or not isinstance(tokens, Iterable):
        raise InputError(f"an input is a sequence of tokens starting with BOS, such as [{bos!r}, ...], got {tokens!r}")
    tokens = list(tokens)
    if not tokens or tokens[0] != bos:
        raise InputError(f"an input must start with the BOS token {bos!r}, got {tokens[:1]!r}")
    if len(tokens) - 1 > max_seq_len:
        raise InputError(
            f"the input has {len(tokens) - 1} tokens after BOS but the model was compiled for at most "
            f"{max_seq_len}; compile with a larger max_seq_len"
        )
    body = tokens[1:]
    padding = next((i for i, token in enumerate(reversed(body)) if token != pad), len(body))
    unknown = [token for token in body[: len(body) - padding] if token not in vocab or token in (bos, pad)]
    if unknown:
        raise InputError(
            f"unknown token(s) {unknown!r}; the vocabulary is {sorted(vocab, key=repr)!r} (PAD only at the end)"
        )
    return tokens
