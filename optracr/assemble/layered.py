"""``LayeredModel``: the compiled transformer as labelled numpy objects, before any backend.

It is what every backend (Haiku, exports, compress) reads: the residual space with its labelled directions,
the token and position embeddings, per layer the attention heads and the one MLP (the layer's MLP blocks
combined in craft, on labelled spaces), the unembedding, the input tokens and output classes, ``causal``
(its one home in the model), the model's shape (``schedule.ModelShape``, the type the scheduler's cost
uses), and the ground truth of which s-op is computed where and stored in which directions.
``block_weights`` gives each head and MLP as the residual rows it reads and writes plus its small matrices
(module ``blockwise``), what the forward pass (module ``forward``) runs; ``dense`` (module ``dense``) pads
the model into arrays, built only when a backend that needs them asks.
"""

from __future__ import annotations

import dataclasses
import functools
import types
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from optracr import craft
from optracr import schedule
from optracr.assemble import blockwise
from optracr.assemble import dense as dense_lib
from optracr.errors import CompileError, OptracrTypeError
from optracr.frontend import rasp

Label = str
# A categorical output has a value where its largest column exceeds this (craft's one decoding rule).
DECODE_THRESHOLD = craft.DECODE_THRESHOLD


@dataclasses.dataclass(frozen=True, eq=False)
class Layer:
    """One layer: its attention heads (in head order) and its MLP (None when the layer has no MLP work)."""

    heads: tuple[craft.AttentionHead, ...]
    mlp: craft.MLP | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "heads", tuple(self.heads))
        if not all(isinstance(head, craft.AttentionHead) for head in self.heads):
            raise OptracrTypeError(None, "a layer's heads are craft.AttentionHead objects")
        if self.mlp is not None and not isinstance(self.mlp, craft.MLP):
            raise OptracrTypeError(None, f"a layer's MLP is a craft.MLP or None, got {type(self.mlp).__name__}")

    @property
    def mlp_hidden_width(self) -> int:
        """Hidden units of the layer's MLP (0 without one)."""
        return 0 if self.mlp is None else self.mlp.hidden_width


