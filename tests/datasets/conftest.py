"""Worker processes (spawned pools, Dask workers) import optracr from this checkout, and find the test programs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

BAD_PROGRAMS = '''
import signal
import time

from optracr import rasp


def raising():
    raise RuntimeError("this program cannot be built")


def looping():
    """A map whose function never returns (Python code: the worker's deadline stops it)."""
    def forever(token):
        while True:
            pass
    return rasp.Map(forever, rasp.tokens)


def stuck():
    """Blocks the deadline's signal and sleeps in native code: only the parent's backstop gives it up."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(120)
'''


@pytest.fixture(autouse=True)
def _workers_import_this_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(dict.fromkeys(paths)))


@pytest.fixture
def bad_programs(tmp_path: Path) -> Path:
    """A file of programs that raise, loop forever, or get stuck in native code."""
    path = tmp_path / "bad_programs.py"
    path.write_text(BAD_PROGRAMS)
    return path
