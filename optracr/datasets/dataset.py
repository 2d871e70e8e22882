"""``write_dataset``: N seeded random programs compiled, verified and saved in shards, resumable.

Layout of the output directory:

- ``dataset.json``: what the dataset is (seed, size, shard size, generator and compile options, optracr
  version); a rerun must ask for the same dataset, or it is refused.
- ``shards/NNNNN/NAME/``: each model in the save format (``model.json`` + ``model.safetensors``).
- ``shards/NNNNN.jsonl``: the shard's records, written (atomically) once every program of the shard is done;
  its presence is what "finished" means, so a rerun skips it and redoes only the other shards.
- ``index.jsonl``: every record (program spec, status, error, sizes, verification, where saved, timings) in
  program order, rebuilt from the shard files at the end of a complete run. A shard where a worker died
  ("lost" records) is not written, so a rerun redoes it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import random
import shutil
from collections.abc import Hashable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import tqdm

from optracr import options as options_lib
from optracr.datasets import main_guard
from optracr.datasets import many
from optracr.datasets import programs
from optracr.datasets import records
from optracr.errors import CompileError, ModelFileError

FORMAT = "optracr-dataset"
FORMAT_VERSION = 1
SPEC_NAME = "dataset.json"
INDEX_NAME = "index.jsonl"


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """What a dataset holds: ``num_programs`` random programs of ``min_sops``..``max_sops`` s-ops over ``vocab``
    and ``max_seq_len``, program i rebuilt from ``program_seed(seed, i)``, in shards of ``shard_size``."""

    num_programs: int
    seed: int = 0
    shard_size: int = 100
    min_sops: int = 2
    max_sops: int = 10
    vocab: tuple[Hashable, ...] = ("a", "b", "c")
    max_seq_len: int = 5
    compile_options: options_lib.CompileOptions = dataclasses.field(default_factory=options_lib.CompileOptions)
    verify: bool = True

    def __post_init__(self) -> None:
        for name in ("num_programs", "shard_size", "min_sops", "max_seq_len"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CompileError(None, f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.max_sops, int) or self.max_sops < self.min_sops:
            raise CompileError(None, f"max_sops must be an integer >= min_sops ({self.min_sops}), got {self.max_sops!r}")
        object.__setattr__(self, "vocab", tuple(sorted(self.vocab, key=repr)))
        object.__setattr__(self, "compile_options", records.job_options(self.compile_options, "the dataset"))

    @property
    def num_shards(self) -> int:
        """How many shards the programs fill."""
        return -(-self.num_programs // self.shard_size)

    def job(self, index: int) -> records.Job:
        """Program ``index``'s job: its name (``shard/number``) and spec."""
        seed = program_seed(self.seed, index)
        num_sops = random.Random(seed).randint(self.min_sops, self.max_sops)
        spec = programs.ProgramSpec.random(seed, num_sops=num_sops, vocab=list(self.vocab),
                                           max_seq_len=self.max_seq_len)
        return records.Job(f"{index // self.shard_size:05d}/{index:07d}", spec, self.compile_options)

    def to_json(self) -> dict[str, Any]:
        """The spec as written in ``dataset.json``."""
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        data["vocab"], data["compile_options"] = list(self.vocab), self.compile_options.to_json()
        return data


@dataclasses.dataclass(frozen=True)
class DatasetResult:
    """How a run went: shards skipped (finished before) and written now, and the status of every program."""

    directory: Path
    shards_skipped: int
    shards_written: int
    statuses: dict[str, int]
    shards_unfinished: int = 0  # shards with a lost program (its worker died): run again to finish them

    @property
    def index(self) -> Path:
        """The JSONL index of every program."""
        return self.directory / INDEX_NAME


def program_seed(seed: int, index: int) -> int:
    """The generator seed of program ``index`` in a dataset of seed ``seed`` (independent streams, 63 bits)."""
    return int.from_bytes(hashlib.sha256(f"optracr-dataset/{seed}/{index}".encode()).digest()[:8], "big") >> 1


