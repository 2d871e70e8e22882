"""Model sizes of every library program: solver against heuristic, default mode against the reference structure
(and the reference compiler, when installed).

Modes: ``default`` (folding and fusion on: the smallest exact model) and ``reference-structure`` (``fold=False,
fuse=False``: one block per s-op, every s-op in the residual). Where the fused-width cap binds, the default mode
is measured again without the cap (``default-uncapped``) and both are printed.

Run: ``python benchmarks/model_sizes.py`` (``--programs sort,hist`` for a subset). Prints a markdown table,
writes ``benchmarks/results/model_sizes.json`` and summary lines of what the solver and the default mode save.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import optracr
import optracr.compiler  # noqa: F401 - loads JAX, Haiku and OR-Tools before anything is timed
from optracr import programs

RESULTS = Path(__file__).resolve().parent / "results"
COLUMNS = ("program", "mode", "allocator", "layers", "heads", "key", "value", "mlp", "d_model", "params", "nonzero",
           "status", "alloc_s", "compile_s")
MODES = {
    "default": {},
    "reference-structure": {"fold": False, "fuse": False},
    "default-uncapped": {"fused_width_cap": 10**9},
}


def measure(name: str, allocator: str, time_limit_s: float, mode: str = "default") -> dict:
    """One program compiled with one allocator in one mode: shape, sizes, status and stage times."""
    entry = programs.LIBRARY[name]
    start = time.perf_counter()
    model = optracr.compile(
        entry.build(), entry.vocab, entry.max_seq_len, allocator=allocator, time_limit_s=time_limit_s, **MODES[mode]
    )
    seconds = time.perf_counter() - start
    return {
        "program": name,
        "mode": mode,
        "allocator": allocator,
        "vocab_size": len(entry.vocab),
        "max_seq_len": entry.max_seq_len,
        "fused": [list(location.fused_with) for location in model.layered.locations.values() if location.fused_with],
        "folded": sorted(label for label, location in model.layered.locations.items() if location.folded),
        **model_row(model, seconds),
    }


def model_row(model: optracr.CompiledModel, seconds: float) -> dict:
    """A compiled model's shape, sizes, allocation status and seconds (shared with scaling.py)."""
    config, allocation = model.config, model.allocation
    return {
        "layers": config.num_layers,
        "heads": config.num_heads,
        "key": config.key_size,
        "value": config.value_size,
        "mlp": config.mlp_hidden_size,
        "d_model": config.d_model,
        "params": model.params_total,
        "nonzero": model.params_nonzero,
        "status": allocation.status.name,
        "gap": allocation.gap,
        "depth_lower_bound": allocation.depth_lower_bound,
        "alloc_s": allocation.seconds,
        "compile_s": seconds,
        "stage_s": dict(model.compile_seconds),
    }


def reference_row(name: str) -> dict | None:
    """The reference compiler's row for the same program, or None when ``tracr`` is not importable."""
    try:
        from benchmarks import reference_peer
    except ImportError:
        try:  # run as `python benchmarks/model_sizes.py`: benchmarks/ itself is on sys.path
            import reference_peer  # type: ignore[no-redef]
        except ImportError:
            return None
    return reference_peer.measure(name)


def markdown(rows: list[dict]) -> str:
    """The rows as a markdown table."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(column, "")) for column in COLUMNS) + " |")
    return "\n".join(lines)


def _cell(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def summary_line(rows: list[dict]) -> str:
    """Programs where the solver saves layers or parameters, and the total saving (rows of one mode)."""
    by_key = {(row["program"], row["allocator"]): row for row in rows}
    names = sorted({row["program"] for row in rows})
    fewer_layers = [n for n in names if by_key[n, "solver"]["layers"] < by_key[n, "heuristic"]["layers"]]
    fewer_params = [n for n in names if by_key[n, "solver"]["params"] < by_key[n, "heuristic"]["params"]]
    layers = [sum(by_key[n, a]["layers"] for n in names) for a in ("heuristic", "solver")]
    params = [sum(by_key[n, a]["params"] for n in names) for a in ("heuristic", "solver")]
    return (
        f"solver vs heuristic over {len(names)} programs: fewer layers on {len(fewer_layers)} {fewer_layers}, "
        f"fewer parameters on {len(fewer_params)} {fewer_params}; layers {layers[0]} -> {layers[1]}, "
        f"parameters {params[0]:,} -> {params[1]:,} ({1 - params[1] / params[0]:.1%} fewer)"
    )


def main() -> None:
    """Measures every program (or the chosen ones) and prints the table and the summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--programs", help="comma-separated subset of the library")
    parser.add_argument("--time-limit", type=float, default=5.0, help="solver time limit per program (s)")
    args = parser.parse_args()
    names = args.programs.split(",") if args.programs else list(programs.LIBRARY)
    started = time.perf_counter()
    rows = []
    for name in names:
        for mode in ("default", "reference-structure"):
            for allocator in ("heuristic", "solver"):
                rows.append(measure(name, allocator, args.time_limit, mode))
        uncapped = measure(name, "solver", args.time_limit, "default-uncapped")
        capped = next(r for r in rows if (r["program"], r["mode"], r["allocator"]) == (name, "default", "solver"))
        if (uncapped["layers"], uncapped["mlp"]) != (capped["layers"], capped["mlp"]):
            rows.append(uncapped)
        reference = reference_row(name)
        if reference is not None:
            rows.append(reference)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "model_sizes.json").write_text(json.dumps(rows, indent=1))
    print(markdown(rows))
    print()
    for mode in ("default", "reference-structure"):
        print(mode + ": " + summary_line([r for r in rows if r.get("mode") == mode and r["allocator"] != "reference"]))
    print(modes_line(rows))
    print(f"took {time.perf_counter() - started:.1f} s; wrote {RESULTS / 'model_sizes.json'}")


def modes_line(rows: list[dict]) -> str:
    """Total solver layers and parameters in each mode (and the reference compiler's, when measured)."""
    parts = []
    for mode in ("reference-compiler", "reference-structure", "default"):
        chosen = [r for r in rows if r.get("mode") == mode and r["allocator"] in ("solver", "reference")]
        if chosen:
            parts.append(f"{mode}: {sum(r['layers'] for r in chosen)} layers, {sum(r['params'] for r in chosen):,} "
                         f"parameters")
    return "; ".join(parts)


if __name__ == "__main__":
    main()
