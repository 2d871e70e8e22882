"""The model's residual directions grouped into labels: the constant ``one``, ``tokens``, ``indices``, one label per
s-op the model stores, and selector width's private scratch directions.

Every direction is named ``label`` or ``label:value`` (docs/artefacts.md, "Residual conventions"); the certificate
reads which label a direction belongs to off its name, and which program s-op a label encodes off the program.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Hashable, Mapping, Sequence
from types import MappingProxyType

import numpy as np

from optracr import craft
from optracr import frontend
from optracr.certify import arrays
from optracr.certify import errors
from optracr.errors import OptracrBug

rasp = frontend.rasp


class Role(enum.Enum):
    """What a label's directions hold."""

    ONE = "one"  # 1 at every position
    TOKENS = "tokens"  # the token's one-hot, ``tokens:BOS`` at position 0
    INDICES = "indices"  # the index's one-hot (none at BOS)
    SOP = "s-op"  # an s-op of the program: its one-hot, or its number
    SCRATCH = "scratch"  # selector width's private direction, written by its head, read by its MLP


@dataclasses.dataclass(frozen=True, eq=False)
class Label:
    """One label of the residual: its directions (in residual order) and where they sit in the residual (ascending).

    ``sop`` is the program s-op whose value the label's directions stand for: the s-op itself, ``tokens`` or
    ``indices``, or, for a scratch label, the SelectorWidth it serves (its value there is that width).
    """

    name: str
    role: Role
    directions: tuple[craft.BasisDirection, ...]
    positions: np.ndarray
    numerical: bool
    sop: str | None

    def __post_init__(self) -> None:
        positions = np.asarray(self.positions, dtype=np.int64)
        positions.setflags(write=False)
        object.__setattr__(self, "positions", positions)
        if len(positions) != len(self.directions):
            raise OptracrBug(f"label {self.name!r}: one position per direction")

    @property
    def size(self) -> int:
        """The number of directions."""
        return len(self.directions)

    def direction_indices(self, values: Sequence[Hashable]) -> list[int]:
        """``direction_index`` of each value."""
        by_value = self._by_value
        return [by_value.get(key, -1) for key in frontend.value_keys(values)]

    def direction_index(self, value: Hashable) -> int:
        """The index of the direction ``name:value`` (value keyed by type), or -1 when there is none."""
        return self._by_value.get(frontend.value_key(value), -1)

    def place_of(self, direction: craft.BasisDirection) -> int | None:
        """The index of ``direction`` among the label's, or None when the label lacks it."""
        if direction is self.directions[0]:
            return 0
        return self._place_of.get(direction)

    def places(self, directions: Sequence[craft.BasisDirection]) -> np.ndarray:
        """The index of each of ``directions`` among the label's (KeyError for one it lacks)."""
        place_of = self._place_of
        try:
            return np.array([place_of[direction] for direction in directions], dtype=np.int64)
        except KeyError as error:
            raise KeyError(f"direction {error.args[0]} is not in the residual") from None

    @property
    def _place_of(self) -> dict[craft.BasisDirection, int]:
        cached = self.__dict__.get("_place_of_cache")
        if cached is None:
            cached = {direction: index for index, direction in enumerate(self.directions)}
            object.__setattr__(self, "_place_of_cache", cached)
        return cached

    @property
    def _by_value(self) -> dict[Hashable, int]:
        cached = self.__dict__.get("_by_value_cache")
        if cached is None:
            cached = {key: i for i, key in enumerate(frontend.value_keys([d.value for d in self.directions]))}
            object.__setattr__(self, "_by_value_cache", cached)
        return cached


@dataclasses.dataclass(frozen=True, eq=False)
class Residual:
    """Every label of a model's residual, and for every residual position the label it belongs to."""

    labels: Mapping[str, Label]
    label_at: tuple[str, ...]  # per residual position
    space: craft.VectorSpaceWithBasis  # the residual's directions

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))
        if len(self.space.basis) != len(self.label_at):
            raise OptracrBug("the residual has one label per direction")

    def layout(self, space: craft.VectorSpaceWithBasis) -> dict[str, slice | tuple[slice | np.ndarray, ...]]:
        """Per label of ``space`` (a direction's label is its name), in order of first appearance, where its
        directions sit there: a slice of rows when they are consecutive and hold every direction of the label in
        order, else (their rows, their places in the label), each a slice when the rows are consecutive and hold a
        run of the label's directions in order, else index arrays (remembered per space)."""
        cache = self.__dict__.setdefault("_layouts", {})
        found = cache.get(id(space))
        if found is not None and found[0] is space:
            return found[1]
        basis, labels = space.basis, self.labels
        names = [direction.name for direction in basis]
        where = {}
        for name, rows in _rows_by_name(names).items():
            first, count, label = rows[0], len(rows), labels.get(name)
            if label is not None and rows[-1] - first == count - 1:  # consecutive rows: a run of the label's?
                run = basis[first : first + count]
                if count == label.size and run == label.directions:  # the whole label in order (the usual case)
                    where[name] = slice(first, first + count)
                    continue
                start = label.place_of(run[0])
                if start is not None and run == label.directions[start : start + count]:
                    where[name] = (slice(first, first + count), slice(start, start + count))
                    continue
            # looking the places up raises KeyError for a label or a direction the residual lacks
            where[name] = (np.array(rows, dtype=np.int64), labels[name].places([basis[row] for row in rows]))
        cache[id(space)] = (space, where)
        return where

    def labels_of(self, positions: np.ndarray) -> list[str]:
        """The labels the given residual positions belong to, each once, in residual order."""
        return list(dict.fromkeys(self.label_at[int(p)] for p in sorted(positions)))

    def scratch_of(self, width_label: str) -> Label | None:
        """The scratch label of SelectorWidth ``width_label``, if the residual has one."""
        names = self.__dict__.setdefault("_scratch_names", {})
        if width_label not in names:
            names[width_label] = craft.selector_width_scratch(width_label).name
        return self.labels.get(names[width_label])


