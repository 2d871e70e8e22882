"""Scrambled variants: a compiled model's function with its weights in a basis that hides the labels.

Decompiler and meta-model datasets also train on weights whose residual basis is hidden, so that a decompiler
cannot just read one-hot directions. A variant is a backend of the ``LayeredModel``'s dense weights re-based
by a ``Scrambling``:

- the residual stream goes through a D x d map ``R``: the embeddings and every sublayer's write are
  multiplied by ``R`` on the right, every read (queries, keys, values, MLP inputs, the unembedding) by
  ``R.T`` on the left. A random orthogonal ``R`` (d = D) is a rotation and changes nothing (``R R^T = I``);
  the learned ``W`` of section 5 (d < D) is a compression and changes the function a little;
- inside each head, queries take an invertible map ``A`` and keys ``A^-T`` (the logits ``q k^T`` are a
  bilinear form), values take ``B`` and the head's output rows ``B^-1``: exact for any invertible maps;
- each MLP's hidden units are permuted and scaled by positive factors, undone on the way out: exact, because
  ReLU commutes with exactly these (not with rotations).
"""

from __future__ import annotations

import dataclasses
import functools
import types
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from optracr import assemble
from optracr.compress import forward
from optracr.errors import CompileError, OptracrTypeError

# A residual map is a rotation when R^T R is the identity to within this.
ORTHOGONAL_TOLERANCE = 1e-9
KINDS = ("rotation", "compression", "identity")


