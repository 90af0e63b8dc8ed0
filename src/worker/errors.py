"""Exceptions task code raises to steer the worker, and the worker's own errors.

    Retry          retry this job after `after_s` seconds (counts as an attempt)
    Fatal          fail this job now, without further attempts
    UnknownTask    no task is registered under that name
"""

from __future__ import annotations


class Retry(Exception):
    """Raise from a task to run it again after `after_s` seconds."""

    def __init__(self, after_s: float = 0.0, message: str = "retry requested") -> None:
        super().__init__(message)
        self.after_s = max(0.0, float(after_s))


class Fatal(Exception):
    """Raise from a task to fail the job at once: no retry, whatever attempts are left."""


class UnknownTask(LookupError):
    """No task is registered under that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown task type {name!r}")
        self.name = name
