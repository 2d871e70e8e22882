"""``to_torch``: a compiled model as a plain ``torch.nn.Module``, needing only torch (the ``torch`` extra).

The forward is optracr's (``assemble.run_forward``, the definition) in torch on padded arrays: token plus position
embedding, then per layer unscaled multi-head attention (``craft.attention_mask``: PAD keys masked, later keys too
when causal) and a ReLU MLP, each added to the residual, then the unembedding. Weights are held under TransformerLens's names and layouts
(``embed.W_E``, ``pos_embed.W_pos``, ``blocks.{i}.attn.W_Q`` heads x d_model x d_head, ``W_K``, ``W_V``,
``W_O`` heads x d_head x d_model, ``blocks.{i}.mlp.W_in``, ``W_out``, ``unembed.W_U``; no biases, no layer
norm), and identity ``HookPoint`` modules sit where TransformerLens names its activations: ``hook_embed``,
``hook_pos_embed``, ``blocks.{i}.hook_resid_pre``, ``blocks.{i}.attn.hook_pattern``, ``blocks.{i}.hook_attn_out``,
``blocks.{i}.hook_resid_mid``, ``blocks.{i}.mlp.hook_post``, ``blocks.{i}.hook_mlp_out``,
``blocks.{i}.hook_resid_post``. A forward hook on one of them reads what passes, or replaces it by returning
a tensor. Nothing here imports TransformerLens; ``import optracr`` does not import this module.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from optracr import assemble
from optracr import craft
from optracr.errors import CompileError, InputError
from optracr.export import source

DTYPES = (torch.float64, torch.float32)


class HookPoint(nn.Identity):
    """An identity module at a named point of the forward: its forward hooks read (or replace) what passes."""


class Embed(nn.Module):
    """Token embedding ``W_E`` (d_vocab x d_model), one row per input token (``input_tokens`` order)."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.W_E = nn.Parameter(weight)

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        return self.W_E[token_ids]


