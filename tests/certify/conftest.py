"""Shared set-up for the certificate's tests: compiled library models, and models with one weight perturbed."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

import optracr
from optracr import assemble, craft, programs

MODES = {"default": {}, "reference": {"fold": False, "fuse": False}}


@functools.cache
def compiled(name: str, mode: str = "default", max_seq_len: int | None = None) -> optracr.CompiledModel:
    """A library program compiled once per test session."""
    entry = programs.LIBRARY[name]
    length = entry.max_seq_len if max_seq_len is None else max_seq_len
    return optracr.compile(entry.build(length), entry.vocab, length, **MODES[mode])


def perturbed(model: optracr.CompiledModel, kind: str, layer: int | None, index: int | None,
              factor: float) -> optracr.CompiledModel:
    """``model`` with one weight changed (a copy; the model itself is untouched), keeping its program:

    ``scale_qk`` multiplies head ``index``'s W_QK of ``layer`` by ``factor``; ``drop_unit`` zeroes hidden unit
    ``index`` of the layer's MLP; ``shift_bias`` adds ``factor`` to that unit's bias (its weight on ``one``);
    ``scale_ov`` multiplies the largest entry of the head's W_OV by ``factor``; ``unembed`` the unembedding's
    largest entry.
    """
    layered = model.layered
    layers = list(layered.layers)
    if kind in ("scale_qk", "scale_ov"):
        layer_weights = layers[layer]
        head = layer_weights.heads[index]
        if kind == "scale_qk":
            head = craft.AttentionHead(craft.Bilinear(head.w_qk.left_space, head.w_qk.right_space,
                                                      head.w_qk.matrix * factor), head.w_ov)
        else:
            head = craft.AttentionHead(head.w_qk, craft.Linear(head.w_ov.input_space, head.w_ov.output_space,
                                                               _scaled_largest(head.w_ov.matrix, factor)))
        heads = list(layer_weights.heads)
        heads[index] = head
        layers[layer] = assemble.Layer(tuple(heads), layer_weights.mlp)
    elif kind in ("drop_unit", "shift_bias"):
        mlp = layers[layer].mlp
        first, second = mlp.fst.matrix.copy(), mlp.snd.matrix.copy()
        if kind == "drop_unit":
            first[:, index] = 0.0
            second[index, :] = 0.0
        else:
            first[mlp.fst.input_space.index(craft.BasisDirection("one")), index] += factor
        mlp = craft.MLP(craft.Linear(mlp.fst.input_space, mlp.fst.output_space, first),
                        craft.Linear(mlp.snd.input_space, mlp.snd.output_space, second))
        layers[layer] = assemble.Layer(layers[layer].heads, mlp)
    elif kind == "unembed":
        matrix = _scaled_largest(layered.unembedding.matrix, factor)
        unembedding = craft.Linear(layered.unembedding.input_space, layered.unembedding.output_space, matrix)
        return _rebuilt(model, dataclasses.replace(layered, unembedding=unembedding))
    else:
        raise ValueError(f"unknown perturbation {kind!r}")
    return _rebuilt(model, dataclasses.replace(layered, layers=tuple(layers)))


def _scaled_largest(matrix: np.ndarray, factor: float) -> np.ndarray:
    changed = matrix.copy()
    if not changed.size:
        return changed
    row, column = np.unravel_index(np.argmax(np.abs(changed)), changed.shape)
    changed[row, column] *= factor
    return changed


def _rebuilt(model: optracr.CompiledModel, layered: assemble.LayeredModel) -> optracr.CompiledModel:
    return assemble.CompiledModel(layered, program=model.program, program_graph=model.program_graph)


@pytest.fixture(scope="session")
def perturb():
    """``perturbed``, for tests."""
    return perturbed


@pytest.fixture(scope="session")
def library_model():
    """``compiled``, for tests."""
    return compiled
