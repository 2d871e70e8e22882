"""``optracr dataset`` / ``write_dataset``: shards, the index, and resuming after an interruption."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from optracr import cli
from optracr.datasets import DatasetSpec, read_index, write_dataset
from optracr.errors import CompileError


def _finished_files(out: Path) -> dict[Path, int]:
    """Every file of the finished shards, with its modification time in ns."""
    shards = sorted(path.stem for path in (out / "shards").glob("*.jsonl"))
    files = [out / "shards" / f"{shard}.jsonl" for shard in shards]
    files += [path for shard in shards for path in (out / "shards" / shard).rglob("*") if path.is_file()]
    return {path: path.stat().st_mtime_ns for path in files}


def test_an_interrupted_dataset_finishes_on_rerun_without_recompiling_finished_shards(tmp_path: Path) -> None:
    out = tmp_path / "data"
    command = [sys.executable, "-m", "optracr.cli", "dataset", str(out), "-n", "60", "--shard-size", "5",
               "--max-sops", "6", "--workers", "1", "--no-progress"]
    run = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(list((out / "shards").glob("*.jsonl"))) < 2 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGINT)  # Ctrl-C: the command and its workers
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130, stderr
    assert "run the same command again" in stderr and not (out / "index.jsonl").exists()
    before = _finished_files(out)
    assert before

    rerun = subprocess.run(command, capture_output=True, text=True, check=True)
    finished = len([path for path in before if path.suffix == ".jsonl"])
    assert f"({finished} finished before, {12 - finished} now: {60 - 5 * finished} ok)" in rerun.stdout
    assert {path: path.stat().st_mtime_ns for path in before} == before  # not one file rewritten
    names = [record.name for record in read_index(out)]
    assert names == [f"{i // 5:05d}/{i:07d}" for i in range(60)]
    assert collections.Counter(names).most_common(1)[0][1] == 1
    assert all(record.ok for record in read_index(out))


def test_a_half_written_shard_is_redone_from_scratch(tmp_path: Path) -> None:
    spec = DatasetSpec(6, seed=3, shard_size=3, max_sops=4, verify=False)
    first = write_dataset(tmp_path, spec, workers=1, progress=False)
    assert (first.shards_skipped, first.shards_written, first.statuses) == (0, 2, {"ok": 6})
    (tmp_path / "shards" / "00001.jsonl").unlink()
    (tmp_path / "shards" / "00001" / "stale").mkdir()
    again = write_dataset(tmp_path, spec, workers=1, progress=False)
    assert (again.shards_skipped, again.shards_written) == (1, 1)
    assert not (tmp_path / "shards" / "00001" / "stale").exists()
    index = read_index(tmp_path)
    assert [r.without_timings() for r in index[:3]] == [r.without_timings() for r in read_index(tmp_path)[:3]]
    assert [r.program["seed"] for r in index] == [spec.job(i).program.seed for i in range(6)]
    assert all(r.ok and (tmp_path / "shards" / r.saved / "model.json").is_file() for r in index)


def test_programs_are_seeded_by_the_dataset_seed_and_their_position() -> None:
    assert DatasetSpec(4, seed=1).job(2) == DatasetSpec(9, seed=1).job(2)
    assert DatasetSpec(4, seed=1).job(2).program != DatasetSpec(4, seed=2).job(2).program
    assert DatasetSpec(4, seed=1).job(2).program != DatasetSpec(4, seed=1).job(3).program


def test_a_directory_holding_another_dataset_is_refused(tmp_path: Path) -> None:
    write_dataset(tmp_path, DatasetSpec(1, max_sops=3, verify=False), workers=1, progress=False)
    with pytest.raises(CompileError, match="holds another dataset .num_programs, seed differ.; rerun with its"):
        write_dataset(tmp_path, DatasetSpec(2, seed=5, max_sops=3, verify=False), workers=1, progress=False)


def test_the_dataset_command_prints_where_the_index_is(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["dataset", str(tmp_path), "-n", "2", "--max-sops", "3", "--workers", "1", "--no-progress"]) == 0
    assert f"wrote {tmp_path / 'index.jsonl'}: 2 programs in 1 shards (0 finished before, 1 now: 2 ok)" in (
        capsys.readouterr().out
    )
    spec = json.loads((tmp_path / "dataset.json").read_text())
    assert spec["format"] == "optracr-dataset" and spec["spec"]["num_programs"] == 2


def test_scheduler_and_workers_exclude_each_other() -> None:
    assert cli.main(["dataset", "out", "-n", "1", "--workers", "2", "--scheduler", "tcp://x:1"]) == 2


def test_a_missing_or_damaged_index_is_refused_naming_the_file_and_line(tmp_path) -> None:
    from optracr.errors import ModelFileError

    with pytest.raises(ModelFileError, match=r"index.jsonl: no such file; a finished dataset holds index.jsonl"):
        read_index(tmp_path)
    good = {"name": "p0", "program": {}, "status": "ok"}
    (tmp_path / "index.jsonl").write_text(json.dumps(good) + "\n{not json\n")
    with pytest.raises(ModelFileError, match=r"index.jsonl, line 2: not a dataset record \(Expecting"):
        read_index(tmp_path)
    (tmp_path / "index.jsonl").write_text(json.dumps({**good, "status": "fine"}) + "\n")
    with pytest.raises(ModelFileError, match=r"line 1: not a dataset record \(record 'p0': status must be one of"):
        read_index(tmp_path)
    (tmp_path / "index.jsonl").write_text(json.dumps(good) + "\n")
    assert [record.name for record in read_index(tmp_path)] == ["p0"]
