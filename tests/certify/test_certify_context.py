"""certify.context: the program's values over combinations of stored labels' rows (and of a selector width's scratch
rows, for its own block) are those rows' states, combination by combination; chunks list every combination once, in
order."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import optracr
from optracr import frontend
from optracr.certify import analysis, meaning, residual
from optracr.certify import context as context_lib

rasp = frontend.rasp


def _context(program: rasp.SOp, vocab, length: int):
    model = optracr.compile(program, vocab, length, fold=False, fuse=False)
    found = residual.residual_of(model.layered, model.program_graph)
    return analysis.analyse(model.layered, found, meaning.Meaning(model.program_graph, found)).context


@pytest.mark.parametrize("frontier", [("tokens",), ("tokens", "indices"), ("indices", "tokens")])
def test_stored_labels_values_over_their_rows_are_the_rows_states_per_combination(frontier: tuple[str, ...]) -> None:
    program = rasp.SequenceMap(lambda t, i: t + i, rasp.tokens, rasp.indices).named("sum")
    context = _context(program, {1, 2, 5}, 4)
    tables = {name: context.tables[name] for name in frontier}
    rows = {name: np.arange(tables[name].num_rows - 1)[:: -1 if name == "indices" else 1] for name in frontier}
    found = context.intended("owner", list(frontier), list(frontier), tables, rows)
    assert list(found) == list(frontier)
    combinations = list(itertools.product(*(rows[name].tolist() for name in frontier)))  # the last fastest
    for axis, name in enumerate(frontier):
        codes, distinct = found[name]
        assert codes.dtype == np.int64
        assert [distinct[code] for code in codes.tolist()] == [tables[name].states[pick[axis]] for pick in combinations]


def test_a_selector_widths_values_for_its_own_block_are_its_scratch_rows_states() -> None:
    program = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)).named("width")
    context = _context(program, {1, 2}, 4)
    scratch = context.residual.scratch_of("width").name
    table = context.tables[scratch]
    rows = {scratch: np.arange(table.num_rows - 1)[::-1]}
    codes, distinct = context.intended("owner", ["width"], [scratch], {scratch: table}, rows, own=True)["width"]
    assert [distinct[code] for code in codes.tolist()] == [table.states[row] for row in rows[scratch].tolist()]
    assert sorted(distinct) == [1, 2, 3, 4]  # the widths the head can write (EQ picks itself: 1 up)


def test_read_as_is_names_the_frontier_label_or_leaves_the_label_to_the_general_rule() -> None:
    width = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)).named("width")
    program = rasp.Map(lambda w: w + 1, width).named("more")
    context = _context(program, {1, 2}, 4)
    scratch = context.residual.scratch_of("width").name
    read = context.meaning.read_as_is
    assert read("tokens", ["tokens"], own=False) == "tokens" and read("tokens", ["indices"], own=False) is None
    assert read("width", [scratch], own=True) == scratch and read("width", ["tokens"], own=True) is None
    assert read("more", ["width"], own=False) is None and read("more", ["width"], own=True) is None  # a Map


@pytest.mark.parametrize("sizes", [(4,), (0,), (3, 2), (2, 1, 3)])
@pytest.mark.parametrize("chunk", [1, 2, 5, 100])
def test_chunks_list_every_combination_once_in_order(sizes: tuple[int, ...], chunk: int) -> None:
    rows = [np.arange(size) * 10 + axis for axis, size in enumerate(sizes)]
    combinations = context_lib.product_rows([f"l{axis}" for axis in range(len(sizes))], rows)
    seen = []
    for start, chosen in combinations.chunks(chunk):
        assert start == len(seen) and all(len(part) <= chunk for part in chosen.values())
        seen += list(zip(*(chosen[f"l{axis}"].tolist() for axis in range(len(sizes)))))
    assert seen == list(itertools.product(*(r.tolist() for r in rows)))
