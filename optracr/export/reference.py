"""The reference compiler's model interface on an optracr model, so code written for the reference runs unchanged.

``reference_model(model)`` gives what the reference's ``compile_rasp_to_model`` returns: ``model_config``,
``input_encoder``, ``output_encoder``, ``residual_labels``, ``params`` in the reference's Haiku layout and
``apply``. The reference's forward pass differs from optracr's in three ways the weights absorb:
- it divides attention logits by sqrt(key_size): the query weights are multiplied by sqrt(key_size);
- every head has one width (``key_size``) for queries, keys and values: narrower ones are padded with zeros;
- every projection has a bias: all biases are zero (optracr's residual direction ``one`` plays their role).
A model without heads gets one all-zero head and a model without MLPs a one-unit all-zero MLP, as the
reference's own models have. PAD keys are masked (the reference never masks them); inputs may end in PAD.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from optracr import craft
from optracr.errors import InputError
from optracr.export import source
from optracr.frontend import rasp

MASKED_LOGIT = -1e30  # what the reference writes at masked logits
Params = Mapping[str, Mapping[str, np.ndarray]]  # Haiku's layout: module name -> parameter name -> array


def relu(x: np.ndarray) -> np.ndarray:
    """The activation of every compiled MLP."""
    return np.maximum(x, 0.0)


@dataclasses.dataclass(frozen=True)
class TransformerConfig:
    """The reference's ``model_config``: the shape of the transformer its ``params`` fill."""

    num_heads: int
    num_layers: int
    key_size: int  # the width of every head's queries, keys and values
    mlp_hidden_size: int
    dropout_rate: float = 0.0
    activation_function: Callable[[np.ndarray], np.ndarray] = relu
    layer_norm: bool = False
    causal: bool = False


class CategoricalEncoder:
    """Token (or class) <-> id, as the reference's ``CategoricalEncoder``: ``encoding_map``, ``encode``, ``decode``."""

    def __init__(
        self,
        values: Sequence[Hashable],
        *,
        bos_token: Hashable | None = None,
        pad_token: Hashable | None = None,
        max_seq_len: int | None = None,
    ) -> None:
        self.encoding_map: dict[Hashable, int] = {value: i for i, value in enumerate(values)}
        self.enforce_bos = bos_token is not None
        self._bos_token, self._pad_token, self._max_seq_len = bos_token, pad_token, max_seq_len

    @property
    def decoding_map(self) -> dict[int, Hashable]:
        """Id -> token (or class)."""
        return {i: value for value, i in self.encoding_map.items()}

    @property
    def vocab_size(self) -> int:
        """The number of ids."""
        return len(self.encoding_map)

    @property
    def bos_token(self) -> Hashable | None:
        """The token every input starts with (input encoder only)."""
        return self._bos_token

    @property
    def pad_token(self) -> Hashable | None:
        """The token inputs may end in, masked as a key (input encoder only)."""
        return self._pad_token

    @property
    def bos_encoding(self) -> int | None:
        """The id of ``bos_token``."""
        return None if self._bos_token is None else self.encoding_map[self._bos_token]

    @property
    def pad_encoding(self) -> int | None:
        """The id of ``pad_token``."""
        return None if self._pad_token is None else self.encoding_map[self._pad_token]

    def encode(self, inputs: Sequence[Hashable]) -> list[int]:
        """Ids of ``inputs``: with a BOS token, ``[BOS, *tokens, *PADs]`` (optracr's one input rule)."""
        inputs = list(inputs)
        if self._bos_token is not None:
            vocab = [value for value in self.encoding_map if value not in (self._bos_token, self._pad_token)]
            longest = len(self.encoding_map) + len(inputs) if self._max_seq_len is None else self._max_seq_len - 1
            inputs = craft.check_tokens(inputs, vocab, bos=self._bos_token, pad=self._pad_token, max_seq_len=longest)
        unknown = [value for value in inputs if value not in self.encoding_map]
        if unknown:
            raise InputError(f"unknown value(s) {unknown!r}; the encoding knows {list(self.encoding_map)!r}")
        return [self.encoding_map[value] for value in inputs]

    def decode(self, encodings: Sequence[int]) -> list[Hashable]:
        """The tokens (or classes) of ``encodings``."""
        decoding_map = self.decoding_map
        unknown = [i for i in encodings if i not in decoding_map]
        if unknown:
            raise InputError(f"unknown id(s) {unknown!r}; ids run from 0 to {len(decoding_map) - 1}")
        return [decoding_map[i] for i in encodings]


