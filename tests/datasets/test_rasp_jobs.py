"""RASP programs in hand (lambdas, closures, built in ``__main__``) compiled by ``compile_many``'s workers."""

from __future__ import annotations

import concurrent.futures
import json
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import optracr
from optracr import rasp
from optracr.datasets import Job, ProgramSpec, Record, compile_many
from optracr.errors import CompileError, OptracrTypeError

cloudpickle = pytest.importorskip("cloudpickle")  # the dask extra installs it

# Built in a ``python -c`` script's __main__: a closure per threshold and a bare lambda, none importable by a worker.
MAIN_SCRIPT = '''
import itertools, json, sys
import optracr
from optracr import rasp

def frac_above(threshold):
    above = rasp.numerical(rasp.Map(lambda t: 1 if t > threshold else 0, rasp.tokens))
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    return rasp.numerical(rasp.Aggregate(prevs, above, default=0)).named(f"frac_above_{threshold}")

scale = 10
jobs = [(frac_above(1), {1, 2, 3}, 3), (frac_above(2), {1, 2, 3}, 3), (rasp.Map(lambda t: t * scale, rasp.tokens), [1, 2], 3)]
records = optracr.compile_many(jobs, workers=2, save_dir=sys.argv[1])
inputs = [[list(xs) for n in range(1, length + 1) for xs in itertools.product(sorted(vocab), repeat=n)]
          for _, vocab, length in jobs]
expected = [[rasp.evaluate(program, xs) for xs in every] for (program, _, _), every in zip(jobs, inputs)]
print(json.dumps({"records": [r.to_json() for r in records], "inputs": inputs, "expected": expected}))
'''


def test_programs_built_in_a_scripts_main_compile_on_spawned_workers_and_compute_what_they_evaluate_to(
    tmp_path: Path,
) -> None:
    done = subprocess.run([sys.executable, "-c", MAIN_SCRIPT, str(tmp_path)], capture_output=True, text=True,
                          env=os.environ, timeout=300)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    records = [Record.from_json(data) for data in found["records"]]
    assert [(r.status, r.program["kind"], r.program["target"]) for r in records] == [
        ("ok", "rasp", "frac_above_1"), ("ok", "rasp", "frac_above_2"), ("ok", "rasp", records[2].program["target"])]
    assert records[2].program["target"].startswith("map_")
    for record, inputs, expected in zip(records, found["inputs"], found["expected"]):
        model = optracr.load(tmp_path / record.saved)
        assert record.verify["checked"] == len(inputs) and record.verify["mismatches"] == 0
        got = model.apply_batch([[model.bos, *xs] for xs in inputs])
        assert all(g == pytest.approx(e, abs=1e-6) for g, e in zip(got, expected)), record.name


def test_a_rasp_job_is_recorded_by_its_label_and_survives_json() -> None:
    program = rasp.Map(lambda t: t == "a", rasp.tokens).named("is_a")
    jobs = [(program, ["b", "a"], 3), Job("named", (program, ["a", "b"], 2), {"causal": True})]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        records = compile_many(jobs, executor=pool)
    assert [(r.name, r.status, r.verify["checked"]) for r in records] == [("job-000000", "ok", 14), ("named", "ok", 6)]
    assert records[0].program == {"kind": "rasp", "target": "is_a", "vocab": ["a", "b"], "max_seq_len": 3}
    assert Record.from_json(json.loads(json.dumps(records[0].to_json()))) == records[0]
    assert jobs[1].program == ProgramSpec.rasp(program, ["b", "a"], 2)  # a Job takes the triple too
    with pytest.raises(CompileError, match="'is_a': a record of a RASP program keeps its label, not the program"):
        ProgramSpec.from_json(records[0].program)


