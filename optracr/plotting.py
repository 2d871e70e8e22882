"""Pictures of a compiled model at work (needs matplotlib, the ``bench`` extra)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path

import numpy as np

from optracr import assemble
from optracr.errors import CompileError


def plot_residuals(
    model: assemble.CompiledModel, tokens: Sequence[Hashable], out: str | Path, *, title: str = ""
) -> Path:
    """Draws the residual stream after the embedding and after every sublayer, one labelled panel each."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise CompileError(None, "drawing needs matplotlib: pip install 'optracr[bench]'") from error
    result = model.apply(tokens)
    stages = ["embedding"]
    for layer in range(model.config.num_layers):
        stages += [f"layer {layer} attn", f"layer {layer} mlp"]
    labels = result.residual_labels
    positions = [str(token) for token in tokens]
    vmax = max(1e-9, max(float(np.abs(r).max()) for r in result.residuals))
    figure, axes = plt.subplots(
        1,
        len(stages),
        figsize=(1.0 + 0.35 * len(positions) * len(stages) + 1.5, 1.5 + 0.22 * len(labels)),
        sharey=True,
        squeeze=False,
    )
    for axis, stage, residual in zip(axes[0], stages, result.residuals):
        image = axis.imshow(residual.T, cmap="RdBu", vmin=-vmax, vmax=vmax, aspect="auto")
        axis.set_title(stage, fontsize=9)
        axis.set_xticks(range(len(positions)), positions, fontsize=8)
        axis.set_yticks(range(len(labels)), labels, fontsize=7)
    figure.colorbar(image, ax=axes[0].tolist(), fraction=0.02)
    decoded = " ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in result.decoded[1:])
    figure.suptitle(f"{title}  input: {' '.join(positions[1:])}  output: {decoded}", fontsize=10)
    path = Path(out)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path