class NumericalEncoder:
    """The reference's encoder of a numerical output: ``encode`` and ``decode`` are the identity."""

    def encode(self, inputs: Sequence[float]) -> list[float]:
        """``inputs`` unchanged."""
        return list(inputs)

    def decode(self, encodings: Sequence[float]) -> list[float]:
        """``encodings`` unchanged."""
        return list(encodings)


@dataclasses.dataclass(frozen=True)
class TransformerOutput:
    """Every intermediate of one batched forward pass; arrays are batch-first (B x T x D unless said)."""

    layer_outputs: list[np.ndarray]  # what each sublayer wrote: attention of layer 0, its MLP, ...
    residuals: list[np.ndarray]  # the residual after each sublayer (the embedding is input_embeddings)
    attn_logits: list[np.ndarray]  # per layer, B x H x T x T, divided by sqrt(key_size), masked to -1e30
    output: np.ndarray  # the final residual
    input_embeddings: np.ndarray


@dataclasses.dataclass(frozen=True)
class CompiledTransformerModelOutput:
    """What ``forward`` returns: the transformer's intermediates and the unembedded output (B x T)."""

    transformer_output: TransformerOutput
    unembedded_output: np.ndarray  # categorical: the argmax column; numerical: the value


@dataclasses.dataclass(frozen=True)
class AssembledTransformerModelOutput:
    """What ``apply`` returns for one input: the reference's fields, arrays with a leading batch of 1."""

    decoded: list[Any]  # BOS, then the output per position (None where it has no value, and at PAD)
    unembedded: np.ndarray  # 1 x T
    layer_outputs: list[np.ndarray]
    residuals: list[np.ndarray]
    attn_logits: list[np.ndarray]
    transformer_output: np.ndarray
    input_embeddings: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class ReferenceCompatibleModel:
    """An optracr model with the reference's interface; ``compiled`` is the optracr model it came from."""

    params: Mapping[str, Mapping[str, np.ndarray]]
    model_config: TransformerConfig
    residual_labels: list[str]
    input_encoder: CategoricalEncoder
    output_encoder: CategoricalEncoder | NumericalEncoder
    unembedding: np.ndarray  # D x output size: the residual directions of the output
    compiled: Any = None

    @property
    def categorical_output(self) -> bool:
        """Whether the output is categorical (the reference's ``use_unembed_argmax``)."""
        return isinstance(self.output_encoder, CategoricalEncoder)

    def forward(self, params: Params, tokens: np.ndarray) -> CompiledTransformerModelOutput:
        """The reference's forward pass (logits divided by sqrt(key_size)) on token ids B x T, in float64."""
        tokens = np.asarray(tokens)
        x = params["token_embed"]["embeddings"][tokens] + params["pos_embed"]["embeddings"][np.arange(tokens.shape[1])]
        embeddings = x
        pad_id = self.input_encoder.pad_encoding
        is_pad = tokens == pad_id if pad_id is not None else np.zeros(tokens.shape, dtype=bool)
        mask = craft.attention_mask(is_pad, self.model_config.causal)[:, None]  # B x 1 x T x T
        residuals, layer_outputs, attn_logits = [], [], []
        for layer in range(self.model_config.num_layers):
            attended, logits = _attention(x, mask, params, f"transformer/layer_{layer}/attn", self.model_config)
            x = x + attended
            residuals.append(x), layer_outputs.append(attended), attn_logits.append(logits)
            mlp = f"transformer/layer_{layer}/mlp"
            hidden = _linear(relu(_linear(x, params[f"{mlp}/linear_1"])), params[f"{mlp}/linear_2"])
            x = x + hidden
            residuals.append(x), layer_outputs.append(hidden)
        out = x @ self.unembedding
        unembedded = np.argmax(out, axis=-1) if self.categorical_output else out[..., 0]
        transformer_output = TransformerOutput(layer_outputs, residuals, attn_logits, x, embeddings)
        return CompiledTransformerModelOutput(transformer_output, unembedded)

    def apply(self, tokens: Sequence[Hashable]) -> AssembledTransformerModelOutput:
        """Runs ``[BOS, *tokens, PAD...]``; ``decoded`` holds BOS then the output (None where it has none)."""
        ids = self.input_encoder.encode(tokens)
        result = self.forward(self.params, np.array([ids]))
        trace = result.transformer_output
        decoded = self.decode(trace.output[0] @ self.unembedding)
        pad = self.input_encoder.pad_encoding
        decoded = [self.input_encoder.bos_token] + [None if i == pad else v for i, v in zip(ids[1:], decoded[1:])]
        return AssembledTransformerModelOutput(
            decoded=decoded,
            unembedded=result.unembedded_output,
            layer_outputs=trace.layer_outputs,
            residuals=trace.residuals,
            attn_logits=trace.attn_logits,
            transformer_output=trace.output,
            input_embeddings=trace.input_embeddings,
        )

    def decode(self, output: np.ndarray) -> list[Any]:
        """Per row of the unembedded output (T x output size): the value, or the class above 1/2, else None."""
        if not self.categorical_output:
            return [float(value) for value in output[:, 0]]
        return craft.decode_one_hot(output, list(self.output_encoder.encoding_map))


