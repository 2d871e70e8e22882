"""``deadline``: stop a job that runs too long, inside the worker that runs it (``JobTimeout``).

A job that hangs in Python (a program's function that never returns, value sets that explode) is stopped by
raising ``JobTimeout`` in the thread running it: with ``SIGALRM`` on a process's main thread (process-pool
workers, a plain loop), or with an asynchronous exception on any other thread (Dask worker threads, thread
pools). The exception repeats every ``REPEAT_S`` until the job lets go, so code that swallows one does not
outlive its deadline. ``JobTimeout`` is a ``BaseException``: the frontend's ``except Exception`` around user
functions must not mistake it for a dropped input. Code stuck inside one native call (no Python bytecode runs)
is reached only when that call returns; the solver's own time limit bounds the one native call we make.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import threading
from collections.abc import Iterator

REPEAT_S = 0.25


class JobTimeout(BaseException):
    """A job ran past its time limit."""


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raises ``JobTimeout`` in this thread once ``seconds`` have passed inside the block (None: no limit)."""
    if seconds is None:
        yield
        return
    on_main = threading.current_thread() is threading.main_thread()
    guard = _alarm(seconds) if on_main else _async_exception(seconds)
    with guard:
        yield


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    def expire(signum, frame):  # noqa: ARG001 - the signal handler's signature
        raise JobTimeout(f"exceeded its time limit of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds, REPEAT_S)
    try:
        yield
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:  # an alarm delivered just before the timer stopped raises here; the handler still goes back
            signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _async_exception(seconds: float) -> Iterator[None]:
    thread_id, done = threading.get_ident(), threading.Event()

    def expire() -> None:
        if done.wait(seconds):
            return
        while not done.is_set():
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(JobTimeout))
            done.wait(REPEAT_S)

    watcher = threading.Thread(target=expire, name="optracr-deadline", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        try:
            watcher.join()
        finally:  # an exception the watcher scheduled just before ``done`` was set may still be pending
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)
