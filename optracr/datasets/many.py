"""``compile_many``: many programs compiled (verified, saved) on any ``concurrent.futures.Executor``.

Local processes by default; a Dask ``distributed.Client`` (or its ``get_executor()``) to go beyond one machine.
Jobs travel in chunks (one task compiles several small programs, so per-task overhead stays small) and at
most two chunks per worker slot are in flight, so each chunk starts soon after it is submitted. Timeouts are
enforced twice: inside the worker every job runs under ``deadline`` (a "timeout" record, and the worker moves
on); and here, a chunk with no answer long after its jobs' time limits (its worker stuck in native code, or
dead) comes back as "timeout" records and its slot is given up, so one hanging program never blocks the run.
A pool this module created is shut down at the end, its stuck processes terminated; a caller's executor is
left running (a stuck Dask worker thread stays busy until its call returns: restart that worker with Dask).
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import math
import multiprocessing
import os
import time
from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import Any

import tqdm

from optracr.datasets import main_guard
from optracr.datasets import programs
from optracr.datasets import records
from optracr.datasets import worker
from optracr.errors import CompileError
from optracr.frontend import rasp

# A job: a Job, a ProgramSpec, or a RASP program in hand as (program, vocab, max_seq_len).
JobLike = records.Job | programs.ProgramSpec | tuple[rasp.SOp, Iterable[Hashable], int]

GRACE_S = 30.0  # beyond its jobs' time limits, how long a chunk may stay silent before it is given up
MAX_CHUNK = 16


def compile_many(
    jobs: Iterable[JobLike],
    *,
    executor: Any = None,
    workers: int | None = None,
    timeout_s: float | None = 60.0,
    verify: bool = True,
    save_dir: str | os.PathLike | None = None,
    seed: int = 0,
    chunk_size: int | None = None,
    progress: bool = False,
) -> list[records.Record]:
    """One ``Record`` per job, in input order: compiled, verified (``verify``) and saved under ``save_dir/name``.

    Args:
      jobs: ``Job``s, ``ProgramSpec``s, or RASP programs as ``(program, vocab, max_seq_len)`` (sent to the
        workers with cloudpickle, lambdas and closures included; recorded by label); all but ``Job``s are named
        ``job-000000``, ... by position.
      executor: None (a pool of ``workers`` local processes, default one per core), any
        ``concurrent.futures.Executor``, or a Dask ``distributed.Client``.
      workers: how many jobs the executor runs at once (read off a Dask client or a pool when None).
      timeout_s: each job's time limit; past it the job is a "timeout" record (None: no limit).
      seed: the verifier's seed (the solver's is each job's ``CompileOptions.seed``); the same jobs and seed give
        the same records (but timings).
      chunk_size: jobs per task (default: up to 16, fewer when there are few jobs per worker).

    A job that raises or times out is an error record; the other jobs are not affected. The default local
    workers are spawned and re-run the caller's main script: from a script, call this under
    ``if __name__ == "__main__":`` (without it, a ``CompileError`` says so).

    >>> import optracr
    >>> from optracr.datasets import ProgramSpec
    >>> [r.status for r in optracr.compile_many([ProgramSpec.library("sort"), ProgramSpec.random(1)], workers=1)]
    ['ok', 'ok']
    """
    main_guard.exit_if_reimported_by_spawn()
    found = [None] * len(jobs := _named(jobs))
    bar = tqdm.tqdm(total=len(jobs), unit=" programs", disable=not progress, smoothing=0.05)
    with bar:
        for index, record in compile_as_completed(
            jobs, executor=executor, workers=workers, timeout_s=timeout_s, verify=verify, save_dir=save_dir,
            seed=seed, chunk_size=chunk_size,
        ):
            found[index] = record
            bar.update(1)
    return found


def compile_as_completed(
    jobs: Iterable[JobLike],
    *,
    executor: Any = None,
    workers: int | None = None,
    timeout_s: float | None = 60.0,
    verify: bool = True,
    save_dir: str | os.PathLike | None = None,
    seed: int = 0,
    chunk_size: int | None = None,
) -> Iterator[tuple[int, records.Record]]:
    """``compile_many``'s records as they arrive: (position of the job, its record)."""
    main_guard.exit_if_reimported_by_spawn()
    jobs = _named(jobs)
    _check_options(timeout_s, workers, chunk_size)
    pool, slots, owned = _executor(executor, workers)
    size = chunk_size or max(1, min(MAX_CHUNK, len(jobs) // (4 * slots)))
    chunks = collections.deque((start, jobs[start : start + size]) for start in range(0, len(jobs), size))
    options = {"timeout_s": timeout_s, "verify": verify, "seed": seed,
               "save_dir": None if save_dir is None else os.fspath(save_dir)}
    terminate = False
    in_flight: dict[concurrent.futures.Future, tuple[int, Sequence[records.Job], float]] = {}
    try:
        window = 2 * slots
        while chunks or in_flight:
            while chunks and len(in_flight) < window:
                start, chunk = chunks.popleft()
                limit = GRACE_S + 2 * len(chunk) * (timeout_s if timeout_s is not None else math.inf)
                if owned and _broken(pool):  # a worker died (killed, out of memory): go on with a fresh pool
                    _shut_down(pool, terminate=True)
                    pool, _, _ = _executor(None, slots)
                future = pool.submit(worker.run_jobs, chunk, **options)
                in_flight[future] = (start, chunk, time.monotonic() + limit)
            soonest = min(deadline for _, _, deadline in in_flight.values())
            done, _ = concurrent.futures.wait(
                in_flight, timeout=max(0.0, soonest - time.monotonic()) if soonest < math.inf else None,
                return_when=concurrent.futures.FIRST_COMPLETED,
            )
            for future in done:
                if isinstance(future.exception(), concurrent.futures.BrokenExecutor) and main_guard.reimport_seen(pool):
                    raise main_guard.missing_guard_error()  # a caller's spawn pool, re-running the main script
                start, chunk, _ = in_flight.pop(future)
                yield from enumerate(_chunk_records(future, chunk), start)
            for future in [f for f, (_, _, deadline) in in_flight.items() if deadline <= time.monotonic()]:
                start, chunk, _ = in_flight.pop(future)
                future.cancel()
                terminate, window = True, window - 1
                message = "no answer from its worker in time (stuck in native code, or the worker died)"
                yield from enumerate((_failed(job, "timeout", message) for job in chunk), start)
            if window < 1 and chunks:  # every slot is stuck: what is left cannot run
                message = "not run: every worker is stuck on an earlier job"
                while chunks:
                    start, chunk = chunks.popleft()
                    yield from enumerate((_failed(job, "lost", message) for job in chunk), start)
    except BaseException:  # Ctrl-C, or the caller stopped iterating: nothing in flight is wanted any more
        terminate = True
        raise
    finally:
        for future in in_flight:
            future.cancel()
        if owned:
            _shut_down(pool, terminate=terminate)


def local_pool(workers: int) -> concurrent.futures.ProcessPoolExecutor:
    """The default executor: ``workers`` spawned processes that leave Ctrl-C to the parent, each started and
    done importing the compiler before this returns (so no job's time limit pays for it), each running numpy's
    BLAS on one thread (``SINGLE_THREADED_BLAS``)."""
    main_guard.exit_if_reimported_by_spawn()
    # spawn: workers start clean (forking a parent that runs JAX's threads is unsafe)
    context = multiprocessing.get_context("spawn")
    with _environment(SINGLE_THREADED_BLAS):  # a spawned process reads it once, when it imports numpy
        pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=worker.ignore_interrupts
        )
        # Every submit finding no idle worker spawns one, so all of them start here, in this environment.
        try:
            started = [pool.submit(worker.import_stages) for _ in range(workers)]
            failure = next(filter(None, (f.exception() for f in concurrent.futures.wait(started).done)), None)
        except concurrent.futures.BrokenExecutor as error:  # the pool broke before every worker was asked
            failure = error
    if failure is not None:
        guard_missing = main_guard.reimport_seen(pool)
        _shut_down(pool, terminate=True)
        if guard_missing:
            raise main_guard.missing_guard_error()
        raise CompileError(None, f"the local worker processes could not start ({type(failure).__name__}: {failure})")
    return pool


# What Dask's nanny sets for its workers too (distributed.nanny.pre-spawn-environ): one worker per core, and a
# compiled model's matrices are small, so BLAS threads would only contend with the other workers (measured:
# compile + verify in one process twice as fast on a busy 2-core machine with OpenBLAS on one thread).
SINGLE_THREADED_BLAS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@contextlib.contextmanager
def _environment(defaults: dict[str, str]) -> Iterator[None]:
    """``defaults`` in ``os.environ`` for the duration (a variable the user has set is left as it is)."""
    added = {name: value for name, value in defaults.items() if name not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def _named(jobs: Iterable[JobLike]) -> list[records.Job]:
    named = []
    for position, job in enumerate(jobs):
        if not isinstance(job, records.Job) and (spec := programs.as_spec(job)) is not None:
            job = records.Job(f"job-{position:06d}", spec)
        if isinstance(job, rasp.RASPExpr):
            raise CompileError(job.label, f"job {position}: a RASP program needs its vocab and max_seq_len: pass "
                                          "(program, vocab, max_seq_len) or ProgramSpec.rasp(program, vocab, "
                                          "max_seq_len)")
        if not isinstance(job, records.Job):
            raise CompileError(None, f"job {position}: expected a Job, a ProgramSpec or (program, vocab, "
                                     f"max_seq_len), got {type(job).__name__}")
        named.append(job)
    repeated = sorted(name for name, count in collections.Counter(job.name for job in named).items() if count > 1)
    if repeated:
        raise CompileError(None, f"job names must be unique (each is a directory under save_dir); repeated: "
                                 f"{', '.join(repeated[:5])}")
    return named


def _check_options(timeout_s: float | None, workers: int | None, chunk_size: int | None) -> None:
    if timeout_s is not None and not timeout_s > 0:
        raise CompileError(None, f"timeout_s must be positive seconds or None (no limit), got {timeout_s!r}")
    for name, value in (("workers", workers), ("chunk_size", chunk_size)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise CompileError(None, f"{name} must be a positive integer or None, got {value!r}")


def _executor(executor: Any, workers: int | None) -> tuple[concurrent.futures.Executor, int, bool]:
    """(the executor to submit to, how many jobs it runs at once, whether this module owns it)."""
    if executor is None:
        slots = workers or os.cpu_count() or 1
        return local_pool(slots), slots, True
    if hasattr(executor, "get_executor") and hasattr(executor, "nthreads"):  # a Dask distributed.Client
        slots = workers or sum(executor.nthreads().values()) or 1
        return executor.get_executor(), slots, False
    if not isinstance(executor, concurrent.futures.Executor):
        raise CompileError(None, f"executor must be None, a concurrent.futures.Executor or a Dask Client, "
                                 f"got {type(executor).__name__}")
    return executor, workers or getattr(executor, "_max_workers", None) or os.cpu_count() or 1, False


def _chunk_records(future: concurrent.futures.Future, chunk: Sequence[records.Job]) -> list[records.Record]:
    try:
        return future.result()
    except Exception as error:  # noqa: BLE001 - a lost worker or a task the executor could not run
        return [_failed(job, "lost", f"{type(error).__name__}: {error}") for job in chunk]


def _failed(job: records.Job, status: str, message: str) -> records.Record:
    return records.Record(job.name, job.program.to_json(), status, error=message)


def _broken(pool: concurrent.futures.Executor) -> bool:
    return bool(getattr(pool, "_broken", False))


def _shut_down(pool: concurrent.futures.Executor, *, terminate: bool) -> None:
    # A stuck worker would hold the interpreter at exit, and after Ctrl-C nothing it does is wanted: end our
    # own processes (``_processes`` is the pool's private table; the public API cannot stop a running call).
    if terminate:
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)
