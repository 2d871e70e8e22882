"""The block-wise forward against the padded dense forward it replaced, and the memory of compile + first apply.

Speed: ``sort`` compiled at vocabulary = length = n (32 and 64 by default), one input (the tokens n-1 .. 0),
timed on one core (``os.sched_setaffinity`` and one BLAS thread) in one run: ``CompiledModel.apply`` (the
block-wise forward, with its trace) against the dense numpy forward optracr ran before (module
``assemble/numpy_forward.py`` at commit ``DENSE_COMMIT``, read with ``git show``, on ``layered.dense()``).
Each figure is the best of ``--repeats`` calls of the CPU time the process used (``time.process_time``),
so other processes on the machine slow it less.

Memory: ``sort_freq`` at n = 64, compiled and applied once in a fresh subprocess; its peak resident memory
(``VmHWM``) is reported, and the peak after compile alone.

    PYTHONPATH=$PWD python benchmarks/forward.py                # writes results/forward.json
    PYTHONPATH=$PWD python benchmarks/forward.py --sizes 32 --no-memory
"""

from __future__ import annotations

import os

# One core, one BLAS thread: set before numpy loads.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import optracr  # noqa: E402
from optracr import programs  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent
DENSE_COMMIT = "b5d72e8"  # the last main with the dense numpy forward (assemble/numpy_forward.py)

# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child would report its parent's peak.
MEMORY_SCRIPT = """
import sys
import optracr
from optracr import programs
def peak_mb():
    line = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024
n = int(sys.argv[1])
entry = programs.LIBRARY["sort_freq"]
model = optracr.compile(entry.build(n), range(n), n)
after_compile = peak_mb()
decoded = model.apply(["BOS", *range(n - 1, -1, -1)]).decoded
print(after_compile, peak_mb(), decoded == ["BOS", *range(n - 1, -1, -1)])  # all tied: input order
"""


def dense_forward_module():
    """The dense forward of ``DENSE_COMMIT``, loaded from git into a module (it is no longer in the package)."""
    source = subprocess.run(["git", "show", f"{DENSE_COMMIT}:optracr/assemble/numpy_forward.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location("dense_numpy_forward", handle.name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    os.unlink(handle.name)
    return module


def best_cpu_seconds(function, repeats: int) -> float:
    """The least CPU time of ``repeats`` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        function()
        best = min(best, time.process_time() - start)
    return best


def speed_row(n: int, repeats: int, dense) -> dict:
    """apply (block-wise) against the dense forward, for sort at vocabulary = length = n."""
    entry = programs.LIBRARY["sort"]
    model = optracr.compile(entry.build(n), range(n), n)
    tokens = ["BOS", *range(n - 1, -1, -1)]
    assert model.apply(tokens).decoded == ["BOS", *range(n)]
    token_ids = model.layered.token_ids(tokens)[None]
    weights = model.layered.dense()
    pad_id = model.input_tokens.index(model.pad)
    blockwise = best_cpu_seconds(lambda: model.apply(tokens), repeats)
    padded = best_cpu_seconds(
        lambda: dense.dense_forward(weights, token_ids, pad_id=pad_id, causal=model.layered.causal), repeats
    )
    return {"program": "sort", "n": n, "params_total": model.params_total, "params_nonzero": model.params_nonzero,
            "apply_seconds": blockwise, "dense_forward_seconds": padded, "speedup": padded / blockwise}


def memory_row(n: int) -> dict:
    """Peak resident memory of compile, and of compile + first apply, of sort_freq at n, in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(n)], capture_output=True, text=True, env=env,
                          check=True)
    after_compile, peak, exact = done.stdout.split()
    return {"program": "sort_freq", "n": n, "compile_peak_mb": float(after_compile), "peak_mb": float(peak),
            "exact": exact == "True"}


def main(argv: list[str] | None = None) -> None:
    """Measures, prints and writes results/forward.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--memory-n", type=int, default=64)
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "forward.json")
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    dense = dense_forward_module()
    report = {"speed": [], "memory": None}
    for n in args.sizes:
        row = speed_row(n, args.repeats, dense)
        print(f"sort n={n}: apply {row['apply_seconds'] * 1e3:.2f} ms, dense forward "
              f"{row['dense_forward_seconds'] * 1e3:.2f} ms, {row['speedup']:.1f}x", flush=True)
        report["speed"].append(row)
    if not args.no_memory:
        report["memory"] = memory_row(args.memory_n)
        print(f"sort_freq n={args.memory_n}: peak {report['memory']['peak_mb']:.0f} MB "
              f"(after compile {report['memory']['compile_peak_mb']:.0f} MB)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
