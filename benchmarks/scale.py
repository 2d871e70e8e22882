"""Library programs at vocabulary = length = n, one process per compile, optracr beside the reference compiler.

Run: ``python benchmarks/scale.py`` (``--programs reverse --sizes 16,32 --reference-timeout 60`` for a quick look).
For every program and n (default 16, 32, 64) a fresh Python process compiles the program with vocabulary
{0, ..., n-1} and max_seq_len n, and reports: compile seconds, layers, MLP width, residual width, parameters
(total and non-zero, the unembedding included on both sides), one apply in ms (the second call on a random
input of length n; the first pays for set-up), the process's peak memory (ru_maxrss) and the saved size on disk
(optracr: ``optracr.save``'s directory; the reference has no file format, so its params as an ``.npz``). optracr's
model is then checked with ``optracr.verify`` (not timed): proved by the certificate where enumerating every input
is too big (``status`` proved), else enumerated or, where the proof fails, sampled (``status`` exact). The reference (``tracr``) runs the same
way with ``--reference-python`` (default: this interpreter when it can import ``tracr``), under a wall-clock limit
(``--reference-timeout``); a compile still running then is reported as ``TIMEOUT``, not as a size.

Prints a markdown table and, per program and compiler, the growth exponent of each column (the log-log slope
against n over the sizes that finished); writes ``benchmarks/results/scale.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PROGRAMS = ("length", "hist", "reverse", "sort_unique", "sort", "sort_freq")  # any vocabulary of numbers fits them
SIZES = (16, 32, 64)
COLUMNS = ("compile_s", "layers", "mlp", "d_model", "params", "nonzero", "apply_ms", "peak_mb", "disk_mb")
GROWING = ("compile_s", "mlp", "d_model", "params", "nonzero", "apply_ms", "peak_mb", "disk_mb")
VERIFY_SAMPLES = 100
OPTRACR_TIMEOUT_S = 900.0


# ----------------------------------------------------------------------------------- in the child process
def _program(name: str, n: int):
    from optracr import programs

    return programs.LIBRARY[name].make(n)


def _random_input(n: int, seed: int = 0) -> list[int]:
    return [int(v) for v in np.random.default_rng(seed).integers(0, n, size=n)]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports kilobytes


def _directory_mb(path: Path) -> float:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file()) / 2**20


def measure_optracr(name: str, n: int) -> dict:
    """One optracr compile at vocabulary = length = n, measured (run in a fresh process)."""
    import optracr

    program = _program(name, n)
    start = time.perf_counter()
    model = optracr.compile(program, set(range(n)), n)
    compile_s = time.perf_counter() - start
    tokens = ["BOS", *_random_input(n)]
    model.apply(tokens, backend="numpy")
    start = time.perf_counter()
    model.apply(tokens, backend="numpy")
    apply_ms = 1000.0 * (time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as directory:
        disk_mb = _directory_mb(optracr.save(model, Path(directory) / "model"))
    peak_mb = _peak_mb()
    report = optracr.verify(model, program, num_samples=VERIFY_SAMPLES, progress=False)
    config = model.config
    return {
        "compile_s": compile_s, "layers": config.num_layers, "mlp": config.mlp_hidden_size,
        "d_model": config.d_model, "params": model.params_total, "nonzero": model.params_nonzero,
        "apply_ms": apply_ms, "peak_mb": peak_mb, "disk_mb": disk_mb,
        "status": _status(report), "checked": report.num_checked, "proved": report.proved,
    }


def _status(report) -> str:
    """``proved`` (the certificate covers every input), ``exact`` (every input checked, or a sample where the
    proof failed) or the mismatches."""
    if not report.ok:
        return f"MISMATCH ({report.num_mismatches} of {report.num_checked})"
    return "proved" if report.proved else "exact"


def measure_reference(name: str, n: int) -> dict:
    """One reference compile of the same program (translated node by node), measured the same way."""
    import importlib

    import reference_peer  # a sibling script: benchmarks/ is on sys.path when run

    reference_rasp = importlib.import_module("tracr.rasp.rasp")
    compiling = importlib.import_module("tracr.compiler.compiling")
    program = reference_peer.to_reference(_program(name, n), reference_rasp)
    start = time.perf_counter()
    model = compiling.compile_rasp_to_model(
        program, vocab=set(range(n)), max_seq_len=n, compiler_bos=reference_peer.REFERENCE_BOS
    )
    compile_s = time.perf_counter() - start
    tokens = [reference_peer.REFERENCE_BOS, *_random_input(n)]
    model.apply(tokens)
    start = time.perf_counter()
    model.apply(tokens)
    apply_ms = 1000.0 * (time.perf_counter() - start)
    arrays = {f"{module}/{key}": np.asarray(value) for module, params in model.params.items()
              for key, value in params.items()}
    d_model = len(model.residual_labels)
    outputs = reference_peer._unembedding_width(model)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "params.npz"
        np.savez(path, **arrays)
        disk_mb = path.stat().st_size / 2**20
    config = model.model_config
    return {
        "compile_s": compile_s, "layers": config.num_layers, "mlp": config.mlp_hidden_size, "d_model": d_model,
        "params": sum(int(a.size) for a in arrays.values()) + d_model * outputs,
        "nonzero": sum(int(np.count_nonzero(a)) for a in arrays.values()) + outputs,
        "apply_ms": apply_ms, "peak_mb": _peak_mb(), "disk_mb": disk_mb, "status": "compiled",
    }


# --------------------------------------------------------------------------------- in the parent process
def run_one(compiler: str, name: str, n: int, *, python: str, timeout_s: float) -> dict:
    """``compiler``'s row for ``name`` at n, measured in a fresh process; TIMEOUT or FAILED rows on trouble."""
    row = {"program": name, "n": n, "compiler": compiler}
    command = [python, str(Path(__file__).resolve()), "--one", compiler, name, str(n)]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=environment, check=False)
    except subprocess.TimeoutExpired:
        return {**row, "status": f"TIMEOUT (> {timeout_s:.0f} s)", "wall_s": timeout_s}
    wall_s = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1][:120]
        return {**row, "status": f"FAILED ({reason})", "wall_s": wall_s}
    return {**row, **json.loads(lines[-1]), "wall_s": wall_s}


