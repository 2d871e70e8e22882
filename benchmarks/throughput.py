"""Programs per second for building datasets: compile, compile + verify, compile + verify + save.

Small seeded random programs (2-10 s-ops over {a, b, c}, inputs up to length 5, as ``optracr dataset``'s
defaults) run through ``optracr.compile_many`` on 1 and 2 local worker processes and on a Dask ``LocalCluster``
(2 processes x 1 thread, when ``distributed`` is installed), plus the plain in-process loop. Pools and
clusters are started (and warmed) before the clock starts: rates are steady-state; start-up is reported
apart. Also measured: the first ``apply`` of fresh library models (numpy forward vs jitted Haiku forward)
and a fresh process's import + first compile + first apply.

Where the reference (``tracr``) is importable (its own venv, see ``reference_peer.py``), the same run also
times the reference's loop on the first programs: compile only, and compile + one ``apply``.

    python benchmarks/throughput.py                         # writes results/throughput.json and .png
    PYTHONPATH=. /work/venv-tracr/bin/python benchmarks/throughput.py --reference-only --programs 20
                                                            # writes results/throughput_reference.json
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optracr
from optracr import datasets, programs

RESULTS = Path(__file__).resolve().parent / "results"
MODES = {"compile": {"verify": False, "save": False}, "compile+verify": {"verify": True, "save": False},
         "compile+verify+save": {"verify": True, "save": True}}


def specs(count: int, seed: int) -> list[datasets.ProgramSpec]:
    """The dataset command's programs 0..count-1 for ``seed``."""
    spec = datasets.DatasetSpec(count, seed=seed)
    return [spec.job(i).program for i in range(count)]


def timed_many(program_specs, executor, workers: int, mode: str) -> dict:
    """compile_many on a running executor: programs per second, and how many records were ok."""
    with tempfile.TemporaryDirectory() as save_dir:
        start = time.perf_counter()
        found = datasets.compile_many(program_specs, executor=executor, workers=workers, verify=MODES[mode]["verify"],
                                      save_dir=save_dir if MODES[mode]["save"] else None)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "per_second": len(found) / seconds, "ok": sum(r.ok for r in found)}


def inline_loop(program_specs, mode: str) -> dict:
    """The plain loop in this process: build, compile, verify, save one program after another."""
    with tempfile.TemporaryDirectory() as save_dir:
        start = time.perf_counter()
        for number, spec in enumerate(program_specs):
            program, vocab, max_seq_len = spec.build()
            model = optracr.compile(program, vocab, max_seq_len)
            if MODES[mode]["verify"]:
                optracr.verify(model, program, progress=False)
            if MODES[mode]["save"]:
                optracr.save(model, Path(save_dir) / str(number))
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "per_second": len(program_specs) / seconds}


def executors(can_save: bool):
    """(name, workers, start-up seconds, executor, closer) for each way of running compile_many here."""
    for workers in (1, 2):
        start = time.perf_counter()
        pool = datasets.local_pool(workers)
        yield f"{workers} local worker{'s' if workers > 1 else ''}", workers, time.perf_counter() - start, pool, (
            lambda pool=pool: pool.shutdown())
    if importlib.util.find_spec("distributed") is not None:
        import distributed

        start = time.perf_counter()
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = distributed.Client(cluster)
        client.run(datasets.many.worker.import_stages)
        yield "Dask LocalCluster (2 x 1)", 2, time.perf_counter() - start, client, lambda: (client.close(), cluster.close())


def first_applies(names: list[str]) -> dict:
    """Milliseconds of the first apply of freshly compiled library models, numpy and jitted Haiku."""
    found = {"numpy": [], "jax": []}
    for name in names:
        entry = programs.LIBRARY[name]
        tokens = ["BOS", *sorted(entry.vocab, key=repr)[:3]]
        for backend in found:
            model = optracr.compile(entry.build(), entry.vocab, entry.max_seq_len)
            start = time.perf_counter()
            model.apply(tokens, backend=backend)
            found[backend].append(1000 * (time.perf_counter() - start))
    return {backend: {"median_ms": statistics.median(ms), "max_ms": max(ms), "programs": names}
            for backend, ms in found.items()}


FRESH = """
import time; start = time.perf_counter()
import optracr
from optracr import programs
imported = time.perf_counter()
entry = programs.LIBRARY["sort"]
model = optracr.compile(entry.build(), entry.vocab, entry.max_seq_len)
compiled = time.perf_counter()
model.apply(["BOS", 3, 1, 2])
applied = time.perf_counter()
print(imported - start, compiled - imported, applied - compiled, sum(model.compile_seconds.values()))
"""


