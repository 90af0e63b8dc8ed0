"""What the Lua scripts answer, as types: every typed operation (`ops.py`) decodes a
script's reply into one of these, so no caller compares bare integers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Fenced(IntEnum):
    """A write by the attempt that runs the job (progress, finish, retry)."""

    OK = 1
    NO_RECORD = -1
    STALE = -2  # another attempt owns the job, or it is no longer running


class Started(IntEnum):
    STARTED = 1
    STALE = -2
    CANCELLED = -3


class Cancelled(IntEnum):
    NOW = 1
    REQUESTED = 2  # running: its worker stops it within a heartbeat
    NO_RECORD = -1
    FINISHED = -4
    CHANGED = -5


class Resubmitted(IntEnum):
    QUEUED = 1
    NO_RECORD = -1
    NOT_ENDED = -4
    CHANGED = -5  # the record moved on since it was read, or a retry just happened


class Suspended(IntEnum):
    WAITING = 1
    RESUMED = 2  # the signal had arrived already: queued again
    NO_RECORD = -1
    STALE = -2
    CANCEL_REQUESTED = -3  # nothing written: cancel the attempt instead


class Signalled(IntEnum):
    STORED = 1
    RESUMED = 2  # the job was waiting for it: queued again
    NO_RECORD = -1
    ENDED = -4
    CHANGED = -5


#: The body stored for a signal whose wait ran out (not JSON, so no sender can forge it).
WAIT_TIMEOUT = b"!timeout"
#: The field of a steps hash that keeps the order steps completed in.
STEP_ORDER = "\0order"


class Recovered(IntEnum):
    GONE = 0  # someone else took the envelope
    REQUEUED = 1
    DEAD = 2
    CANCELLED = 3


class Buried(IntEnum):
    GONE = 0
    BURIED = 1
    RECORD_FAILED = 2


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    created: bool
    job_id: str


@dataclass(frozen=True, slots=True)
class CallbackDue:
    """A leased completion callback: which job, when it ended, which delivery attempt."""

    member: bytes
    job_id: str
    ended_ms: int
    attempt: int
