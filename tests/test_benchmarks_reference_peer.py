"""The optional reference peer: None without ``tracr``, a faithful tree translation, and (with it) real rows."""

from __future__ import annotations

import importlib.util
import itertools
import sys

import pytest

from optracr import programs, rasp

import reference_peer  # benchmarks/ is on sys.path (tests/conftest.py)
import model_sizes  # benchmarks/ is on sys.path (tests/conftest.py)


def nodes(expr: rasp.RASPExpr) -> dict[int, rasp.RASPExpr]:
    """Every expression reachable from ``expr``, by unique id."""
    found: dict[int, rasp.RASPExpr] = {}
    stack = [expr]
    while stack:
        node = stack.pop()
        if node.unique_id not in found:
            found[node.unique_id] = node
            stack.extend(node.children)
    return found


def test_measure_is_none_when_the_reference_is_not_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in [name for name in sys.modules if name.startswith("tracr.")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "tracr", None)  # what an environment without tracr looks like to imports
    assert not reference_peer.available()
    assert reference_peer.measure("hist") is None
    assert model_sizes.reference_row("hist") is None


def test_available_matches_the_import_system() -> None:
    assert reference_peer.available() == (importlib.util.find_spec("tracr") is not None)


@pytest.mark.parametrize("name", sorted(programs.LIBRARY))
def test_translation_keeps_tree_labels_encodings_and_meaning(name: str) -> None:
    # optracr.rasp has the reference's public names, so it can stand in for tracr.rasp.rasp.
    entry = programs.LIBRARY[name]
    program = entry.build()
    translated = reference_peer.to_reference(program, rasp)
    original, copied = nodes(program), nodes(translated)
    assert len(copied) == len(original)  # shared sub-expressions stay shared, nothing is duplicated
    assert sorted(node.label for node in copied.values()) == sorted(node.label for node in original.values())
    by_label = {node.label: node for node in original.values()}
    for node in copied.values():
        assert type(node) is type(by_label[node.label])
        if isinstance(node, rasp.SOp):
            assert rasp.get_encoding(node) == rasp.get_encoding(by_label[node.label])
    tokens = sorted(entry.vocab, key=repr)
    for length in (1, 2, 3):
        for xs in itertools.islice(itertools.product(tokens, repeat=length), 20):
            assert rasp.evaluate(translated, list(xs)) == rasp.evaluate(program, list(xs))


def test_reference_hist_has_the_papers_shape() -> None:
    pytest.importorskip("tracr")
    row = reference_peer.measure("hist")
    # PAPER.md, "Reference model sizes (measured with the reference implementation)": hist is 1/1/6/12/19.
    assert (row["layers"], row["heads"], row["key"], row["mlp"], row["d_model"]) == (1, 1, 6, 12, 19)
    assert row["allocator"] == "reference" and row["status"] == reference_peer.REFERENCE_STATUS
    assert set(model_sizes.measure("hist", "heuristic", 1.0)) <= set(row)
