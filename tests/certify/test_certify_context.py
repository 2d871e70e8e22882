"""certify.context: the program's values over combinations of stored labels' rows (and a selector width's scratch
rows), read as they are, are what the meaning's general rule gives; chunks list every combination once, in order."""

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
def test_stored_labels_values_over_their_rows_are_the_general_rules(frontier: tuple[str, ...]) -> None:
    program = rasp.SequenceMap(lambda t, i: t + i, rasp.tokens, rasp.indices).named("sum")
    context = _context(program, {1, 2, 5}, 4)
    tables = {name: context.tables[name] for name in frontier}
    rows = {name: np.arange(tables[name].num_rows - 1)[:: -1 if name == "indices" else 1] for name in frontier}
    found = context.intended("owner", list(frontier), list(frontier), tables, rows)
    shape = tuple(len(rows[name]) for name in frontier)
    picks = np.unravel_index(np.arange(int(np.prod(shape))), shape)
    columns = {name: (pick, [tables[name].states[row] for row in rows[name].tolist()])
               for name, pick in zip(frontier, picks)}
    expected = context.meaning.values_over(list(frontier), columns)
    assert found.keys() == expected.keys()
    for name in frontier:
        assert found[name][0].dtype == np.int64 and found[name][0].tolist() == expected[name][0].tolist()
        assert found[name][1] == expected[name][1]


def test_a_selector_widths_values_for_its_own_block_are_its_scratch_states_as_the_general_rule_reads_them() -> None:
    program = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)).named("width")
    context = _context(program, {1, 2}, 4)
    scratch = context.residual.scratch_of("width").name
    table = context.tables[scratch]
    rows = {scratch: np.arange(table.num_rows - 1)}
    found = context.intended("owner", ["width"], [scratch], {scratch: table}, rows, own=True)
    columns = {scratch: (rows[scratch], [table.states[row] for row in rows[scratch].tolist()])}
    expected = context.meaning.values_over(["width"], columns, own=True)
    assert found["width"][0].tolist() == expected["width"][0].tolist() and found["width"][1] == expected["width"][1]
    assert found["width"][1] == list(table.states[:-1])  # the widths the head can write (EQ picks itself: 1 up)


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
