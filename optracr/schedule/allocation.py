"""The result of scheduling: every block's sublayer, the fusion groups chosen, the model shape they imply,
and how it was found."""

from __future__ import annotations

import dataclasses
import enum
import math
import time
import types
from collections.abc import Callable, Iterable, Mapping

from optracr.schedule import bounds
from optracr.schedule import cost
from optracr.schedule import errors
from optracr.schedule import fusion
from optracr.schedule import problem as problem_lib


class AllocationStatus(enum.Enum):
    """How an allocation was found."""

    OPTIMAL = "OPTIMAL"  # the solver proved (layers, parameters) minimal
    FEASIBLE = "FEASIBLE"  # the solver stopped early; `gap` bounds how far from minimal it may be
    HEURISTIC = "HEURISTIC"  # a heuristic was asked for
    FALLBACK = "FALLBACK"  # the solver gave up; `reason` says why, a heuristic filled in


@dataclasses.dataclass(frozen=True)
class Allocation:
    """Block -> sublayer (an ATTN_MLP block maps to its attention sublayer), the model shape, the status."""

    sublayer_of: Mapping[problem_lib.BlockId, problem_lib.SublayerIndex] = dataclasses.field(hash=False)
    shape: cost.ModelShape  # layers, heads, key and value size, MLP width: the one record of the model's shape
    parameter_count: int
    status: AllocationStatus
    gap: float | None = None  # relative parameter gap to the solver's bound; FEASIBLE only (0.0 if OPTIMAL)
    reason: str | None = None  # why the solver gave up; FALLBACK only
    seconds: float = dataclasses.field(default=0.0, compare=False)  # time taken, not part of the result
    depth_lower_bound: int = 0  # fewest layers any valid placement (with any fusion choice) needs
    fusion_groups: tuple[problem_lib.GroupId, ...] = ()  # ids of the chosen fusion groups, sorted

    def __post_init__(self) -> None:
        sublayer_of = dict(self.sublayer_of)
        for block_id, sublayer in sublayer_of.items():
            if not isinstance(block_id, str) or isinstance(sublayer, bool) or not isinstance(sublayer, int) \
                    or sublayer < 0:
                raise errors.AllocationError(
                    f"Block '{block_id}': sublayer must be a non-negative int keyed by a block id, "
                    f"got {sublayer!r}; use 2k for the attention and 2k + 1 for the MLP of layer k."
                )
        object.__setattr__(self, "sublayer_of", types.MappingProxyType(sublayer_of))
        if not isinstance(self.shape, cost.ModelShape):
            raise errors.AllocationError(f"Allocation: shape must be a schedule.ModelShape, got {self.shape!r}.")
        for name in ("parameter_count", "depth_lower_bound"):
            size = getattr(self, name)
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise errors.AllocationError(f"Allocation: {name} must be a non-negative int, got {size!r}.")
        if not isinstance(self.status, AllocationStatus):
            raise errors.AllocationError(
                f"Allocation: status must be an AllocationStatus, got {self.status!r}; "
                f"use one of {[status.name for status in AllocationStatus]}."
            )
        if not (isinstance(self.seconds, (int, float)) and math.isfinite(self.seconds) and self.seconds >= 0):
            raise errors.AllocationError(f"Allocation: seconds must be a finite time >= 0, got {self.seconds!r}.")
        self._check_status_fields()
        self._check_fusion_groups()

    def _check_fusion_groups(self) -> None:
        groups = self.fusion_groups
        if not isinstance(groups, tuple) or not all(isinstance(group_id, str) for group_id in groups) \
                or list(groups) != sorted(set(groups)):
            raise errors.AllocationError(
                f"Allocation: fusion_groups must be a sorted tuple of distinct group ids, got {groups!r}; "
                f"pass e.g. tuple(sorted(chosen))."
            )

    def _check_status_fields(self) -> None:
        status = self.status
        if status is AllocationStatus.OPTIMAL and self.gap != 0.0:
            raise errors.AllocationError(f"Allocation: an OPTIMAL allocation has gap 0.0, got {self.gap!r}.")
        if status is AllocationStatus.FEASIBLE and not (
            isinstance(self.gap, (int, float)) and 0.0 <= self.gap <= 1.0
        ):
            raise errors.AllocationError(
                f"Allocation: a FEASIBLE allocation needs a relative gap in [0, 1], got {self.gap!r}."
            )
        if status in (AllocationStatus.HEURISTIC, AllocationStatus.FALLBACK) and self.gap is not None:
            raise errors.AllocationError(
                f"Allocation: a {status.name} allocation has no solver gap, got {self.gap!r}; pass gap=None."
            )
        if (status is AllocationStatus.FALLBACK) != isinstance(self.reason, str) or self.reason == "":
            raise errors.AllocationError(
                f"Allocation: a reason (str) is required for FALLBACK and only for it; "
                f"got status {status.name} with reason {self.reason!r}."
            )

    @property
    def num_layers(self) -> int:
        """The number of layers L."""
        return self.shape.num_layers

    @property
    def num_heads(self) -> int:
        """Heads per layer H (the widest layer's)."""
        return self.shape.num_heads

    @property
    def key_size(self) -> int:
        """The key size of every head."""
        return self.shape.key_size

    @property
    def value_size(self) -> int:
        """The value size of every head."""
        return self.shape.value_size

    @property
    def mlp_hidden_width(self) -> int:
        """MLP hidden units per layer M (the widest layer's)."""
        return self.shape.mlp_hidden_width

    def layer_of(self, block_id: problem_lib.BlockId) -> problem_lib.LayerIndex:
        """The layer a block sits in (both halves of an ATTN_MLP block are in this layer)."""
        if block_id not in self.sublayer_of:
            raise errors.ScheduleError(
                f"Block '{block_id}' is not in this allocation; it places {sorted(self.sublayer_of)}."
            )
        return self.sublayer_of[block_id] // 2

    def blocks_in_sublayer(
        self, problem: problem_lib.Problem, sublayer: problem_lib.SublayerIndex
    ) -> tuple[problem_lib.BlockId, ...]:
        """Ids of the blocks with a part in `sublayer` (an ATTN_MLP's MLP half counts), in problem order."""
        return tuple(
            block.id
            for block in problem.blocks
            if self.sublayer_of[block.id] <= sublayer <= problem_lib.output_sublayer(
                block.kind, self.sublayer_of[block.id]
            )
        )


