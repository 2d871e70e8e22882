"""Spawned workers re-run the caller's main script: without ``if __name__ == "__main__":`` they cannot start.

A process started with "spawn" (the default pool's, and any spawn pool's) first re-runs the parent's main script
(as ``__mp_main__``) to find its functions. A script that calls ``compile_many`` at its top level, outside the
guard, calls it again in every such process, while it is still starting; it could start no processes of its own,
and multiprocessing would kill it with a traceback the parent never sees (the parent gets only
``BrokenProcessPool``). So here such a process exits at once, quietly, with ``REIMPORT_EXIT_CODE``, and the
parent, finding that code among its workers' exit codes, raises a ``CompileError`` that names the script and
shows the fix.
"""

from __future__ import annotations

import ast
import multiprocessing
import sys
import textwrap
import time
import traceback
from pathlib import Path
from typing import Any

from optracr.errors import CompileError

REIMPORT_EXIT_CODE = 87
_SHOWN_LINES = 4


def exit_if_reimported_by_spawn() -> None:
    """In a process that spawn is still starting (re-running the parent's main script), exit quietly with
    ``REIMPORT_EXIT_CODE``: the parent explains; nothing can be compiled or started from here."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):  # what multiprocessing itself checks
        raise SystemExit(REIMPORT_EXIT_CODE)


def reimport_seen(pool: Any, *, wait_s: float = 5.0) -> bool:
    """Whether a worker process of ``pool`` (a broken ``ProcessPoolExecutor``) exited for want of a main guard.

    Waits up to ``wait_s`` for its processes to end (a broken pool terminates them): a process can be seen dead
    a moment before its exit code can be read.
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())  # the pool's private table
    deadline = time.monotonic() + wait_s
    while True:
        codes = [getattr(process, "exitcode", None) for process in processes]
        if REIMPORT_EXIT_CODE in codes:
            return True
        if None not in codes or time.monotonic() > deadline:
            return False
        time.sleep(0.01)


def missing_guard_error() -> CompileError:
    """The error for a call that spawned workers re-run: which script, which statement, and the two-line fix."""
    script, line, statement = _calling_statement()
    where = f"your main script {script}" if script else "your main script"
    at = f" at line {line}" if line else ""
    fix = textwrap.indent(statement, "        ")
    return CompileError(None, (
        f"compile_many cannot start its worker processes: they are spawned, and each first re-runs {where}, "
        f"which calls compile_many again{at} because the call is not under `if __name__ == \"__main__\":`. "
        "Put the call (and the code that uses its records) under that guard:\n\n"
        f"    if __name__ == \"__main__\":\n{fix}\n"
    ))


def _calling_statement() -> tuple[str | None, int | None, str]:
    """(main script, line, source of its top-level statement) that is running the call, as far as found."""
    fallback = "records = optracr.compile_many(jobs)"
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None)
    frame = next((frame for frame, _ in traceback.walk_stack(None)
                  if frame.f_code.co_name == "<module>" and frame.f_globals is getattr(main, "__dict__", None)), None)
    if script is None or frame is None:
        return script, None, fallback
    line = frame.f_lineno
    try:
        source = Path(script).read_text()
        tree = ast.parse(source)
    except (OSError, SyntaxError, ValueError):
        return script, line, fallback
    node = next((node for node in tree.body if node.lineno <= line <= (node.end_lineno or node.lineno)), None)
    segment = ast.get_source_segment(source, node) if node is not None else None
    if not segment:
        return script, line, fallback
    lines = segment.splitlines()
    shown = lines[:_SHOWN_LINES] + (["..."] if len(lines) > _SHOWN_LINES else [])
    return script, line, "\n".join(shown)
