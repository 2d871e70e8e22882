"""datasets: many compiled models, on local processes or a Dask cluster, and ``optracr dataset``'s shards.

- ``ProgramSpec``: a program as a worker rebuilds it (generator seed and options, library name, or
  ``module:function``: plain JSON), or a RASP program in hand (``ProgramSpec.rasp``, sent with cloudpickle,
  recorded by label); ``Job``: a named spec with compile options.
- ``compile_many(jobs, executor=..., timeout_s=..., verify=..., save_dir=..., seed=...)``: one ``Record`` per job
  in input order (ok, mismatch, error or timeout; sizes, verification counts, where saved, timings);
  ``compile_as_completed`` yields them as they arrive.
- ``write_dataset``: N seeded random programs compiled, verified and saved in shards with a JSONL index,
  resumable shard by shard.

Nothing here imports Dask: pass a ``distributed.Client`` as the executor (the ``dask`` extra installs it). The
default local workers are spawned and re-run the caller's main script; a call outside
``if __name__ == "__main__":`` is refused with the fix (``main_guard``).
"""

from __future__ import annotations

from optracr.datasets.time_limit import JobTimeout, deadline
from optracr.datasets.dataset import DatasetResult, DatasetSpec, program_seed, read_index, write_dataset
from optracr.datasets.many import compile_as_completed, compile_many, local_pool
from optracr.datasets.programs import ProgramSpec
from optracr.datasets.records import Job, Record

__all__ = [
    "DatasetResult",
    "DatasetSpec",
    "Job",
    "JobTimeout",
    "ProgramSpec",
    "Record",
    "compile_as_completed",
    "compile_many",
    "deadline",
    "local_pool",
    "program_seed",
    "read_index",
    "write_dataset",
]
