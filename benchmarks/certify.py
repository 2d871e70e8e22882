"""The certificate at scale, against compiling, and on generated programs (soundness and completeness).

Run on one core (the script pins itself and numpy's BLAS to one thread):

    python benchmarks/certify.py                    # every section
    python benchmarks/certify.py --sections scale   # sort, sort_freq and reverse at vocabulary = length = 64
    python benchmarks/certify.py --sections library --repeats 7
    python benchmarks/certify.py --sections generated --programs 2000

Sections:
- ``scale``: each of sort, sort_freq and reverse compiled at vocabulary = length = 64 (``range(64)``) and
  certified (PROVED expected; the target is 30 s each).
- ``library``: every library program in both modes: compile seconds and certify seconds (CPU seconds, best of
  ``--repeats``, each compile from a freshly built program, each certify on the freshly compiled model) and
  their ratio (target: at most 1).
- ``generated``: ``--programs`` generated programs (seeded, varied sizes, mixes, value types, partial
  functions, causal), each compiled (default mode or the reference's structure), verified on every input and
  certified: PROVED where enumeration finds a mismatch would be unsound (must be 0); NOT PROVED where it finds
  the model exact is a miss (completeness: proved / exact, target >= 99 %), listed with its reason. Each model
  is also perturbed once (one weight) and checked again: a perturbed model enumeration finds wrong must be NOT
  PROVED.

Prints markdown tables and writes ``benchmarks/results/certify.json``.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402 - after pinning BLAS to one thread
import dataclasses  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import optracr  # noqa: E402
import optracr.compiler  # noqa: E402,F401 - loads OR-Tools before anything is timed
from optracr import assemble, craft, programs  # noqa: E402
from optracr.generate import random_programs  # noqa: E402
from optracr.schedule import fusion  # noqa: E402 - compile's cache, cleared before each timed compile

RESULTS = Path(__file__).resolve().parent / "results"
SCALE_PROGRAMS = ("sort", "sort_freq", "reverse")
MODES = {"default": {}, "reference": {"fold": False, "fuse": False}}


def pin_to_one_core() -> None:
    """Runs this process on one CPU where the OS allows it."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


# ------------------------------------------------------------------------------------------------ scale
def scale(size: int = 64) -> list[dict]:
    """sort, sort_freq and reverse at vocabulary = length = ``size``: compile and certify seconds, the verdict."""
    rows = []
    for name in SCALE_PROGRAMS:
        program = programs.LIBRARY[name].build(size)
        start = time.perf_counter()
        model = optracr.compile(program, vocab=range(size), max_seq_len=size)
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        certificate = optracr.certify(model)
        certify_s = time.perf_counter() - start
        rows.append({"program": name, "size": size, "compile_s": compile_s, "certify_s": certify_s,
                     "proved": certificate.proved, "float32": certificate.float32,
                     "output_margin": certificate.output_margin, "params": model.params_total})
        print(f"| {name} | {size} | {compile_s:.1f} | {certify_s:.1f} | {certificate.proved} | "
              f"{certificate.float32} |", flush=True)
    return rows


# ---------------------------------------------------------------------------------------------- library
def library(repeats: int) -> list[dict]:
    """Every library program in both modes: best compile and certify seconds over ``repeats`` runs.

    Both are timed alike: CPU seconds of this process (``time.process_time``, so other processes on a shared
    machine do not count), each compile on a freshly built program with compile's one cross-call cache (the
    fusion choice per scheduling problem, which a rebuilt library program hits) cleared first, each certify on
    that freshly compiled model (certify keeps nothing across calls).
    """
    rows = []
    for mode, options in MODES.items():
        for name, entry in sorted(programs.LIBRARY.items()):
            compile_times, certify_times, certificate = [], [], None
            for _ in range(repeats):
                fusion._greedy_choice.cache_clear()
                start = time.process_time()
                model = optracr.compile(entry.build(), entry.vocab, entry.max_seq_len, **options)
                compile_times.append(time.process_time() - start)
                start = time.process_time()
                certificate = optracr.certify(model)
                certify_times.append(time.process_time() - start)
            compile_s, certify_s = min(compile_times), min(certify_times)
            rows.append({"program": name, "mode": mode, "compile_s": compile_s, "certify_s": certify_s,
                         "ratio": certify_s / compile_s, "proved": certificate.proved,
                         "float32": certificate.float32})
            print(f"| {name} | {mode} | {compile_s * 1000:.1f} | {certify_s * 1000:.1f} | "
                  f"{certify_s / compile_s:.2f} | {certificate.proved} | {certificate.float32} |", flush=True)
    return rows


