"""The model's residual directions grouped into labels: the constant ``one``, ``tokens``, ``indices``, one label per
s-op the model stores, and selector width's private scratch directions.

Every direction is named ``label`` or ``label:value`` (docs/artefacts.md, "Residual conventions"); the certificate
reads which label a direction belongs to off its name, and which program s-op a label encodes off the program.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Hashable, Mapping
from types import MappingProxyType

import numpy as np

from optracr import craft
from optracr import frontend
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
    """One label of the residual: its directions (in residual order) and where they sit in the residual.

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

    def local(self, direction: craft.BasisDirection) -> int:
        """The index of ``direction`` among the label's directions."""
        cached = self.__dict__.get("_local")
        if cached is None:
            cached = {d: i for i, d in enumerate(self.directions)}
            object.__setattr__(self, "_local", cached)
        return cached[direction]

    def direction_index(self, value: Hashable) -> int:
        """The index of the direction ``name:value`` (value keyed by type), or -1 when there is none."""
        return self._by_value.get(frontend.value_key(value), -1)

    @property
    def _by_value(self) -> dict[Hashable, int]:
        cached = self.__dict__.get("_by_value_cache")
        if cached is None:
            cached = {frontend.value_key(d.value): i for i, d in enumerate(self.directions)}
            object.__setattr__(self, "_by_value_cache", cached)
        return cached


@dataclasses.dataclass(frozen=True, eq=False)
class LabelRows:
    """Where one label's directions sit in a space: their rows there, and each one's place in the label."""

    name: str
    size: int
    rows: np.ndarray
    places: np.ndarray
    span: slice | None = None  # the rows as a slice, when they are consecutive and hold every direction in order


@dataclasses.dataclass(frozen=True, eq=False)
class Residual:
    """Every label of a model's residual, and for every residual position the label it belongs to."""

    labels: Mapping[str, Label]
    label_at: tuple[str, ...]  # per residual position
    local_at: tuple[int, ...]  # per residual position: its index within its label
    bos_direction: craft.BasisDirection
    pad_direction: craft.BasisDirection

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))

    def layout(self, space: craft.VectorSpaceWithBasis) -> tuple[np.ndarray, tuple[LabelRows, ...]]:
        """For a space's directions: each direction's label (an index into the groups), and per label of the space
        (in order of first appearance) its rows in the space and their places in the label (remembered per
        space)."""
        cache = self.__dict__.setdefault("_layouts", {})
        found = cache.get(id(space))
        if found is None or found[0] is not space:
            where = self._where()
            members: dict[str, tuple[int, list[int], list[int]]] = {}  # name -> (its id, rows, places)
            label_ids = []
            for row, direction in enumerate(space.basis):
                name, place = where[direction]
                entry = members.get(name)
                if entry is None:
                    entry = members[name] = (len(members), [], [])
                label_ids.append(entry[0])
                entry[1].append(row)
                entry[2].append(place)
            groups = tuple(LabelRows(name, self.labels[name].size, np.array(rows, dtype=np.int64),
                                     np.array(places, dtype=np.int64), _span(rows, places, self.labels[name].size))
                           for name, (_, rows, places) in members.items())
            found = (space, np.array(label_ids, dtype=np.int64), groups)
            cache[id(space)] = found
        return found[1], found[2]

    def _where(self) -> dict[craft.BasisDirection, tuple[str, int]]:
        """Per direction of the residual, its label and its index there (built once)."""
        where = self.__dict__.get("_where_cache")
        if where is None:
            where = {direction: (label.name, local) for label in self.labels.values()
                     for local, direction in enumerate(label.directions)}
            object.__setattr__(self, "_where_cache", where)
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
    groups: dict[str, list[tuple[int, craft.BasisDirection]]] = {}
    for position, direction in enumerate(layered.residual_space.basis):
        groups.setdefault(direction.name, []).append((position, direction))
    scratch_names = {
        craft.selector_width_scratch(label).name: label
        for label in program_graph.topological_labels()
        if isinstance(program_graph.expr(label), rasp.SelectorWidth)
    }
    labels = {name: _label(name, members, program_graph, scratch_names) for name, members in groups.items()}
    label_at = tuple(direction.name for direction in layered.residual_space.basis)
    local_at = [0] * len(label_at)
    for label in labels.values():
        for local, position in enumerate(label.positions):
            local_at[int(position)] = local
    bos, pad = craft.bos_direction(layered.bos), craft.pad_direction(layered.pad)
    return Residual(labels, label_at, tuple(local_at), bos, pad)


def split_rows(residual: Residual, space: craft.VectorSpaceWithBasis, matrix: np.ndarray) -> dict[str, np.ndarray]:
    """``matrix``'s rows (indexed by ``space``'s directions) per residual label, each as a (label size x columns)
    matrix in the label's direction order; labels whose rows are all zero are left out."""
    _, groups = residual.layout(space)
    found: dict[str, np.ndarray] = {}
    for group in groups:
        if group.span is not None:  # the label's rows as they are (a copy)
            block = np.array(matrix[group.span], dtype=np.float64)
        else:
            block = np.zeros((group.size, matrix.shape[1]))
            block[group.places] = matrix[group.rows]  # a space lists each direction once
        if block.any():
            found[group.name] = block
    return found


def _span(rows: list[int], places: list[int], size: int) -> slice | None:
    """``rows`` as a slice when they are consecutive and ``places`` are every direction of the label in order."""
    if len(places) != size or places != list(range(size)) or rows != list(range(rows[0], rows[0] + len(rows))):
        return None
    return slice(rows[0], rows[0] + len(rows))


def _label(
    name: str,
    members: list[tuple[int, craft.BasisDirection]],
    program_graph: frontend.ProgramGraph,
    scratch_names: Mapping[str, str],
) -> Label:
    positions = [position for position, _ in members]
    directions = tuple(direction for _, direction in members)
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
