"""Exceptions task code raises to steer the worker.

    Retry          retry this job after `after_s` seconds (counts as an attempt)
    Fatal          fail this job now, without further attempts
     └── BudgetExceeded  the job's LLM tokens would pass its `max_tokens` (error type
                         `budget`; raised by the LLM client, src/worker/ledger.py)
    WaitTimeout    raised by `ctx.wait_for` when the wait ran out before the signal came
    UnknownTask    no task is registered under that name (from the queue core)
"""

from __future__ import annotations

from src.queue.errors import UnknownTask


class Retry(Exception):
    """Raise from a task to run it again after `after_s` seconds."""

    def __init__(self, after_s: float = 0.0, message: str = "retry requested") -> None:
        super().__init__(message)
        self.after_s = max(0.0, float(after_s))


class Fatal(Exception):
    """Raise from a task to fail the job at once: no retry, whatever attempts are left."""


class BudgetExceeded(Fatal):
    """The job's LLM calls would use, or used, more tokens than its `max_tokens`."""


class WaitTimeout(Exception):
    """`ctx.wait_for(name, timeout_s=...)` ran out before signal `name` came. Uncaught, it
    fails the job for good (error type `timeout`): a new attempt would wait in vain too."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no signal {name!r} came before the wait ran out")
        self.name = name


class Suspend(BaseException):  # noqa: N818 - not an error: it unwinds the task to park it
    """Raised by `ctx.wait_for` to park the attempt until signal `name` or `until` (epoch s).

    A BaseException, so a task's `except Exception` does not swallow it.
    """

    def __init__(self, name: str, until: float) -> None:
        super().__init__(name)
        self.name = name
        self.until = until


__all__ = ["BudgetExceeded", "Fatal", "Retry", "Suspend", "UnknownTask", "WaitTimeout"]