@dataclasses.dataclass(frozen=True, eq=False)
class Scrambling:
    """How dense weights are re-based: the residual map and, per layer, the head maps and MLP unit shuffles.

    ``residual`` is D x d. Per layer: ``query_key[l]`` is H x dk x dk (head h's queries ``@ A_h``, keys
    ``@ A_h^-T``), ``value_output[l]`` H x dv x dv (values ``@ B_h``, output rows ``B_h^-1 @``),
    ``mlp_permutation[l]`` (M hidden-unit indices: new unit j is old unit ``permutation[j]``) and
    ``mlp_scale[l]`` (M positive factors on the new units' inputs, divided out of their outputs).
    ``provenance`` is JSON-ready: how the scrambling was made (seed, options, training of a learned ``W``).
    """

    kind: str  # "rotation" (orthogonal R), "compression" (a learned W), "identity"
    residual: np.ndarray
    query_key: tuple[np.ndarray, ...]
    value_output: tuple[np.ndarray, ...]
    mlp_permutation: tuple[np.ndarray, ...]
    mlp_scale: tuple[np.ndarray, ...]
    provenance: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise CompileError(None, f"Scrambling: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        residual = _read_only(self.residual, np.float64)
        if residual.ndim != 2 or not 1 <= residual.shape[1] <= residual.shape[0]:
            raise CompileError(None, f"Scrambling: the residual map must be D x d with 1 <= d <= D, got {residual.shape}")
        object.__setattr__(self, "residual", residual)
        for name, dtype in (("query_key", np.float64), ("value_output", np.float64),
                            ("mlp_permutation", np.int64), ("mlp_scale", np.float64)):
            object.__setattr__(self, name, tuple(_read_only(array, dtype) for array in getattr(self, name)))
        object.__setattr__(self, "provenance", types.MappingProxyType(dict(self.provenance)))
        self._check_layers()

    def _check_layers(self) -> None:
        lengths = {len(self.query_key), len(self.value_output), len(self.mlp_permutation), len(self.mlp_scale)}
        if len(lengths) != 1:
            raise CompileError(None, f"Scrambling: every per-layer part needs one entry per layer, got {lengths}")
        for number, (qk, ov, permutation, scale) in enumerate(self.layer_parts()):
            for name, maps in (("query_key", qk), ("value_output", ov)):
                if maps.ndim != 3 or maps.shape[1] != maps.shape[2]:
                    raise CompileError(None, f"Scrambling: layer {number} {name} must be H x k x k, got {maps.shape}")
                if maps.size and np.min(np.abs(np.linalg.det(maps))) < 1e-12:
                    raise CompileError(None, f"Scrambling: layer {number} {name} has a singular head map")
            if sorted(permutation.tolist()) != list(range(len(permutation))) or scale.shape != permutation.shape:
                raise CompileError(None, f"Scrambling: layer {number} needs a permutation of its MLP units and one "
                                         "scale per unit")
            if not np.all(scale > 0):
                raise CompileError(None, f"Scrambling: layer {number} MLP scales must be positive (ReLU commutes "
                                         "only with positive scaling)")

    def layer_parts(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Per layer: (query_key, value_output, mlp_permutation, mlp_scale)."""
        return list(zip(self.query_key, self.value_output, self.mlp_permutation, self.mlp_scale))

    @property
    def d(self) -> int:
        """The width of the scrambled residual stream."""
        return int(self.residual.shape[1])

    @property
    def exact(self) -> bool:
        """Whether the variant computes exactly the original function: the residual map is orthogonal."""
        square = self.residual.shape[0] == self.residual.shape[1]
        gram = self.residual.T @ self.residual
        return square and bool(np.max(np.abs(gram - np.eye(self.d))) <= ORTHOGONAL_TOLERANCE)


def _read_only(array: Any, dtype: type) -> np.ndarray:
    copy = np.array(array, dtype=dtype)
    copy.setflags(write=False)
    return copy


# ------------------------------------------------------------------------------------------ drawing
def random_orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    """A Haar-random n x n orthogonal matrix: the QR of a Gaussian, signs fixed by R's diagonal."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.where(np.diagonal(r) < 0, -1.0, 1.0)[None, :]


def random_invertible(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    """A rotation times positive factors log-uniform in [1/scale, scale] (condition number <= scale^2)."""
    return random_orthogonal(rng, n) * np.exp(rng.uniform(-np.log(scale), np.log(scale), n))[None, :]


def random_scrambling(
    dense: assemble.DenseWeights,
    seed: int,
    *,
    residual: bool = True,
    heads: bool = True,
    mlp: bool = True,
    scale: float = 2.0,
    residual_map: np.ndarray | None = None,
) -> Scrambling:
    """A scrambling of ``dense`` drawn from ``seed``; each part switched off is the identity.

    ``residual_map`` (D x d, e.g. a learned ``W``) replaces the random rotation of the residual stream.
    """
    if not scale >= 1.0:
        raise CompileError(None, f"scramble: scale must be at least 1 (1 means pure rotations), got {scale!r}")
    rng = np.random.default_rng(seed)
    width = dense.token_embed.shape[1]
    if residual_map is not None:
        rotation, kind = np.asarray(residual_map, dtype=np.float64), "compression"
    else:
        rotation, kind = (random_orthogonal(rng, width), "rotation") if residual else (np.eye(width), "identity")
    head_map = functools.partial(random_invertible, rng, scale=scale)

    def heads_of(size: int) -> np.ndarray:
        maps = [head_map(size) if heads else np.eye(size) for _ in range(dense.num_heads)]
        return np.array(maps, dtype=np.float64).reshape(dense.num_heads, size, size)

    units = dense.mlp_hidden_width
    layers = [
        (
            heads_of(dense.key_size),
            heads_of(dense.value_size),
            rng.permutation(units) if mlp else np.arange(units),
            np.exp(rng.uniform(-np.log(scale), np.log(scale), units)) if mlp else np.ones(units),
        )
        for _ in dense.layers
    ]
    return Scrambling(
        kind=kind,
        residual=rotation,
        query_key=tuple(layer[0] for layer in layers),
        value_output=tuple(layer[1] for layer in layers),
        mlp_permutation=tuple(layer[2] for layer in layers),
        mlp_scale=tuple(layer[3] for layer in layers),
        provenance={"seed": seed, "residual": residual_map is None and residual, "heads": heads, "mlp": mlp,
                    "scale": scale},
    )


# ------------------------------------------------------------------------------------------ applying
def scrambled_dense(dense: assemble.DenseWeights, scrambling: Scrambling) -> assemble.DenseWeights:
    """``dense`` re-based by ``scrambling``: residual width d, same heads, key/value sizes and MLP width."""
    _check_fits(dense, scrambling)
    write = scrambling.residual
    read = write.T
    layers = []
    for layer, (qk, ov, permutation, scale) in zip(dense.layers, scrambling.layer_parts()):
        query_map, value_map = _block_diagonal(qk), _block_diagonal(ov)
        layers.append(assemble.DenseLayer(
            query=read @ layer.query @ query_map,
            key=read @ layer.key @ np.linalg.inv(query_map).T,
            value=read @ layer.value @ value_map,
            output=np.linalg.inv(value_map) @ layer.output @ write,
            mlp_in=(read @ layer.mlp_in)[:, permutation] * scale[None, :],
            mlp_out=(layer.mlp_out[permutation, :] / scale[:, None]) @ write,
        ))
    return assemble.DenseWeights(
        token_embed=dense.token_embed @ write,
        pos_embed=dense.pos_embed @ write,
        layers=tuple(layers),
        unembed=read @ dense.unembed,
        num_heads=dense.num_heads,
        key_size=dense.key_size,
        value_size=dense.value_size,
        mlp_hidden_width=dense.mlp_hidden_width,
    )


def _block_diagonal(maps: np.ndarray) -> np.ndarray:
    """H x k x k maps as one (H k) x (H k) block-diagonal matrix (head h owns block h)."""
    size = maps.shape[0] * maps.shape[1]
    return scipy.linalg.block_diag(*maps) if size else np.zeros((0, 0))


def _check_fits(dense: assemble.DenseWeights, scrambling: Scrambling) -> None:
    width = dense.token_embed.shape[1]
    expected = (width, dense.num_heads, dense.key_size, dense.value_size, dense.mlp_hidden_width, len(dense.layers))
    first = scrambling.layer_parts()[0] if scrambling.query_key else None
    got = (
        scrambling.residual.shape[0],
        *((first[0].shape[0], first[0].shape[1], first[1].shape[1], len(first[2])) if first else expected[1:5]),
        len(scrambling.query_key),
    )
    same_shapes = all(
        parts[0].shape == scrambling.query_key[0].shape and parts[1].shape == scrambling.value_output[0].shape
        and len(parts[2]) == len(scrambling.mlp_permutation[0]) for parts in scrambling.layer_parts()
    )
    if got != expected or not same_shapes:
        raise CompileError(
            None,
            "scramble: the scrambling does not fit the model: (D, heads, key size, value size, MLP width, layers) "
            f"is {expected} for the model, {got} for the scrambling; draw it with random_scrambling(model's dense)",
        )


# ------------------------------------------------------------------------------------------ the variant
@dataclasses.dataclass(frozen=True, eq=False)
class ScrambledModel:
    """A compiled model's function in a scrambled basis: ``weights`` are its dense weights re-based.

    ``model`` is the original (its labels and ``ground_truth()`` are what a decompiler should recover) and
    ``scrambling`` the map applied. The residual stream has ``d`` unlabelled directions; a rotation's
    variant computes exactly the original's outputs, a compression's approximately (``check`` measures it).
    """

    model: assemble.CompiledModel
    scrambling: Scrambling

    def __post_init__(self) -> None:
        if not isinstance(self.model, assemble.CompiledModel):
            raise OptracrTypeError(
                None, f"a ScrambledModel wraps an assemble.CompiledModel, got {type(self.model).__name__}"
            )
        _check_fits(self.model.layered.dense(), self.scrambling)

    @functools.cached_property
    def weights(self) -> assemble.DenseWeights:
        """The scrambled dense weights (residual width d), read-only float64 arrays."""
        return scrambled_dense(self.model.layered.dense(), self.scrambling)

    @property
    def d(self) -> int:
        """The width of the scrambled residual stream."""
        return self.scrambling.d

    @property
    def exact(self) -> bool:
        """Whether the variant computes exactly the original's function (an orthogonal residual map)."""
        return self.scrambling.exact

    @property
    def residual_labels(self) -> tuple[str, ...]:
        """Names of the scrambled directions (``scrambled:0`` ...): they mean nothing on their own."""
        return tuple(f"scrambled:{i}" for i in range(self.d))

    def run(self, token_ids: np.ndarray) -> forward.CompressedTrace:
        """The forward pass in float64 on a B x T array of token ids (residuals are d-dimensional)."""
        with jax.enable_x64(True):
            return self._forward(self._frozen, jnp.eye(self.d, dtype=jnp.float64), jnp.asarray(token_ids))

    def apply(self, tokens: Sequence[Hashable]) -> assemble.ApplyResult:
        """Runs on ``["BOS", *tokens]``; residuals and sublayer outputs are in the scrambled basis."""
        token_ids = self.model.encode(tokens)
        trace = self.run(token_ids[None, :])
        output = np.asarray(trace.output[0])
        padded = token_ids == self.model.input_tokens.index(self.model.pad)
        decoded = [None if pad else value for pad, value in zip(padded[1:], self.model.decode(output[1:]))]
        return assemble.ApplyResult(
            decoded=[self.model.bos, *decoded],
            output=output,
            residuals=tuple(np.asarray(r[0]) for r in trace.residuals),
            sublayer_outputs=tuple(np.asarray(o[0]) for o in trace.sublayer_outputs),
            attention=tuple(np.asarray(a[0]) for a in trace.attention),
            residual_labels=self.residual_labels,
        )

    def apply_batch(self, batch: Sequence[Sequence[Hashable]]) -> list[list[Any]]:
        """Decoded outputs (without BOS) for many inputs at once, padded with PAD to one length."""
        return assemble.decode_batch(self.model.layered, batch, lambda token_ids: self.run(token_ids).output)

    @functools.cached_property
    def _frozen(self) -> forward.FrozenWeights:
        with jax.enable_x64(True):
            return forward.frozen_from_dense(self.weights, jnp.float64)

    @functools.cached_property
    def _forward(self) -> Any:
        pad_id = self.model.input_tokens.index(self.model.pad)
        return jax.jit(functools.partial(forward.compressed_forward, pad_id=pad_id, causal=self.model.config.causal))


def scramble(
    model: assemble.CompiledModel,
    *,
    seed: int,
    residual: bool = True,
    heads: bool = True,
    mlp: bool = True,
    scale: float = 2.0,
) -> ScrambledModel:
    """The same function in a scrambled basis: a seeded rotation of the residual, head maps, MLP unit shuffles.

    Each head's queries/keys and values/outputs take a random rotation times positive factors in
    [1/scale, scale] (``scale=1``: pure rotations); each MLP's hidden units a permutation and positive factors
    in the same range. Switch a part off with ``residual=False``, ``heads=False`` or ``mlp=False``.

    >>> import optracr
    >>> from optracr import rasp
    >>> model = optracr.compile(rasp.Map(lambda t: t == "x", rasp.tokens), {"a", "x"}, 3)
    >>> variant = scramble(model, seed=0)
    >>> variant.apply(["BOS", "x", "a"]).decoded, variant.exact
    (['BOS', True, False], True)
    >>> from optracr.compress import check_variant
    >>> print(check_variant(variant))  # doctest: +ELLIPSIS
    EXACT on 14 inputs (every input, 34 positions): decoded outputs agree at 100.00%, max |output difference| ...
    """
    scrambling = random_scrambling(model.layered.dense(), seed, residual=residual, heads=heads, mlp=mlp, scale=scale)
    return ScrambledModel(model, scrambling)


def compressed_variant(compressed: Any, *, seed: int | None = None, scale: float = 2.0) -> ScrambledModel:
    """A ``CompressedModel`` as a variant: its learned ``W`` (D x d) is the residual map.

    With a ``seed``, each head's maps and each MLP's hidden units are scrambled as well (exactly, on top of
    the compression).
    """
    dense = compressed.model.layered.dense()
    scrambling = random_scrambling(
        dense, 0 if seed is None else seed, heads=seed is not None, mlp=seed is not None, scale=scale,
        residual_map=compressed.W,
    )
    history = compressed.history
    provenance = {
        **scrambling.provenance,
        "seed": seed,
        "compression_seed": compressed.seed,
        "steps": history.steps[-1] if history.steps else 0,
        "final_loss": history.loss[-1] if history.loss else None,
        "options": dataclasses.asdict(compressed.options) if compressed.options is not None else None,
    }
    return ScrambledModel(compressed.model, dataclasses.replace(scrambling, provenance=provenance))
