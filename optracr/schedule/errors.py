"""The schedule stage's errors and warnings (part of optracr's one ``CompileError`` family)."""

from optracr.errors import CompileError


class ScheduleError(CompileError):
    """A scheduling problem, an option or an allocation is not valid; the message names the block."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


class AllocationError(ScheduleError):
    """An allocation does not fit its problem (raised by `check`)."""


class SolverFailure(ScheduleError):
    """The exact solver produced no allocation (time limit, solver error)."""


class AllocationFallbackWarning(UserWarning):
    """The solver gave up and a heuristic allocation was used instead."""