def test_an_unpickled_program_gets_fresh_ids_and_keeps_its_labels() -> None:
    threshold = 2
    program = rasp.numerical(rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ),
                                            rasp.numerical(rasp.Map(lambda t: t > threshold, rasp.tokens)),
                                            default=0))
    copy = pickle.loads(cloudpickle.dumps(program))
    originals = {expr.unique_id for expr in _expressions(program)}
    copies = {expr.unique_id for expr in _expressions(copy)}
    assert not originals & copies  # a shared id would merge two expressions wherever passes memoise by id
    assert [expr.label for expr in _expressions(copy)] == [expr.label for expr in _expressions(program)]
    mixed = rasp.numerical(rasp.SequenceMap(lambda a, b: a - b, program, copy))  # both in one program
    model = optracr.compile(mixed, {1, 2, 3}, 3)
    assert optracr.verify(model, mixed).num_mismatches == 0
    assert rasp.evaluate(copy, [3, 1, 3]) == rasp.evaluate(program, [3, 1, 3])


def _expressions(program: rasp.RASPExpr) -> list[rasp.RASPExpr]:
    found, stack = [], [program]
    while stack:
        expr = stack.pop()
        found.append(expr)
        stack.extend(expr.children)
    return found


def test_a_program_without_its_vocab_and_length_is_refused_with_what_to_pass() -> None:
    program = rasp.Map(lambda t: t, rasp.tokens).named("copy")
    with pytest.raises(CompileError, match=r"'copy': job 0: a RASP program needs its vocab and max_seq_len: pass "
                                           r"\(program, vocab, max_seq_len\) or ProgramSpec.rasp"):
        compile_many([program])
    with pytest.raises(CompileError, match="'copy': max_seq_len must be a positive integer, got 0"):
        ProgramSpec.rasp(program, ["a"], 0)
    with pytest.raises(CompileError, match="ProgramSpec.rasp takes an s-op .the program's output., got Select"):
        ProgramSpec.rasp(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ), ["a"], 2)
    with pytest.raises(CompileError, match=r"job 0: expected a Job, a ProgramSpec or \(program, vocab, max_seq_len\)"):
        compile_many(["sort"])
    with pytest.raises(OptracrTypeError, match=r"job 'x': program must be a ProgramSpec or \(RASP program, vocab, max_seq_len"):
        Job("x", "sort")


def test_a_program_holding_something_unpicklable_is_refused_naming_it() -> None:
    lock = threading.Lock()

    def locked(token):
        with lock:
            return token

    program = rasp.Map(locked, rasp.tokens).named("locked")
    with pytest.raises(CompileError, match="'locked': the program cannot be sent to worker processes: cloudpickle "
                                           "cannot pickle it .TypeError: .*lock"):
        compile_many([(program, ["a"], 2)])


def test_without_cloudpickle_a_rasp_job_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cloudpickle", None)  # import cloudpickle raises ImportError
    with pytest.raises(CompileError, match=r"needs cloudpickle, which is not installed: pip install cloudpickle "
                                           r"\(or pip install 'optracr\[dask\]'\)"):
        ProgramSpec.rasp(rasp.Map(lambda t: t, rasp.tokens), ["a"], 2)


def test_only_a_rasp_spec_carries_pickled_bytes() -> None:
    with pytest.raises(CompileError, match="only a rasp program carries pickled bytes"):
        ProgramSpec("library", target="sort", pickled=b"x")
    with pytest.raises(CompileError, match="only a rasp program carries pickled bytes"):
        ProgramSpec("rasp", target="x", vocab=("a",), max_seq_len=2)



def test_a_causal_job_records_the_selectors_that_look_ahead_and_a_plain_one_records_none() -> None:
    following = rasp.Select(rasp.indices, rasp.indices, lambda key, query: key == query + 1).named("later")
    program = rasp.Aggregate(following, rasp.tokens).named("from_later")
    jobs = [Job("causal", (program, ["a", "b"], 3), {"causal": True}), Job("plain", (program, ["a", "b"], 3), {}),
            Job("earlier", (rasp.Map(lambda t: t, rasp.tokens).named("same"), ["a"], 2), {"causal": True})]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        causal, plain, earlier = compile_many(jobs, executor=pool)
    assert causal.status == "ok" and causal.verify["mismatches"] == 0  # against the causal evaluator
    assert len(causal.causal_meaning) == 1
    assert causal.causal_meaning[0].startswith("'from_later': its selector 'later' can pick a later position")
    assert plain.causal_meaning == () and earlier.causal_meaning == ()
    assert Record.from_json(json.loads(json.dumps(causal.to_json()))) == causal