# -------------------------------------------------------------------------------------------- generated
def generated_options(seed: int) -> tuple[dict, bool]:
    """Generator options and the mode (True: default, False: the reference's structure) for one seed."""
    rng = random.Random(seed)
    options = dict(num_sops=rng.choice([3, 6, 10, 15, 20, 30]), vocab=frozenset(rng.choice(["abc", "ab", "abcd"])),
                   max_seq_len=rng.choice([3, 4, 5]), mixed_types=rng.random() < 0.2, partial=rng.random() < 0.2,
                   causal=rng.random() < 0.2, max_values=rng.choice([3, 4, 6]))
    mix = rng.choice([None, {"map": 2.0, "sequence_map": 1.0, "numerical_aggregate": 2.0,
                             "categorical_aggregate": 3.0, "selector_width": 3.0},
                      {"categorical_aggregate": 1.0, "selector_width": 1.0}])
    if mix is not None:
        options["mix"] = mix
    return options, rng.random() < 0.5


def perturbed(model: optracr.CompiledModel, rng: random.Random) -> optracr.CompiledModel | None:
    """The model with one weight changed: a head's W_QK scaled down, or an MLP unit's bias shifted or dropped."""
    layered = model.layered
    heads = [(layer, h) for layer, weights in enumerate(layered.layers) for h in range(len(weights.heads))]
    units = [(layer, u) for layer, weights in enumerate(layered.layers) if weights.mlp is not None
             for u in range(weights.mlp.hidden_width)]
    layers = list(layered.layers)
    if heads and (not units or rng.random() < 0.5):
        layer, index = rng.choice(heads)
        head = layers[layer].heads[index]
        factor = rng.choice([0.05, 0.2, 0.5])
        changed = craft.AttentionHead(craft.Bilinear(head.w_qk.left_space, head.w_qk.right_space,
                                                     head.w_qk.matrix * factor), head.w_ov)
        all_heads = list(layers[layer].heads)
        all_heads[index] = changed
        layers[layer] = assemble.Layer(tuple(all_heads), layers[layer].mlp)
    elif units:
        layer, index = rng.choice(units)
        mlp = layers[layer].mlp
        first, second = mlp.fst.matrix.copy(), mlp.snd.matrix.copy()
        if rng.random() < 0.5:
            first[mlp.fst.input_space.index(craft.BasisDirection("one")), index] += rng.choice([-1.0, -0.3, 0.3, 1.0])
        else:
            first[:, index] = 0.0
            second[index, :] = 0.0
        layers[layer] = assemble.Layer(layers[layer].heads, craft.MLP(
            craft.Linear(mlp.fst.input_space, mlp.fst.output_space, first),
            craft.Linear(mlp.snd.input_space, mlp.snd.output_space, second)))
    else:
        return None
    return assemble.CompiledModel(dataclasses.replace(layered, layers=tuple(layers)), program=model.program,
                                  program_graph=model.program_graph)


