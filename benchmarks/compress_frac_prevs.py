"""Compressing ``frac_prevs`` (the paper's figures 7 and 8).

Run: ``python benchmarks/compress_frac_prevs.py`` (``--steps``, ``--seeds``, ``--dims 4,6,8`` to change the
sweep; ``--wtw-steps 0`` or ``--check-steps 0`` skip the other runs). Three parts:

- figure 7: every d from 1 to the residual width D, several seeds, trained together (vmapped over seeds and
  widths); loss curves and final loss against d;
- figure 8: one run at d = 8; its ``W^T W`` next to the PCA projection with 8 components;
- a check run at d = 6 with the paper's hyperparameters (learning rate 1e-3 to 1e-6, batch 256), reporting
  the held-out MSE against the compiled model.

The paper trains 3e5 steps at learning rate 1e-3 (1-4 hours per run on two cores); to fit the sweep and the
figure-8 run in minutes they take 100x fewer steps at a 10x larger starting rate (``--learning-rate``).
Writes ``compress_frac_prevs_fig7.png``, ``compress_frac_prevs_fig8.png`` and ``compress_frac_prevs.json``
under ``benchmarks/results/`` and prints tables.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import optracr
from optracr import programs
from optracr.compress import compress, compress_grid, pca_projection, plot_grams, projection_gram

RESULTS = Path(__file__).resolve().parent / "results"
TASK_FEATURES = ("tokens:x", "is_x", "frac_prevs")


def parse_dims(text: str, width: int) -> tuple[int, ...]:
    """``"1-14"`` or ``"2,4,6"``; empty means every width from 1 to the residual width."""
    if not text:
        return tuple(range(1, width + 1))
    dims: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        dims.extend(range(int(low), int(high or low) + 1))
    return tuple(sorted(set(dims)))


def feature_report(gram: np.ndarray, labels: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Per residual direction: how much of it is read back (diagonal) and its largest overlap with another."""
    report = {}
    for row, label in enumerate(labels):
        others = np.delete(np.abs(gram[row]), row)
        report[label] = {"kept": round(float(gram[row, row]), 4), "max_overlap": round(float(others.max()), 4)}
    return report


def sweep(model: optracr.CompiledModel, dims: tuple[int, ...], seeds: tuple[int, ...], args: argparse.Namespace):
    """Every (seed, d) trained together; returns the grid and one JSON row per run."""
    start = time.perf_counter()
    grid = compress_grid(
        model, dims, seeds, steps=args.steps, batch_size=args.batch_size, log_every=args.log_every,
        learning_rate=args.learning_rate,
    )
    seconds = time.perf_counter() - start
    rows = []
    for runs in grid:
        for run in runs:
            metrics = run.metrics(num_inputs=1024, seed=12345)
            rows.append({
                "d": run.d,
                "seed": run.seed,
                "final_loss": run.history.loss[-1],
                "final_output_loss": run.history.output_loss[-1],
                "final_layer_loss": run.history.layer_loss[-1],
                "heldout_mse": metrics.mse,
                "cosine_similarity": metrics.cosine_similarity,
            })
    return grid, rows, seconds


