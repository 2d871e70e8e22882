"""Compressing ``sort_unique`` (the paper's figure 9): accuracy, and per-sublayer fidelity to the compiled model.

Run: ``python benchmarks/compress_sort_unique.py`` (``--steps``, ``--seeds``, ``--dims 8,12``). Inputs have
distinct tokens, the program's domain (``--repeats`` allows repeated tokens). Writes under
``benchmarks/results/``: ``compress_sort_unique_fig9.png`` (left: mean |output| per sublayer and residual
direction for the compiled and the compressed model and their squared error, at the first width and seed;
right: accuracy and per-sublayer cosine similarity against d) and ``compress_sort_unique.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

import optracr
from optracr import programs
from optracr.compress import LayerOutputProfile, compress_grid, layer_output_profile

RESULTS = Path(__file__).resolve().parent / "results"


def _mean_ignoring_nan(rows: list[list[float]]) -> list[float]:
    """Column means over the finite entries (nan where a column has none, e.g. a sublayer that writes nothing)."""
    columns = np.array(rows, dtype=float).T
    return [float(column[np.isfinite(column)].mean()) if np.isfinite(column).any() else np.nan for column in columns]


def plot_figure_9(grid, profile: LayerOutputProfile, rows: list[dict], dims, path: Path) -> None:
    """Figure 9: the layer-output heatmaps, then accuracy and cosine similarity against d."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, names = profile.residual_labels, profile.sublayer_names
    figure, axes = plt.subplots(1, 5, figsize=(17, 6), gridspec_kw={"width_ratios": [0.8, 0.8, 0.8, 1.3, 1.3]})
    for axis, (title, values) in zip(axes[:3], (("compiled |output|", profile.compiled),
                                                ("compressed |output|", profile.compressed),
                                                ("squared error", profile.squared_error))):
        image = axis.imshow(values.T, cmap="viridis", aspect="auto")
        axis.set_title(f"{title}, d = {dims[0]}", fontsize=9)
        axis.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
        axis.set_yticks(range(len(labels)), labels, fontsize=6)
        figure.colorbar(image, ax=axis, fraction=0.05)
    accuracy, cosine = axes[3], axes[4]
    for d in dims:
        runs = [row for row in rows if row["d"] == d]
        accuracy.scatter([d] * len(runs), [row["accuracy"] for row in runs], color="grey", s=10)
        cosine.plot(range(len(names)), _mean_ignoring_nan([row["cosine_similarity"] for row in runs]), marker="o",
                    label=f"d = {d}")
    mean_accuracy = [np.mean([row["accuracy"] for row in rows if row["d"] == d]) for d in sorted(dims)]
    accuracy.plot(sorted(dims), mean_accuracy, marker="o", color="black")
    accuracy.set(xlabel="d", ylabel="accuracy", title="accuracy against the compiled model", ylim=(0, 1.05))
    accuracy.set_xticks(sorted(dims))
    cosine.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    cosine.set(ylabel="cosine similarity", title="per-sublayer cosine similarity (mean over seeds)", ylim=(0, 1.05))
    cosine.legend(fontsize=7)
    figure.suptitle(f"sort_unique compressed (figure 9), {len(grid)} seeds")
    figure.tight_layout()
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--dims", default="12,8,16", help="widths; the first one is drawn on the left")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="starting rate (the paper's 1e-3)")
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--repeats", action="store_true", help="also draw inputs with repeated tokens")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started = time.perf_counter()
    entry = programs.get_program("sort_unique")
    # The paper's models: one block per s-op, every s-op in the residual (D = 14 for frac_prevs).
    model = optracr.compile(entry.build(), entry.vocab, entry.max_seq_len, fold=False, fuse=False)
    dims = tuple(int(d) for d in args.dims.split(","))
    print(f"sort_unique: residual width D = {model.config.d_model}, vocab {sorted(entry.vocab)}, "
          f"max_seq_len {entry.max_seq_len}\n{model.summary()}")
    args.out.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    grid = compress_grid(
        model, dims, tuple(range(args.seeds)), steps=args.steps, batch_size=args.batch_size,
        log_every=args.log_every, distinct_tokens=not args.repeats, learning_rate=args.learning_rate,
    )
    seconds = time.perf_counter() - start
    rows, names = [], ()
    for runs in grid:
        for run in runs:
            metrics = run.metrics(num_inputs=2048, seed=12345)
            names = metrics.sublayer_names
            rows.append({
                "d": run.d, "seed": run.seed, "accuracy": metrics.accuracy,
                "cosine_similarity": [None if math.isnan(c) else c for c in metrics.cosine_similarity],
                "mean_cosine_similarity": float(np.mean([c for c in metrics.cosine_similarity if not math.isnan(c)])),
                "layer_squared_error": metrics.layer_squared_error,
                "final_loss": run.history.loss[-1], "final_output_loss": run.history.output_loss[-1],
                "final_layer_loss": run.history.layer_loss[-1],
            })
    print(f"\n{len(dims)} widths x {args.seeds} seeds x {args.steps} steps in {seconds:.1f} s")
    print(f"| d | seed | accuracy | {' | '.join(names)} | mean cosine | final loss |")
    print("|---|---|---|" + "---|" * len(names) + "---|---|")
    for row in rows:
        cosines = " | ".join("-" if c is None else f"{c:.3f}" for c in row["cosine_similarity"])
        print(f"| {row['d']} | {row['seed']} | {row['accuracy']:.4f} | {cosines} | "
              f"{row['mean_cosine_similarity']:.3f} | {row['final_loss']:.3e} |")

    profile = layer_output_profile(grid[0][0], num_inputs=2048, seed=12345)
    nan_rows = [dict(r, cosine_similarity=[np.nan if c is None else c for c in r["cosine_similarity"]]) for r in rows]
    plot_figure_9(grid, profile, nan_rows, dims, args.out / "compress_sort_unique_fig9.png")
    worst = np.unravel_index(np.argmax(profile.squared_error), profile.squared_error.shape)
    print(f"\nlargest squared error (d = {dims[0]}, seed 0): {profile.sublayer_names[worst[0]]}, "
          f"direction {profile.residual_labels[worst[1]]}")
    total = time.perf_counter() - started
    result = {
        "program": "sort_unique",
        "residual_width": model.config.d_model,
        "residual_labels": model.residual_labels,
        "sublayer_names": names,
        "options": {"steps": args.steps, "seeds": args.seeds, "batch_size": args.batch_size, "dims": dims,
                    "distinct_tokens": not args.repeats, "learning_rate": args.learning_rate},
        "train_seconds": round(seconds, 1),
        "runs": rows,
        "squared_error_by_direction": {
            name: dict(zip(model.residual_labels, np.round(values, 5).tolist()))
            for name, values in zip(profile.sublayer_names, profile.squared_error)
        },
        "total_seconds": round(total, 1),
    }
    (args.out / "compress_sort_unique.json").write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.out}/compress_sort_unique_fig9.png and .json; took {total:.1f} s in all")


if __name__ == "__main__":
    main()
