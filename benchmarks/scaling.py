"""Compile and allocation times, and model sizes, of generated programs as they grow: heuristic vs solver.

Run: ``python benchmarks/scaling.py`` (``--sizes 10,30 --seeds 1 --time-limit 5`` for a quick look). For each
size (s-ops besides tokens and indices) and seed, a program from ``optracr.random_programs.generate`` is
compiled twice with ``optracr.compile``, once per allocator, recording each stage's seconds
(``model.compile_seconds``), the end-to-end seconds, layers and parameters; the heuristic allocation alone is
timed on the same scheduling problem (best of ``--repeats``), and both allocations are re-checked with
``schedule.check`` against the scheduling problem built a second time from the program (a determinism check). Prints a markdown table and
the log-log slopes of time against size, writes ``benchmarks/results/scaling.json`` and ``scaling.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

import model_sizes  # a sibling script: benchmarks/ is on sys.path when run or tested
import optracr
from optracr import craft, frontend, schedule
from optracr.compiler import scheduling
from optracr.generate import random_programs

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = (10, 30, 100, 300, 1000)
STAGES = ("frontend", "lower", "fold", "fuse", "schedule", "assemble")  # compile's pipeline (model.provenance)
CRAFT_STAGES = ("lower", "fold", "fuse")  # lowering and the passes on the block graph: the "craft" series
ALLOCATORS = ("heuristic", "solver")
# The solver may overrun its limit by reading back, compacting and checking its answer; this much is allowed.
LIMIT_SLACK_S = 1.0
# Series drawn and fitted: name -> where its seconds live in a row.
SERIES: dict[str, Callable[[dict], float]] = {
    "frontend": lambda row: row["solver"]["stage_s"]["frontend"],
    "craft": lambda row: craft_seconds(row["solver"]["stage_s"]),
    "assemble": lambda row: row["solver"]["stage_s"]["assemble"],
    "heuristic allocation": lambda row: row["heuristic_alloc_s"],
    "solver allocation": lambda row: row["solver"]["alloc_s"],
    "compile (heuristic)": lambda row: row["heuristic"]["compile_s"],
    "compile (solver)": lambda row: row["solver"]["compile_s"],
}


def scheduling_problem(generated: random_programs.GeneratedProgram) -> schedule.Problem:
    """The allocation problem of a generated program, built stage by stage outside ``optracr.compile``."""
    program_graph = frontend.analyse(generated.program, generated.vocab, generated.max_seq_len)
    return scheduling.scheduling_problem(craft.lower(program_graph))


def best_seconds(function: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` timed calls of ``function`` (the least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def craft_seconds(stage_s: dict[str, float]) -> float:
    """Seconds in craft: lowering plus the passes (a row measured before the passes has one "craft" stage)."""
    if "craft" in stage_s:
        return stage_s["craft"]
    return sum(stage_s.get(stage, 0.0) for stage in CRAFT_STAGES)


def compile_row(generated: random_programs.GeneratedProgram, allocator: str, time_limit_s: float) -> dict:
    """One end-to-end compile: stage and total seconds, model shape and sizes, allocation status."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", schedule.AllocationFallbackWarning)
        start = time.perf_counter()
        model = optracr.compile(
            generated.program, generated.vocab, generated.max_seq_len, allocator=allocator, time_limit_s=time_limit_s
        )
        seconds = time.perf_counter() - start
    return {
        **model_sizes.model_row(model, seconds),
        "reason": model.allocation.reason,
        "fallback_warnings": sum(isinstance(w.message, schedule.AllocationFallbackWarning) for w in caught),
        "allocation": model.allocation,
    }


def measure(num_sops: int, seed: int, *, time_limit_s: float = 30.0, repeats: int = 5) -> dict:
    """One generated program of ``num_sops`` s-ops compiled with both allocators, timed and checked."""
    start = time.perf_counter()
    generated = random_programs.generate(seed, num_sops=num_sops)
    generate_s = time.perf_counter() - start
    by_allocator = {allocator: compile_row(generated, allocator, time_limit_s) for allocator in ALLOCATORS}
    problem = scheduling_problem(generated)
    for result in by_allocator.values():
        schedule.check(problem, result.pop("allocation"))  # raises AllocationError if invalid
    solver = by_allocator["solver"]
    return {
        "num_sops": num_sops,
        "seed": seed,
        "num_blocks": len(problem.blocks),
        "num_dependencies": sum(len(block.depends_on) for block in problem.blocks),
        "time_limit_s": time_limit_s,
        "generate_s": generate_s,
        "heuristic_alloc_s": best_seconds(lambda: schedule.allocate_with_heuristic(problem), repeats),
        "solver_within_limit": solver["alloc_s"] <= time_limit_s + LIMIT_SLACK_S,
        "checked": True,
        **by_allocator,
    }


def heuristic_sweep(num_blocks: Sequence[int], repeats: int) -> list[dict]:
    """The heuristic alone on ``schedule.random_problem``s of many blocks: best seconds and Python calls."""
    import cProfile
    import pstats

    sweep = []
    for size in num_blocks:
        problem = schedule.random_problem(size, seed=0)
        profile = cProfile.Profile()
        profile.runcall(schedule.allocate_with_heuristic, problem)  # also warms the problem's cached graph
        seconds = best_seconds(lambda: schedule.allocate_with_heuristic(problem), repeats)
        sweep.append({"num_blocks": size, "seconds": seconds, "calls": pstats.Stats(profile).total_calls})
    return sweep


