"""Compressing ``frac_prevs`` (the paper's figures 7 and 8).

Run: ``python benchmarks/compress_frac_prevs.py`` (``--steps``, ``--seeds``, ``--dims 4,6,8`` to change the
sweep; ``--wtw-steps 0`` or ``--check-steps 0`` skip the other runs). Three parts:

- figure 7: every d from 1 to the residual width D, several seeds, trained together (vmapped over seeds and
  widths), then with warm starts across widths (``--continuation``, default ``down_up``): a downward pass
  from ``W = I`` at d = D, each width starting from the wider width's best W minus its least useful
  singular direction, then an upward pass, each width starting from the narrower width's best W plus a small
  random column; each pass trains every width ``--continuation-steps`` steps. Every (seed, d) keeps the W
  with the lowest loss on one fixed batch of that seed (``--evaluation-inputs``); since the narrower W with a
  zero column is the same model, that loss never rises with d. The final loss drawn is that evaluated loss
  (with ``--continuation none``, the old independent sweep, it is the mean training loss of the last
  ``--log-every`` steps). Loss curves and final loss against d;
- figure 8: one run at d = 8; its ``W^T W`` next to the PCA projection with 8 components;
- a check run at d = 6 with the paper's hyperparameters (learning rate 1e-3 to 1e-6, batch 256), reporting
  the held-out MSE against the compiled model.

Figure 7 as measured in ``benchmarks/README.md`` (5 min 46 s on the two cores):
``--seeds 8 --steps 2000 --batch-size 128 --final-learning-rate 1e-4 --wtw-steps 0 --check-steps 0``.

The paper trains 3e5 steps at learning rate 1e-3 (1-4 hours per run on two cores); to fit the sweep and the
figure-8 run in minutes they take 100x fewer steps at a 10x larger starting rate (``--learning-rate``).
Writes ``compress_frac_prevs_fig7.png``, ``compress_frac_prevs_fig8.png`` and ``compress_frac_prevs.json``
under ``benchmarks/results/`` and prints tables.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

import optracr
from optracr import programs
from optracr.compress import (
    CONTINUATION_MODES, compress, compress_grid, pca_projection, plot_grams, projection_gram,
)

RESULTS = Path(__file__).resolve().parent / "results"
TASK_FEATURES = ("tokens:x", "is_x", "frac_prevs")


def strict_json(value: object) -> object:
    """``value`` with every NaN float as None (null): a cosine of two zero vectors is undefined, and plain JSON
    has no NaN (Python writes one, strict readers such as jq or JavaScript's JSON.parse reject it)."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(item) for item in value]
    return value


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
        learning_rate=args.learning_rate, final_learning_rate=args.final_learning_rate, progress=args.progress,
        continuation=args.continuation, continuation_steps=args.continuation_steps,
        evaluation_inputs=args.evaluation_inputs,
    )
    seconds = time.perf_counter() - start
    rows = []
    for runs in grid:
        for run in runs:
            metrics = run.metrics(num_inputs=1024, seed=12345)
            rows.append({
                "d": run.d,
                "seed": run.seed,
                "final_loss": final_loss(run),
                "origin": run.history.origin,
                "final_training_loss": run.history.loss[-1],
                "final_output_loss": run.history.output_loss[-1],
                "final_layer_loss": run.history.layer_loss[-1],
                "heldout_mse": metrics.mse,
                "cosine_similarity": metrics.cosine_similarity,
            })
    return grid, rows, seconds


def final_loss(run) -> float:
    """The loss on the seed's evaluation batch with warm starts, else the mean over the last ``log_every`` steps."""
    evaluated = run.history.evaluation_loss
    return run.history.loss[-1] if evaluated is None else evaluated


def final_losses(grid, dims: tuple[int, ...]) -> np.ndarray:
    """seeds x dims: each run's final loss (``final_loss``)."""
    return np.array([[final_loss(runs[k]) for k in range(len(dims))] for runs in grid])


