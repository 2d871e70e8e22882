"""What a compression learned: ``W W^T`` against a PCA baseline, and per-sublayer fidelity (figures 8 and 9)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from optracr import assemble
from optracr.compress import forward, inputs
from optracr.compress import model as model_lib
from optracr.errors import CompileError

PCA_BATCH = 512


def residual_activations(
    model: assemble.CompiledModel, *, num_inputs: int = 1024, seed: int = 0, distinct_tokens: bool = False
) -> np.ndarray:
    """N x D: the compiled model's residual after the embedding and after every sublayer, non-PAD positions."""
    ids = inputs.TokenIds.of(model)
    token_ids = inputs.held_out_batch(seed, ids, num_inputs, distinct=distinct_tokens)
    with jax.enable_x64(False):
        params = forward.float32_params(model)
        run = jax.jit(forward.reference_forward(model))
        rows = []
        for start in range(0, num_inputs, PCA_BATCH):
            batch = token_ids[start : start + PCA_BATCH]
            trace = run(params, jnp.asarray(batch))
            keep = batch != ids.pad_id
            rows.extend(np.asarray(residual)[keep] for residual in trace.residuals)
    return np.concatenate(rows, axis=0)


def pca_projection(
    model: assemble.CompiledModel,
    d: int,
    *,
    num_inputs: int = 1024,
    seed: int = 0,
    center: bool = True,
    distinct_tokens: bool = False,
) -> np.ndarray:
    """D x d: the first ``d`` principal directions of the compiled model's residual activations (numpy SVD)."""
    width = model.config.d_model
    if not 1 <= d <= width:
        raise CompileError(None, f"pca_projection: d must be from 1 to the residual width D = {width}, got {d!r}")
    activations = residual_activations(model, num_inputs=num_inputs, seed=seed, distinct_tokens=distinct_tokens)
    activations = activations.astype(np.float64)
    if center:
        activations = activations - activations.mean(axis=0, keepdims=True)
    _, _, right = np.linalg.svd(activations, full_matrices=False)
    return right[:d].T


def projection_gram(projection: np.ndarray) -> np.ndarray:
    """``P P^T`` (D x D) of a D x d projection: how each residual direction is read back after compression."""
    return projection @ projection.T


@dataclasses.dataclass(frozen=True, eq=False)
class LayerOutputProfile:
    """Per sublayer and residual direction: mean |output| of both models and the mean squared error."""

    compiled: np.ndarray  # sublayers x D
    compressed: np.ndarray  # sublayers x D
    squared_error: np.ndarray  # sublayers x D
    sublayer_names: tuple[str, ...]
    residual_labels: tuple[str, ...]


def layer_output_profile(
    compressed: model_lib.CompressedModel, *, num_inputs: int = 1024, seed: int = 1
) -> LayerOutputProfile:
    """Averages over non-PAD positions of held-out inputs (figure 9's left panel)."""
    run = compressed.paired_run(num_inputs=num_inputs, seed=seed)
    keep = run.non_pad
    return LayerOutputProfile(
        compiled=np.stack([np.abs(o[keep]).mean(axis=0) for o in run.reference_sublayer_outputs]),
        compressed=np.stack([np.abs(o[keep]).mean(axis=0) for o in run.sublayer_outputs]),
        squared_error=np.stack(
            [((ours - theirs) ** 2)[keep].mean(axis=0) for ours, theirs in model_lib.sublayer_pairs(run)]
        ),
        sublayer_names=model_lib.sublayer_names(compressed.model.config.num_layers),
        residual_labels=compressed.model.residual_labels,
    )


# ---------------------------------------------------------------------------------------------- plots
def plot_wtw(compressed: model_lib.CompressedModel, path: str | Path, *, title: str | None = None) -> Path:
    """Draws ``W W^T`` (the paper's ``W^T W``) as a D x D heatmap labelled with the residual directions."""
    title = title or f"{compressed.model.output_label}: W^T W, d = {compressed.d}"
    return plot_gram(compressed.wtw, compressed.model.residual_labels, path, title=title)


