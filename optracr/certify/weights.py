"""Which residual labels each head and hidden unit reads and writes, read off the weights (never off the
ground-truth map or the constructions), split per label, computed once per model and shared by every pass."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import scipy.sparse

from optracr import craft
from optracr.certify import arrays
from optracr.certify import findings
from optracr.certify import residual as residual_lib
from optracr.errors import OptracrBug

SPARSE_ENTRIES = 1 << 20  # a second layer larger than this is multiplied as a sparse matrix
SMALL_ENTRIES = 1024  # up to this many entries a matrix's rows and columns in use are counted in Python


@dataclasses.dataclass(frozen=True, eq=False)
class HeadWeights:
    """One head's weights per label: what it writes, its W_QK blocks per (query label, key label), and per value
    label the rows of W_OV onto the written label's directions."""

    block: findings.Block
    writes: tuple[str, ...]
    query: dict[str, np.ndarray]  # query label -> (label size x key dims), for deciding what to enumerate
    key: dict[str, np.ndarray]  # key label -> (label size x query dims)
    blocks: tuple[tuple[str, str, np.ndarray], ...]
    values: dict[str, np.ndarray]  # value label -> (label size x target size); empty unless one label is written
    # worked out at construction (every head is analysed): for the rounding of the dot products
    score_terms: int = dataclasses.field(init=False, repr=False)  # query and key directions the scores run over
    value_terms: int = dataclasses.field(init=False, repr=False)  # value directions the value side runs over

    def __post_init__(self) -> None:
        fields = self.__dict__  # what object.__setattr__ writes to, at once
        fields["score_terms"] = sum(sum(_used(block)) for *_, block in self.blocks)
        fields["value_terms"] = _rows_used(self.values)


@dataclasses.dataclass(frozen=True, eq=False)
class GroupWeights:
    """Hidden units of one layer that write the same labels: per read label its first-layer rows (label size x
    units), per written label its second-layer columns (units x label size); and, worked out at construction
    (every group is analysed), the second layer as one matrix, its parts, and the term counts for rounding."""

    block: findings.Block
    reads: dict[str, np.ndarray]
    writes: dict[str, np.ndarray]
    second_layer: np.ndarray = dataclasses.field(init=False, repr=False)  # the writes side by side (units x outputs)
    first_layer_terms: int = dataclasses.field(init=False, repr=False)  # most first-layer weights a unit sums
    second_layer_terms: int = dataclasses.field(init=False, repr=False)  # most second-layer weights an output sums
    second_layer_parts: tuple = dataclasses.field(init=False, repr=False)  # (positive, negative, absolute) parts
    sparse_second_layer: object = dataclasses.field(init=False, repr=False)  # the second layer, sparse when large

    def __post_init__(self) -> None:
        if not self.writes:
            raise OptracrBug(f"{self.block}: a group of hidden units writes at least one label")
        snd = arrays.concatenate([self.writes[name] for name in self.writes], axis=1)
        first = 0
        if self.reads:  # NaN counts as a weight
            counts = np.add.reduce(arrays.concatenate(list(self.reads.values()), axis=0) != 0, axis=0)
            first = int(np.maximum.reduce(counts, axis=None, initial=0))
        second = int(np.maximum.reduce(np.add.reduce(snd != 0, axis=0), axis=None, initial=0))
        parts = (np.maximum(snd, 0.0), np.maximum(-snd, 0.0), np.abs(snd))
        sparse = snd.size > SPARSE_ENTRIES
        fields = self.__dict__  # what object.__setattr__ writes to, at once
        fields.update(second_layer=snd, first_layer_terms=first, second_layer_terms=second,
                      second_layer_parts=tuple(scipy.sparse.csr_matrix(part) for part in parts) if sparse else parts,
                      sparse_second_layer=scipy.sparse.csr_matrix(snd) if sparse else snd)