class PosEmbed(nn.Module):
    """Position embedding ``W_pos`` ((max_seq_len + 1) x d_model); position 0 holds BOS."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.W_pos = nn.Parameter(weight)

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        return self.W_pos[: token_ids.shape[1]].expand(token_ids.shape[0], -1, -1)


class Attention(nn.Module):
    """Multi-head attention without the 1/sqrt(d_head) scale (it is in optracr's query weights)."""

    def __init__(self, layer: assemble.DenseLayer, dense: assemble.DenseWeights,
                 tensor: Callable[[np.ndarray], torch.Tensor]) -> None:
        super().__init__()
        width, heads = layer.query.shape[0], dense.num_heads

        def per_head(matrix: np.ndarray, size: int) -> nn.Parameter:  # D x H*size -> H x D x size
            return nn.Parameter(tensor(matrix.reshape(width, heads, size).transpose(1, 0, 2)))

        self.W_Q, self.W_K = per_head(layer.query, dense.key_size), per_head(layer.key, dense.key_size)
        self.W_V = per_head(layer.value, dense.value_size)
        self.W_O = nn.Parameter(tensor(layer.output.reshape(heads, dense.value_size, width)))  # H x d_head x D
        self.hook_pattern = HookPoint()

    def forward(self, residual: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        query = torch.einsum("btd,hde->bhte", residual, self.W_Q)
        key = torch.einsum("btd,hde->bhte", residual, self.W_K)
        value = torch.einsum("btd,hde->bhte", residual, self.W_V)
        logits = (query @ key.transpose(-1, -2)).masked_fill(~mask, -torch.inf)  # every query may attend BOS
        pattern = self.hook_pattern(torch.softmax(logits, dim=-1))
        return torch.einsum("bhte,hed->btd", pattern @ value, self.W_O)


class MLP(nn.Module):
    """ReLU MLP: ``W_in`` (d_model x d_mlp), then ``W_out`` (d_mlp x d_model); ``hook_post`` after the ReLU."""

    def __init__(self, layer: assemble.DenseLayer, tensor: Callable[[np.ndarray], torch.Tensor]) -> None:
        super().__init__()
        self.W_in, self.W_out = nn.Parameter(tensor(layer.mlp_in)), nn.Parameter(tensor(layer.mlp_out))
        self.hook_post = HookPoint()

    def forward(self, residual: torch.Tensor) -> torch.Tensor:
        return self.hook_post(torch.relu(residual @ self.W_in)) @ self.W_out


class Block(nn.Module):
    """One layer: attention then MLP, each added to the residual stream."""

    def __init__(self, layer: assemble.DenseLayer, dense: assemble.DenseWeights,
                 tensor: Callable[[np.ndarray], torch.Tensor]) -> None:
        super().__init__()
        self.hook_resid_pre, self.hook_resid_mid, self.hook_resid_post = HookPoint(), HookPoint(), HookPoint()
        self.attn = Attention(layer, dense, tensor)
        self.hook_attn_out = HookPoint()
        self.mlp = MLP(layer, tensor)
        self.hook_mlp_out = HookPoint()

    def forward(self, residual: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        residual = self.hook_resid_pre(residual)
        residual = self.hook_resid_mid(residual + self.hook_attn_out(self.attn(residual, mask)))
        return self.hook_resid_post(residual + self.hook_mlp_out(self.mlp(residual)))


class Unembed(nn.Module):
    """``W_U`` (d_model x outputs): one column per output class, or the one column of a numerical output."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.W_U = nn.Parameter(weight)

    def forward(self, residual: torch.Tensor) -> torch.Tensor:
        return residual @ self.W_U


class TorchModel(nn.Module):
    """An optracr model in torch: ``model(token_ids)`` (B x T ids, each row BOS first) gives B x T x outputs.

    ``encode(inputs)`` turns ``[BOS, *tokens]`` lists into ids padded with PAD, ``apply_batch(inputs)`` decodes
    as ``CompiledModel.apply_batch`` does, ``run_with_cache(token_ids)`` returns the activations at every hook
    point. ``layered`` is the optracr model it was built from; ``residual_labels`` names the residual directions.
    """

    def __init__(self, layered: assemble.LayeredModel, dtype: torch.dtype) -> None:
        super().__init__()
        dense = layered.dense()

        def tensor(array: np.ndarray) -> torch.Tensor:
            return torch.tensor(np.ascontiguousarray(array), dtype=dtype)

        self.layered = layered
        self.residual_labels = tuple(layered.residual_labels)
        self.pad_id = layered.input_tokens.index(layered.pad)
        self.causal = layered.causal
        self.embed, self.hook_embed = Embed(tensor(dense.token_embed)), HookPoint()
        self.pos_embed, self.hook_pos_embed = PosEmbed(tensor(dense.pos_embed)), HookPoint()
        self.blocks = nn.ModuleList(Block(layer, dense, tensor) for layer in dense.layers)
        self.unembed = Unembed(tensor(dense.unembed))

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        """The unembedded output, B x T x outputs (a 1-D input is one row); PAD keys are masked."""
        token_ids = self._checked(token_ids)
        mask = torch.tensor(craft.attention_mask(token_ids.cpu().numpy() == self.pad_id, self.causal)[:, None],
                               device=token_ids.device)  # the one mask, B x 1 x T x T
        residual = self.hook_embed(self.embed(token_ids)) + self.hook_pos_embed(self.pos_embed(token_ids))
        for block in self.blocks:
            residual = block(residual, mask)
        return self.unembed(residual)

    def hook_points(self) -> dict[str, HookPoint]:
        """Every hook point by its TransformerLens name (``blocks.0.hook_resid_pre`` ...)."""
        return {name: module for name, module in self.named_modules() if isinstance(module, HookPoint)}

    def run_with_cache(
        self, token_ids: torch.Tensor, names: Iterable[str] | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The output, and what passed every hook point (or those in ``names``), detached, by name."""
        points = self.hook_points()
        wanted = list(points) if names is None else list(names)
        unknown = [name for name in wanted if name not in points]
        if unknown:
            raise CompileError(None, f"no hook point {unknown[0]!r}; hook points are {', '.join(points)}")
        cache: dict[str, torch.Tensor] = {}

        def keeper(name: str) -> Callable[..., None]:
            return lambda module, inputs, output: cache.__setitem__(name, output.detach())

        handles = [points[name].register_forward_hook(keeper(name)) for name in wanted]
        try:
            output = self(token_ids)
        finally:
            for handle in handles:
                handle.remove()
        return output, cache

    def encode(self, inputs: Sequence[Sequence[Hashable]]) -> torch.Tensor:
        """Token ids (B x T) of ``[BOS, *tokens]`` inputs, padded with PAD to the longest; refuses bad tokens."""
        token_ids, _ = self.layered.batch_token_ids(inputs)
        return torch.as_tensor(token_ids, dtype=torch.long, device=self.embed.W_E.device)

    def apply_batch(self, inputs: Sequence[Sequence[Hashable]]) -> list[list[Any]]:
        """Decoded outputs (without BOS) of ``[BOS, *tokens]`` inputs, as ``CompiledModel.apply_batch`` gives."""
        def run(token_ids: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                ids = torch.as_tensor(token_ids, dtype=torch.long, device=self.embed.W_E.device)
                return self(ids).double().cpu().numpy()

        return assemble.decode_batch(self.layered, inputs, run)

    def _checked(self, token_ids: torch.Tensor) -> torch.Tensor:
        token_ids = torch.as_tensor(token_ids)
        if token_ids.ndim == 1:
            token_ids = token_ids[None]
        if token_ids.ndim != 2 or token_ids.dtype in (torch.bool, torch.float16, torch.float32, torch.float64):
            raise InputError(f"token_ids must be integer ids, B x T or T, got {tuple(token_ids.shape)} of "
                             f"{token_ids.dtype} (encode turns token lists into ids)")
        limit = self.pos_embed.W_pos.shape[0]
        if token_ids.shape[1] > limit:
            raise InputError(f"token_ids have {token_ids.shape[1]} positions, but this model takes at most {limit} "
                             f"(BOS and max_seq_len = {limit - 1} tokens)")
        vocabulary = self.embed.W_E.shape[0]
        if token_ids.numel() and (int(token_ids.min()) < 0 or int(token_ids.max()) >= vocabulary):
            raise InputError(f"token ids must lie in 0..{vocabulary - 1} (the input tokens {self.layered.input_tokens}"
                             f"), got {int(token_ids.min())}..{int(token_ids.max())}")
        return token_ids


def to_torch(model: Any, *, dtype: torch.dtype = torch.float64) -> TorchModel:
    """``model`` (a ``CompiledModel`` or ``LayeredModel``) as a ``torch.nn.Module`` computing the same forward.

    ``dtype`` is ``torch.float64`` (exact: equal to ``apply`` to float rounding) or ``torch.float32``.
    """
    if dtype not in DTYPES:
        raise CompileError(None, f"to_torch: dtype must be torch.float64 or torch.float32, got {dtype!r}")
    return TorchModel(source.as_layered(model), dtype)
