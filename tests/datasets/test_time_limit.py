"""``deadline`` leaves nothing behind: no pending asynchronous exception, eval breaker, alarm or handler.

A stuck eval breaker is interpreter-wide and hangs any later profiled or traced call (``cProfile.runcall`` in
``benchmarks/scaling.py`` looped forever on its first instruction after the thread-pool test), so the thread
cases run in a fresh interpreter with a timeout: a regression fails here instead of hanging the test session.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from optracr.datasets import time_limit
from optracr.datasets.time_limit import JobTimeout, deadline

AFTER_A_THREAD_DEADLINE = textwrap.dedent('''
    import cProfile, sys, threading, time
    from optracr.datasets import time_limit
    from optracr.datasets.time_limit import JobTimeout, deadline

    time_limit.REPEAT_S = 0.02
    CASE = sys.argv[1]


    def job():
        if CASE == "unexpired":
            with deadline(30.0):
                sum(range(100))
        elif CASE == "expired":
            try:
                with deadline(0.05):
                    while True:
                        pass
            except JobTimeout:
                pass
        else:  # "swallowing": the job ignores timeouts for a while, the watcher keeps scheduling them
            caught = 0
            with deadline(0.05):
                while caught < 5:
                    try:
                        while True:
                            pass
                    except JobTimeout:
                        caught += 1
        stop = time.monotonic() + 0.2  # several repeats later, no timeout may still arrive on this thread
        while time.monotonic() < stop:
            pass
        results.append("clean")


    results = []
    thread = threading.Thread(target=job)
    thread.start()
    thread.join()
    assert results == ["clean"], results
    print(cProfile.Profile().runcall(lambda: sum(i for i in range(1000))))
''')


@pytest.mark.parametrize("case", ["unexpired", "expired", "swallowing"])
def test_a_thread_deadline_leaves_later_profiled_code_running(case: str) -> None:
    try:
        done = subprocess.run([sys.executable, "-c", AFTER_A_THREAD_DEADLINE, case],
                              capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"after a {case} deadline on a thread, a profiled call never finished (eval breaker stuck)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(sum(range(1000)))


def test_a_thread_deadline_leaves_no_exception_pending_in_this_interpreter(monkeypatch) -> None:
    monkeypatch.setattr(time_limit, "REPEAT_S", 0.02)
    outcome = []

    def job() -> None:
        try:
            with deadline(0.05):
                while True:
                    pass
        except JobTimeout:
            outcome.append("timeout")
        stop = threading.Event()
        for _ in range(20):  # bytecode and waits across several repeats: nothing more may arrive
            stop.wait(0.01)
            sum(range(1000))
        outcome.append("clean")

    thread = threading.Thread(target=job)
    thread.start()
    thread.join(30)
    assert outcome == ["timeout", "clean"]


def test_a_main_thread_deadline_gives_back_the_alarm_and_its_handler() -> None:
    handler = signal.getsignal(signal.SIGALRM)
    with pytest.raises(JobTimeout):
        with deadline(0.05):
            while True:
                pass
    with deadline(30.0):
        pass
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is handler