class ModelWeights:
    """Every head's and hidden-unit group's weights per label, which sublayer writes each label, and the writes
    that break the one-writer-per-label rule."""

    def __init__(self, layered, residual: residual_lib.Residual) -> None:
        self.layered, self.residual = layered, residual
        self.heads: list[list[HeadWeights]] = []
        self.groups: list[list[GroupWeights]] = []
        self.written_at: dict[str, int] = {}
        self.clashes: list[tuple[findings.Block, str]] = []
        self.memo: dict = {}  # per-pass computations that depend only on states (intended values, predicates)
        unembedding = layered.unembedding
        self.unembedding = self._split(unembedding.input_space, unembedding.matrix)  # label -> (size x outputs)
        for number, layer in enumerate(layered.layers):
            self.heads.append([self._head(number, index, head) for index, head in enumerate(layer.heads)])
            self.groups.append(self._groups(number, layer.mlp) if layer.mlp is not None else [])
            for sublayer, parts in ((2 * number, self.heads[-1]), (2 * number + 1, self.groups[-1])):
                for part in parts:
                    for name in part.block.writes:
                        self._record(name, sublayer, part.block)

    @functools.cached_property
    def unembedding_terms(self) -> int:
        """How many residual directions the unembedding's dot products run over."""
        return _rows_used(self.unembedding)

    def _record(self, name: str, sublayer: int, block: findings.Block) -> None:
        role = self.residual.labels[name].role
        if role in (residual_lib.Role.ONE, residual_lib.Role.TOKENS, residual_lib.Role.INDICES):
            self.clashes.append((block, f"writes into {name!r}, which only the embedding writes"))
        elif name in self.written_at and self.written_at[name] != sublayer:
            self.clashes.append((block, f"writes into {name!r}, which sublayer {self.written_at[name]} writes too"))
        else:
            self.written_at.setdefault(name, sublayer)

    def _split(self, space: craft.VectorSpaceWithBasis, matrix: np.ndarray) -> dict[str, np.ndarray]:
        return residual_lib.split_rows(self.residual, space, matrix)

    def _head(self, layer: int, index: int, head: craft.AttentionHead) -> HeadWeights:
        writes = self._split(head.w_ov.output_space, head.w_ov.matrix.T)
        block = findings.Block("head", layer, heads=(index,), writes=tuple(writes))
        query = self._split(head.w_qk.left_space, head.w_qk.matrix)
        key = self._split(head.w_qk.right_space, head.w_qk.matrix.T)
        key_layout = self.residual.layout(head.w_qk.right_space)
        key_labels = [(name, key_layout[name], self.residual.labels[name].size) for name in key]
        blocks = []
        for query_name, rows in query.items():
            for key_name, where, size in key_labels:
                if isinstance(where, slice):  # the key label's columns as they are (a copy)
                    scores = np.array(rows[:, where], dtype=np.float64)
                else:
                    columns, places = where
                    scores = np.zeros((rows.shape[0], size))
                    scores[:, places] = rows[:, columns]
                if arrays.some(scores):
                    blocks.append((query_name, key_name, scores))
        values = {}
        if len(writes) == 1:
            (target,) = writes
            values = self._split(head.w_ov.input_space, writes[target].T)
        return HeadWeights(block, tuple(writes), query, key, tuple(blocks), values)

    def _groups(self, layer: int, mlp: craft.MLP) -> list[GroupWeights]:
        reads = self._split(mlp.input_space, mlp.fst.matrix)
        writes = self._split(mlp.output_space, mlp.snd.matrix.T)  # label -> (size x units)
        parent = list(range(mlp.hidden_width))

        def find(unit: int) -> int:
            while parent[unit] != unit:
                parent[unit] = parent[parent[unit]]
                unit = parent[unit]
            return unit

        writing = {name: np.logical_or.reduce(rows, axis=0) for name, rows in writes.items()}  # NaN counts
        writers = {name: arrays.positions(row) for name, row in writing.items()}
        if len(writing) <= 1 or sum(writing.values()).max() <= 1:  # no unit writes two labels: a group per label
            return [self._group(layer, reads, writes, [name], units) for name, units in writers.items() if len(units)]
        for units in writers.values():
            for unit in units[1:]:
                parent[find(int(unit))] = find(int(units[0]))
        members: dict[int, list[int]] = {}
        for name, units in writers.items():
            for unit in units:
                members.setdefault(find(int(unit)), [])
        for unit in range(mlp.hidden_width):
            root = find(unit)
            if root in members:
                members[root].append(unit)
        found = []
        for root, units in members.items():
            labels = [name for name, written in writers.items() if len(written) and find(int(written[0])) == root]
            found.append(self._group(layer, reads, writes, labels, np.array(units)))
        return found

    @staticmethod
    def _group(layer: int, reads: dict[str, np.ndarray], writes: dict[str, np.ndarray], labels: list[str],
               units: np.ndarray) -> GroupWeights:
        """The group of hidden ``units`` (ascending) writing ``labels``."""
        group_reads = {name: part for name, part in ((name, _columns(rows, units)) for name, rows in reads.items())
                       if arrays.some(part)}
        group_writes = {name: _columns(writes[name], units).T for name in labels}
        block = findings.Block("mlp", layer, units=tuple(units.tolist()), writes=tuple(labels))
        return GroupWeights(block, group_reads, group_writes)


def _columns(matrix: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``matrix[:, columns]`` (``columns`` ascending) laid out as that indexing lays it out (in Fortran order),
    without indexing when the columns are all of them."""
    return np.asfortranarray(matrix) if len(columns) == matrix.shape[1] else matrix[:, columns]


def _rows_used(matrices: dict[str, np.ndarray]) -> int:
    """How many rows of the matrices hold a nonzero weight (NaN counts)."""
    return sum(_used(matrix, columns=False)[0] for matrix in matrices.values())


def _used(matrix: np.ndarray, columns: bool = True) -> tuple[int, int]:
    """How many rows, and (unless not ``columns``) columns, of a 2-D matrix hold a nonzero weight (NaN counts)."""
    if matrix.size <= SMALL_ENTRIES:  # a few entries: counted off the nested lists (as ``bool``: NaN is true)
        rows = matrix.tolist()
        return sum(map(any, rows)), sum(map(any, zip(*rows))) if columns else 0
    used = np.logical_or.reduce
    return (int(arrays.count_nonzero(used(matrix, axis=1))),
            int(arrays.count_nonzero(used(matrix, axis=0))) if columns else 0)