def plot_figure_7(grid, dims: tuple[int, ...], path: Path, width: int) -> None:
    """Left: mean loss over seeds against steps, one line per d; right: final loss against d."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (curves, finals) = plt.subplots(1, 2, figsize=(11, 4))
    colours = plt.get_cmap("viridis")(np.linspace(0, 1, len(dims)))
    for k, d in enumerate(dims):
        losses = np.array([runs[k].history.loss for runs in grid])
        curves.plot(grid[0][k].history.steps, losses.mean(axis=0), color=colours[k], label=f"d = {d}")
        finals.scatter([d] * len(grid), losses[:, -1], color="grey", s=8)
    finals_by_d = [[runs[k].history.loss[-1] for runs in grid] for k in range(len(dims))]
    medians = [np.median(v) for v in finals_by_d]
    finals.plot(dims, medians, marker="o", color="black", label=f"median of {len(grid)} seeds")
    finals.plot(dims, [np.mean(v) for v in finals_by_d], linestyle="--", color="grey", label="mean")
    curves.set(yscale="log", xlabel="step", ylabel="loss", title="training loss (mean over seeds)")
    curves.legend(fontsize=6, ncol=2)
    finals.set(yscale="log", xlabel="d", ylabel="final loss", title=f"final loss against d (compiled D = {width})")
    finals.set_xticks(dims)
    finals.legend(fontsize=7)
    figure.suptitle("frac_prevs compressed (figure 7)")
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4000, help="training steps of the sweep")
    parser.add_argument("--learning-rate", type=float, default=1e-2, help="sweep and figure-8 starting rate")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per width")
    parser.add_argument("--dims", default="", help="widths, e.g. 1-14 or 4,6,8 (default: 1..D)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--wtw-d", type=int, default=8, help="the width whose W^T W is drawn against PCA")
    parser.add_argument("--wtw-steps", type=int, default=10000, help="steps of the figure-8 run (0 skips it)")
    parser.add_argument("--check-d", type=int, default=6, help="width of the long single run")
    parser.add_argument("--check-steps", type=int, default=20000, help="steps of the long run (0 skips it)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started = time.perf_counter()
    entry = programs.get_program("frac_prevs")
    # The paper's models: one block per s-op, every s-op in the residual (D = 14 for frac_prevs).
    model = optracr.compile(entry.build(), entry.vocab, entry.max_seq_len, fold=False, fuse=False)
    width, labels = model.config.d_model, model.residual_labels
    dims, seeds = parse_dims(args.dims, width), tuple(range(args.seeds))
    print(f"frac_prevs: residual width D = {width} ({', '.join(labels)})")
    args.out.mkdir(parents=True, exist_ok=True)

    grid, rows, sweep_seconds = sweep(model, dims, seeds, args)
    plot_figure_7(grid, dims, args.out / "compress_frac_prevs_fig7.png", width)
    print(f"\nsweep: {len(dims)} widths x {len(seeds)} seeds x {args.steps} steps (learning rate "
          f"{args.learning_rate:g}) in {sweep_seconds:.1f} s")
    print("| d | final loss (median) | mean | min | max | held-out MSE (median) |\n|---|---|---|---|---|---|")
    summary = []
    for d in dims:
        finals = [row["final_loss"] for row in rows if row["d"] == d]
        mses = [row["heldout_mse"] for row in rows if row["d"] == d]
        summary.append({"d": d, "final_loss_median": float(np.median(finals)),
                        "final_loss_mean": float(np.mean(finals)), "heldout_mse_median": float(np.median(mses))})
        print(f"| {d} | {np.median(finals):.2e} | {np.mean(finals):.2e} | {min(finals):.2e} | {max(finals):.2e} | "
              f"{np.median(mses):.2e} |")

    figure_8 = {}
    if args.wtw_steps:
        start = time.perf_counter()
        run = compress(model, args.wtw_d, steps=args.wtw_steps, batch_size=args.batch_size,
                                learning_rate=args.learning_rate, log_every=max(args.log_every, args.wtw_steps // 100))
        wtw_seconds = time.perf_counter() - start
        pca = pca_projection(model, args.wtw_d, num_inputs=1024, seed=0)
        pca_gram = projection_gram(pca)
        plot_grams(
            [run.wtw, pca_gram],
            [f"(a) compression: W^T W, d = {args.wtw_d}", f"(b) PCA: P P^T, {args.wtw_d} components"],
            labels,
            args.out / "compress_frac_prevs_fig8.png",
        )
        figure_8 = {"d": args.wtw_d, "steps": args.wtw_steps, "seconds": round(wtw_seconds, 1),
                    "final_loss": run.history.loss[-1], "heldout_mse": run.metrics(seed=12345).mse,
                    "compressed": feature_report(run.wtw, labels), "pca": feature_report(pca_gram, labels)}
        print(f"\nfigure 8: d = {args.wtw_d}, {args.wtw_steps} steps in {wtw_seconds:.1f} s, final loss "
              f"{run.history.loss[-1]:.2e}, held-out MSE {figure_8['heldout_mse']:.2e}; per direction: the diagonal of "
              "W^T W (how much is read back) and its largest off-diagonal entry (overlap with another direction)")
        print("| direction | compressed kept | compressed max overlap | PCA kept | PCA max overlap |")
        print("|---|---|---|---|---|")
        for label in labels:
            ours, theirs = figure_8["compressed"][label], figure_8["pca"][label]
            print(f"| {label} | {ours['kept']:.2f} | {ours['max_overlap']:.2f} | {theirs['kept']:.2f} | "
                  f"{theirs['max_overlap']:.2f} |")
        unused = [label for label in labels if label.startswith("tokens:") and label not in TASK_FEATURES]
        for name, report in (("compression", figure_8["compressed"]), ("PCA", figure_8["pca"])):
            print(f"{name}: task features kept " + ", ".join(f"{f} {report[f]['kept']:.2f}" for f in TASK_FEATURES)
                  + "; other tokens kept " + ", ".join(f"{f} {report[f]['kept']:.2f}" for f in unused))

    check = {}
    if args.check_steps:
        start = time.perf_counter()
        long_run = compress(model, args.check_d, steps=args.check_steps, batch_size=args.batch_size,
                                     log_every=max(args.log_every, args.check_steps // 100))
        seconds = time.perf_counter() - start
        metrics = long_run.metrics(num_inputs=4096, seed=12345)
        check = {"d": args.check_d, "steps": args.check_steps, "seconds": round(seconds, 1),
                 "final_loss": long_run.history.loss[-1], "heldout_mse": metrics.mse,
                 "cosine_similarity": metrics.cosine_similarity}
        print(f"\nlong run: d = {args.check_d}, {args.check_steps} steps in {seconds:.1f} s: "
              f"held-out MSE {metrics.mse:.2e} (4096 inputs), final loss {long_run.history.loss[-1]:.2e}, "
              f"per-sublayer cosine {', '.join(f'{c:.4f}' for c in metrics.cosine_similarity)}")

    total = time.perf_counter() - started
    result = {
        "program": "frac_prevs",
        "residual_width": width,
        "residual_labels": labels,
        "options": {"steps": args.steps, "seeds": args.seeds, "batch_size": args.batch_size, "dims": dims,
                    "learning_rate": args.learning_rate},
        "sweep_seconds": round(sweep_seconds, 1),
        "summary": summary,
        "runs": rows,
        "loss_curves": {
            str(d): {"steps": grid[0][k].history.steps,
                     "loss_mean": np.mean([runs[k].history.loss for runs in grid], axis=0).tolist()}
            for k, d in enumerate(dims)
        },
        "figure_8": figure_8,
        "long_run": check,
        "total_seconds": round(total, 1),
    }
    (args.out / "compress_frac_prevs.json").write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.out}/compress_frac_prevs_fig7.png, _fig8.png and .json; took {total:.1f} s in all")


if __name__ == "__main__":
    main()
