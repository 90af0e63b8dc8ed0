"""The envelope (what travels through the lists) and the job record (what users read).

Records are always built here, in Python, from the envelope and the state change, and
serialised with orjson; Lua scripts only read a record's `status`, `attempt` and `worker`
to fence writes. That keeps user payloads byte-exact (no Lua JSON round trip).
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

ENVELOPE_VERSION = 1


class Status(StrEnum):
    #: waiting in a queue list for a worker
    QUEUED = "queued"
    #: waiting in the scheduled set for a delay or a retry back-off
    SCHEDULED = "scheduled"
    #: claimed and started by a worker
    RUNNING = "running"
    #: suspended until a signal arrives (or its wait runs out); holds no worker
    WAITING = "waiting"
    #: finished with a result
    SUCCEEDED = "succeeded"
    #: attempts used up, or failed for good (invalid input, lost, timeout)
    FAILED = "failed"
    #: cancelled by a request
    CANCELLED = "cancelled"


TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED})

#: The tenant of a job whose envelope and record carry no `tenant` (CONTRACT §2).
DEFAULT_TENANT = "default"
#: A tenant name: 1 to 64 characters, no ':' (it ends the name in `tenant:key`), no space.
TENANT_PATTERN = re.compile(r"[^:\s]{1,64}")


def tenant_of(job: Any) -> str:
    """The tenant a record (or an envelope, as a dict) belongs to: its `tenant`, else the
    default tenant."""
    tenant = job.get("tenant") if isinstance(job, Mapping) else None
    return tenant if isinstance(tenant, str) and tenant else DEFAULT_TENANT


ErrorType = Literal["exception", "timeout", "lost", "cancelled", "invalid", "budget"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


#: two characters per 10 bits: 13 look-ups for the 26 characters of an id
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]
_PAIR_SHIFTS = tuple(range(120, -1, -10))
_last_id = 0
_id_lock = threading.Lock()
#: random bytes for ids, read from the OS 4 KiB at a time (a system call per id was 4 % of
#: `POST /jobs`)
_entropy = b""
_entropy_at = 0


def _after_fork() -> None:
    """A forked child starts afresh: neither its parent's random bytes nor its last id
    (from which ids of the same millisecond count on), so it never repeats its parent's."""
    global _entropy, _entropy_at, _last_id
    _entropy, _entropy_at, _last_id = b"", 0, 0


os.register_at_fork(after_in_child=_after_fork)


