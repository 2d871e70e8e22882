"""compress: learn one matrix ``W`` (D x d) through which every layer reads and writes a d-dim residual.

Section 5 of the Tracr paper: the compiled layers stay frozen; the embedding is written through ``W``, every
sublayer reads ``h @ W.T`` and writes ``out @ W``, the unembedding reads ``h @ W.T``; only ``W`` is trained,
to match the compiled model's output and every sublayer's output. ``compress_grid`` trains many seeds and
widths together, optionally with warm starts across widths (``continuation``) so the loss never rises with d.
``analysis`` compares ``W W^T`` with PCA and measures how faithfully each sublayer is kept.

``scramble`` makes variants computing the same function in a basis that hides the labels (a seeded rotation of
the residual stream, maps inside each head, shuffled and scaled MLP units; or a learned ``W`` as the residual
map, ``compressed_variant``): a ``ScrambledModel`` re-bases the ``LayeredModel``'s dense weights, and
``check_variant`` compares it with the original on every input. ``save_variant`` / ``load_variant`` write it
beside its original in optracr's save format.
"""

import sys
import types
from typing import Any

from optracr.compress.analysis import (
    LayerOutputProfile,
    layer_output_profile,
    pca_projection,
    plot_cosine_similarity,
    plot_gram,
    plot_grams,
    plot_layer_outputs,
    plot_pca,
    plot_wtw,
    projection_gram,
    residual_activations,
)
from optracr.compress.checking import VariantCheck, check_variant
from optracr.compress.compressor import compress, compress_grid
from optracr.compress.continuation import MODES as CONTINUATION_MODES
from optracr.compress.continuation import ContinuationOptions
from optracr.compress.files import load_variant, save_variant
from optracr.compress.model import CompressedModel, CompressionMetrics, PairedRun
from optracr.compress.variants import ScrambledModel, Scrambling, compressed_variant, random_scrambling, scramble
from optracr.compress.train import TrainingHistory, TrainOptions

__all__ = [
    "CONTINUATION_MODES",
    "CompressedModel",
    "CompressionMetrics",
    "ContinuationOptions",
    "LayerOutputProfile",
    "PairedRun",
    "ScrambledModel",
    "Scrambling",
    "TrainOptions",
    "TrainingHistory",
    "VariantCheck",
    "check_variant",
    "compress",
    "compress_grid",
    "compressed_variant",
    "layer_output_profile",
    "load_variant",
    "pca_projection",
    "plot_cosine_similarity",
    "plot_gram",
    "plot_grams",
    "plot_layer_outputs",
    "plot_pca",
    "plot_wtw",
    "projection_gram",
    "random_scrambling",
    "residual_activations",
    "save_variant",
    "scramble",
]


class _CallableModule(types.ModuleType):
    """Lets ``optracr.compress(model, d, ...)`` call ``compress`` although the sub-package shares its name."""

    def __call__(self, *args: Any, **kwargs: Any) -> CompressedModel:
        return compress(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
