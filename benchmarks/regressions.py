"""Every program we hold, compiled and verified, so two checkouts can be compared: no regression hides.

Compiles the library programs (default mode and reference structure, solver and heuristic), the
reference's test cases where the checkout has them (``tests/test_reference_test_cases.py``), freely written random
programs (``benchmarks/refusals.py``'s generator, plain and causal) and programs of optracr's own generator
(valid by construction), and records for each whether it compiled
(layers, parameters), whether ``optracr.verify`` found it exact, or the refusal's first line. It uses only
public names, so it runs unchanged on older checkouts:

    PYTHONPATH=/path/to/old python benchmarks/regressions.py --out /tmp/old.json
    PYTHONPATH=. python benchmarks/regressions.py --out /tmp/new.json --compare /tmp/old.json

``--compare`` prints every program that was exact before and is not now (a regression), every one that is
exact now and was not before, and every change of layers or parameters; it exits 1 on a regression.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import optracr
from optracr import programs

HERE = Path(__file__).resolve().parent
Case = tuple[str, Callable[[], object], frozenset, int, dict]  # name, build, vocab, max_seq_len, compile options


def _load(path: Path, name: str):
    """A module from a file of this checkout, or None when the checkout has no such file."""
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def library_cases() -> Iterator[Case]:
    """Every library program in both modes under both allocators."""
    modes = {"default": {}, "reference_structure": {"fold": False, "fuse": False}}
    for name in sorted(programs.LIBRARY):
        entry = programs.LIBRARY[name]
        for mode, options in modes.items():
            for allocator in ("solver", "heuristic"):
                yield (f"library/{name}/{mode}/{allocator}", entry.build, entry.vocab, entry.max_seq_len,
                       {**options, "allocator": allocator})


def reference_cases(root: Path) -> Iterator[Case]:
    """The reference's test cases as this checkout rebuilds them (``tests/test_reference_test_cases.py``), if it does."""
    table = _load(root / "tests" / "test_reference_test_cases.py", "optracr_reference_test_cases")
    if table is None:
        return
    seen = set()
    for case in table.ALL_CASES:  # cases sharing a program and options compile one model
        key = (case.program, case.vocab, case.max_seq_len, case.causal)
        if key in seen:
            continue
        seen.add(key)
        for mode, options in {"default": {}, "reference_structure": {"fold": False, "fuse": False}}.items():
            name = f"reference/{case.program}{'/causal' if case.causal else ''}/{mode}"
            yield (name, table.PROGRAMS[case.program], frozenset(case.vocab), case.max_seq_len,
                   {**options, "causal": case.causal})


def random_cases(count: int, seed: int) -> Iterator[Case]:
    """``count`` freely written random programs, each also compiled causally."""
    refusals = _load(HERE / "refusals.py", "optracr_refusals_benchmark")
    for index in range(count):
        program_seed = seed + index
        build = lambda program_seed=program_seed: refusals.write_program(program_seed, 5)  # noqa: E731
        for causal in (False, True):
            name = f"random/{program_seed}" + ("/causal" if causal else "")
            yield name, build, refusals.VOCAB, refusals.MAX_SEQ_LEN, {"allocator": "heuristic", "causal": causal}


def generated_cases(count: int, seed: int) -> Iterator[Case]:
    """``count`` programs of optracr's own generator (valid by construction), with solver allocation."""
    try:
        from optracr.generate import generate
    except ImportError:  # a checkout from before the generator had its package (this script compares checkouts)
        from optracr.random_programs import generate
    for index in range(count):
        program_seed = seed + index
        generated = generate(program_seed, num_sops=2 + program_seed % 9, mixed_types=program_seed % 3 == 0)
        yield (f"generated/{program_seed}", lambda generated=generated: generated.program, generated.vocab,
               generated.max_seq_len, {})


def run_case(case: Case) -> dict:
    """Compiles and verifies one case: its status, sizes, or the refusal's first line."""
    name, build, vocab, max_seq_len, options = case
    program = build()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = optracr.compile(program, vocab, max_seq_len, **options)
    except optracr.CompileError as error:
        return {"status": "refused", "message": str(error).splitlines()[0][:200]}
    except Exception as error:  # noqa: BLE001 - a crash is a finding, recorded
        return {"status": "crashed", "message": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"}
    report = optracr.verify(model, program)
    status = "exact" if report.ok else ("undefined" if report.num_checked == 0 else "mismatch")
    return {"status": status, "layers": model.config.num_layers, "params": model.params_total}


def compare(old: dict, new: dict) -> int:
    """Prints regressions, fixes and size changes between two runs; the number of regressions."""
    regressions, fixed, resized = [], [], []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before is None or after is None:
            continue
        was, now = before["status"] == "exact", after["status"] == "exact"
        if was and not now:
            regressions.append(f"  {name}: {after['status']} {after.get('message', '')}")
        elif now and not was:
            fixed.append(f"  {name}: was {before['status']} {before.get('message', '')}")
        elif was and now and (before["layers"], before["params"]) != (after["layers"], after["params"]):
            resized.append(f"  {name}: layers {before['layers']} -> {after['layers']}, "
                           f"params {before['params']:,} -> {after['params']:,}")
    for title, rows in (("regressions (exact before, not now)", regressions), ("exact now, not before", fixed),
                        ("sizes changed", resized)):
        print(f"{title}: {len(rows)}")
        print("\n".join(rows))
    only = sorted(set(old) ^ set(new))
    if only:
        print(f"in one run only: {len(only)} (e.g. {only[:3]})")
    return len(regressions)


def totals(results: dict) -> str:
    """Status counts, and total layers and parameters of the library's default-mode solver models."""
    counts: dict[str, int] = {}
    for result in results.values():
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    default = [r for n, r in results.items() if n.endswith("/default/solver") and r["status"] == "exact"]
    return (", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
            + f"; library default/solver: {sum(r['layers'] for r in default)} layers, "
            f"{sum(r['params'] for r in default):,} parameters over {len(default)} programs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="where to write this run's JSON")
    parser.add_argument("--compare", help="an earlier run's JSON to compare with")
    parser.add_argument("--random", type=int, default=300, help="random programs (each also compiled causally)")
    parser.add_argument("--generated", type=int, default=300, help="programs of optracr's own generator")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    root = Path(optracr.__file__).resolve().parents[1]  # the checkout under test (PYTHONPATH), not this script's
    started = time.perf_counter()
    cases = [*library_cases(), *reference_cases(root), *random_cases(args.random, args.seed),
             *generated_cases(args.generated, args.seed)]
    results = {case[0]: run_case(case) for case in cases}
    Path(args.out).write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(f"{len(results)} programs in {time.perf_counter() - started:.0f} s: {totals(results)}")
    if args.compare:
        return 1 if compare(json.loads(Path(args.compare).read_text()), results) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