def fitted_slope(sizes: Sequence[float], seconds: Sequence[float]) -> float:
    """The least-squares slope of log(seconds) against log(size): 1 is linear, 2 quadratic."""
    if len(set(sizes)) < 2:
        return math.nan
    slope, _ = np.polyfit(np.log10(sizes), np.log10(np.maximum(seconds, 1e-9)), 1)
    return float(slope)


def medians(rows: Sequence[dict], series: Callable[[dict], float]) -> tuple[list[int], list[float]]:
    """Sizes in increasing order and the median over seeds of one series at each."""
    sizes = sorted({row["num_sops"] for row in rows})
    return sizes, [statistics.median(series(row) for row in rows if row["num_sops"] == size) for size in sizes]


def slopes(rows: Sequence[dict]) -> dict[str, float]:
    """The fitted log-log slope of every series, over the per-size medians."""
    return {name: round(fitted_slope(*medians(rows, series)), 3) for name, series in SERIES.items()}


def markdown(rows: Sequence[dict]) -> str:
    """One table line per (size, seed): stage times, allocation times, status, layers and parameters."""
    header = ("s-ops", "seed", "blocks", "frontend s", "craft s", "assemble s", "heuristic alloc s",
              "solver alloc s", "status", "gap", "layers h/s", "params h/s", "compile s h/s")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        heuristic, solver = row["heuristic"], row["solver"]
        gap = "" if solver["gap"] is None else f"{solver['gap']:.3f}"
        cells = (
            row["num_sops"], row["seed"], row["num_blocks"],
            f"{solver['stage_s']['frontend']:.3f}", f"{craft_seconds(solver['stage_s']):.3f}",
            f"{solver['stage_s']['assemble']:.3f}", f"{row['heuristic_alloc_s']:.5f}", f"{solver['alloc_s']:.2f}",
            solver["status"], gap, f"{heuristic['layers']} / {solver['layers']}",
            f"{heuristic['params']:,} / {solver['params']:,}",
            f"{heuristic['compile_s']:.2f} / {solver['compile_s']:.2f}",
        )
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines)


def plot(rows: Sequence[dict], fitted: dict[str, float], path: Path) -> None:
    """A log-log plot of each series' seconds against size: every seed as a dot, the median as a line."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(8, 5.5))
    for name, series in SERIES.items():
        sizes, values = medians(rows, series)
        (line,) = axes.plot(sizes, values, marker="o", label=f"{name} (slope {fitted[name]:.2f})")
        axes.scatter([row["num_sops"] for row in rows], [series(row) for row in rows], s=10,
                     color=line.get_color(), alpha=0.5)
    sizes, heuristic = medians(rows, SERIES["heuristic allocation"])
    axes.plot(sizes, [heuristic[0] * size / sizes[0] for size in sizes], "k:", label="slope 1 (linear) guide")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("s-ops in the generated program")
    axes.set_ylabel("seconds")
    axes.set_title(f"optracr compile time against program size (solver limit {rows[0]['time_limit_s']:g} s)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    pyplot.close(figure)


def main(argv: Sequence[str] | None = None) -> None:
    """Measures every size and seed, prints the table and slopes, writes the JSON and the plot."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated s-op counts")
    parser.add_argument("--seeds", type=int, default=3, help="programs per size (seeds 0 .. N-1)")
    parser.add_argument("--time-limit", type=float, default=30.0, help="solver time limit per program (s)")
    parser.add_argument("--repeats", type=int, default=5, help="timings of the heuristic allocation (best kept)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for scaling.json and scaling.png")
    parser.add_argument("--heuristic-blocks", default="",
                        help="also time the heuristic alone on random problems of these block counts, e.g. "
                             "1000,10000,100000")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = []
    for size in (int(size) for size in args.sizes.split(",")):
        for seed in range(args.seeds):
            rows.append(measure(size, seed, time_limit_s=args.time_limit, repeats=args.repeats))
            print(f"measured {size} s-ops, seed {seed}: {time.perf_counter() - started:.1f} s so far",
                  file=sys.stderr, flush=True)
    fitted = slopes(rows)
    sweep = heuristic_sweep([int(size) for size in args.heuristic_blocks.split(",") if size], args.repeats)
    args.out.mkdir(parents=True, exist_ok=True)
    wall_s = time.perf_counter() - started
    report = {"command": " ".join(sys.argv), "cpus": os.cpu_count(), "wall_s": round(wall_s, 1),
              "slopes": fitted, "rows": rows, "heuristic_sweep": sweep}
    (args.out / "scaling.json").write_text(json.dumps(report, indent=1))
    plot(rows, fitted, args.out / "scaling.png")
    print(markdown(rows))
    print()
    print("log-log slopes of seconds against s-ops (medians over seeds): "
          + ", ".join(f"{name} {slope:.2f}" for name, slope in fitted.items()))
    if sweep:
        sizes = [entry["num_blocks"] for entry in sweep]
        print("heuristic alone on random problems: " + ", ".join(
            f"{entry['num_blocks']} blocks {entry['seconds']:.4f} s ({entry['calls']:,} calls)" for entry in sweep)
            + f"; slope of seconds {fitted_slope(sizes, [entry['seconds'] for entry in sweep]):.2f}, "
            + f"of calls {fitted_slope(sizes, [entry['calls'] for entry in sweep]):.2f}")
    statuses = sorted({row["solver"]["status"] for row in rows})
    late = [(row["num_sops"], row["seed"]) for row in rows if not row["solver_within_limit"]]
    print(f"solver statuses {statuses}; over the time limit: {late or 'none'}; every allocation passed check")
    print(f"took {wall_s:.1f} s; wrote {args.out / 'scaling.json'} and {args.out / 'scaling.png'}")


if __name__ == "__main__":
    main()