def residual_of(layered, program_graph: frontend.ProgramGraph) -> Residual:
    """The labels of ``layered``'s residual, checked against ``program_graph`` (the program it was compiled from)."""
    basis = layered.residual_space.basis
    label_at = tuple([direction.name for direction in basis])
    groups: dict[str, tuple[list[int], list[craft.BasisDirection]]] = {}
    for position, direction in enumerate(basis):
        members = groups.get(label_at[position])
        if members is None:
            members = groups[label_at[position]] = ([], [])
        members[0].append(position)
        members[1].append(direction)
    scratch_names = {
        craft.selector_width_scratch(label).name: label
        for label in program_graph.topological_labels()
        if isinstance(program_graph.expr(label), rasp.SelectorWidth)
    }
    labels = {name: _label(name, positions, tuple(directions), program_graph, scratch_names)
              for name, (positions, directions) in groups.items()}
    return Residual(labels, label_at, layered.residual_space)


def _rows_by_name(names: list[str]) -> dict[str, Sequence[int]]:
    """Per name, in order of first appearance, the indices where it stands in ``names`` (ascending)."""
    order = dict.fromkeys(names)
    if len(order) == 1:  # one name (as often): every index
        return {names[0]: range(len(names))}
    rows_of: dict[str, list[int]] = {}
    for row, name in enumerate(names):
        rows_of.setdefault(name, []).append(row)
    return rows_of


def split_rows(residual: Residual, space: craft.VectorSpaceWithBasis, matrix: np.ndarray) -> dict[str, np.ndarray]:
    """``matrix``'s rows (indexed by ``space``'s directions) per residual label, each as a (label size x columns)
    matrix in the label's direction order (zero rows for the label's directions the space lacks), labels in order
    of first appearance in the space; labels whose rows are all zero are left out."""
    found = {}
    for name, where in residual.layout(space).items():
        if isinstance(where, slice):  # the label's rows as they are (a copy in the matrix's memory order)
            block = np.array(matrix[where], dtype=np.float64)
        else:  # the rows placed at their places in the label (a copy in C order)
            rows, places = where
            block = np.zeros((residual.labels[name].size, matrix.shape[1]))
            block[places] = matrix[rows]  # a space lists each direction once
        if arrays.some(block):
            found[name] = block
    return found


def _label(
    name: str,
    positions: list[int],
    directions: tuple[craft.BasisDirection, ...],
    program_graph: frontend.ProgramGraph,
    scratch_names: Mapping[str, str],
) -> Label:
    valued = all(direction.value is not None for direction in directions)
    if name == craft.ONE:
        return Label(name, Role.ONE, directions, positions, True, None)
    if name in (craft.TOKENS, craft.INDICES) and valued:
        role = Role.TOKENS if name == craft.TOKENS else Role.INDICES
        return Label(name, role, directions, positions, False, name)
    if name in scratch_names and len(directions) == 1 and not valued:
        return Label(name, Role.SCRATCH, directions, positions, True, scratch_names[name])
    if name in program_graph.graph and isinstance(program_graph.expr(name), rasp.SOp):
        numerical = rasp.is_numerical(program_graph.expr(name))
        if (numerical and len(directions) == 1 and directions[0].value is None) or (not numerical and valued):
            return Label(name, Role.SOP, directions, positions, numerical, name)
        kind = "numerical" if numerical else "categorical"
        raise errors.CertifyError(
            name, f"the program's s-op is {kind} but the model stores it in {[str(d) for d in directions][:4]}; "
            "certify the model with the program it was compiled from",
        )
    shown = [str(direction) for direction in directions][:4]
    raise errors.CertifyError(
        None, f"the model's residual holds directions {shown} that the program has no s-op for; certify the model "
        "with the program it was compiled from (a program built again names its unnamed s-ops afresh: name them "
        "with .named(...) to certify a loaded model against a rebuilt program)",
    )
