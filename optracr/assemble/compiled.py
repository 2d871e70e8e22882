"""``CompiledModel``: the assembled transformer with its parameters, labels, encoders and ``apply``."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from optracr import craft
from optracr import schedule
from optracr.assemble import model as model_lib
from optracr.errors import InputError
from optracr.frontend import rasp

Params = Mapping[str, Mapping[str, np.ndarray]]


@dataclasses.dataclass(frozen=True)
class ApplyResult:
    """One forward pass, decoded and laid bare. Arrays have one row per position (BOS first)."""

    decoded: list[Any]  # BOS, then the program's output at every position (None where it has no value)
    output: np.ndarray  # T x output_size: the unembedded output
    residuals: tuple[np.ndarray, ...]  # T x D after the embedding and after every sublayer
    sublayer_outputs: tuple[np.ndarray, ...]  # T x D, what each sublayer wrote
    attention: tuple[np.ndarray, ...]  # per layer, H x T x T
    residual_labels: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class CompiledModel:
    """A compiled transformer: ``apply(["BOS", *tokens])`` computes the program.

    ``params`` holds every weight (embeddings, layers, unembedding) as numpy arrays keyed like Haiku's;
    ``residual_labels[i]`` names residual direction i; ``sublayer_contents[s]`` lists the s-ops computed in
    sublayer s (attention of layer s // 2 when s is even, its MLP when odd).
    """

    config: model_lib.ModelConfig
    params: Params
    residual_labels: tuple[str, ...]
    allocation: schedule.Allocation
    sublayer_contents: tuple[tuple[str, ...], ...]
    input_tokens: tuple[Hashable, ...]  # token embedding rows: sorted vocab, then BOS, then PAD
    output_label: str
    output_encoding: rasp.Encoding
    output_classes: tuple[Hashable, ...]  # unembedding columns of a categorical output
    bos: Hashable
    pad: Hashable
    compile_seconds: Mapping[str, float]
    float64: bool = True  # run the forward pass in float64; False runs it in float32

    def __post_init__(self) -> None:
        if len(self.residual_labels) != self.config.d_model:
            raise ValueError("residual_labels must name every residual direction")
        if len(self.sublayer_contents) != 2 * self.config.num_layers:
            raise ValueError("sublayer_contents must list both sublayers of every layer")

    # ------------------------------------------------------------------------------ running
    def encode(self, tokens: Sequence[Hashable]) -> np.ndarray:
        """Token ids of ``["BOS", *tokens]``; rejects a missing BOS, unknown tokens and over-long inputs."""
        tokens = list(tokens)
        if not tokens or tokens[0] != self.bos:
            raise InputError(f"an input must start with the BOS token {self.bos!r}, got {tokens[:1]!r}")
        if len(tokens) - 1 > self.config.max_seq_len:
            raise InputError(
                f"the input has {len(tokens) - 1} tokens after BOS but the model was compiled for at most "
                f"{self.config.max_seq_len}; compile with a larger max_seq_len"
            )
        ids = self._token_ids
        unknown = [token for token in tokens[1:] if token not in ids or token in (self.bos, self.pad)]
        if unknown:
            raise InputError(
                f"unknown token(s) {unknown!r}; the vocabulary is {sorted(self.input_tokens[:-2], key=repr)!r}"
            )
        return np.array([ids[token] for token in tokens], dtype=np.int32)

    def apply(self, tokens: Sequence[Hashable]) -> ApplyResult:
        """Runs the model on ``["BOS", *tokens]`` and returns the decoded output and every intermediate."""
        ids = self.encode(tokens)
        trace = self._run(ids[None, :])
        output = np.asarray(trace.output[0])
        return ApplyResult(
            decoded=[self.bos, *self.decode(output[1:])],
            output=output,
            residuals=tuple(np.asarray(r[0]) for r in trace.residuals),
            sublayer_outputs=tuple(np.asarray(o[0]) for o in trace.sublayer_outputs),
            attention=tuple(np.asarray(a[0]) for a in trace.attention),
            residual_labels=self.residual_labels,
        )

    def apply_batch(self, inputs: Sequence[Sequence[Hashable]]) -> list[list[Any]]:
        """Decoded outputs (without BOS) for many inputs at once, padded with PAD to one length."""
        encoded = [self.encode(tokens) for tokens in inputs]
        if not encoded:
            return []
        length = max(len(ids) for ids in encoded)
        batch = np.full((len(encoded), length), self._token_ids[self.pad], dtype=np.int32)
        for row, ids in enumerate(encoded):
            batch[row, : len(ids)] = ids
        outputs = np.asarray(self._run(batch).output)
        return [self.decode(outputs[row, 1 : len(ids)]) for row, ids in enumerate(encoded)]

    def decode(self, output: np.ndarray) -> list[Any]:
        """Per position: the numerical value, or the class whose output is largest if it exceeds 1/2, else None.

        The categorical rule is craft's (``craft.decode_one_hot``), which the numpy reference run decodes by.
        """
        if self.output_encoding == rasp.Encoding.NUMERICAL:
            return [float(value) for value in output[:, 0]]
        return craft.decode_one_hot(output, self.output_classes)

    def _run(self, token_ids: np.ndarray) -> model_lib.ForwardTrace:
        dtype = np.float64 if self.float64 else np.float32
        with jax.enable_x64(self.float64):
            params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=dtype), dict(self.params))
            return self._forward(params, jnp.asarray(token_ids))

    @functools.cached_property
    def _forward(self) -> Any:
        pad_id = self.input_tokens.index(self.pad)
        return jax.jit(model_lib.make_forward(self.config, pad_id).apply)

    @functools.cached_property
    def _token_ids(self) -> dict[Hashable, int]:
        return {token: i for i, token in enumerate(self.input_tokens)}

    # --------------------------------------------------------------------------- describing
    @property
    def params_total(self) -> int:
        """Number of parameters, embeddings and unembedding included."""
        return sum(int(a.size) for module in self.params.values() for a in module.values())

    @property
    def params_nonzero(self) -> int:
        """Number of parameters that are not zero."""
        return sum(int(np.count_nonzero(a)) for module in self.params.values() for a in module.values())

    def summary(self) -> str:
        """A human-readable description: shape, sizes, allocation and what each sublayer computes."""
        config, allocation = self.config, self.allocation
        status = allocation.status.name
        if allocation.gap:
            status += f" (gap {allocation.gap:.1%})"
        lines = [
            f"optracr model computing {self.output_label!r} ({self.output_encoding.value} output)",
            f"  layers {config.num_layers}, heads {config.num_heads}, key size {config.key_size}, "
            f"value size {config.value_size}, MLP width {config.mlp_hidden_size}, residual width {config.d_model}",
            f"  parameters {self.params_total:,} total, {self.params_nonzero:,} non-zero",
            f"  allocation {status} in {allocation.seconds:.3f} s (depth lower bound {allocation.depth_lower_bound})",
            f"  compiled in {sum(self.compile_seconds.values()):.3f} s ("
            + ", ".join(f"{stage} {seconds:.3f}" for stage, seconds in self.compile_seconds.items())
            + ")",
            "  layer  attention" + " " * 29 + "mlp",
        ]
        for layer in range(config.num_layers):
            heads = ", ".join(self.sublayer_contents[2 * layer]) or "-"
            mlps = ", ".join(self.sublayer_contents[2 * layer + 1]) or "-"
            lines.append(f"  {layer:<5}  {heads:<38} {mlps}")
        return "\n".join(lines)
