"""``check_variant``: a scrambled variant against its original compiled model, on every input.

The original runs through its own Haiku forward pass in float64 (``assemble.make_forward``), the variant
through the compress forward pass on its re-based dense weights, on the same padded batches of token ids.
Outputs are compared at every position after BOS that is not PAD.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys

import jax
import jax.numpy as jnp
import numpy as np
import tqdm

from optracr import assemble, frontend
from optracr.compress import variants
from optracr.frontend import rasp

EXHAUSTIVE_LIMIT = 20_000  # more inputs than this: a seeded sample (every length-1 input included)
BATCH_SIZE = 512
EXACT_TOLERANCE = 1e-6  # the largest output difference a rotation's variant may show (float64 gives ~1e-12)


@dataclasses.dataclass(frozen=True)
class VariantCheck:
    """How closely a variant's outputs follow the original's, over the positions of ``num_inputs`` inputs."""

    num_inputs: int
    exhaustive: bool
    num_positions: int  # positions after BOS, not PAD
    max_abs_error: float  # largest |variant output - original output| over positions and output columns
    mse: float  # squared error summed over output columns, averaged over positions
    agreement: float  # positions whose decoded outputs agree (numerical: within ``tolerance``)
    tolerance: float

    @property
    def exact(self) -> bool:
        """Whether every output is within ``EXACT_TOLERANCE`` of the original's."""
        return self.max_abs_error <= EXACT_TOLERANCE

    def to_json(self) -> dict[str, float | int | bool]:
        """A JSON-ready dict, with ``exact``."""
        return {**dataclasses.asdict(self), "exact": self.exact}

    def __str__(self) -> str:
        scope = "every input" if self.exhaustive else "a seeded sample"
        verdict = "EXACT" if self.exact else "APPROXIMATE"
        return (f"{verdict} on {self.num_inputs} inputs ({scope}, {self.num_positions} positions): decoded outputs "
                f"agree at {self.agreement:.2%}, max |output difference| {self.max_abs_error:.2e}, "
                f"MSE {self.mse:.2e}")


def check_variant(
    variant: variants.ScrambledModel,
    *,
    tolerance: float = 1e-2,
    num_samples: int = 20_000,
    seed: int = 0,
    progress: bool | None = None,
) -> VariantCheck:
    """Runs the variant and its original on every input (or a seeded sample beyond 20,000 inputs) and compares.

    ``tolerance`` is how far a numerical output may be from the original's and still agree; ``progress``
    shows a tqdm bar on stderr (None: when stderr is a terminal).
    """
    model = variant.model
    vocab = [token for token in model.input_tokens if token not in (model.bos, model.pad)]
    max_seq_len = model.config.max_seq_len
    num_exhaustive = sum(len(vocab) ** n for n in range(1, max_seq_len + 1))
    exhaustive = num_exhaustive <= EXHAUSTIVE_LIMIT
    inputs = frontend.all_inputs(vocab, max_seq_len) if exhaustive else frontend.sampled_inputs(
        vocab, max_seq_len, num_samples, seed
    )
    total = num_exhaustive if exhaustive else len(vocab) + num_samples
    original = _original_forward(model)
    errors, squared, agree, positions = [0.0], 0.0, 0, 0
    show = progress if progress is not None else sys.stderr.isatty()
    with tqdm.tqdm(total=total, desc="check variant", unit=" inputs", disable=not show, file=sys.stderr) as bar:
        while batch := list(itertools.islice(inputs, BATCH_SIZE)):
            token_ids = _padded_ids(model, batch)
            ours, theirs = np.asarray(variant.run(token_ids).output), original(token_ids)
            readout = (token_ids != model.input_tokens.index(model.pad)) & (np.arange(token_ids.shape[1]) > 0)
            difference = (ours - theirs)[readout]
            errors.append(float(np.max(np.abs(difference), initial=0.0)))
            squared += float(np.sum(difference**2))
            agree += _agreeing(model, ours[readout], theirs[readout], tolerance)
            positions += int(readout.sum())
            bar.update(len(batch))
    return VariantCheck(total, exhaustive, positions, max(errors), squared / max(positions, 1),
                        agree / max(positions, 1), tolerance)


def _original_forward(model: assemble.CompiledModel):
    """The original's Haiku forward pass in float64, token ids -> numpy output."""
    apply = jax.jit(assemble.make_forward(model.config, model.input_tokens.index(model.pad)).apply)
    with jax.enable_x64(True):
        params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=jnp.float64), dict(model.params))

    def run(token_ids: np.ndarray) -> np.ndarray:
        with jax.enable_x64(True):
            return np.asarray(apply(params, jnp.asarray(token_ids)).output)

    return run


def _agreeing(model: assemble.CompiledModel, ours: np.ndarray, theirs: np.ndarray, tolerance: float) -> int:
    if model.output_encoding == rasp.Encoding.NUMERICAL:
        return int(np.sum(np.abs(ours[:, 0] - theirs[:, 0]) <= tolerance))
    return sum(a == b for a, b in zip(model.decode(ours), model.decode(theirs)))


def _padded_ids(model: assemble.CompiledModel, batch: list[tuple]) -> np.ndarray:
    """B x (max_seq_len + 1) token ids: BOS, the tokens, PAD after (one shape, so one compilation)."""
    pad_id = model.input_tokens.index(model.pad)
    token_ids = np.full((len(batch), model.config.max_seq_len + 1), pad_id, dtype=np.int32)
    for row, tokens in enumerate(batch):
        ids = model.encode([model.bos, *tokens])
        token_ids[row, : len(ids)] = ids
    return token_ids