def monotonicity(finals: np.ndarray, dims: tuple[int, ...]) -> dict[str, object]:
    """Where the median final loss rises from one d to the next, and whether each rise is within the spread.

    A rise from d to d' is within the seeds' spread when the median at d' is at most the upper quartile at d.
    """
    median, upper = np.median(finals, axis=0), np.percentile(finals, 75, axis=0)
    rises = [
        {"from_d": dims[k], "to_d": dims[k + 1], "median_from": float(median[k]), "median_to": float(median[k + 1]),
         "upper_quartile_from": float(upper[k]), "within_spread": bool(median[k + 1] <= upper[k])}
        for k in range(len(dims) - 1) if median[k + 1] > median[k]
    ]
    return {"rises": rises, "non_increasing_within_spread": all(rise["within_spread"] for rise in rises)}


def knee(finals: np.ndarray, dims: tuple[int, ...], factor: float = 10.0) -> int:
    """The smallest d whose median final loss is within ``factor`` of the best median (where the loss levels off).

    When the best median is exactly 0 (a lossless width), that is the smallest d whose median is 0.
    """
    median = np.median(finals, axis=0)
    return next(d for d, value in zip(dims, median) if value <= factor * median.min())


def plot_figure_7(grid, dims: tuple[int, ...], path: Path, width: int, caption: str) -> None:
    """Left: median loss over seeds against steps, one line per d; right: final loss against d, every seed shown.

    The right panel's axis is logarithmic above 1e-7 and linear below, so an exact zero is drawn too.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    finals = final_losses(grid, dims)
    figure, (curves, ends) = plt.subplots(1, 2, figsize=(12, 4.5))
    colours = plt.get_cmap("viridis")(np.linspace(0, 1, len(dims)))
    for k, d in enumerate(dims):
        losses = np.array([runs[k].history.loss for runs in grid])
        curves.plot(grid[0][k].history.steps, np.median(losses, axis=0), color=colours[k], label=f"d = {d}")
    lower, median, upper = np.percentile(finals, [25, 50, 75], axis=0)
    ends.fill_between(dims, lower, upper, color="tab:blue", alpha=0.2, label="seeds' interquartile range")
    for s in range(finals.shape[0]):
        ends.scatter(dims, finals[s], color="grey", s=7, zorder=2, label="one seed" if s == 0 else None)
    ends.plot(dims, median, marker="o", color="black", zorder=3, label=f"median of {finals.shape[0]} seeds")
    elbow = knee(finals, dims)
    ends.axvline(elbow, color="tab:red", linestyle=":",
                 label=f"knee: d = {elbow} (median within 10x of the best median, {median.min():.1e})")
    curves.set(yscale="log", xlabel="step (each width's trainings one after another; jumps: warm starts)",
               ylabel="loss", title="training loss (median over seeds)")
    curves.legend(fontsize=6, ncol=2)
    ends.set_yscale("symlog", linthresh=1e-7)
    ends.set_ylim(0.0, 3 * finals.max())
    ends.set(xlabel="d", ylabel="final loss (0 = exact)", title=f"final loss against d (compiled D = {width})")
    ends.set_xticks(dims)
    ends.legend(fontsize=7)
    figure.suptitle(f"frac_prevs compressed (figure 7): {caption}")
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4000, help="training steps of the sweep")
    parser.add_argument("--learning-rate", type=float, default=1e-2, help="sweep and figure-8 starting rate")
    parser.add_argument("--final-learning-rate", type=float, default=1e-6, help="the sweep's rate after half its steps")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per width")
    parser.add_argument("--continuation", choices=CONTINUATION_MODES, default="down_up",
                        help="warm starts across widths after the independent sweep (none: the sweep alone)")
    parser.add_argument("--continuation-steps", type=int, default=1000, help="steps of every width in every pass")
    parser.add_argument("--evaluation-inputs", type=int, default=1024,
                        help="inputs of each seed's fixed batch on which the warm-started sweep keeps its best W")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="tqdm bars")
    parser.add_argument("--dims", default="", help="widths, e.g. 1-14 or 4,6,8 (default: 1..D)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--wtw-d", type=int, default=8, help="the width whose W^T W is drawn against PCA")
    parser.add_argument("--wtw-steps", type=int, default=10000, help="steps of the figure-8 run (0 skips it)")
    parser.add_argument("--check-d", type=int, default=6, help="width of the long single run")
    parser.add_argument("--check-steps", type=int, default=20000, help="steps of the long run (0 skips it)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started, load_at_start = time.perf_counter(), os.getloadavg()
    entry = programs.get_program("frac_prevs")
    # The paper's models: one block per s-op, every s-op in the residual (D = 14 for frac_prevs).
    model = optracr.compile(entry.build(), entry.vocab, entry.max_seq_len, fold=False, fuse=False)
    width, labels = model.config.d_model, model.residual_labels
    dims, seeds = parse_dims(args.dims, width), tuple(range(args.seeds))
    print(f"frac_prevs: residual width D = {width} ({', '.join(labels)})")
    args.out.mkdir(parents=True, exist_ok=True)

    grid, rows, sweep_seconds = sweep(model, dims, seeds, args)
    caption = f"{args.steps} steps" + (
        f", then {args.continuation} passes of {args.continuation_steps} steps per width"
        if args.continuation != "none" else "")
    plot_figure_7(grid, dims, args.out / "compress_frac_prevs_fig7.png", width, caption)
    print(f"\nsweep: {len(dims)} widths x {len(seeds)} seeds x {caption} (learning rate "
          f"{args.learning_rate:g}) in {sweep_seconds:.1f} s, load average {os.getloadavg()}")
    print("| d | final loss (median) | lower quartile | upper quartile | min | max | held-out MSE (median) |\n"
          "|---|---|---|---|---|---|---|")
    summary = []
    for d in dims:
        finals = [row["final_loss"] for row in rows if row["d"] == d]
        mses = [row["heldout_mse"] for row in rows if row["d"] == d]
        low, high = np.percentile(finals, [25, 75])
        summary.append({"d": d, "final_loss_median": float(np.median(finals)), "final_loss_mean": float(np.mean(finals)),
                        "final_loss_lower_quartile": float(low), "final_loss_upper_quartile": float(high),
                        "heldout_mse_median": float(np.median(mses))})
        print(f"| {d} | {np.median(finals):.2e} | {low:.2e} | {high:.2e} | {min(finals):.2e} | {max(finals):.2e} | "
              f"{np.median(mses):.2e} |")
    shape = monotonicity(final_losses(grid, dims), dims)
    shape["knee"] = knee(final_losses(grid, dims), dims)
    rises = ", ".join(f"{r['from_d']}->{r['to_d']} ({'within' if r['within_spread'] else 'OUTSIDE'} the spread)"
                      for r in shape["rises"]) or "none"
    print(f"median rises: {rises}; knee at d = {shape['knee']}")

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
    figure_7 = {
        "program": "frac_prevs",
        "command": "python benchmarks/compress_frac_prevs.py " + " ".join(sys.argv[1:]),
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
        "residual_width": width,
        "residual_labels": labels,
        "options": {"steps": args.steps, "seeds": args.seeds, "batch_size": args.batch_size, "dims": dims,
                    "learning_rate": args.learning_rate, "final_learning_rate": args.final_learning_rate,
                    "continuation": args.continuation, "continuation_steps": args.continuation_steps,
                    "evaluation_inputs": args.evaluation_inputs},
        "final_loss_is": "the loss on each seed's fixed evaluation batch" if args.continuation != "none"
        else "the mean training loss of the last log_every steps",
        "sweep_seconds": round(sweep_seconds, 1),
        "summary": summary,
        "shape": shape,
        "runs": rows,
        "loss_curves": {
            str(d): {"steps": grid[0][k].history.steps,
                     "loss_median": np.median([runs[k].history.loss for runs in grid], axis=0).tolist(),
                     "loss_per_seed": [runs[k].history.loss for runs in grid]}
            for k, d in enumerate(dims)
        },
    }
    fig7_json = json.dumps(strict_json(figure_7), indent=1, allow_nan=False)
    (args.out / "compress_frac_prevs_fig7.json").write_text(fig7_json)
    written = ["compress_frac_prevs_fig7.png", "compress_frac_prevs_fig7.json"]
    if figure_8 or check:  # figure 8 and the long run keep their own file, so a sweep alone leaves them be
        others = {"program": "frac_prevs", "residual_labels": labels, "figure_8": figure_8, "long_run": check,
                  "total_seconds": round(total, 1)}
        others_json = json.dumps(strict_json(others), indent=1, allow_nan=False)
        (args.out / "compress_frac_prevs.json").write_text(others_json)
        written += ["compress_frac_prevs_fig8.png"] * bool(figure_8) + ["compress_frac_prevs.json"]
    print(f"\nwrote {', '.join(written)} under {args.out}; took {total:.1f} s in all")

if __name__ == "__main__":
    main()
