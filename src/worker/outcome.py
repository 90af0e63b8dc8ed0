"""What one attempt of a job is while it runs (`Running`) and how it ended (`Outcome`)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from src.queue.models import Envelope

from .context import JobContext

#: ok: a result · fail: an error (retried while `retryable` and attempts are left) ·
#: retry: the task asked for one · cancelled: by request · putback: a stopping worker
#: hands the attempt back unchanged · stale: the attempt no longer owns the job ·
#: wait: parked until a signal (`wait` names it and the wait's end, epoch seconds)
OutcomeKind = Literal["ok", "fail", "retry", "cancelled", "putback", "stale", "wait"]


@dataclass(slots=True)
class Outcome:
    kind: OutcomeKind
    result: Any = None
    error: dict[str, str] | None = None
    retryable: bool = False
    after_s: float | None = None
    wait: tuple[str, float] | None = None


@dataclass(slots=True)
class Running:
    env: Envelope
    raw: bytes
    ctx: JobContext
    task: asyncio.Task[None] | None = None
    stop_reason: Literal["cancel", "shutdown"] | None = None
    started: float = field(default_factory=time.monotonic)
    deadline: float | None = None   # monotonic time the attempt's timeout runs out
    abandoned: bool = False         # the watchdog recorded a timeout; ignore the task now


def describe(exc: BaseException) -> str:
    """`Type: message` of an exception, even one whose `__str__` fails."""
    try:
        text = str(exc)
    except Exception:
        text = "<unprintable message>"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
