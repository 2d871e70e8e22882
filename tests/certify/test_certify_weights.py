"""The per-label split of a model's weights (``residual.split_rows``, ``weights.ModelWeights``) against the plain
rule, one direction at a time: the same labels in the same order, the same numbers, and the same memory order
(sums over the arrays round the same way only if they are laid out alike)."""

from __future__ import annotations

import numpy as np
import pytest

from optracr import craft, programs
from optracr.certify import findings, residual, weights
from optracr.errors import OptracrBug

MODES = ("default", "reference")


def _split_by_direction(res: residual.Residual, space: craft.VectorSpaceWithBasis,
                        matrix: np.ndarray) -> dict[str, np.ndarray]:
    """Each label's rows in its direction order (zeros where the space lacks a direction), labels in order of
    first appearance in the space, all-zero ones left out."""
    found: dict[str, np.ndarray] = {}
    for row, direction in enumerate(space.basis):
        label = res.labels[direction.name]
        block = found.setdefault(label.name, np.zeros((label.size, matrix.shape[1])))
        block[label.directions.index(direction)] = matrix[row]
    return {name: block for name, block in found.items() if block.any()}


def _expected_order(res: residual.Residual, space: craft.VectorSpaceWithBasis, matrix: np.ndarray,
                    name: str) -> tuple[bool, bool]:
    """(C-contiguous, F-contiguous) of a label's rows: the matrix's own order when they are one run holding the
    label's directions in order, C order otherwise."""
    rows = [row for row, direction in enumerate(space.basis) if direction.name == name]
    label = res.labels[name]
    run = rows == list(range(rows[0], rows[0] + len(rows))) and tuple(space.basis[row] for row in rows) == \
        label.directions
    expected = (np.array(matrix[rows[0]: rows[-1] + 1], dtype=np.float64) if run
                else np.zeros((label.size, matrix.shape[1])))
    return expected.flags.c_contiguous, expected.flags.f_contiguous


def _assert_split_as_by_direction(res: residual.Residual, space: craft.VectorSpaceWithBasis,
                                  matrix: np.ndarray) -> None:
    found = residual.split_rows(res, space, matrix)
    expected = _split_by_direction(res, space, matrix)
    assert list(found) == list(expected)
    for name, block in found.items():
        assert block.dtype == np.float64 and block.tobytes() == expected[name].tobytes(), name
        assert (block.flags.c_contiguous, block.flags.f_contiguous) == _expected_order(res, space, matrix, name)


def _splits(layered) -> list[tuple[craft.VectorSpaceWithBasis, np.ndarray]]:
    """Every (space, matrix) pair ``ModelWeights`` splits, but the value rows (read off the first split)."""
    pairs = [(layered.unembedding.input_space, layered.unembedding.matrix)]
    for layer in layered.layers:
        for head in layer.heads:
            pairs += [(head.w_ov.output_space, head.w_ov.matrix.T), (head.w_qk.left_space, head.w_qk.matrix),
                      (head.w_qk.right_space, head.w_qk.matrix.T)]
        if layer.mlp is not None:
            pairs += [(layer.mlp.input_space, layer.mlp.fst.matrix), (layer.mlp.output_space, layer.mlp.snd.matrix.T)]
    return pairs


@pytest.fixture(params=[(name, mode) for name in sorted(programs.LIBRARY) for mode in MODES],
                ids=lambda case: "-".join(case))
def library_residual(request, library_model):
    """A library model (both modes) and its residual's labels."""
    model = library_model(*request.param)
    return model, residual.residual_of(model.layered, model.program_graph)


def test_every_library_weight_splits_as_direction_by_direction(library_residual) -> None:
    model, res = library_residual
    for space, matrix in _splits(model.layered):
        _assert_split_as_by_direction(res, space, matrix)


def _toy_residual() -> residual.Residual:
    """``one``, a categorical ``x`` with three values and a numerical ``y``, in that order."""
    one, ys = craft.BasisDirection("one"), craft.BasisDirection("y")
    xs = tuple(craft.BasisDirection("x", value) for value in range(3))
    space = craft.VectorSpaceWithBasis((one, *xs, ys))
    labels = {"one": residual.Label("one", residual.Role.ONE, (one,), [0], True, None),
              "x": residual.Label("x", residual.Role.SOP, xs, [1, 2, 3], False, "x"),
              "y": residual.Label("y", residual.Role.SOP, (ys,), [4], True, "y")}
    return residual.Residual(labels, ("one", "x", "x", "x", "y"), space)