def new_id() -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, Crockford base32, 26 chars.

    Monotonic within a process: ids made in the same millisecond still sort in order.
    """
    global _last_id, _entropy, _entropy_at
    ms = time.time_ns() // 1_000_000
    with _id_lock:
        if _entropy_at + 10 > len(_entropy):
            _entropy, _entropy_at = os.urandom(4096), 0
        n = ms << 80 | int.from_bytes(_entropy[_entropy_at:_entropy_at + 10], "big")
        _entropy_at += 10
        if n >> 80 <= _last_id >> 80:
            n = _last_id + 1
        _last_id = n
    return "".join([_PAIRS[(n >> shift) & 1023] for shift in _PAIR_SHIFTS])


_iso_second: tuple[int, str] = (-1, "")


def iso(ts: float | None) -> str | None:
    """Epoch seconds as an ISO-8601 UTC string with milliseconds, as records show times.

    Records need several of these per job; the formatted second is reused.
    """
    global _iso_second
    if ts is None:
        return None
    frac, whole = math.modf(ts)  # as datetime does: the fraction rounded to microseconds
    micros = round(frac * 1_000_000)
    second = int(whole) + micros // 1_000_000
    millis = micros % 1_000_000 // 1000
    cached_second, text = _iso_second
    if second != cached_second:
        text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _iso_second = (second, text)
    return f"{text}.{millis:03d}Z"


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


class Envelope(BaseModel):
    """Version 1 of the wire envelope (CONTRACT §5). Unknown fields are kept."""

    model_config = ConfigDict(extra="allow")

    v: Literal[1] = 1
    id: str = Field(min_length=1, max_length=128)
    type: str = Field(min_length=1, max_length=200)
    queue: str = Field("default", min_length=1, max_length=200)
    #: jobs with the same key share the workers fairly with other keys (and its limit);
    #: right after `queue`, where the scripts read it (lua/_fence.lua)
    concurrency_key: str | None = Field(None, min_length=1, max_length=128,
                                        pattern=r"^[^\s{}:\"\\]+$")
    payload: Any = Field(default_factory=dict)
    attempt: int = Field(1, ge=1)
    max_attempts: int = Field(3, ge=1)
    #: seconds before the attempt is stopped; None means the task's own timeout
    timeout_s: float | None = Field(None, gt=0)
    enqueued_at: float = Field(default_factory=time.time)
    #: first enqueue time, kept across retries (defaults to enqueued_at)
    created_at: float | None = None
    callback_url: str | None = None
    #: W3C trace context of the span that enqueued the job; every attempt continues it
    traceparent: str | None = None
    #: most LLM tokens the job may use over all its attempts; None means the task's own
    max_tokens: int | None = Field(None, gt=0)
    #: the LLM usage of the attempts before this one (the record's `usage`), on retries
    usage: dict[str, Any] | None = None
    #: the job this one replays (`POST /jobs/{id}/replay`)
    replay_of: str | None = None
    #: the tenant that created the job (CONTRACT §2); absent: the default tenant. Not
    #: checked here: a worker never refuses a job for it (the API writes valid names)
    tenant: str | None = None
    #: `{"name", "tick"}` of the cron schedule whose tick (ISO UTC) enqueued the job
    schedule: dict[str, str] | None = None

    def created(self) -> float:
        return self.created_at if self.created_at is not None else self.enqueued_at

    def dump(self) -> str:
        return orjson.dumps(self.model_dump(exclude_none=True)).decode()

    def next_attempt(self, attempt: int | None = None) -> Envelope:
        return self.model_copy(
            update={
                "attempt": self.attempt + 1 if attempt is None else attempt,
                "enqueued_at": time.time(),
                "created_at": self.created(),
            }
        )


#: The envelope's options a record keeps when they are set (a retry restores them).
KEPT_OPTIONS = ("timeout_s", "callback_url", "traceparent", "max_tokens", "usage", "replay_of",
                "tenant", "schedule", "concurrency_key")


def make_record(
    env: Envelope,
    status: Status,
    *,
    attempt: int | None = None,
    progress: int = 0,
    message: str | None = None,
    result: Any = None,
    error: dict[str, str] | None = None,
    started_at: float | None = None,
    finished_at: float | None = None,
    worker: str | None = None,
) -> dict[str, Any]:
    """The record for `env` in `status`, in the key order of CONTRACT §3.

    The options a retry must keep (`timeout_s`, `callback_url`, `traceparent`,
    `replay_of`, `tenant`, `max_tokens`) follow when they are set, and so does the LLM
    `usage` of earlier attempts.
    """
    record = {
        "id": env.id,
        "type": env.type,
        "queue": env.queue,
        "status": status.value,
        "progress": progress,
        "message": message,
        "payload": env.payload,
        "result": result,
        "error": error,
        "attempt": env.attempt if attempt is None else attempt,
        "max_attempts": env.max_attempts,
        "created_at": iso(env.created()),
        "started_at": iso(started_at),
        "finished_at": iso(finished_at),
        "worker": worker,
    }
    for name in KEPT_OPTIONS:
        if (value := getattr(env, name)) is not None:
            record[name] = value
    return record


def envelope_of(record: dict[str, Any]) -> Envelope:
    """A fresh envelope (attempt 1) for the job `record` describes, with its options."""
    return Envelope(
        id=record["id"], type=record["type"], queue=record["queue"], payload=record["payload"],
        attempt=1, max_attempts=record.get("max_attempts") or 1,
        created_at=parse_iso(record.get("created_at")),
        # a retry from the API starts a fresh token count (and budget): not `usage`
        **{name: record.get(name) for name in KEPT_OPTIONS if name != "usage"},
    )


def parse_iso(text: str | None) -> float | None:
    """An ISO time of a record as epoch seconds (None stays None)."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def error(kind: ErrorType, message: str) -> dict[str, str]:
    return {"type": kind, "message": message[:2000]}


def event(kind: str, **fields: Any) -> str:
    """A job event as stored in its stream: {"type": kind, ..., "at": ISO time}."""
    fields["type"] = kind
    fields["at"] = iso(time.time())
    return dumps(fields)


def status_event(record: dict[str, Any]) -> str:
    extra = {"waiting_for": record["waiting_for"]} if record.get("waiting_for") else {}
    return event(
        "status",
        status=record["status"],
        progress=record["progress"],
        message=record["message"],
        attempt=record["attempt"],
        error=record["error"],
        **extra,
    )
