"""certify.findings: a block is a value (equal blocks hash alike, before and after pickling)."""

from __future__ import annotations

import copy
import pickle

from optracr.certify import findings


def test_equal_blocks_hash_alike_and_a_pickled_block_carries_no_hash_of_its_own() -> None:
    block = findings.Block("mlp", 2, units=(0, 3, 4), writes=("x", "y"))
    same = findings.Block("mlp", 2, units=(0, 3, 4), writes=("x", "y"))
    other = findings.Block("mlp", 2, units=(0, 3), writes=("x", "y"))
    assert hash(block) == hash(same) == hash(("mlp", 2, (), (0, 3, 4), ("x", "y")))
    assert block == same != other and {block: 1}[same] == 1 and other not in {block: 1}
    assert "_hash" not in pickle.loads(pickle.dumps(block)).__dict__
    for restored in (pickle.loads(pickle.dumps(block)), copy.deepcopy(block)):
        assert restored == block and hash(restored) == hash(block) and repr(restored) == repr(block)
