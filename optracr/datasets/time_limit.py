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
    thread_id, done, fired = threading.get_ident(), threading.Event(), threading.Event()

    def expire() -> None:
        if done.wait(seconds):
            return
        while not done.is_set():
            fired.set()  # before scheduling: the block's end must see every exception that might be pending
            _set_async_exc(thread_id, JobTimeout)
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
            if fired.is_set():
                _drain_async_exc(thread_id)


class _Drained(BaseException):
    """Scheduled on the block's own thread, then caught there: consumes whatever asynchronous exception is left."""


def _set_async_exc(thread_id: int, exc: type[BaseException]) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc))


def _drain_async_exc(thread_id: int) -> None:
    """Consumes a pending asynchronous exception of this thread by replacing it with ``_Drained`` and catching that.

    Never "clear" with ``PyThreadState_SetAsyncExc(id, NULL)``: on CPython < 3.13 that empties the thread's slot
    but still raises the interpreter-wide "asynchronous exception pending" flag, which only a delivered exception
    lowers. The eval breaker then stays set for good: every thread takes the slow path at each call and loop,
    and under a profiler or tracer (``cProfile``, coverage) the next Python call loops forever on its first
    instruction. Delivering an exception lowers the flag, so the drain schedules one and waits for it here.
    """
    try:
        while True:  # each pass re-signals: another thread's delivery may have lowered the shared flag meanwhile
            _set_async_exc(thread_id, _Drained)
            for _ in range(10_000):  # backward jumps check the eval breaker, which delivers the exception
                pass
    except _Drained:
        pass