def from_placement(
    problem: problem_lib.Problem,
    sublayer_of: Mapping[problem_lib.BlockId, problem_lib.SublayerIndex],
    *,
    status: AllocationStatus,
    depth_lower_bound: int,
    seconds: float = 0.0,
    gap: float | None = None,
    reason: str | None = None,
    fusion_groups: Iterable[problem_lib.GroupId] = (),
) -> Allocation:
    """The allocation placing `problem`'s blocks at `sublayer_of` with `fusion_groups` (ids) chosen, with the
    shape and parameters they imply."""
    chosen = tuple(sorted(fusion_groups))
    shape = cost.shape_of(problem, sublayer_of, chosen)
    return Allocation(
        sublayer_of=sublayer_of,
        shape=shape,
        parameter_count=shape.parameter_count(problem, chosen),
        status=status,
        gap=gap,
        reason=reason,
        seconds=seconds,
        depth_lower_bound=depth_lower_bound,
        fusion_groups=chosen,
    )


def from_heuristic(
    problem: problem_lib.Problem, place: Callable[[problem_lib.Problem], bounds.Placement]
) -> Allocation:
    """The allocation a placement rule `place` gives `problem` (status HEURISTIC), timed.

    With fusion groups, the greedy choice (`fusion.greedy_choice`) is made first and `place` places the
    problem with each chosen group contracted to one block; without groups `place` sees `problem` itself.
    """
    start = time.perf_counter()
    chosen = fusion.greedy_choice(problem)
    placement = fusion.expanded(problem, chosen, place(fusion.contracted(problem, chosen)))
    return from_placement(
        problem,
        placement,
        status=AllocationStatus.HEURISTIC,
        depth_lower_bound=bounds.fusion_depth_lower_bound(problem),
        seconds=time.perf_counter() - start,
        fusion_groups=chosen,
    )