@pytest.mark.parametrize("order", [("y", 2, 0), (0, 1), ("y", 0, 1, 2), (2, "one", 1), (0, 1, 2, "one", "y")])
@pytest.mark.parametrize("transposed", [False, True])
def test_spaces_out_of_order_partial_or_whole_split_as_direction_by_direction(order: tuple, transposed: bool) -> None:
    res = _toy_residual()
    basis = [craft.BasisDirection(item) if isinstance(item, str) else craft.BasisDirection("x", item)
             for item in order]
    space = craft.VectorSpaceWithBasis(tuple(basis))
    rng = np.random.default_rng(len(order))
    matrix = rng.normal(size=(3, len(basis))).T if transposed else rng.normal(size=(len(basis), 3))
    matrix[0] = 0.0  # a label whose only row is zero is left out
    if len(basis) > 2:
        matrix[2, 1] = np.nan  # NaN is not zero
    _assert_split_as_by_direction(res, space, matrix)


def test_a_direction_the_residual_lacks_is_a_key_error() -> None:
    space = craft.VectorSpaceWithBasis((craft.BasisDirection("x", 7),))
    with pytest.raises(KeyError, match="x:7"):
        residual.split_rows(_toy_residual(), space, np.ones((1, 2)))


def _blocks_by_direction(res: residual.Residual, head: craft.AttentionHead,
                         query: dict[str, np.ndarray]) -> list[tuple[str, str, np.ndarray]]:
    """Per query label and key label (in the key split's order) the W_QK block, the key label's columns in its
    direction order (laid out as the query rows when they are one run of the label's directions, else in C
    order); all-zero blocks left out."""
    right = head.w_qk.right_space
    key_names = list(residual.split_rows(res, right, head.w_qk.matrix.T))
    found = []
    for query_name, rows in query.items():
        for key_name in key_names:
            label = res.labels[key_name]
            scores = np.zeros((rows.shape[0], label.size))
            for column, direction in enumerate(right.basis):
                if direction.name == key_name:
                    scores[:, label.directions.index(direction)] = rows[:, column]
            columns = [column for column, direction in enumerate(right.basis) if direction.name == key_name]
            if tuple(right.basis[column] for column in columns) == label.directions and \
                    columns == list(range(columns[0], columns[0] + len(columns))):
                as_rows = np.array(rows[:, columns[0]: columns[-1] + 1])  # the run's own memory order
                scores = np.array(scores, order="F" if not as_rows.flags.c_contiguous else "C")
            if scores.any():
                found.append((query_name, key_name, scores))
    return found


def test_every_head_scores_blocks_as_direction_by_direction(library_residual) -> None:
    model, res = library_residual
    split = weights.ModelWeights(model.layered, res)
    for layer, heads in zip(model.layered.layers, split.heads):
        for head, found in zip(layer.heads, heads):
            expected = _blocks_by_direction(res, head, found.query)
            assert [(q, k) for q, k, _ in found.blocks] == [(q, k) for q, k, _ in expected]
            for (_, _, block), (_, _, reference) in zip(found.blocks, expected):
                assert block.tobytes() == reference.tobytes()
                assert (block.flags.c_contiguous, block.flags.f_contiguous) == (reference.flags.c_contiguous,
                                                                                reference.flags.f_contiguous)
            assert found.score_terms == sum(int(b.any(axis=1).sum()) + int(b.any(axis=0).sum())
                                            for _, _, b in expected)
            assert found.value_terms == sum(int(w.any(axis=1).sum()) for w in found.values.values())


def test_layer_term_counts_count_nan_as_a_weight() -> None:
    reads = {"x": np.array([[1.0, 0.0, np.nan], [0.0, 0.0, 2.0]]), "y": np.array([[np.nan, 0.0, 3.0]])}
    writes = {"z": np.array([[0.0], [np.nan], [1.0]])}
    group = weights.GroupWeights(findings.Block("mlp", 0, units=(0, 1, 2), writes=("z",)), reads, writes)
    first = np.concatenate(list(reads.values()), axis=0)
    assert group.first_layer_terms == int(np.count_nonzero(first, axis=0).max()) == 3
    assert group.second_layer_terms == int(np.count_nonzero(group.second_layer, axis=0).max()) == 2


def test_unembedding_term_count_is_the_rows_with_a_weight(library_residual) -> None:
    model, res = library_residual
    split = weights.ModelWeights(model.layered, res)
    assert split.unembedding_terms == sum(int(w.any(axis=1).sum()) for w in split.unembedding.values())


def test_group_second_layer_parts_are_its_positive_negative_and_absolute_parts() -> None:
    writes = {"z": np.array([[0.5], [-2.0], [np.nan]]), "w": np.array([[-0.0, 1.0], [3.0, 0.0], [-1.0, 0.0]])}
    group = weights.GroupWeights(findings.Block("mlp", 0, units=(0, 1, 2), writes=("z", "w")), {}, writes)
    snd = np.concatenate([writes["z"], writes["w"]], axis=1)
    assert group.second_layer.tobytes() == snd.tobytes() and group.second_layer.flags.c_contiguous
    for part, expected in zip(group.second_layer_parts, (np.maximum(snd, 0.0), np.maximum(-snd, 0.0), np.abs(snd))):
        assert part.tobytes() == expected.tobytes()
    assert group.sparse_second_layer is group.second_layer
    assert group.first_layer_terms == 0


