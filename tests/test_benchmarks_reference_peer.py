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
    # The reference's hist, measured with the reference: 1 layer, 1 head, key 6, MLP 12, residual 19.
    assert (row["layers"], row["heads"], row["key"], row["mlp"], row["d_model"]) == (1, 1, 6, 12, 19)
    assert row["allocator"] == "reference" and row["status"] == reference_peer.REFERENCE_STATUS
    assert set(model_sizes.measure("hist", "heuristic", 1.0)) <= set(row)


class _CategoricalEncoder:
    """What tracr 1.0.0's output ``CategoricalEncoder`` offers: ``encoding_map``, and no ``decoding_map``."""

    def __init__(self, values: list) -> None:
        self.encoding_map = {value: index for index, value in enumerate(values)}


class _NumericalEncoder:
    """tracr 1.0.0's ``NumericalEncoder``: no map at all."""


class _FakeReferenceModel:
    def __init__(self, output_encoder: object) -> None:
        self.output_encoder = output_encoder


def test_unembedding_width_is_the_categorical_outputs_classes() -> None:
    # hist at max_seq_len 5 outputs a count 0..5: six classes (the old code read `decoding_map` and counted 1).
    model = _FakeReferenceModel(_CategoricalEncoder([0, 1, 2, 3, 4, 5]))
    assert not hasattr(model.output_encoder, "decoding_map")
    assert reference_peer._unembedding_width(model) == 6


def test_unembedding_width_of_a_numerical_output_is_one() -> None:
    assert reference_peer._unembedding_width(_FakeReferenceModel(_NumericalEncoder())) == 1


def _reference_model_and_unembedding(name: str) -> tuple:
    """The reference's model of ``name`` and its unembedding matrix, read by running its unembed closure on
    the identity (the closure is not in ``params``)."""
    import haiku as hk
    import jax.numpy as jnp
    import numpy as np

    compiling = importlib.import_module("tracr.compiler.compiling")
    entry = programs.LIBRARY[name]
    program = reference_peer.to_reference(entry.build(), importlib.import_module("tracr.rasp.rasp"))
    model = compiling.compile_rasp_to_model(
        program, vocab=set(entry.vocab), max_seq_len=entry.max_seq_len, compiler_bos=reference_peer.REFERENCE_BOS
    )
    d_model = len(model.residual_labels)
    unembed = hk.transform(lambda x: model.get_compiled_model().unembed(x, use_unembed_argmax=False))
    matrix = np.asarray(unembed.apply({}, None, jnp.eye(d_model))).reshape(d_model, -1)
    return model, matrix


@pytest.mark.parametrize("name", ["hist", "frac_prevs"])
def test_reference_row_counts_the_unembedding_the_reference_runs(name: str) -> None:
    pytest.importorskip("tracr")
    import numpy as np

    model, unembedding = _reference_model_and_unembedding(name)
    arrays = [np.asarray(array) for module in model.params.values() for array in module.values()]
    row = reference_peer.measure(name)
    assert row["params"] == sum(array.size for array in arrays) + unembedding.size
    assert row["nonzero"] == sum(int(np.count_nonzero(array)) for array in arrays) + int(np.count_nonzero(unembedding))
    if name == "hist":  # 1,227 was once shown, with the 19 x 6 unembedding counted as 19 x 1
        assert unembedding.shape == (19, 6) and row["params"] == 1_322
