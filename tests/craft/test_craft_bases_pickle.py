"""Basis directions cache their hash; pickled ones are rebuilt, so a dict keyed by them works in another process."""

from __future__ import annotations

import pickle
import subprocess
import sys

from optracr.craft import bases

_READ_BACK = (
    "import pickle, sys\n"
    "from optracr.craft import bases\n"
    "table = pickle.loads(sys.stdin.buffer.read())\n"
    "print(table[bases.BasisDirection('tokens', 'a')], table[bases.BasisDirection('x', 1.0)])\n"
)


def test_a_direction_keyed_dict_pickled_here_is_read_in_another_process() -> None:
    table = {bases.BasisDirection("tokens", "a"): 1, bases.BasisDirection("x", 1.0): 2, bases.BasisDirection("x", 1): 3}
    # string hashes differ between processes (PYTHONHASHSEED): a restored cached hash would miss every key
    done = subprocess.run(
        [sys.executable, "-c", _READ_BACK], input=pickle.dumps(table), capture_output=True, check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert done.stdout.split() == [b"1", b"2"]


def test_a_round_trip_keeps_equality_and_hash() -> None:
    direction = bases.BasisDirection("x", (1, 0.0))
    back = pickle.loads(pickle.dumps(direction))
    assert back == direction and hash(back) == hash(direction) and back != bases.BasisDirection("x", (1, -0.0))