def test_a_group_that_writes_nothing_is_a_bug() -> None:
    with pytest.raises(OptracrBug, match="writes at least one label"):
        weights.GroupWeights(findings.Block("mlp", 0, units=(0,), writes=()), {}, {})


@pytest.mark.parametrize("order", [(2, 0), (1,), (0, 1, 2), (2, 1, 0)])
def test_label_places_are_each_directions_index_among_the_labels(order: tuple) -> None:
    label = _toy_residual().labels["x"]
    asked = [craft.BasisDirection("x", value) for value in order]  # equal directions, other objects
    assert label.places(asked).tolist() == [label.directions.index(direction) for direction in asked]
    with pytest.raises(KeyError, match="x:True is not in the residual"):
        label.places([*asked, craft.BasisDirection("x", True)])  # True is not 1


@pytest.mark.parametrize("in_python", [True, False])
@pytest.mark.parametrize("seed", range(12))
def test_rows_and_columns_in_use_count_every_nonzero_weight_and_nan(seed: int, in_python: bool, monkeypatch) -> None:
    monkeypatch.setattr(weights, "SMALL_ENTRIES", 1 << 20 if in_python else -1)  # the nested lists' way, or numpy's
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(0, 7)), int(rng.integers(0, 7)))
    matrix = rng.choice([0.0, -0.0, 0.0, 1.5, -2.0, np.nan, np.inf, 5e-324], size=shape)
    nonzero = [[not (value == 0.0) for value in row] for row in matrix.tolist()]  # NaN is not 0
    rows = sum(any(row) for row in nonzero)
    columns = sum(any(row[column] for row in nonzero) for column in range(shape[1]))
    assert weights._used(matrix) == (rows, columns)
    assert weights._used(matrix, columns=False) == (rows, 0)
    assert weights._rows_used({"x": matrix, "y": matrix}) == 2 * rows


def _layout_by_direction(res: residual.Residual, space: craft.VectorSpaceWithBasis) -> dict:
    """Per label of the space (first appearance), its rows and their places in the label, as lists."""
    found: dict[str, tuple[list[int], list[int]]] = {}
    for row, direction in enumerate(space.basis):
        rows, places = found.setdefault(direction.name, ([], []))
        rows.append(row)
        places.append(res.labels[direction.name].directions.index(direction))
    return found


def _as_lists(where) -> tuple[list[int], list[int]]:
    if isinstance(where, slice):  # every direction of the label in order
        return list(range(where.start, where.stop)), list(range(where.stop - where.start))
    return tuple(list(range(part.start, part.stop)) if isinstance(part, slice) else part.tolist() for part in where)


@pytest.mark.parametrize("order", [("y", 2, 0), (0, 1), (1, 2, "one"), ("y", 0, 1, 2), (2, "one", 1), (0, 1, 2),
                                   ("one", 0, 1, 2, "y"), (1,), (0, "y", 1)])
def test_layout_gives_each_labels_rows_and_places_as_slices_exactly_where_they_are_runs(order: tuple) -> None:
    res = _toy_residual()
    basis = [craft.BasisDirection(item) if isinstance(item, str) else craft.BasisDirection("x", item)
             for item in order]  # equal directions, other objects than the residual's
    space = craft.VectorSpaceWithBasis(tuple(basis))
    found = res.layout(space)
    expected = _layout_by_direction(res, space)
    assert list(found) == list(expected)
    for name, where in found.items():
        rows, places = expected[name]
        assert tuple(_as_lists(where)) == (rows, places)
        run = rows == list(range(rows[0], rows[0] + len(rows))) and places == list(range(places[0],
                                                                                          places[0] + len(rows)))
        whole = run and places == list(range(res.labels[name].size))
        assert isinstance(where, slice) == whole
        assert (not whole and all(isinstance(part, slice) for part in where)) == (run and not whole)


def test_label_place_of_is_the_directions_index_or_none() -> None:
    label = _toy_residual().labels["x"]
    for value in range(3):
        assert label.place_of(craft.BasisDirection("x", value)) == value
        assert label.place_of(label.directions[value]) == value
    assert label.place_of(craft.BasisDirection("x", True)) is None  # True is not 1


@pytest.mark.parametrize("shape", [(3, 4), (1, 4), (4, 1), (5, 7)])
@pytest.mark.parametrize("order", ["C", "F"])
def test_a_groups_unit_columns_are_laid_out_as_indexing_lays_them_out(shape: tuple, order: str) -> None:
    matrix = np.asarray(np.random.default_rng(7).normal(size=shape), order=order)
    for units in (np.arange(shape[1]), np.arange(shape[1])[::2], np.arange(shape[1])[1:]):
        found, expected = weights._columns(matrix, units), matrix[:, units]
        assert found.tobytes(order="A") == expected.tobytes(order="A")
        assert (found.flags.c_contiguous, found.flags.f_contiguous) == (expected.flags.c_contiguous,
                                                                        expected.flags.f_contiguous)
