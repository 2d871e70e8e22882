"""A ``Job`` and a ``DatasetSpec`` carry one ``CompileOptions``, checked before any worker runs it."""

from __future__ import annotations

import pytest

from optracr import CompileError
from optracr.datasets import DatasetSpec, Job, ProgramSpec, worker
from optracr.options import CompileOptions, FoldOptions


def test_a_mapping_of_compile_keywords_becomes_compile_options() -> None:
    job = Job("sort", ProgramSpec.library("sort"), {"allocator": "heuristic", "fuse": False})
    assert job.compile_options == CompileOptions(allocator="heuristic", passes=(FoldOptions(),))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"allocator": "fast"}, r"job 'x': option allocator: unknown allocator 'fast'"),
        ({"time_limit": 1}, r"job 'x': option time_limit: unknown"),
        ({"vocab": ["a"]}, r"job 'x': option vocab comes from the program \(its ProgramSpec\)"),
        (CompileOptions(max_seq_len=3), r"job 'x': option max_seq_len comes from the program"),
        (3, r"job 'x': compile_options must be CompileOptions or a mapping of compile keywords, got 3"),
    ],
)
def test_a_job_refuses_options_a_worker_could_not_use(options: object, match: str) -> None:
    with pytest.raises(CompileError, match=match):
        Job("x", ProgramSpec.library("sort"), options)


def test_the_worker_compiles_with_the_job_options_and_the_program_inputs() -> None:
    job = Job("hist", ProgramSpec.library("hist", max_seq_len=3), CompileOptions(allocator="heuristic", seed=4))
    record = worker.run_job(job, timeout_s=None, verify=False, save_dir=None, seed=0)
    assert record.status == "ok" and record.sizes["allocation"] == "HEURISTIC"


def test_a_dataset_spec_records_its_options_as_json() -> None:
    spec = DatasetSpec(3, compile_options={"allocator": "heuristic"})
    assert spec.to_json()["compile_options"] == CompileOptions(allocator="heuristic").to_json()
    assert spec.job(0).compile_options == spec.compile_options
