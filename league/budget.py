"""Run limits: when a league run stops (its iteration target, its wall-time budget).

A run with ``minutes`` set (``league run --minutes M``) looks at its budget at
the end of each iteration and stops after the first iteration that ends with
the budget spent: an iteration is never cut short (its matches, ratings,
snapshots and checkpoint stay whole), so a run overshoots its budget by less
than one iteration. With ``iterations`` set too, whichever limit comes first
stops the run (issue 19).

The budget belongs to one invocation: ``league run --resume`` starts a fresh
budget of the run's ``minutes`` (or of the ``--minutes`` it is given), counted
from its first iteration; the start-up before it (Ray, building the players)
is not counted. The run's own wall time, resumes included, is the ``wall_seconds``
counter of ``league status``.

Pure logic: no Ray, no Redis, no clock but the one passed in.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass


class StopReason(str, enum.Enum):
    """Why a run stopped."""

    ITERATIONS = "iterations"
    TIME_BUDGET = "time budget"


def stop_reason(*, iteration: int, target: int | None, elapsed_s: float,
                budget_s: float | None) -> StopReason | None:
    """Whether a run stops before its next iteration, and why.

    Args:
        iteration: Iterations the run has committed.
        target: The iteration to stop at (None: no iteration limit).
        elapsed_s: Seconds of the budget spent so far.
        budget_s: The wall-time budget in seconds (None: none).

    Returns:
        :attr:`StopReason.ITERATIONS` once ``target`` is reached (checked first: a run that
        reaches both at once ended normally), :attr:`StopReason.TIME_BUDGET` once
        ``elapsed_s >= budget_s``, else None (run another iteration).

    Example:
        >>> stop_reason(iteration=3, target=30, elapsed_s=61.0, budget_s=60.0)
        <StopReason.TIME_BUDGET: 'time budget'>
        >>> stop_reason(iteration=3, target=None, elapsed_s=59.0, budget_s=60.0) is None
        True
    """
    if target is not None and iteration >= target:
        return StopReason.ITERATIONS
    if budget_s is not None and elapsed_s >= budget_s:
        return StopReason.TIME_BUDGET
    return None


@dataclass(frozen=True)
class TimeBudget:
    """A wall-time budget and the clock reading it started at (made by :meth:`of_minutes`).

    Attributes:
        seconds: The budget (None: unlimited, never spent).
        started: The clock's reading when the budget started.
        clock: Monotonic clock in seconds (``time.monotonic``; tests pass their own).
    """

    seconds: float | None
    started: float
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def of_minutes(cls, minutes: float | None, *, clock: Callable[[], float] = time.monotonic) -> TimeBudget:
        """A budget of ``minutes`` (None: unlimited) starting now.

        Example:
            >>> ticks = iter([100.0, 130.0, 160.0])
            >>> budget = TimeBudget.of_minutes(1.0, clock=lambda: next(ticks))
            >>> budget.spent(), budget.spent()
            (False, True)
        """
        return cls(None if minutes is None else minutes * 60.0, clock(), clock)

    def elapsed(self) -> float:
        """Seconds since the budget started."""
        return self.clock() - self.started

    def spent(self) -> bool:
        """Whether the budget is spent (never, when unlimited)."""
        return self.seconds is not None and self.elapsed() >= self.seconds