def reference_model(model: Any) -> ReferenceCompatibleModel:
    """The reference's interface on ``model`` (a ``CompiledModel`` or an ``assemble.LayeredModel``).

    >>> import optracr
    >>> from optracr import export, rasp
    >>> model = optracr.compile(rasp.Map(lambda t: t == "a", rasp.tokens), {"a", "b"}, 3, fold=False)
    >>> reference = export.reference_model(model)
    >>> reference.model_config.num_heads, sorted(reference.params["transformer/layer_0/attn/query"])
    (1, ['b', 'w'])
    >>> reference.apply(["BOS", "a", "b", "PAD"]).decoded
    ['BOS', True, False, None]
    """
    layered = source.as_layered(model)
    config = reference_config(layered)
    numerical = layered.output_encoding == rasp.Encoding.NUMERICAL
    return ReferenceCompatibleModel(
        params=reference_params(layered),
        model_config=config,
        residual_labels=list(layered.residual_labels),
        input_encoder=CategoricalEncoder(
            layered.input_tokens, bos_token=layered.bos, pad_token=layered.pad, max_seq_len=layered.max_seq_len + 1
        ),
        output_encoder=NumericalEncoder() if numerical else CategoricalEncoder(layered.output_classes),
        unembedding=layered.dense().unembed,
        compiled=model,
    )


def reference_config(layered: Any) -> TransformerConfig:
    """The reference's config for ``layered``: at least one head and one MLP unit, one width for q, k and v."""
    shape = layered.shape
    return TransformerConfig(
        num_heads=max(shape.num_heads, 1),
        num_layers=shape.num_layers,
        key_size=max(shape.key_size, shape.value_size, 1),
        mlp_hidden_size=max(shape.mlp_hidden_width, 1),
        causal=layered.causal,
    )