def fresh_process(repeats: int = 3) -> dict:
    """A fresh process: ``import optracr``, the first compile (imports included), the first apply (median)."""
    rows = []
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-c", FRESH], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
        rows.append([float(x) for x in done.stdout.split()])
    keys = ("import_s", "first_compile_s", "first_apply_s", "compile_stages_s")
    return {key: statistics.median(row[i] for row in rows) for i, key in enumerate(keys)}


def reference_loop(program_specs) -> dict:
    """The reference compiler on the same programs: compile only, and compile + one apply each."""
    import importlib

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import reference_peer

    reference_rasp = importlib.import_module("tracr.rasp.rasp")
    compiling = importlib.import_module("tracr.compiler.compiling")
    found = {}
    for mode in ("compile", "compile+apply"):
        start, ok = time.perf_counter(), 0
        for spec in program_specs:
            program, vocab, max_seq_len = spec.build()
            try:
                model = compiling.compile_rasp_to_model(reference_peer.to_reference(program, reference_rasp), vocab,
                                                        max_seq_len, compiler_bos="BOS")
                if mode == "compile+apply":
                    model.apply(["BOS", *sorted(vocab)[:3]])
                ok += 1
            except Exception:  # noqa: BLE001 - the reference refuses some programs; counted, not fatal
                pass
        seconds = time.perf_counter() - start
        found[mode] = {"seconds": seconds, "per_second": len(program_specs) / seconds, "ok": ok}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=300, help="random programs per measurement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reference-only", action="store_true",
                        help="only the in-process loop and the reference's loop (run with the reference's venv)")
    args = parser.parse_args()
    program_specs = specs(args.programs, args.seed)
    can_save = importlib.util.find_spec("safetensors") is not None
    modes = [mode for mode in MODES if can_save or not MODES[mode]["save"]]
    result = {"programs": args.programs, "seed": args.seed, "cpus": os.cpu_count(), "load_before": os.getloadavg(),
              "command": " ".join(["python", *sys.argv]), "rows": []}
    for spec in program_specs[:5]:  # warm this process's caches and imports once
        optracr.compile(*spec.build())
    for mode in modes:
        row = {"executor": "in-process loop", "mode": mode, **inline_loop(program_specs, mode)}
        result["rows"].append(row)
        print(f"{row['executor']:<28} {mode:<22} {row['per_second']:8.1f} programs/s", flush=True)
    if args.reference_only:
        if importlib.util.find_spec("tracr") is not None:
            result["reference"] = reference_loop(program_specs)
            for mode, row in result["reference"].items():
                print(f"{'reference (tracr)':<28} {mode:<22} {row['per_second']:8.2f} programs/s ({row['ok']} ok)")
        _write(result, "throughput_reference.json")
        return
    for name, workers, startup, executor, close in executors(can_save):
        try:
            for mode in modes:
                row = {"executor": name, "mode": mode, "startup_s": startup,
                       **timed_many(program_specs, executor, workers, mode)}
                result["rows"].append(row)
                print(f"{name:<28} {mode:<22} {row['per_second']:8.1f} programs/s ({row['ok']} ok; start-up "
                      f"{startup:.1f} s)", flush=True)
        finally:
            close()
    result["first_apply"] = first_applies(["frac_prevs", "sort", "reverse", "hist", "shuffle_dyck2", "count"])
    result["fresh_process"] = fresh_process()
    result["load_after"] = os.getloadavg()
    print(json.dumps({"first_apply": result["first_apply"], "fresh_process": result["fresh_process"]}, indent=1))
    _write(result, "throughput.json")
    _plot(result)


def _write(result: dict, name: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / name).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {RESULTS / name}")


def _plot(result: dict) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    rows = result["rows"]
    names = list(dict.fromkeys(row["executor"] for row in rows))
    modes = list(dict.fromkeys(row["mode"] for row in rows))
    figure, axes = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(modes)
    for m, mode in enumerate(modes):
        values = [next((r["per_second"] for r in rows if r["executor"] == n and r["mode"] == mode), 0) for n in names]
        axes.bar([i + m * width for i in range(len(names))], values, width, label=mode)
    reference = RESULTS / "throughput_reference.json"
    if reference.is_file():
        loop = json.loads(reference.read_text()).get("reference", {})
        for mode, row in loop.items():
            axes.axhline(row["per_second"], linestyle="--", color="grey" if mode == "compile" else "black",
                         label=f"reference (tracr) {mode}, in-process")
    axes.set_xticks([i + width * (len(modes) - 1) / 2 for i in range(len(names))], names)
    axes.set_yscale("log")
    axes.set_ylabel("programs per second")
    axes.set_title(f"{result['programs']} random programs (2-10 s-ops), {result['cpus']} cores shared")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(RESULTS / "throughput.png", dpi=120)
    print(f"wrote {RESULTS / 'throughput.png'}")


if __name__ == "__main__":
    main()
