"""``compile_many``: records in input order, the same on local processes and a Dask cluster, failures as records."""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import optracr
from optracr import programs as library
from optracr.datasets import many
from optracr.datasets import Job, ProgramSpec, Record, compile_many
from optracr.errors import CompileError


def _closure_program(threshold: int) -> optracr.rasp.SOp:
    return optracr.rasp.Map(lambda t: t > threshold, optracr.rasp.tokens).named("above")


def _jobs(bad_programs: Path) -> list[Job]:
    return [
        Job("sort", ProgramSpec.library("sort")),
        Job("random-1", ProgramSpec.random(1, num_sops=6)),
        Job("raises", ProgramSpec.function(f"{bad_programs}:raising", ["a", "b"], 3)),
        Job("loops", ProgramSpec.function(f"{bad_programs}:looping", ["a", "b"], 3)),
        Job("random-2", ProgramSpec.random(2, num_sops=8), {"allocator": "heuristic"}),
        Job("frac_prevs", ProgramSpec.library("frac_prevs", max_seq_len=4)),
        Job("closure", ProgramSpec.rasp(_closure_program(1), [0, 1, 2], 3)),  # cloudpickled: a test's closure
    ]


def _check_outcomes(records: list[Record]) -> None:
    assert [r.name for r in records] == ["sort", "random-1", "raises", "loops", "random-2", "frac_prevs", "closure"]
    assert [r.status for r in records] == ["ok", "ok", "error", "timeout", "ok", "ok", "ok"]
    assert records[6].program == {"kind": "rasp", "target": "above", "vocab": [0, 1, 2], "max_seq_len": 3}
    assert records[2].error.startswith("RuntimeError: this program cannot be built")
    assert records[3].error == "JobTimeout: exceeded its time limit of 3 s"
    assert records[0].sizes["layers"] == 3 and records[0].verify["checked"] == 1364


def test_a_dask_local_cluster_and_the_default_executor_give_identical_records(bad_programs: Path, tmp_path) -> None:
    distributed = pytest.importorskip("distributed")
    jobs = _jobs(bad_programs)
    local = compile_many(jobs, workers=2, timeout_s=3, seed=7, save_dir=tmp_path / "local")
    _check_outcomes(local)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            on_dask = compile_many(jobs, executor=client, timeout_s=3, seed=7, save_dir=tmp_path / "dask")
    assert [r.without_timings() for r in on_dask] == [r.without_timings() for r in local]
    model = optracr.load(tmp_path / "dask" / on_dask[0].saved)
    assert model.apply(["BOS", 3, 1, 2]).decoded == ["BOS", 1, 2, 3]
    closure = optracr.load(tmp_path / "dask" / on_dask[6].saved)
    assert closure.apply(["BOS", 2, 1, 0]).decoded == ["BOS", True, False, False]


def test_a_thread_pool_stops_a_looping_job_with_an_asynchronous_exception(bad_programs: Path) -> None:
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        found = compile_many(_jobs(bad_programs), executor=pool, timeout_s=3, seed=7, chunk_size=2)
    _check_outcomes(found)


def test_records_come_back_in_input_order_whatever_the_chunking(bad_programs: Path) -> None:
    specs = [ProgramSpec.random(seed, num_sops=4) for seed in range(6)]
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        one = compile_many(specs, executor=pool, chunk_size=1, verify=False)
        four = compile_many(specs, executor=pool, chunk_size=4, verify=False)
    assert [r.name for r in one] == [f"job-{i:06d}" for i in range(6)]
    assert [r.without_timings() for r in one] == [r.without_timings() for r in four]
    assert all(r.ok and r.verify is None and r.saved is None for r in one)


def test_a_worker_stuck_in_native_code_is_given_up_and_the_run_goes_on(bad_programs: Path, monkeypatch) -> None:
    monkeypatch.setattr(many, "GRACE_S", 3.0)
    jobs = [Job("stuck", ProgramSpec.function(f"{bad_programs}:stuck", ["a"], 2)),
            Job("fine", ProgramSpec.random(3, num_sops=4))]
    found = compile_many(jobs, workers=2, timeout_s=1, verify=False, chunk_size=1)
    assert [r.status for r in found] == ["timeout", "ok"]
    assert "no answer from its worker" in found[0].error


def test_a_record_survives_json() -> None:
    [record] = compile_many([ProgramSpec.library("hist")], executor=concurrent.futures.ThreadPoolExecutor(1))
    assert Record.from_json(json.loads(json.dumps(record.to_json()))) == record


def test_program_specs_rebuild_the_same_program_from_json() -> None:
    for spec in (ProgramSpec.random(5, num_sops=7, vocab=["b", "a"]), ProgramSpec.library("sort", max_seq_len=3),
                 ProgramSpec.function("optracr.programs:make_shuffle_dyck", ["(", ")"], 3, pairs=["()"])):
        assert ProgramSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec
    program, vocab, max_seq_len = ProgramSpec.library("sort", max_seq_len=3).build()
    assert vocab == library.LIBRARY["sort"].vocab and max_seq_len == 3


@pytest.mark.parametrize(("options", "message"), [
    ({"timeout_s": 0}, "timeout_s must be positive seconds or None"),
    ({"workers": 0}, "workers must be a positive integer or None"),
    ({"executor": "dask"}, "executor must be None, a concurrent.futures.Executor or a Dask Client"),
])
def test_bad_options_are_refused_with_what_would_work(options: dict, message: str) -> None:
    with pytest.raises(CompileError, match=message):
        compile_many([ProgramSpec.library("hist")], **options)


def test_repeated_job_names_and_bad_specs_are_refused() -> None:
    with pytest.raises(CompileError, match="job names must be unique.*repeated: twice"):
        compile_many([Job("twice", ProgramSpec.library("hist"))] * 2)
    with pytest.raises(CompileError, match="unknown program kind 'pickle'; use one of random, library, function"):
        ProgramSpec("pickle", target="x")
    with pytest.raises(CompileError, match="needs vocab and max_seq_len"):
        ProgramSpec("function", target="m:f")


def test_importing_optracr_and_compiling_many_locally_never_imports_dask() -> None:
    script = (
        "import sys, optracr\n"
        "from optracr.datasets import ProgramSpec\n"
        "assert 'dask' not in sys.modules and 'distributed' not in sys.modules\n"
        "records = optracr.compile_many([ProgramSpec.random(1, num_sops=3)], workers=1)\n"
        "assert records[0].ok, records\n"
        "print(sorted(name for name in ('dask', 'distributed', 'torch', 'jax') if name in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=os.environ, check=True)
    assert done.stdout.strip() == "[]", done.stderr