def reference_python(requested: str | None) -> str | None:
    """The interpreter that runs the reference: the one asked for, else this one when it imports ``tracr``."""
    if requested:
        return requested
    probe = subprocess.run([sys.executable, "-c", "import tracr.compiler.compiling"], capture_output=True, check=False)
    return sys.executable if probe.returncode == 0 else None


def growth_exponent(sizes: list[int], values: list[float]) -> float | None:
    """The least-squares slope of log(value) against log(n), or None with fewer than two positive points."""
    points = [(math.log(n), math.log(v)) for n, v in zip(sizes, values) if isinstance(v, (int, float)) and v > 0]
    if len(points) < 2:
        return None
    xs, ys = np.array(points).T
    return float(np.polyfit(xs, ys, 1)[0])


def exponents(rows: list[dict]) -> list[dict]:
    """Per (program, compiler), each growing column's exponent over the sizes that finished."""
    found = []
    for key in sorted({(row["program"], row["compiler"]) for row in rows}):
        finished = sorted((row for row in rows if (row["program"], row["compiler"]) == key and "params" in row),
                          key=lambda row: row["n"])
        sizes = [row["n"] for row in finished]
        slopes = {column: growth_exponent(sizes, [row[column] for row in finished]) for column in GROWING}
        found.append({"program": key[0], "compiler": key[1], "sizes": sizes, **slopes})
    return found


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)


def markdown(rows: list[dict], slopes: list[dict]) -> str:
    """The rows and the growth exponents as two markdown tables."""
    header = ["program", "n", "compiler", *COLUMNS, "status"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(column)) for column in header) + " |")
    header = ["program", "compiler", "sizes", *GROWING]
    lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for slope in slopes:
        cells = [slope["program"], slope["compiler"], ",".join(map(str, slope["sizes"]))]
        cells += [_cell(None if slope[c] is None else round(slope[c], 2)) for c in GROWING]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parameter_ratios(rows: list[dict], n: int) -> dict[str, float]:
    """Reference params / optracr params at n, for the programs both compiled."""
    by_key = {(row["program"], row["compiler"]): row for row in rows if row["n"] == n and "params" in row}
    return {program: by_key[(program, "reference")]["params"] / row["params"]
            for (program, compiler), row in sorted(by_key.items())
            if compiler == "optracr" and (program, "reference") in by_key}


def main(argv: list[str] | None = None) -> int:
    """Runs the grid (or, with ``--one``, one measurement in this process) and writes the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", default=",".join(PROGRAMS))
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--reference-python", default=None, help="interpreter that can import tracr")
    parser.add_argument("--reference-timeout", type=float, default=300.0, help="seconds per reference compile")
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--out", default=str(RESULTS / "scale.json"))
    parser.add_argument("--one", nargs=3, metavar=("COMPILER", "PROGRAM", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        compiler, name, n = args.one
        measure = measure_optracr if compiler == "optracr" else measure_reference
        print(json.dumps(measure(name, int(n))))
        return 0
    names, sizes = args.programs.split(","), [int(size) for size in args.sizes.split(",")]
    peer = None if args.no_reference else reference_python(args.reference_python)
    rows = []
    for name in names:
        for n in sizes:
            rows.append(run_one("optracr", name, n, python=sys.executable, timeout_s=OPTRACR_TIMEOUT_S))
            if peer is not None:
                rows.append(run_one("reference", name, n, python=peer, timeout_s=args.reference_timeout))
            print(json.dumps(rows[-2:] if peer else rows[-1:]), file=sys.stderr, flush=True)
    slopes = exponents(rows)
    print(markdown(rows, slopes))
    print("reference not run: no interpreter here imports tracr" if peer is None else
          f"params ratio reference / optracr at n = {max(sizes)}: {parameter_ratios(rows, max(sizes))}")
    Path(args.out).write_text(json.dumps({"rows": rows, "exponents": slopes, "reference_ran": peer is not None}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