def reference_params(layered: Any) -> dict[str, dict[str, np.ndarray]]:
    """The reference's Haiku parameters (``w`` and zero ``b`` per projection), queries scaled by sqrt(key_size)."""
    dense, config = layered.dense(), reference_config(layered)
    params: dict[str, dict[str, np.ndarray]] = {
        "token_embed": {"embeddings": np.array(dense.token_embed, dtype=np.float64)},
        "pos_embed": {"embeddings": np.array(dense.pos_embed, dtype=np.float64)},
    }
    for number, layer in enumerate(dense.layers):
        prefix = f"transformer/layer_{number}"
        heads = _padded_heads(layer, dense, config)
        heads["query"] = heads["query"] * math.sqrt(config.key_size)
        for name in ("query", "key", "value", "linear"):
            params[f"{prefix}/attn/{name}"] = _with_bias(heads[name])
        hidden = config.mlp_hidden_size
        params[f"{prefix}/mlp/linear_1"] = _with_bias(_padded(layer.mlp_in, (layer.mlp_in.shape[0], hidden)))
        params[f"{prefix}/mlp/linear_2"] = _with_bias(_padded(layer.mlp_out, (hidden, layer.mlp_out.shape[1])))
    return params


def layer_modules(params: Params, layer: int) -> dict[str, Mapping[str, np.ndarray]]:
    """Layer ``layer``'s modules of reference-style ``params`` by short name: query, key, value, linear (the
    attention output), linear_1, linear_2 (the MLP); each holds ``w`` and ``b``."""
    prefix = f"transformer/layer_{layer}"
    names = {"query": "attn/query", "key": "attn/key", "value": "attn/value", "linear": "attn/linear",
             "linear_1": "mlp/linear_1", "linear_2": "mlp/linear_2"}
    return {short: params[f"{prefix}/{name}"] for short, name in names.items()}


def _padded_heads(layer: Any, dense: Any, config: TransformerConfig) -> dict[str, np.ndarray]:
    """Each head's columns (rows for the output) widened from dk or dv to ``key_size`` with zeros."""
    width, size = layer.query.shape[0], config.key_size
    heads = {name: np.zeros((width, config.num_heads * size)) for name in ("query", "key", "value")}
    heads["linear"] = np.zeros((config.num_heads * size, width))
    dk, dv = dense.key_size, dense.value_size
    for h in range(dense.num_heads):
        target = slice(h * size, h * size + dk)
        heads["query"][:, target] = layer.query[:, h * dk : (h + 1) * dk]
        heads["key"][:, target] = layer.key[:, h * dk : (h + 1) * dk]
        heads["value"][:, h * size : h * size + dv] = layer.value[:, h * dv : (h + 1) * dv]
        heads["linear"][h * size : h * size + dv, :] = layer.output[h * dv : (h + 1) * dv, :]
    return heads


def _padded(matrix: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    padded = np.zeros(shape)
    padded[: matrix.shape[0], : matrix.shape[1]] = matrix
    return padded


def _with_bias(w: np.ndarray) -> dict[str, np.ndarray]:
    return {"w": w, "b": np.zeros(w.shape[1])}


def _linear(x: np.ndarray, module: Mapping[str, np.ndarray]) -> np.ndarray:
    return x @ module["w"] + module["b"]


def _attention(
    x: np.ndarray, mask: np.ndarray, params: Params, name: str, config: TransformerConfig
) -> tuple[np.ndarray, np.ndarray]:
    batch, length, heads, size = x.shape[0], x.shape[1], config.num_heads, config.key_size
    query, key, value = (
        _linear(x, params[f"{name}/{part}"]).reshape(batch, length, heads, size) for part in ("query", "key", "value")
    )
    logits = np.einsum("bqhd,bkhd->bhqk", query, key) / np.sqrt(size)
    logits = np.where(mask, logits, MASKED_LOGIT)
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    weights = weights / weights.sum(axis=-1, keepdims=True)
    mixed = np.einsum("bhqk,bkhd->bqhd", weights, value).reshape(batch, length, heads * size)
    return _linear(mixed, params[f"{name}/linear"]), logits
