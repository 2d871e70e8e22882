"""What runs on a worker: rebuild each job's program, compile, verify, save; never raise, always a record."""

from __future__ import annotations

import signal
import time
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optracr import errors
from optracr.datasets import records
from optracr.datasets import time_limit


def run_jobs(
    jobs: Sequence[records.Job],
    *,
    timeout_s: float | None,
    verify: bool,
    save_dir: str | None,
    seed: int,
) -> list[records.Record]:
    """One record per job, in order; each job stopped after ``timeout_s`` seconds (a "timeout" record)."""
    import_stages()  # a fresh worker's imports are not charged to its first job's time limit
    return [run_job(job, timeout_s=timeout_s, verify=verify, save_dir=save_dir, seed=seed) for job in jobs]


def run_job(
    job: records.Job, *, timeout_s: float | None, verify: bool, save_dir: str | None, seed: int
) -> records.Record:
    """Builds, compiles, verifies (if asked) and saves (if ``save_dir``) one job; any failure is its record."""
    seconds: dict[str, float] = {}
    partial: dict[str, Any] = {}
    try:
        with time_limit.deadline(timeout_s):
            _run(job, verify, save_dir, seed, seconds, partial)
    except time_limit.JobTimeout:
        return _failed(job, "timeout", f"JobTimeout: exceeded its time limit of {timeout_s:g} s", seconds, partial)
    except Exception as error:  # noqa: BLE001 - one job's failure is its record, never the run's
        where = traceback.extract_tb(error.__traceback__)[-1]
        message = f"{type(error).__name__}: {error} (at {Path(where.filename).name}:{where.lineno})"
        return _failed(job, "error", message, seconds, partial)
    status = "mismatch" if partial.get("verify") and partial["verify"]["mismatches"] else "ok"
    return records.Record(job.name, job.program.to_json(), status, seconds=seconds, **partial)


def _run(job: records.Job, verify: bool, save_dir: str | None, seed: int, seconds: dict, partial: dict) -> None:
    from optracr import certify, compiler, export, frontend

    start = time.perf_counter()
    program, vocab, max_seq_len = job.program.build()
    seconds["build"] = _lap(start)
    start = time.perf_counter()
    with warnings.catch_warnings():  # the record says it (causal_meaning below), not a warning per job
        warnings.filterwarnings("ignore", category=errors.CausalMeaningWarning)
        model = compiler.compile(program, job.compile_options.replace(vocab=vocab, max_seq_len=max_seq_len))
    seconds["compile"] = _lap(start)
    partial["sizes"] = _sizes(model)
    if job.compile_options.causal is True:  # "strict" refuses what this would list
        partial["causal_meaning"] = tuple(f"{found.label!r}: {found.what}"
                                         for found in frontend.looking_ahead(model.program_graph))
    if verify:
        start = time.perf_counter()
        report = certify.verify(model, program, seed=seed, progress=False)
        seconds["verify"] = _lap(start)
        partial["verify"] = {
            "checked": report.num_checked,
            "undefined": report.num_undefined,
            "mismatches": report.num_mismatches,
            "exhaustive": report.exhaustive,
            "proved": report.proved,  # every input proved (verify certifies where enumeration is too big)
        }
    if save_dir is not None:
        start = time.perf_counter()
        certificate = report.certificate if verify and report.proved else None
        export.save(model, Path(save_dir) / job.name, certificate=certificate)
        seconds["save"] = _lap(start)
        partial["saved"] = job.name


def ignore_interrupts() -> None:
    """A local pool worker leaves Ctrl-C to the parent, which stops the run and ends its workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def import_stages() -> None:
    from optracr import certify, compiler, export  # noqa: F401


def _sizes(model: Any) -> dict[str, Any]:
    config, allocation = model.config, model.allocation
    return {
        "layers": config.num_layers,
        "heads": config.num_heads,
        "mlp_width": config.mlp_hidden_size,
        "residual_width": config.d_model,
        "params_total": model.params_total,
        "allocation": allocation.status.name,
    }


def _failed(job: records.Job, status: str, message: str, seconds: dict, partial: dict) -> records.Record:
    partial = {key: value for key, value in partial.items() if key in ("sizes", "verify", "causal_meaning")}
    return records.Record(job.name, job.program.to_json(), status, error=message, seconds=seconds, **partial)


def _lap(start: float) -> float:
    return round(time.perf_counter() - start, 6)