def generated(count: int, first_seed: int = 0) -> dict:
    """Soundness and completeness on ``count`` generated programs (see the module doc)."""
    tally = {"programs": 0, "refused": 0, "exact": 0, "proved_exact": 0, "wrong": 0, "proved_wrong": 0,
             "perturbed_wrong": 0, "perturbed_wrong_proved": 0, "perturbed_wrong_with_counterexample": 0}
    misses, seconds = [], {"compile": 0.0, "verify": 0.0, "certify": 0.0}
    for seed in range(first_seed, first_seed + count):
        options, default_mode = generated_options(seed)
        program = random_programs.generate(seed, **options)
        start = time.perf_counter()
        try:
            model = optracr.compile(program.program, program.vocab, program.max_seq_len, allocator="heuristic",
                                    causal=program.causal, partial_functions="allow",
                                    **({} if default_mode else MODES["reference"]))
        except optracr.CompileError:
            tally["refused"] += 1
            continue
        seconds["compile"] += time.perf_counter() - start
        tally["programs"] += 1
        start = time.perf_counter()
        report = optracr.verify(model, program.program)
        seconds["verify"] += time.perf_counter() - start
        start = time.perf_counter()
        certificate = optracr.certify(model, float32=False, search_seconds=0.2)
        seconds["certify"] += time.perf_counter() - start
        if report.num_mismatches == 0:
            tally["exact"] += 1
            if certificate.proved:
                tally["proved_exact"] += 1
            else:
                misses.append({"seed": seed, "options": _plain(options), "default_mode": default_mode,
                               "reason": f"{certificate.blamed.describe() if certificate.blamed else 'model'}: "
                                         f"{certificate.story}; the bound that fails: "
                                         f"{certificate.failures[0].describe()}"})
        else:
            tally["wrong"] += 1
            tally["proved_wrong"] += certificate.proved
        changed = perturbed(model, random.Random(seed))
        if changed is not None:
            changed_report = optracr.verify(changed, program.program)
            if changed_report.num_mismatches:
                changed_certificate = optracr.certify(changed, float32=False, search_seconds=0.2)
                tally["perturbed_wrong"] += 1
                tally["perturbed_wrong_proved"] += changed_certificate.proved
                tally["perturbed_wrong_with_counterexample"] += changed_certificate.counterexample is not None
    completeness = tally["proved_exact"] / max(1, tally["exact"])
    return {"tally": tally, "completeness": completeness, "misses": misses, "seconds": seconds}


def _plain(options: dict) -> dict:
    return {key: sorted(value) if isinstance(value, frozenset) else value for key, value in options.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default="scale,library,generated")
    parser.add_argument("--programs", type=int, default=2000, help="generated programs")
    parser.add_argument("--repeats", type=int, default=5, help="runs per library program (the best is kept)")
    parser.add_argument("--size", type=int, default=64, help="vocabulary size = length for the scale section")
    args = parser.parse_args()
    pin_to_one_core()
    sections = args.sections.split(",")
    results: dict = {}
    path = RESULTS / "certify.json"
    if path.exists():
        results = json.loads(path.read_text())
    if "scale" in sections:
        print("| program | vocabulary = length | compile s | certify s | proved | float32 |\n|---|---|---|---|---|---|")
        results["scale"] = scale(args.size)
    if "library" in sections:
        print("| program | mode | compile ms | certify ms | ratio | proved | float32 |\n|---|---|---|---|---|---|---|")
        results["library"] = library(args.repeats)
        worst = max(results["library"], key=lambda row: row["ratio"])
        print(f"worst certify / compile ratio: {worst['ratio']:.2f} ({worst['program']}, {worst['mode']})")
    if "generated" in sections:
        found = generated(args.programs)
        results["generated"] = found
        tally = found["tally"]
        print(f"generated: {tally['programs']} compiled ({tally['refused']} refused), {tally['exact']} exact by "
              f"enumeration, {tally['proved_exact']} of them PROVED ({100 * found['completeness']:.2f} %); "
              f"{tally['wrong']} wrong as compiled, {tally['proved_wrong']} of those PROVED (must be 0); perturbed: "
              f"{tally['perturbed_wrong']} wrong, {tally['perturbed_wrong_proved']} PROVED (must be 0), "
              f"{tally['perturbed_wrong_with_counterexample']} with a confirmed counterexample")
        for miss in found["misses"]:
            print(f"  miss: seed {miss['seed']} ({'default' if miss['default_mode'] else 'reference'} mode): "
                  f"{miss['reason']}")
        print(f"seconds: {found['seconds']}")
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(results, indent=1, allow_nan=False) + "\n")


if __name__ == "__main__":
    main()