def plot_pca(model: assemble.CompiledModel, d: int, path: str | Path, *, seed: int = 0) -> Path:
    """Draws ``P P^T`` of the ``d``-component PCA of the compiled model's residual activations."""
    gram = projection_gram(pca_projection(model, d, seed=seed))
    return plot_gram(gram, model.residual_labels, path, title=f"{model.output_label}: PCA P P^T, d = {d}")


def plot_gram(gram: np.ndarray, labels: Sequence[str], path: str | Path, *, title: str = "") -> Path:
    """A symmetric D x D matrix as a heatmap, rows and columns labelled by residual directions."""
    plt = _pyplot()
    size = 2.5 + 0.28 * len(labels)
    figure, axis = plt.subplots(figsize=(size + 1.0, size))
    _gram_panel(axis, gram, labels, title, figure)
    return _save(figure, path)


def plot_grams(
    grams: Sequence[np.ndarray], titles: Sequence[str], labels: Sequence[str], path: str | Path
) -> Path:
    """Several D x D matrices side by side (e.g. ``W W^T`` against PCA, figure 8)."""
    plt = _pyplot()
    size = 2.5 + 0.28 * len(labels)
    figure, axes = plt.subplots(1, len(grams), figsize=(len(grams) * (size + 1.0), size), squeeze=False)
    for axis, gram, title in zip(axes[0], grams, titles):
        _gram_panel(axis, gram, labels, title, figure)
    return _save(figure, path)


def plot_cosine_similarity(
    metrics: Sequence[model_lib.CompressionMetrics], path: str | Path, *, labels: Sequence[str] = (), title: str = ""
) -> Path:
    """Per-sublayer cosine similarity between compressed and compiled outputs, one line per run."""
    plt = _pyplot()
    names = metrics[0].sublayer_names
    figure, axis = plt.subplots(figsize=(1.5 + 0.8 * len(names), 3.5))
    for number, run in enumerate(metrics):
        label = labels[number] if number < len(labels) else None
        axis.plot(range(len(names)), run.cosine_similarity, marker="o", label=label)
    axis.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    axis.set_ylim(min(0.0, *_finite(m.cosine_similarity for m in metrics)) - 0.05, 1.05)
    axis.axhline(1.0, color="grey", linewidth=0.5)
    axis.set_ylabel("cosine similarity")
    axis.set_title(title or "compressed vs compiled sublayer outputs", fontsize=10)
    if any(labels):
        axis.legend(fontsize=7)
    return _save(figure, path)


def plot_layer_outputs(profile: LayerOutputProfile, path: str | Path, *, title: str = "") -> Path:
    """Three heatmaps (sublayer x residual direction): compiled, compressed, squared error (figure 9, left)."""
    plt = _pyplot()
    labels = profile.residual_labels
    figure, axes = plt.subplots(1, 3, figsize=(3 * (1.5 + 0.5 * len(profile.sublayer_names)), 2 + 0.2 * len(labels)))
    panels = (("compiled |output|", profile.compiled), ("compressed |output|", profile.compressed),
              ("squared error", profile.squared_error))
    for axis, (name, values) in zip(axes, panels):
        image = axis.imshow(values.T, cmap="viridis", aspect="auto")
        axis.set_title(name, fontsize=9)
        axis.set_xticks(range(len(profile.sublayer_names)), profile.sublayer_names, rotation=60, ha="right", fontsize=7)
        axis.set_yticks(range(len(labels)), labels, fontsize=6)
        figure.colorbar(image, ax=axis, fraction=0.05)
    if title:
        figure.suptitle(title, fontsize=10)
    return _save(figure, path)


def _gram_panel(axis: Any, gram: np.ndarray, labels: Sequence[str], title: str, figure: Any) -> None:
    limit = max(1e-9, float(np.abs(gram).max()))
    image = axis.imshow(gram, cmap="RdBu_r", vmin=-limit, vmax=limit)
    axis.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    axis.set_yticks(range(len(labels)), labels, fontsize=7)
    axis.set_title(title, fontsize=10)
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)


def _finite(values: Any) -> list[float]:
    return [v for run in values for v in run if math.isfinite(v)] or [0.0]


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise CompileError(None, "plotting needs matplotlib: pip install 'optracr[bench]'") from error
    return plt


def _save(figure: Any, path: str | Path) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return path