def write_dataset(
    directory: str | os.PathLike,
    spec: DatasetSpec,
    *,
    executor: Any = None,
    workers: int | None = None,
    timeout_s: float | None = 60.0,
    progress: bool = True,
) -> DatasetResult:
    """Compiles, verifies and saves the programs of ``spec`` into ``directory``, skipping finished shards.

    Interrupted, the same call finishes the set: shards whose ``.jsonl`` exists are kept as they are; the
    others are redone from scratch. ``executor`` and ``workers`` are ``compile_many``'s.
    """
    main_guard.exit_if_reimported_by_spawn()  # before writing anything: see compile_many
    if importlib.util.find_spec("safetensors") is None:
        raise CompileError(None, "a dataset saves its models as safetensors, which is not installed: "
                                 "pip install safetensors (or 'optracr[dask]')")
    directory = Path(directory)
    _claim(directory, spec)
    shards = directory / "shards"
    finished = {k for k in range(spec.num_shards) if (shards / f"{k:05d}.jsonl").is_file()}
    todo = [k for k in range(spec.num_shards) if k not in finished]
    for shard in todo:  # a shard left half-done by an interrupted run starts over
        shutil.rmtree(shards / f"{shard:05d}", ignore_errors=True)
    jobs = [spec.job(i) for shard in todo for i in _shard_range(spec, shard)]
    waiting = {shard: len(_shard_range(spec, shard)) for shard in todo}
    found: dict[int, list[tuple[int, records.Record]]] = {shard: [] for shard in todo}
    statuses: dict[str, int] = {}
    unfinished = 0
    done_before = sum(len(_shard_range(spec, shard)) for shard in finished)
    bar = tqdm.tqdm(total=spec.num_programs, initial=done_before, unit=" programs", disable=not progress,
                    smoothing=0.05, desc="dataset")
    with bar:
        for position, record in many.compile_as_completed(
            jobs, executor=executor, workers=workers, timeout_s=timeout_s, verify=spec.verify,
            save_dir=shards, seed=spec.seed,
        ):
            shard = int(jobs[position].name.split("/")[0])
            found[shard].append((position, record))
            statuses[record.status] = statuses.get(record.status, 0) + 1
            waiting[shard] -= 1
            if not waiting[shard]:  # a shard with a lost program stays unfinished: the next run redoes it
                shard_records = [r for _, r in sorted(found.pop(shard), key=lambda pair: pair[0])]
                if all(r.status != "lost" for r in shard_records):
                    _write_lines(shards / f"{shard:05d}.jsonl", shard_records)
                else:
                    unfinished += 1
            bar.update(1)
            bar.set_postfix({key: value for key, value in sorted(statuses.items()) if key != "ok"}, refresh=False)
    if not unfinished:
        _write_index(directory, spec)
    return DatasetResult(directory, len(finished), len(todo) - unfinished, statuses, unfinished)


def read_index(directory: str | os.PathLike) -> list[records.Record]:
    """Every record of a finished dataset, in program order; ``ModelFileError`` naming the file and line if the
    index is missing or a line is not a record."""
    path = Path(directory) / INDEX_NAME
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file; a finished dataset holds {INDEX_NAME} (write_dataset writes it)",
                             path=path)
    found = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                found.append(records.Record.from_json(json.loads(line)))
            except (ValueError, TypeError, AttributeError) as error:  # not JSON, not an object, or a bad field
                raise ModelFileError(f"{path}, line {number}: not a dataset record ({error})", path=path) from None
    return found


def _shard_range(spec: DatasetSpec, shard: int) -> range:
    return range(shard * spec.shard_size, min(spec.num_programs, (shard + 1) * spec.shard_size))


def _claim(directory: Path, spec: DatasetSpec) -> None:
    """Writes ``dataset.json``, or checks that the one there describes the same dataset."""
    document = {"format": FORMAT, "format_version": FORMAT_VERSION, "optracr_version": _version(),
                "spec": spec.to_json()}
    path = directory / SPEC_NAME
    if path.is_file():
        existing = json.loads(path.read_text())
        if existing.get("spec") != document["spec"]:
            differing = sorted(key for key in document["spec"] if existing.get("spec", {}).get(key)
                               != document["spec"][key])
            raise CompileError(None, f"{directory} holds another dataset ({', '.join(differing)} differ); "
                                     "rerun with its parameters to finish it, or write into another directory")
        return
    directory.mkdir(parents=True, exist_ok=True)
    _write_text(path, json.dumps(document, indent=1) + "\n")


def _write_index(directory: Path, spec: DatasetSpec) -> None:
    shards = directory / "shards"
    text = "".join((shards / f"{k:05d}.jsonl").read_text() for k in range(spec.num_shards))
    _write_text(directory / INDEX_NAME, text)


def _write_lines(path: Path, found: Iterable[records.Record]) -> None:
    _write_text(path, "".join(json.dumps(record.to_json()) + "\n" for record in found))


def _write_text(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` atomically: a reader (or a rerun) sees the old file or the whole new one."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def _version() -> str:
    try:
        return metadata.version("optracr")
    except metadata.PackageNotFoundError:
        return "unknown"
