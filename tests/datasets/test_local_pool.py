"""The default pool's workers run numpy's BLAS on one thread, as Dask's nanny starts its workers."""

from __future__ import annotations

import os

import pytest

from optracr import datasets

_NAMES = tuple(datasets.many.SINGLE_THREADED_BLAS)


def _blas_environment() -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in _NAMES}


def test_workers_get_one_blas_thread_and_the_parent_environment_is_left_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in _NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")  # set by the user: kept
    pool = datasets.local_pool(2)
    try:
        seen = [pool.submit(_blas_environment).result() for _ in range(4)]
    finally:
        pool.shutdown()
    assert seen == [{"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "3"}] * 4
    assert _blas_environment() == {"OMP_NUM_THREADS": None, "OPENBLAS_NUM_THREADS": None, "MKL_NUM_THREADS": "3"}
