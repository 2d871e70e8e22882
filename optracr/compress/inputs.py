"""Random inputs for compression: BOS, then 1..max_seq_len vocabulary tokens, then PAD up to one length.

Token ids follow ``CompiledModel.input_tokens``: the vocabulary first (ids ``0..V-1``), then BOS, then PAD.
Every batch has ``max_seq_len + 1`` positions, so the training step compiles once. With ``distinct`` no token
repeats within an input (the domain of programs such as ``sort_unique``), so lengths stop at the vocabulary size.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from optracr import assemble

# Training draws from fold_in(PRNGKey(seed), 1); evaluation from this stream of the same seed.
HELD_OUT_STREAM = 2
# The fixed batch on which a grid with warm starts compares its candidate projections (see ``continuation``).
SELECTION_STREAM = 3


@dataclasses.dataclass(frozen=True)
class TokenIds:
    """Where BOS, PAD and the vocabulary sit among a compiled model's token ids."""

    vocab_size: int  # the vocabulary takes ids 0..vocab_size-1
    bos_id: int
    pad_id: int
    max_seq_len: int

    @classmethod
    def of(cls, model: assemble.CompiledModel) -> TokenIds:
        """The token ids of ``model``."""
        return cls(
            vocab_size=len(model.input_tokens) - 2,
            bos_id=model.input_tokens.index(model.bos),
            pad_id=model.input_tokens.index(model.pad),
            max_seq_len=model.config.max_seq_len,
        )


def longest(ids: TokenIds, distinct: bool) -> int:
    """The longest input drawn: max_seq_len, or the vocabulary size if smaller and tokens are distinct."""
    return min(ids.max_seq_len, ids.vocab_size) if distinct else ids.max_seq_len


def sample_batch(key: jax.Array, ids: TokenIds, batch_size: int, *, distinct: bool = False) -> jax.Array:
    """``batch_size`` x (max_seq_len + 1) token ids: BOS, a uniform length of uniform tokens, PAD after."""
    length_key, token_key = jax.random.split(key)
    lengths = jax.random.randint(length_key, (batch_size, 1), 1, longest(ids, distinct) + 1)
    if distinct:
        order = jnp.argsort(jax.random.uniform(token_key, (batch_size, ids.vocab_size)), axis=1)
        tokens = jnp.pad(order, ((0, 0), (0, max(0, ids.max_seq_len - ids.vocab_size))))[:, : ids.max_seq_len]
    else:
        tokens = jax.random.randint(token_key, (batch_size, ids.max_seq_len), 0, ids.vocab_size)
    positions = jnp.arange(1, ids.max_seq_len + 1)[None, :]
    tokens = jnp.where(positions <= lengths, tokens, ids.pad_id)
    bos = jnp.full((batch_size, 1), ids.bos_id, dtype=tokens.dtype)
    return jnp.concatenate([bos, tokens], axis=1).astype(jnp.int32)


def held_out_batch(
    seed: int, ids: TokenIds, batch_size: int, *, distinct: bool = False, stream: int = HELD_OUT_STREAM
) -> np.ndarray:
    """``sample_batch``'s distribution drawn from a stream training never uses (for evaluation), as numpy."""
    with jax.enable_x64(False):
        key = jax.random.fold_in(jax.random.PRNGKey(seed), stream)
        return np.asarray(sample_batch(key, ids, batch_size, distinct=distinct))