@dataclasses.dataclass(frozen=True)
class SopLocation:
    """Where one s-op is computed and where it lives: the ground truth of the compiled model.

    ``sublayer`` is where its value is written (2k: attention of layer k, 2k + 1: its MLP); ``heads`` are
    head indices within the layer and ``mlp_units`` hidden-unit indices within the layer's MLP that compute
    it (selector width uses both); ``directions`` are the residual labels holding its value. A folded s-op
    has no block, layer or directions: ``folded_into`` names the blocks (or ``unembedding``) whose weights
    compose it, and ``folded_from`` the residual directions it is a sum of. An s-op computed in a fused MLP
    lists the region's members in ``fused_with``; if only that MLP reads it, it has no directions.
    """

    label: Label
    block: str | None
    layer: int | None
    sublayer: int | None
    heads: tuple[int, ...] = ()
    mlp_units: tuple[int, ...] = ()
    directions: tuple[str, ...] = ()
    folded_into: tuple[str, ...] = ()
    folded_from: tuple[str, ...] = ()
    fused_with: tuple[str, ...] = ()  # the s-ops whose blocks one fused MLP computes, this one included
    affine_inputs: tuple[str, ...] = ()  # its MLP discretises t = sum of affine_coefficients x these s-ops' values
    affine_coefficients: tuple[float, ...] = ()

    @property
    def folded(self) -> bool:
        """Whether the s-op has no block of its own (its readers compose it)."""
        return self.block is None

    def affine_formula(self) -> str:
        """t as a formula over the s-ops that feed it (empty when its MLP discretises no affine combination)."""
        if not self.affine_inputs:
            return ""
        return craft.affine_formula(self.affine_inputs, self.affine_coefficients)

    def describe(self) -> str:
        """One line: where the s-op is computed and stored."""
        if self.folded:
            return f"folded: composed into the reads of {', '.join(self.folded_into)}"
        parts = [f"heads {list(self.heads)}" if self.heads else "", f"MLP units {list(self.mlp_units)}" if
                 self.mlp_units else ""]
        kind = "attention" if self.sublayer is not None and self.sublayer % 2 == 0 else "MLP"
        where = f"layer {self.layer} {kind} ({', '.join(p for p in parts if p)})"
        if self.fused_with:
            where += f", fused with {', '.join(label for label in self.fused_with if label != self.label)}"
        if self.affine_inputs:
            where += f", discretising {self.affine_formula()}"
        if not self.directions:
            return where + ", not stored (read only inside its fused MLP)"
        return where + f", stored in {len(self.directions)} direction(s)"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the location."""
        return {field.name: list(value) if isinstance(value := getattr(self, field.name), tuple) else value
                for field in dataclasses.fields(self)}


@dataclasses.dataclass(frozen=True, eq=False)
class LayeredModel:
    """A compiled transformer as labelled numpy objects (see the module docstring)."""

    residual_space: craft.VectorSpaceWithBasis
    input_tokens: tuple[Hashable, ...]  # token embedding rows: sorted vocab, then BOS, then PAD
    token_embedding: np.ndarray  # len(input_tokens) x D
    position_embedding: np.ndarray  # (max_seq_len + 1) x D; row 0 is the BOS position
    layers: tuple[Layer, ...]
    unembedding: craft.Linear  # residual directions -> one direction per output class (or the one value)
    output_label: Label
    output_encoding: rasp.Encoding
    bos: Hashable
    pad: Hashable
    max_seq_len: int
    causal: bool
    shape: schedule.ModelShape
    allocation: schedule.Allocation
    locations: Mapping[Label, SopLocation]

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "input_tokens", tuple(self.input_tokens))
        object.__setattr__(self, "locations", types.MappingProxyType(dict(self.locations)))
        width = self.residual_space.num_dims
        for name, rows in (("token_embedding", len(self.input_tokens)), ("position_embedding", self.max_seq_len + 1)):
            array = np.asarray(getattr(self, name), dtype=np.float64)
            if array.shape != (rows, width):
                raise CompileError(None, f"{name} must be {rows} x {width}, got {array.shape}")
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        for token in (self.bos, self.pad):
            if token not in self.input_tokens:
                raise CompileError(None, f"the input tokens must include BOS and PAD, missing {token!r}")
        if not isinstance(self.causal, bool):
            raise OptracrTypeError(None, f"causal must be a bool, got {self.causal!r}")
        if not self.unembedding.input_space.issubspace(self.residual_space):
            raise CompileError(None, "the unembedding reads directions outside the residual space")
        self._check_layers()

    def _check_layers(self) -> None:
        shape = self.shape
        if len(self.layers) != shape.num_layers:
            raise CompileError(None, f"the shape says {shape.num_layers} layers, got {len(self.layers)}")
        for number, layer in enumerate(self.layers):
            too_wide = len(layer.heads) > shape.num_heads or layer.mlp_hidden_width > shape.mlp_hidden_width
            too_wide |= any(h.key_size > shape.key_size or h.value_size > shape.value_size for h in layer.heads)
            if too_wide:
                raise CompileError(None, f"layer {number} is wider than the model's shape {shape}")
            for block in (*layer.heads, *([layer.mlp] if layer.mlp else [])):
                spaces = (block.input_space, block.output_space)
                if not all(space.issubspace(self.residual_space) for space in spaces):
                    raise CompileError(None, f"layer {number} reads or writes directions outside the residual space")

    # ------------------------------------------------------------------------------ describing
    @property
    def residual_labels(self) -> tuple[str, ...]:
        """The name of every residual direction, in order (``one``, ``tokens:a``, ``sort:3`` ...)."""
        return tuple(str(direction) for direction in self.residual_space.basis)

    @property
    def output_classes(self) -> tuple[Hashable, ...]:
        """The value of each output column of a categorical output; empty for a numerical one."""
        if self.output_encoding == rasp.Encoding.NUMERICAL:
            return ()
        return tuple(direction.value for direction in self.unembedding.output_space.basis)

    @property
    def output_size(self) -> int:
        """Columns of the unembedding: the classes, or 1 for a numerical output."""
        return self.unembedding.output_space.num_dims

    @property
    def unembedding_matrix(self) -> np.ndarray:
        """The unembedding as a D x output_size array in residual coordinates."""
        return self.unembedding.lift(self.residual_space, self.unembedding.output_space).matrix

    @functools.cached_property
    def sublayer_contents(self) -> tuple[tuple[Label, ...], ...]:
        """Per sublayer, the s-ops whose blocks have a part there (selector width: both of its layer's)."""
        contents: list[list[Label]] = [[] for _ in range(2 * self.shape.num_layers)]
        for location in self.locations.values():
            if location.folded:
                continue
            if location.heads:
                contents[2 * location.layer].append(location.label)
            if location.mlp_units:
                contents[2 * location.layer + 1].append(location.label)
        return tuple(tuple(labels) for labels in contents)

    def block_weights(self, dtype: type = np.float64) -> blockwise.BlockWeights:
        """Every head and MLP on its own residual rows, in ``dtype``, for the forward pass (computed once per dtype)."""
        key = np.dtype(dtype).name
        if key not in self._block_weights:
            self._block_weights[key] = self._build_block_weights(np.dtype(dtype).type)
        return self._block_weights[key]

    def _build_block_weights(self, dtype: type) -> blockwise.BlockWeights:
        residual = self.residual_space
        layers = tuple(
            blockwise.LayerWeights(
                heads=tuple(blockwise.head_weights(head, residual, dtype) for head in layer.heads),
                mlp=None if layer.mlp is None else blockwise.mlp_weights(layer.mlp, residual, dtype),
            )
            for layer in self.layers
        )
        return blockwise.BlockWeights(
            token_embed=np.asarray(self.token_embedding, dtype=dtype),
            pos_embed=np.asarray(self.position_embedding, dtype=dtype),
            layers=layers,
            unembed_rows=blockwise.rows_of(self.unembedding.input_space, residual),
            unembed=np.asarray(self.unembedding.matrix, dtype=dtype),
            num_heads=self.shape.num_heads,
            pad_id=self._token_id[self.pad],
            causal=self.causal,
        )

    @functools.cached_property
    def _block_weights(self) -> dict[str, blockwise.BlockWeights]:
        return {}

    def dense(self) -> dense_lib.DenseWeights:
        """Every weight as padded, read-only numpy arrays, for the backends that need them (built once, on demand)."""
        return self._dense

    @property
    def params_total(self) -> int:
        """Parameters of the padded model (embeddings and unembedding included), from its shape: nothing is built."""
        shape, width = self.shape, self.residual_space.num_dims
        fixed_rows = len(self.input_tokens) + self.max_seq_len + 1 + self.output_size
        return schedule.parameter_count(
            num_layers=shape.num_layers, num_heads=shape.num_heads, key_size=shape.key_size,
            value_size=shape.value_size, mlp_hidden_width=shape.mlp_hidden_width, residual_width=width,
            fixed_parameters=fixed_rows * width,
        )

    @functools.cached_property
    def nonzeros_by_block(self) -> Mapping[str, int]:
        """Non-zero parameters of each part, counted on the blocks (no padded array is built): ``token_embed``,
        ``pos_embed``, ``layers.{k}.heads.{h}``, ``layers.{k}.mlp``, ``unembed``; padding adds no non-zero."""
        counts = {"token_embed": int(np.count_nonzero(self.token_embedding)),
                  "pos_embed": int(np.count_nonzero(self.position_embedding))}
        for number, layer in enumerate(self.layers):
            for h, head in enumerate(layer.heads):
                counts[f"layers.{number}.heads.{h}"] = blockwise.head_nonzeros(head)
            if layer.mlp is not None:
                counts[f"layers.{number}.mlp"] = blockwise.mlp_nonzeros(layer.mlp)
        counts["unembed"] = int(np.count_nonzero(self.unembedding.matrix))
        return types.MappingProxyType(counts)

    @property
    def params_nonzero(self) -> int:
        """Parameters that are not zero (the sum of ``nonzeros_by_block``)."""
        return sum(self.nonzeros_by_block.values())

    @functools.cached_property
    def _dense(self) -> dense_lib.DenseWeights:
        shape = self.shape
        return dense_lib.DenseWeights(
            token_embed=np.array(self.token_embedding),
            pos_embed=np.array(self.position_embedding),
            layers=tuple(
                dense_lib.dense_layer(layer.heads, layer.mlp, self.residual_space, shape) for layer in self.layers
            ),
            unembed=np.array(self.unembedding_matrix),
            num_heads=shape.num_heads,
            key_size=shape.key_size,
            value_size=shape.value_size,
            mlp_hidden_width=shape.mlp_hidden_width,
        )

    # --------------------------------------------------------------------------------- running
    def token_ids(self, tokens: Sequence[Hashable]) -> np.ndarray:
        """Token ids of ``["BOS", *tokens, *PADs]``; rejects a missing BOS, unknown tokens and over-long inputs.

        Trailing PAD tokens are accepted (batching code sends them); PAD before a real token is not.
        """
        tokens = craft.check_tokens(tokens, self._vocab, bos=self.bos, pad=self.pad, max_seq_len=self.max_seq_len)
        return np.array([self._token_id[token] for token in tokens], dtype=np.int32)

    @functools.cached_property
    def _vocab(self) -> frozenset[Hashable]:
        return frozenset(token for token in self.input_tokens if token not in (self.bos, self.pad))

    def batch_token_ids(self, inputs: Sequence[Sequence[Hashable]]) -> tuple[np.ndarray, list[int]]:
        """A B x T array of token ids, each input padded with PAD to the longest; and each input's length."""
        encoded = [self._plain_ids(tokens) or self.token_ids(tokens).tolist() for tokens in inputs]
        length = max((len(ids) for ids in encoded), default=1)
        pad_id = self._token_id[self.pad]
        batch = np.array([ids + [pad_id] * (length - len(ids)) for ids in encoded], dtype=np.int32)
        return batch.reshape(len(encoded), length), [len(ids) for ids in encoded]

    def _plain_ids(self, tokens: Sequence[Hashable]) -> list[int] | None:
        """The ids of ``[BOS, *vocab tokens]`` (no PAD, not too long) at once; None for ``token_ids`` to check."""
        if isinstance(tokens, str) or not isinstance(tokens, Iterable):
            return None
        tokens = list(tokens)
        if not tokens or tokens[0] != self.bos or len(tokens) - 1 > self.max_seq_len:
            return None
        try:
            if not self._vocab.issuperset(tokens[1:]):
                return None
        except TypeError:  # an unhashable token: token_ids names it
            return None
        return [self._token_id[token] for token in tokens]

    @functools.cached_property
    def _token_id(self) -> dict[Hashable, int]:
        return {token: i for i, token in enumerate(self.input_tokens)}

    def decode(self, output: np.ndarray) -> list[Any]:
        """Per row of the unembedded output: the numerical value, or the class whose output exceeds 1/2."""
        if self.output_encoding == rasp.Encoding.NUMERICAL:
            return np.asarray(output, dtype=np.float64)[:, 0].tolist()
        return craft.decode_one_hot(output, self.output_classes)
