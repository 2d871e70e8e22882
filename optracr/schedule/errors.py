"""The schedule stage's errors and warnings."""


class ScheduleError(ValueError):
    """A scheduling problem, an option or an allocation is not valid."""


class AllocationError(ScheduleError):
    """An allocation does not fit its problem (raised by `check`)."""


class SolverFailure(ScheduleError):
    """The exact solver produced no allocation (time limit, solver error)."""


class AllocationFallbackWarning(UserWarning):
    """The solver gave up and a heuristic allocation was used instead."""
