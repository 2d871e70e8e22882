"""``CompiledModel``: the assembled transformer with its parameters, labels, encoders and ``apply``.

``apply`` and small batches run the block-wise numpy forward (module ``forward``: the definition of what the
model computes; a fresh model answers in milliseconds, no padded array is built);
batches of more than ``JIT_MIN_BATCH`` inputs run the jitted Haiku forward, compiled once per model. JAX and
Haiku are imported only when that path first runs.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import types
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from optracr import options as options_lib
from optracr import schedule
from optracr.assemble import forward
from optracr.assemble import layered as layered_lib
from optracr.assemble import model_config
from optracr.assemble import provenance as provenance_lib
from optracr.errors import CompileError, OptracrTypeError
from optracr.frontend import rasp

Params = Mapping[str, Mapping[str, np.ndarray]]
BACKENDS = ("auto", "numpy", "jax")
# Above this many inputs "auto" runs the jitted Haiku forward: its one-off compile (~0.8 s) then pays for
# itself (benchmarks/throughput.py measures the crossover).
JIT_MIN_BATCH = 4096


@dataclasses.dataclass(frozen=True)
class ApplyResult:
    """One forward pass, decoded and laid bare. Arrays have one row per position (BOS first)."""

    decoded: list[Any]  # BOS, then the program's output at every position (None where it has no value)
    output: np.ndarray  # T x output_size: the unembedded output
    residuals: tuple[np.ndarray, ...]  # T x D after the embedding and after every sublayer
    sublayer_outputs: tuple[np.ndarray, ...]  # T x D, what each sublayer wrote
    attention: tuple[np.ndarray, ...]  # per layer, H x T x T
    residual_labels: tuple[str, ...]


@dataclasses.dataclass(frozen=True, eq=False)
class CompiledModel:
    """A compiled transformer: ``apply(["BOS", *tokens])`` computes the program.

    ``layered`` is the backend-neutral model (labelled numpy objects, the ground truth of where every s-op is
    computed); this class runs it with the Haiku backend. ``params`` holds every weight (embeddings, layers,
    unembedding) as numpy arrays keyed like Haiku's; ``residual_labels[i]`` names residual direction i;
    ``sublayer_contents[s]`` lists the s-ops computed in sublayer s (attention of layer s // 2 when s is even,
    its MLP when odd).
    """

    layered: layered_lib.LayeredModel
    compile_seconds: Mapping[str, float] = dataclasses.field(default_factory=dict)
    float64: bool = True  # run the forward pass in float64; False runs it in float32
    # The program it was compiled from and its analysed graph (``optracr.compile`` sets both; a loaded model has
    # neither): what ``optracr.certify(model)`` and ``verify`` use when no program is passed.
    program: Any = dataclasses.field(default=None, compare=False, repr=False)
    program_graph: Any = dataclasses.field(default=None, compare=False, repr=False)
    # A certificate saved with the model (``optracr.save(model, path, certificate=...)``), read back by ``load``.
    certificate: Any = dataclasses.field(default=None, compare=False, repr=False)
    loaded_from: str | None = None  # the saved model's directory, for a model loaded rather than compiled
    # The options it was compiled with and each compile stage's time and output (``optracr.compile`` sets it; a
    # saved model keeps it). ``compile_seconds`` is read off it when it is given.
    provenance: provenance_lib.Provenance | None = dataclasses.field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.layered, layered_lib.LayeredModel):
            raise OptracrTypeError(
                None, f"a CompiledModel wraps an assemble.LayeredModel, got {type(self.layered).__name__}"
            )
        if self.provenance is not None and not isinstance(self.provenance, provenance_lib.Provenance):
            raise OptracrTypeError(None, f"a CompiledModel's provenance is an assemble.Provenance, got {self.provenance!r}")
        seconds = self.provenance.seconds if self.provenance is not None and not self.compile_seconds else None
        object.__setattr__(self, "compile_seconds", types.MappingProxyType(dict(seconds or self.compile_seconds)))

    # ------------------------------------------------------------------------ what it is
    @functools.cached_property
    def config(self) -> model_config.ModelConfig:
        """The Haiku module's static shape."""
        return model_config.model_config(self.layered)

    @functools.cached_property
    def params(self) -> Params:
        """Every weight as numpy arrays under Haiku's module names."""
        from optracr.assemble import haiku_model  # Haiku's names; loads JAX and Haiku

        return haiku_model.haiku_params(self.layered.dense())

    @property
    def options(self) -> options_lib.CompileOptions | None:
        """The options the model was compiled with (None for a model built or saved without them)."""
        return None if self.provenance is None else self.provenance.options

    @property
    def residual_labels(self) -> tuple[str, ...]:
        """The name of every residual direction, in order."""
        return self.layered.residual_labels

    @property
    def allocation(self) -> schedule.Allocation:
        """Where the scheduler placed every block, and how it found the placement."""
        return self.layered.allocation

    @property
    def sublayer_contents(self) -> tuple[tuple[str, ...], ...]:
        """Per sublayer, the s-ops computed there."""
        return self.layered.sublayer_contents

    @property
    def input_tokens(self) -> tuple[Hashable, ...]:
        """Token embedding rows: sorted vocab, then BOS, then PAD."""
        return self.layered.input_tokens

    @property
    def output_label(self) -> str:
        """The label of the program's output s-op."""
        return self.layered.output_label

    @property
    def output_encoding(self) -> rasp.Encoding:
        """Categorical or numerical output."""
        return self.layered.output_encoding

    @property
    def output_classes(self) -> tuple[Hashable, ...]:
        """Unembedding columns of a categorical output (empty for a numerical one)."""
        return self.layered.output_classes

    @property
    def bos(self) -> Hashable:
        """The BOS token every input starts with."""
        return self.layered.bos

    @property
    def pad(self) -> Hashable:
        """The PAD token batches are filled with."""
        return self.layered.pad

    # ------------------------------------------------------------------------------ running
    def encode(self, tokens: Sequence[Hashable]) -> np.ndarray:
        """Token ids of ``["BOS", *tokens]`` (trailing PAD allowed); rejects a missing BOS, unknown tokens and
        over-long inputs."""
        return self.layered.token_ids(tokens)

    def apply(self, tokens: Sequence[Hashable], *, backend: str = "auto") -> ApplyResult:
        """Runs the model on ``["BOS", *tokens]`` and returns the decoded output and every intermediate.

        Trailing PAD tokens are masked (no position attends to them) and decode to None. ``backend``: "auto"
        and "numpy" run the numpy forward (milliseconds, no compile), "jax" the jitted Haiku forward.
        """
        ids = self.encode(tokens)
        trace = self._run(ids[None, :], _check_backend(backend))
        output = np.asarray(trace.output[0])
        padded = ids == self.input_tokens.index(self.pad)
        decoded = [None if pad else value for pad, value in zip(padded[1:], self.decode(output[1:]))]
        return ApplyResult(
            decoded=[self.bos, *decoded],
            output=output,
            residuals=tuple(np.asarray(r[0]) for r in trace.residuals),
            sublayer_outputs=tuple(np.asarray(o[0]) for o in trace.sublayer_outputs),
            attention=tuple(np.asarray(a[0]) for a in trace.attention),
            residual_labels=self.residual_labels,
        )

    def apply_batch(self, inputs: Sequence[Sequence[Hashable]], *, backend: str = "auto") -> list[list[Any]]:
        """Decoded outputs (without BOS) for many inputs at once, padded with PAD to one length.

        ``backend="auto"`` runs numpy up to ``JIT_MIN_BATCH`` inputs and the jitted Haiku forward above.
        """
        backend = _check_backend(backend)
        return decode_batch(self.layered, inputs, lambda ids: self._run(ids, backend, trace=False).output)

    def decode(self, output: np.ndarray) -> list[Any]:
        """Per position: the numerical value, or the class whose output is largest if it exceeds 1/2, else None."""
        return self.layered.decode(output)

    def _run(self, token_ids: np.ndarray, backend: str, *, trace: bool = True) -> Any:
        if backend == "jax" or (backend == "auto" and token_ids.shape[0] > JIT_MIN_BATCH):
            return self._run_jax(token_ids)
        return forward.run(self.layered.block_weights(self.dtype), token_ids, trace=trace)

    @property
    def dtype(self) -> type:
        """The float type the forward pass runs in: float64, or float32 when ``float64`` is False."""
        return np.float64 if self.float64 else np.float32

    def _run_jax(self, token_ids: np.ndarray) -> Any:
        import jax  # the jitted path only: a fresh process that never takes it never imports JAX
        import jax.numpy as jnp

        dtype = self.dtype
        with jax.enable_x64(self.float64):
            params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=dtype), dict(self.params))
            return self._forward(params, jnp.asarray(token_ids))

    @functools.cached_property
    def _forward(self) -> Any:
        import jax

        from optracr.assemble import haiku_model

        pad_id = self.input_tokens.index(self.pad)
        return jax.jit(haiku_model.make_forward(self.config, pad_id).apply)

    # --------------------------------------------------------------------------- describing
    @property
    def params_total(self) -> int:
        """Number of parameters, embeddings and unembedding included (from the shape; no array is built)."""
        return self.layered.params_total

    @property
    def params_nonzero(self) -> int:
        """Number of parameters that are not zero (counted on the blocks; no padded array is built)."""
        return self.layered.params_nonzero

    def summary(self) -> str:
        """A human-readable description: shape, sizes, allocation and what each sublayer computes."""
        config, allocation = self.config, self.allocation
        status = allocation.status.name
        if allocation.gap:
            status += f" (gap {allocation.gap:.1%})"
        lines = [
            f"optracr model computing {self.output_label!r} ({self.output_encoding.value} output)",
            f"  layers {config.num_layers}; per layer at most {config.num_heads} heads (key size {config.key_size}, "
            f"value size {config.value_size}) and {config.mlp_hidden_size} MLP units; residual width {config.d_model}",
            f"  parameters {self.params_total:,} total, {self.params_nonzero:,} non-zero",
            f"  allocation {status} in {allocation.seconds:.3f} s (depth lower bound {allocation.depth_lower_bound})",
            *self._provenance_lines(),
            "  layer  attention" + " " * 29 + "mlp",
        ]
        for layer in range(config.num_layers):
            heads = ", ".join(self.sublayer_contents[2 * layer]) or "-"
            mlps = ", ".join(self._mlp_contents(layer)) or "-"
            lines.append(f"  {layer:<5}  {heads:<38} {mlps}")
        folded = [location for location in self.layered.locations.values() if location.folded]
        if folded:
            lines.append("  folded (no block; composed into the reads of):")
            lines += [f"    {loc.label} -> {', '.join(loc.folded_into)}" for loc in folded]
        return "\n".join(lines)

    def _provenance_lines(self) -> list[str]:
        """Where the model came from: its options and compile stages, or the directory it was loaded from."""
        lines = []
        if self.provenance is not None:
            lines += self.provenance.lines()
        elif self.compile_seconds:
            stages = ", ".join(f"{stage} {seconds:.3f}" for stage, seconds in self.compile_seconds.items())
            lines.append(f"  compiled in {sum(self.compile_seconds.values()):.3f} s ({stages})")
        if self.loaded_from is not None:
            lines.append(f"  loaded from {self.loaded_from}")
        return lines

    def _mlp_contents(self, layer: int) -> list[str]:
        """The s-ops of a layer's MLP sublayer, a fused region's members bracketed together."""
        shown, seen = [], set()
        for label in self.sublayer_contents[2 * layer + 1]:
            region = self.layered.locations[label].fused_with
            if not region:
                shown.append(label)
            elif region not in seen:
                seen.add(region)
                shown.append("fused[" + ", ".join(region) + "]")
        return shown

    def explore(self, inputs: Sequence[str] = (), *, program: rasp.SOp | None = None, title: str = "") -> Any:
        """A self-contained page of this model (program, layout, residual stream, attention) with ``inputs``
        (space-separated tokens) precomputed; Jupyter shows it inline, ``.save(path)`` writes it. ``program``
        (for the expressions and the evaluator's answers) defaults to the one the model was compiled from.
        Needs ``optracr[explore]``."""
        # explore reads assemble, so assemble names it only at run time (no import edge back to a later package)
        explore = importlib.import_module("optracr.explore")
        return explore.static_page(self, inputs, program=program, title=title)

    def ground_truth(self) -> dict[str, dict[str, Any]]:
        """Per s-op, where it is computed and where it lives, JSON-ready (``SopLocation.to_json``)."""
        return {label: location.to_json() for label, location in sorted(self.layered.locations.items())}


def _check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise CompileError(None, f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    return backend


def decode_batch(
    model: layered_lib.LayeredModel,
    inputs: Sequence[Sequence[Hashable]],
    run: Callable[[np.ndarray], Any],
) -> list[list[Any]]:
    """Decoded outputs (without BOS) of ``inputs`` padded into one batch and run through ``run`` (ids -> output)."""
    if not inputs:
        return []
    token_ids, lengths = model.batch_token_ids(inputs)
    outputs = np.asarray(run(token_ids))[:, 1:]  # every position after BOS, padding included, decoded at once
    decoded = model.decode(outputs.reshape(-1, outputs.shape[-1]))
    width = outputs.shape[1]
    return [decoded[row * width : row * width + length - 1] for row, length in enumerate(lengths)]
